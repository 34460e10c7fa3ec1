r"""Adversarial auto-encoder (Makhzani et al. 2015): an auto-encoder whose codes are pushed to a
chosen prior p(z) by a discriminator on the code space (the lecture's "GAN vs VAE" figure).

With encoder :math:`q(z|x)` (deterministic here, :math:`z = E(x)`) and decoder :math:`x̂ = G(z)`,
one training step runs three updates, each on the same batch:

1. ``reconstruction`` (E and G): :math:`\frac1n\sum_i \ell(G(E(x_i)), x_i)` (cross-entropy or squared error);
2. ``discriminator`` (D on codes): :math:`L_D\big(D(z'),\, D(E(x))\big)` with :math:`z' \sim p(z)` the
   "real" samples and the codes the "fakes" (any loss and regularizer of the GAN family);
3. ``generator`` (E only): :math:`L_G\big(D(E(x))\big)`: the encoder learns to fool D, so the
   aggregated posterior :math:`q(z) = \mathbb E_x q(z|x)` matches p(z).

With ``conditional``, D also sees the one-hot label (one extra slot for "unlabelled"), and the
prior sample of row i is drawn from mixture component :math:`y_i`: the semi-supervised layout of
the paper, where each class occupies its own component.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from ...config import option
from ...data.base import Batch, TensorData
from ...errors import UsageError
from ...nets import MLP, encoder_decoder
from ..autoencoder import reconstruction_loss
from ..base import ReprModel, Update
from ..priors import make_prior
from ..registry import register_model
from .adversary import AdversaryConfig, check_packable, gamma_option, loss_option
from .regularizers import clip_weights, discriminator_objective, pack_samples


@dataclass
class AAEConfig(AdversaryConfig):
    LOSS_KEY = "gan_loss"  # model.loss is the reconstruction loss

    gamma: float = gamma_option(1.0)
    arch: Literal["mlp", "conv"] = option("mlp", "encoder/decoder family")
    hidden: tuple[int, ...] = option((512, 512), "MLP hidden widths of the encoder (the decoder mirrors them)", ge=1)
    channels: tuple[int, ...] = option((32, 64), "conv channels per stride-2 block (conv arch)", ge=1)
    latent_dim: int = option(2, "size d of the code z (the latent size; formerly code_dim)", ge=1, aliases=("code_dim",))
    loss: Literal["bce", "mse"] = option("bce", "reconstruction loss: cross-entropy (data in [0, 1]) or squared error")
    prior: str = option("gaussian", "p(z): gaussian, mixture10 (2-D, Makhzani Fig. 2b) or a sampler 'package.module:function'")
    conditional: bool = option(False, "give D the one-hot label and draw row i's prior sample from component y_i")
    gan_loss: str = loss_option("ns", "adversarial loss on the codes (wgan-gp: wgan with reg=gp, γ = gp_weight)")
    d_hidden: tuple[int, ...] = option((256, 256), "code discriminator's hidden widths", ge=1)


@register_model("aae", "adversarial auto-encoder: codes pushed to a prior (Gaussian, 10-mixture, user sampler) by a discriminator")
class AdversarialAutoEncoder(ReprModel):
    """``encode(x)`` is z = E(x); ``sample(n)`` decodes prior samples."""

    name = "aae"
    Config = AAEConfig
    eval_sample_quality = True  # `reprlab eval` prints FID/KID/precision/recall or mode coverage
    #: any data set: Adam's rate decayed to 0 by a cosine over the run. At a constant rate the codes
    #: keep drifting with the adversarial game and where a run stops decides how well q(z) fits the
    #: prior (benchmarks/aae_mnist.py ``validation_rows``, held-out training images, seeds 100 and
    #: 101, sliced Wasserstein distance to N(0, I): at 1,800 steps, about the default budget, 0.475 /
    #: 0.486 constant against 0.086 / 0.089 cosine; at 6,000 steps 2.30 / 0.24 against 0.054 / 0.051)
    recipes = {"*": {"train.lr_schedule": "cosine"}}

    def __init__(self, config: AAEConfig, input_shape: tuple[int, ...]):
        super().__init__(config, input_shape)
        c = config
        self.prior = make_prior(c.prior, c.latent_dim)
        self.n_labels = max(self.prior.components, 10) + 1 if c.conditional else 0  # + "unlabelled"
        self.encoder, self.decoder = encoder_decoder(c.arch, self.input_shape, c.latent_dim, hidden=c.hidden, channels=c.channels)
        self.discriminator = MLP((c.latent_dim + self.n_labels) * c.pack, c.d_hidden, 1, "leaky_relu", "linear")
        self.loss_fns, self.regularizer = c.game()
        if c.reg_every > 1:  # lazy regularization counts the discriminator's updates (saved with the weights)
            self.register_buffer("d_steps", torch.zeros((), dtype=torch.long))

    def updates(self) -> list[Update]:
        c = self.config
        autoencoder = lambda: [*self.encoder.parameters(), *self.decoder.parameters()]  # noqa: E731
        return [
            Update("reconstruction", autoencoder),
            Update("discriminator", self.discriminator.parameters, 1, c.lr_d, c.betas),
            Update("generator", self.encoder.parameters, 1, c.lr_g, c.betas),
        ]

    def check_data(self, data: TensorData) -> None:
        if self.config.conditional and data.y is None:
            raise UsageError("aae: model.conditional needs labelled data (label -1 marks an unlabelled sample)")
        if self.config.conditional and int(data.y.max()) >= self.n_labels - 1:
            raise UsageError(f"aae: model.conditional takes labels 0..{self.n_labels - 2} (one per prior component), "
                             f"{data.name} has label {int(data.y.max())}; use a prior with more components")
        if self.config.loss == "bce" and (float(data.x.min()) < 0 or float(data.x.max()) > 1):
            raise UsageError(f"aae: the cross-entropy loss needs data in [0, 1]; {data.name} is not: use model.loss=mse")

    # -------------------------------------------------------------- pieces
    def D(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """The code discriminator's raw output: (B, d) [+ labels (B,)] -> (B,) (with ``pack = m``:
        one output per pack of m consecutive codes, (B // m,))."""
        return self.D_packed(pack_samples(z, self.config.pack), labels)

    def D_packed(self, z_packed: Tensor, labels: Tensor | None = None) -> Tensor:
        """D on packed codes (B // m, m·d); the one-hot labels (conditional AAE) are packed alike and appended."""
        if self.n_labels:
            m = self.config.pack
            n = z_packed.shape[0] * m
            idx = (torch.where(labels[:n] < 0, self.n_labels - 1, labels[:n]) if labels is not None
                   else torch.full((n,), self.n_labels - 1, dtype=torch.long, device=z_packed.device))
            z_packed = torch.cat([z_packed, pack_samples(F.one_hot(idx, self.n_labels).to(z_packed.dtype), m)], 1)
        return self.discriminator(z_packed).squeeze(1)

    def prior_sample(self, n: int, like: Tensor, labels: Tensor | None = None, generator=None) -> Tensor:
        if labels is not None and self.n_labels:  # unlabelled rows draw a random component
            free = torch.randint(0, self.prior.components, labels.shape, generator=generator).to(labels.device)
            labels = torch.where(labels < 0, free, labels)
        else:
            labels = None
        return self.prior.sample(n, generator, labels=None if labels is None else labels.cpu()).to(like.device, like.dtype)

    def decode_logits(self, z: Tensor) -> Tensor:
        return self.decoder(z).view(z.shape[0], *self.input_shape)

    # -------------------------------------------------------------- training
    def forward(self, batch: Batch, update: str = "reconstruction") -> dict[str, Tensor]:
        x, y = batch.x, batch.y if self.n_labels else None
        check_packable(x.shape[0], self.config.pack)
        if update == "reconstruction":
            return {"loss": reconstruction_loss(self.decode_logits(self.encoder(x)), x, self.config.loss)}
        if update == "generator":
            return {"loss": self.loss_fns.generator(self.D(self.encoder(x), y))}
        z_fake = self.encoder(x).detach()
        z_real = self.prior_sample(x.shape[0], z_fake, y)
        c = self.config
        return discriminator_objective(self.loss_fns, lambda zp: self.D_packed(zp, y), z_real, z_fake, regularizer=self.regularizer,
                                       reg_name=c.reg, gamma=c.gamma, pack=c.pack, reg_every=c.reg_every,
                                       d_step=self.counter("d_steps") if c.reg_every > 1 else 0)

    def after_update(self, update: str) -> None:
        if update == "discriminator" and self.config.reg_every > 1:
            self.bump("d_steps")
        if update == "discriminator" and self.config.weight_clip is not None:
            clip_weights(self.discriminator, self.config.weight_clip)

    @torch.no_grad()
    def evaluate(self, batch: Batch) -> dict[str, Tensor]:
        """Validation: reconstruction loss and both adversarial losses on held-out data (no penalties)."""
        x, y = batch.x, batch.y if self.n_labels else None
        z = self.encoder(x)
        t_real, t_fake = self.D(self.prior_sample(x.shape[0], z, y), y), self.D(z, y)
        return {
            "loss": reconstruction_loss(self.decode_logits(z), x, self.config.loss),
            "discriminator/loss": self.loss_fns.discriminator(t_real, t_fake),
            "generator/loss": self.loss_fns.generator(t_fake),
        }

    # -------------------------------------------------------------- use
    def encode(self, x: Tensor) -> Tensor:
        """Codes z = E(x): (B, d)."""
        return self.encoder(self.check_input(x))

    def decode(self, z: Tensor) -> Tensor:
        """x̂ = G(z): through a sigmoid for the cross-entropy loss; ``(B, *input_shape)``."""
        out = self.decode_logits(z)
        return torch.sigmoid(out) if self.config.loss == "bce" else out

    def reconstruct(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Decoded prior samples G(z'), z' ~ p(z): ``(n, *input_shape)``."""
        p = next(self.parameters())
        return self.decode(self.prior.sample(n, generator).to(p.device, p.dtype))
