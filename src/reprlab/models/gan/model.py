r"""The GAN model: a generator :math:`G_\theta : \mathcal Z \to \mathcal D` and a discriminator
:math:`D_\psi : \mathcal D \to \mathbb R` trained by alternate minimization (Goodfellow et al. 2014).

One training step of the trainer runs the model's two updates in order:

1. ``discriminator`` (every step): :math:`L_D(D(x), D(G(z))) + \text{reg}` on a real batch x and
   fresh noise z, with G fixed (its samples detached);
2. ``generator`` (every ``n_critic`` steps): :math:`L_G(D(G(z)))` with fresh noise, D fixed.

The loss pair comes from :mod:`~reprlab.models.gan.losses`, the penalty from
:mod:`~reprlab.models.gan.regularizers`; separate learning rates (TTUR, Heusel et al. 2017) and
Adam betas per player; WGAN weight clipping and the EMA of the generator's weights
(Yazıcı et al. 2019) run after their update. Networks: MLPs for vectors (the 2-D toys), DCGAN-style
convolutional nets for images (Radford et al. 2016; BatchNorm in G only, so that gradient
penalties stay per-sample).
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from ...config import option
from ...data.base import Batch, TensorData
from ...errors import ConfigError, UsageError
from ...nets import decoder, encoder, normal_init
from ..base import ReprModel, Update
from ..registry import register_model
from .adversary import AdversaryConfig, check_packable, loss_option
from .losses import info_loss
from .regularizers import clip_weights, discriminator_objective, instance_noise, pack_samples


@dataclass
class GANConfig(AdversaryConfig):
    loss: str = loss_option("ns", "GAN loss pair (models/gan/losses.py): minimax (saturating), ns (non-saturating), logratio "
                            "(the lecture's log((1-D)/D)), wgan (critic, with clipping); wgan-gp: wgan with reg=gp, γ = gp_weight")
    n_critic: int = option(1, "discriminator updates per generator update (wgan, wgan-gp: 5 in the papers)", ge=1)
    instance_noise: float = option(0.0, "std σ of instance noise on D's inputs, annealed linearly to 0", ge=0)
    instance_noise_steps: int = option(2000, "steps over which instance noise is annealed to 0", ge=1)
    ema: float = option(0.0, "decay of the EMA of the generator's weights used for sampling (0: off; e.g. 0.999)", ge=0, lt=1)
    latent_dim: int = option(64, "size of the noise z ~ N(0, I)", ge=1)
    arch: Literal["auto", "mlp", "conv"] = option("auto", "networks (auto: conv for images, mlp for vectors)")
    g_hidden: tuple[int, ...] = option((256, 256), "MLP generator hidden widths", ge=1)
    d_hidden: tuple[int, ...] = option((256, 256), "MLP discriminator hidden widths", ge=1)
    channels: tuple[int, ...] = option((64, 128), "conv channels per stride-2 block (D; G mirrors them)", ge=1)
    g_fc: tuple[int, ...] = option((), "conv generator: fully connected hidden widths from z to the conv stack "
                                       "(InfoGAN's MNIST nets, Chen et al. 2016: 1024); empty: none", ge=1)
    d_fc: tuple[int, ...] = option((), "conv discriminator: fully connected hidden widths after the conv stack "
                                       "(InfoGAN's MNIST nets: 1024); empty: none", ge=1)
    g_batch_norm: bool = option(True, "conv generator: BatchNorm (DCGAN)")
    g_mlp_batch_norm: bool = option(False, "MLP generator: BatchNorm after each hidden layer (PacGAN's grid generator)")
    d_maxout: int = option(0, "MLP discriminator: maxout hidden units of this many pieces (PacGAN: 5); 0: leaky ReLU units",
                           ge=0)
    init_std: float = option(0.0, "weights of every linear / conv layer drawn from N(0, init_std²), biases 0 "
                                  "(PacGAN, DCGAN: 0.02); 0: PyTorch's default initialization", ge=0)
    output: Literal["auto", "sigmoid", "linear"] = option("auto", "generator output (auto: sigmoid for images in [0, 1], linear otherwise)")
    info_categories: int = option(0, "InfoGAN (Chen et al. 2016): a categorical code c ~ Cat(K) of this many categories, "
                                     "one-hot beside z in G's input; a linear head Q on D's features predicts c from G(z, c) "
                                     "and G and Q minimize λ·L_I (0: off)", ge=0)
    info_weight: float = option(1.0, "InfoGAN: weight λ of L_I = E[−log Q(c | G(z, c))]", ge=0)

    def __post_init__(self):
        super().__post_init__()
        if self.info_categories == 1:
            raise ConfigError("model.info_categories=1 is a constant code; set it to 0 (off) or to K >= 2 categories (InfoGAN, MNIST: 10)")
        if self.info_categories and self.pack > 1:
            raise ConfigError(f"model.info_categories needs D's features of single samples, but model.pack={self.pack} packs them; "
                              "set model.pack=1 or model.info_categories=0")


def check_truncation(psi: float) -> None:
    """A one-line :class:`UsageError` unless the truncation ψ is > 0 (NaN included)."""
    if not psi > 0:
        raise UsageError(f"the truncation ψ must be > 0 (|z_i| <= ψ; e.g. 1.0), got {psi}")


def truncated_normal(n: int, dim: int, psi: float, generator: torch.Generator | None = None) -> Tensor:
    r"""n draws of z ~ N(0, I_dim) truncated to :math:`|z_i| \le \psi` (the truncation trick, Brock et
    al. 2019, §3.1): each :math:`z_i` has the density :math:`\phi(z_i) / (2\Phi(\psi) - 1)` on
    :math:`[-\psi, \psi]`, drawn by inverting the CDF,
    :math:`z_i = \Phi^{-1}(\Phi(-\psi) + u_i (1 - 2\Phi(-\psi)))`, :math:`u_i \sim U(0, 1)` (one draw
    per coordinate, however small ψ is). Smaller ψ trades diversity (recall) for typical samples
    (precision). Deterministic given ``generator``: ``(n, dim)``."""
    check_truncation(psi)
    u = torch.rand(n, dim, generator=generator, dtype=torch.float64)
    lo = torch.special.ndtr(torch.tensor(-float(psi), dtype=torch.float64))
    z = torch.special.ndtri(lo + u * (1 - 2 * lo))
    return z.clamp(-psi, psi).float()  # the clamp only catches u = 0 or 1 at float precision


_TOY_RECIPE = {"ema": 0.999, "latent_dim": 16, "train.lr_schedule": "cosine", "train.batch_size": 512,
               "train.max_steps": 15000}


@register_model("gan", "generative adversarial network: minimax / ns / logratio / WGAN / WGAN-GP, R1 / R2 / Roth, EMA")
class GAN(ReprModel):
    """``sample(n)`` draws G(z), z ~ N(0, I) (from the EMA generator when ``ema`` > 0); with
    ``info_categories`` = K, G's input is (z, one-hot c), c ~ Cat(K) (InfoGAN)."""

    name = "gan"
    Config = GANConfig
    monitor = "val/discriminator/loss"
    eval_sample_quality = True  # `reprlab eval` prints FID/KID/precision/recall or mode coverage
    supports_truncation = True  # sample(..., truncation=ψ): z from a truncated normal
    #: the 2-D mixtures' settings of benchmarks/gan_toy.py (a key the user sets wins).
    #: ring8: the recommended setting (non-saturating loss, EMA of G, cosine decay, batch 512,
    #: 15,000 steps), chosen on ring8 seed 0 before the benchmark: 8/8 modes, hq 0.970 on seeds 0-2.
    #: grid25: the same with PacGAN's generator (z in R², 4 x 400 ReLU units with batch norm) and R1
    #: (γ = 0.1) on D for 30,000 steps, chosen on seed 100 (gan_toy.json ``validation_rows``):
    #: 25/25 modes, hq 0.921 on seeds 0-2 (``grid25_pacgan_g_r1_*``)
    recipes = {"ring8": _TOY_RECIPE, "grid25": {**_TOY_RECIPE, "latent_dim": 2, "g_hidden": (400, 400, 400, 400),
                                                "g_mlp_batch_norm": True, "reg": "r1", "gamma": 0.1,
                                                "train.max_steps": 30000}}

    def __init__(self, config: GANConfig, input_shape: tuple[int, ...]):
        super().__init__(config, input_shape)
        c = config
        self.loss_fns, self.regularizer = c.game()
        image = len(self.input_shape) == 3
        self.z_dim = c.latent_dim + c.info_categories  # G's input: the noise, then the one-hot code (InfoGAN)
        out_act = ("sigmoid" if image else "linear") if c.output == "auto" else c.output
        # G: z (B, latent_dim) -> x; D: x -> t (B, 1). DCGAN-style for images: BatchNorm in G only
        self.generator = decoder(c.arch, self.input_shape, self.z_dim, hidden=c.g_hidden, channels=c.channels, act="relu",
                                 out_act=out_act, batch_norm=c.g_batch_norm, mlp_batch_norm=c.g_mlp_batch_norm,
                                 fc=c.g_fc)
        packed = (self.input_shape[0] * c.pack, *self.input_shape[1:])  # PacGAN: D sees m samples at once
        self.discriminator = encoder(c.arch, packed, 1, hidden=c.d_hidden, channels=c.channels, act="leaky_relu",
                                     maxout=c.d_maxout, fc=c.d_fc)
        if c.init_std > 0:
            normal_init(self.generator, c.init_std)
            normal_init(self.discriminator, c.init_std)
        self.generator_ema = None
        if c.ema > 0:
            self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False)
        self.register_buffer("d_steps", torch.zeros((), dtype=torch.long))  # for the instance-noise schedule
        # Q(c | x) of InfoGAN: a linear head on D's features (encode), trained with G's update
        self.q_head = nn.Linear(self._feature_size(), c.info_categories) if c.info_categories else None
        if self.q_head is not None and c.init_std > 0:
            normal_init(self.q_head, c.init_std)
        fixed = torch.randn(64, c.latent_dim, generator=torch.Generator().manual_seed(0))
        self.register_buffer("fixed_z", self.with_code(fixed, torch.arange(64) % c.info_categories) if c.info_categories else fixed)

    # -------------------------------------------------------------- pieces
    def D(self, x: Tensor) -> Tensor:
        """The discriminator's raw output t = D_ψ(x): ``(B, *shape)`` -> (B,); with ``pack = m`` one
        output per pack of m consecutive samples: (B // m,)."""
        return self.discriminator(pack_samples(x, self.config.pack)).squeeze(1)

    def D_packed(self, x_packed: Tensor) -> Tensor:
        """D on inputs already packed (:func:`~.regularizers.pack_samples`): (B // m, m·C, ...) -> (B // m,)."""
        return self.discriminator(x_packed).squeeze(1)

    def G(self, z: Tensor) -> Tensor:
        """The generator: (B, latent_dim) -> ``(B, *shape)``."""
        return self.generator(z).view(z.shape[0], *self.input_shape)

    def noise(self, n: int, like: Tensor) -> Tensor:
        """G's input for ``n`` samples on ``like``'s device: z ~ N(0, I), with a one-hot c ~ Cat(K) after it
        under InfoGAN."""
        return self.noise_and_code(n, like)[0]

    def noise_and_code(self, n: int, like: Tensor) -> tuple[Tensor, Tensor | None]:
        """(G's input, the categories c (n,) in it, or None without ``info_categories``)."""
        z = torch.randn(n, self.config.latent_dim, device=like.device, dtype=like.dtype)
        if not self.config.info_categories:
            return z, None
        c = torch.randint(self.config.info_categories, (n,), device=like.device)
        return self.with_code(z, c), c

    def with_code(self, z: Tensor, c: Tensor) -> Tensor:
        """(z, one-hot(c)): the noise (B, latent_dim) joined with categories (B,) of InfoGAN's code."""
        return torch.cat([z, nn.functional.one_hot(c, self.config.info_categories).to(z.device, z.dtype)], dim=1)

    def _feature_size(self) -> int:
        """The width of D's features (:meth:`encode`)."""
        d = self.discriminator
        return d.head.in_features if hasattr(d, "head") else list(d)[-2].in_features

    def _features(self, h: Tensor) -> Tensor:
        """D's features of single samples (no input checks): the input of its output layer."""
        if hasattr(self.discriminator, "features"):  # ConvEncoder: conv blocks, [fc layers,] then the output layer
            return self.discriminator.fc(self.discriminator.features(h).flatten(1))
        for layer in list(self.discriminator)[:-2]:  # MLP: all but the output Linear and its identity activation
            h = layer(h)
        return h

    def _output(self, features: Tensor) -> Tensor:
        """D's raw output t (B,) from its features: D(x) = _output(_features(x))."""
        d = self.discriminator
        if hasattr(d, "head"):
            return d.head(features).squeeze(1)
        for layer in list(d)[-2:]:
            features = layer(features)
        return features.squeeze(1)

    def noise_std(self) -> float:
        """The current instance-noise σ: linear decay from ``instance_noise`` to 0."""
        c = self.config
        return c.instance_noise * max(0.0, 1.0 - self.counter("d_steps") / c.instance_noise_steps) if c.instance_noise else 0.0

    def updates(self) -> list[Update]:
        c = self.config
        return [
            Update("discriminator", self.discriminator.parameters, 1, c.lr_d, c.betas),
            Update("generator", self.generator_parameters, c.n_critic, c.lr_g, c.betas),
        ]

    def generator_parameters(self):
        """What the generator's update trains: G, and InfoGAN's head Q (which minimizes L_I with it)."""
        if self.q_head is None:
            return self.generator.parameters()
        return itertools.chain(self.generator.parameters(), self.q_head.parameters())

    # -------------------------------------------------------------- training
    def discriminator_loss(self, x_real: Tensor, x_fake: Tensor) -> dict[str, Tensor]:
        """L_D + penalties on a real and a (detached) generated batch."""
        c, sigma = self.config, self.noise_std()
        if sigma > 0:
            x_real, x_fake = instance_noise(x_real, sigma), instance_noise(x_fake, sigma)
        return discriminator_objective(self.loss_fns, self.D_packed, x_real, x_fake, regularizer=self.regularizer, reg_name=c.reg,
                                       gamma=c.gamma, pack=c.pack, reg_every=c.reg_every, d_step=self.counter("d_steps"))

    def forward(self, batch: Batch, update: str = "discriminator") -> dict[str, Tensor]:
        x = batch.x
        check_packable(x.shape[0], self.config.pack)
        z, code = self.noise_and_code(x.shape[0], x)
        if update == "discriminator":
            with torch.no_grad():
                x_fake = self.G(z)
            return self.discriminator_loss(x, x_fake)
        if code is None:
            t_fake = self.D(self.G(z))
            return {"loss": self.loss_fns.generator(t_fake), "t_fake": t_fake.mean().detach()}
        h = self._features(self.G(z))  # InfoGAN: one pass of D gives t for L_G and the features Q reads
        t_fake, q_logits = self._output(h), self.q_head(h)
        adversarial, info = self.loss_fns.generator(t_fake), info_loss(q_logits, code)
        return {"loss": adversarial + self.config.info_weight * info, "adversarial": adversarial.detach(), "info": info.detach(),
                "q_accuracy": (q_logits.argmax(1) == code).float().mean(), "t_fake": t_fake.mean().detach()}

    def after_update(self, update: str) -> None:
        c = self.config
        if update == "discriminator":
            self.bump("d_steps")
            if c.weight_clip is not None:
                clip_weights(self.discriminator, c.weight_clip)
        elif self.generator_ema is not None:
            with torch.no_grad():  # θ_ema ← β θ_ema + (1 − β) θ; buffers (BatchNorm statistics) copied
                for pe, p in zip(self.generator_ema.parameters(), self.generator.parameters()):
                    pe.lerp_(p, 1.0 - c.ema)
                for be, b in zip(self.generator_ema.buffers(), self.generator.buffers()):
                    be.copy_(b)

    def evaluate(self, batch: Batch) -> dict[str, Tensor]:
        """Validation: the adversarial losses of both players on held-out real data (no penalties)."""
        x = batch.x
        t_real, t_fake = self.D(x), self.D(self.G(self.noise(x.shape[0], x)))
        return {"discriminator/loss": self.loss_fns.discriminator(t_real, t_fake), "generator/loss": self.loss_fns.generator(t_fake)}

    def check_data(self, data: TensorData) -> None:
        if data.is_image and self.config.output in ("auto", "sigmoid") and (float(data.x.min()) < 0 or float(data.x.max()) > 1):
            raise ConfigError(f"gan: a sigmoid generator makes images in [0, 1]; {data.name} spans "
                              f"[{float(data.x.min()):g}, {float(data.x.max()):g}]: rescale it or set model.output=linear")

    # -------------------------------------------------------------- use
    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, *, ema: bool = True,
               truncation: float | None = None) -> Tensor:
        """n samples G(z), z ~ N(0, I) (the EMA generator when ``ema`` > 0 and the argument ``ema``
        is true; G itself otherwise): ``(n, *input_shape)``. ``truncation`` = ψ draws z from the
        normal truncated to ``|z_i| <= ψ`` instead (:func:`truncated_normal`; None: no truncation).
        Under InfoGAN each sample's category c ~ Cat(K) is drawn after the noise, from the same
        ``generator``."""
        p = next(self.parameters())
        if truncation is None:
            z = torch.randn(n, self.config.latent_dim, generator=generator)
        else:
            z = truncated_normal(n, self.config.latent_dim, truncation, generator)
        if self.config.info_categories:
            z = self.with_code(z, torch.randint(self.config.info_categories, (n,), generator=generator))
        return self.decode(z.to(p.device, p.dtype), ema=ema)

    @torch.no_grad()
    def category_samples(self, per_category: int = 10, generator: torch.Generator | None = None) -> Tensor:
        """InfoGAN's picture: ``per_category`` samples of each category c = 0..K-1, the same noise in
        every category: ``(K·per_category, *input_shape)``, category-major (one row per category)."""
        k = self.config.info_categories
        if not k:
            raise self._missing("draw samples per category: it has no categorical code (set model.info_categories=K)")
        p = next(self.parameters())
        z = torch.randn(per_category, self.config.latent_dim, generator=generator).repeat(k, 1)
        c = torch.arange(k).repeat_interleave(per_category)
        return self.decode(self.with_code(z, c).to(p.device, p.dtype))

    @torch.no_grad()
    def decode(self, z: Tensor, *, ema: bool = True) -> Tensor:
        """G(z) for given input z (B, latent_dim [+ K under InfoGAN]), in eval mode (BatchNorm running statistics); the
        EMA generator when the run keeps one and ``ema`` is true."""
        net = self.generator_ema if ema and self.generator_ema is not None else self.generator
        was = net.training
        net.eval()
        out = net(z).view(z.shape[0], *self.input_shape)
        net.train(was)
        return out

    def snapshot(self) -> dict[str, Tensor]:
        """``{"samples": ...}``: samples from the same noise at every checkpoint (images: the 64 of
        ``fixed_z``; 2-D points: 2,000 from a fixed generator), so that progress is visible."""
        if len(self.input_shape) == 3:
            return {"samples": self.decode(self.fixed_z).cpu()}
        if self.input_shape == (2,):
            return {"samples": self.sample(2000, torch.Generator().manual_seed(0)).cpu()}
        return {}

    # -------------------------------------------------------------- codes (reprlab compare)
    #: the discriminator's last hidden width is the size of :meth:`encode`'s features (arch=mlp)
    code_size_option = "d_hidden"

    def encode(self, x: Tensor) -> Tensor:
        """The discriminator's penultimate features, the GAN's codes of ``x`` ``(B, *shape)``:
        (B, d_hidden[-1]) for the MLP discriminator (its last hidden layer, after the activation),
        (B, C_L·H_L·W_L) for the conv one (its last stride-2 block, flattened), or (B, d_fc[-1]) when it
        has fully connected layers (the last of them, after its activation). Needs ``pack = 1``:
        a packed discriminator sees m samples at once and has no features of one sample."""
        if self.config.pack > 1:
            raise self._missing(f"encode single samples: its discriminator judges packs of model.pack={self.config.pack}")
        return self._features(self.check_input(x))
