r"""Tempered Adversarial Networks (Sajjadi, Parascandolo, Mehrjou & Schölkopf, ICML 2018).

A lens network L sits between the real data and the discriminator: D is trained on
:math:`\{(L(x), 1)\} \cup \{(G(z), 0)\}` with any loss of :mod:`~reprlab.models.gan.losses`, G as
in a GAN, and the lens minimizes (the paper's Sec. 3; the lecture:
:math:`L^* = \arg\min -\lambda \mathcal L(D) + \sum_i \|L(x_i) - x_i\|^2`)

.. math::  \mathcal L_L = \lambda\, \mathcal L_L^A + \mathcal L_L^R,\qquad
           \mathcal L_L^A = -\mathcal L_D\big(D(L(x)), D(G(z))\big),\qquad
           \mathcal L_L^R = \|X - L(X)\|_2^2 .

Early on it makes the real data harder to tell from the fakes; the adversarial weight follows

.. math::  \lambda(t) = 1 - \sin\Big(\frac{t\pi}{2K}\Big) \text{ for } t \le K,\qquad \lambda(t) = 0 \text{ after},

so that the reconstruction term alone brings the lens back to the identity and D ends on the true
task. t counts lens updates, K is ``lens_steps``: 10,000 by default, the value the caption of the
paper's Fig. 2 gives for all its experiments (a summary of the paper says :math:`10^5`; we could not
read the caption ourselves, so the default follows the reading of those who did).

**Normalization of** :math:`\mathcal L_L^R` (``lens_reconstruction``). For a batch of n samples of
d entries each (d = C·H·W), ``mean`` (default) averages the squared error over all n·d entries,
:math:`\mathcal L_L^R = \frac{1}{nd} \sum_i \|L(x_i) - x_i\|^2`, as a ``reduce_mean`` of
:math:`(X - L(X))^2` computes it; ``sum`` sums over each sample's entries and averages over the
batch, :math:`\frac1n \sum_i \|L(x_i) - x_i\|^2`. :math:`\mathcal L_L^A` is a batch mean in both.
The choice sets how far the lens moves: to first order in the displacement
:math:`\delta_i = L(x_i) - x_i`, sample i's share of :math:`\mathcal L_L` is minimized at

.. math::  \delta_i = -\tfrac{\lambda}{2}\, c\, \nabla_{x_i} \ell^A_i,\qquad c = d \text{ (mean)},\ c = 1 \text{ (sum)},

with :math:`\ell^A_i` the sample's term of :math:`n \mathcal L_L^A`. D's input gradient is spread
over d pixels, so with ``sum`` each pixel moves by about a percent of its range: on 8x8 digits
(Adam 2e-4, K = 300) the distortion peaks near 0.005 and L(x) looks exactly like x; the lens stays
the identity and tempers nothing, and the gap grows with d (784 on MNIST). With ``mean`` the pull
back is d times weaker: on the same digits the distortion peaks near 2 (about 0.17 per pixel),
D(L(x)) ≈ 1/2 while λ is large, and it is back under 0.005 at t = K.

**Lens.** :math:`L(x) = x + r(x)`, a global skip around a branch r whose last layer starts at zero
(L starts as the identity and still learns: that layer's weight gradient is nonzero). Images,
``lens_arch=paper`` (the paper's Fig. 4): a 3x3 convolution to 32 channels and a leaky ReLU (slope 0.2),
8 residual blocks (3x3 conv, leaky ReLU, 3x3 conv, plus a skip), a 3x3 convolution back to the
image's channels, all stride 1 and padding 1, no BatchNorm; ``lens_arch=small``: ``lens_depth``
3x3 convolutions with ReLUs. Vectors: an MLP of ``lens_depth`` layers.

**After K** (``lens_after_k``). ``train`` (default, the paper): the lens keeps its update, on
:math:`\mathcal L_L^R` alone, and D keeps seeing L(x), which tends to x. ``identity``: once t = K the
lens is dropped, :math:`L(x) = x` exactly: D sees the real data itself and the lens is not updated or
run again. The lens's distortion at K (logged up to its last update) is what the two differ by at
that point; the rest of the run costs a plain GAN step instead of a lens step (on MNIST with the
paper's lens, one CPU thread: about 12x less), which makes runs many times longer than K affordable
on a CPU.

One training step runs ``discriminator``, ``generator`` (every ``n_critic`` steps) and ``lens``. The
lens update returns (and the trainer logs as ``train/lens/<key>`` in ``metrics.csv``) ``loss``,
``adversarial`` (:math:`\mathcal L_L^A`), ``reconstruction`` (:math:`\mathcal L_L^R`), ``lambda`` and
``distortion`` :math:`= \frac1n \sum_i \|L(x_i) - x_i\|^2` (summed over pixels, averaged over the batch,
whatever the normalization).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from ...config import option
from ...data.base import Batch
from ..base import Update
from ..registry import register_model
from .model import GAN, GANConfig
from .regularizers import instance_noise

LEAKY_SLOPE = 0.2  # the lens's leaky ReLUs


def lens_weight(t: int, k: int) -> float:
    r"""λ(t) = 1 − sin(tπ / 2K) for t ≤ K, else 0 (Sajjadi et al. 2018): from 1 smoothly down to 0."""
    return 1.0 - math.sin(t * math.pi / (2 * k)) if t <= k else 0.0


class ResidualBlock(nn.Module):
    """x + conv(act(conv(x))): two 3x3, stride-1, padding-1 convolutions of ``width`` channels, no BatchNorm."""

    def __init__(self, width: int, slope: float = LEAKY_SLOPE):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(width, width, 3, 1, 1), nn.LeakyReLU(slope), nn.Conv2d(width, width, 3, 1, 1))

    def forward(self, h: Tensor) -> Tensor:
        return h + self.body(h)


class Lens(nn.Module):
    r"""L(x) = x + r(x): ``(B, *shape)`` -> ``(B, *shape)``, a global skip around a branch r.

    r for images, ``arch="paper"`` (Sajjadi et al. 2018, Fig. 4): a 3x3 convolution to ``width``
    channels and a leaky ReLU, ``blocks`` :class:`ResidualBlock` s, a 3x3 convolution back to the
    image's channels (all stride 1, padding 1, no BatchNorm); ``arch="small"``: ``depth`` 3x3
    convolutions with ReLUs between. For vectors r is an MLP (``depth`` linear layers of ``width``
    units). r's last layer starts at zero, so L starts as the identity; it still learns: the
    gradient of that layer's weights is the outer product of the output gradient with the (nonzero)
    hidden features, and once it is nonzero the earlier layers receive gradients too.
    """

    def __init__(self, input_shape: tuple[int, ...], arch: str = "paper", width: int = 32, depth: int = 3,
                 blocks: int = 8):
        super().__init__()
        self.input_shape = input_shape
        layers: list[nn.Module]
        if len(input_shape) == 3 and arch == "paper":
            c = input_shape[0]
            layers = [nn.Conv2d(c, width, 3, 1, 1), nn.LeakyReLU(LEAKY_SLOPE), *[ResidualBlock(width) for _ in range(blocks)],
                      nn.Conv2d(width, c, 3, 1, 1)]
        elif len(input_shape) == 3:
            c = input_shape[0]
            layers = []
            for i in range(depth - 1):
                layers += [nn.Conv2d(c if i == 0 else width, width, 3, padding=1), nn.ReLU()]
            layers.append(nn.Conv2d(width if depth > 1 else c, c, 3, padding=1))
        else:
            d = math.prod(input_shape)
            layers = [nn.Flatten()]
            for i in range(depth - 1):
                layers += [nn.Linear(d if i == 0 else width, width), nn.ReLU()]
            layers.append(nn.Linear(width if depth > 1 else d, d))
        nn.init.zeros_(layers[-1].weight)
        nn.init.zeros_(layers[-1].bias)
        self.residual = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.residual(x).view_as(x)


def distortion(x_lens: Tensor, x: Tensor) -> Tensor:
    r""":math:`\frac1n \sum_i \|L(x_i) - x_i\|^2`: squared error summed over each sample's entries, averaged over the batch."""
    return (x_lens - x).flatten(1).pow(2).sum(1).mean()


@dataclass
class TemperedGANConfig(GANConfig):
    lens_steps: int = option(10_000, "K: lens steps over which the lens's adversarial weight λ goes from 1 to 0 "
                             "(the paper's Fig. 2: 10k)", ge=1)
    lens_arch: Literal["paper", "small"] = option("paper", "image lens: paper (Sajjadi et al. 2018, Fig. 4: 3x3 conv to "
                                                  "lens_width channels, lens_blocks residual blocks, 3x3 conv back, global skip) "
                                                  "or small (lens_depth 3x3 convs, global skip); vectors: always an MLP")
    lens_width: int = option(32, "channels (images) or units (vectors) of the lens's hidden layers", ge=1)
    lens_blocks: int = option(8, "residual blocks of the paper lens", ge=0)
    lens_depth: int = option(3, "layers of the small (images) or MLP (vectors) lens's residual branch", ge=1)
    lens_lr: float | None = option(None, "lens learning rate (null: train.lr)", gt=0)
    lens_reconstruction: Literal["mean", "sum"] = option(
        "mean", "the reconstruction term ‖X − L(X)‖²: mean over all entries of the batch (as a reduce_mean computes it; "
        "the lens visibly tempers the data) or sum over each sample's entries, averaged over the batch (d times "
        "stronger for d entries: on images the lens stays within about a percent of the identity)")
    lens_after_k: Literal["train", "identity"] = option(
        "train", "after K lens steps (λ = 0): train (the paper: the lens keeps learning on ‖X − L(X)‖² alone and D "
        "sees L(x)) or identity (the lens is dropped: D sees x itself and each later step costs a plain GAN step)")


@register_model("tempered-gan", "Tempered Adversarial Network: a GAN whose discriminator sees real data through a lens annealed to the identity")
class TemperedGAN(GAN):
    """A :class:`~reprlab.models.gan.model.GAN` with a lens on the real data; ``lens(x)`` shows L(x)."""

    name = "tempered-gan"
    recipes = {}  # the GAN's recipes are for 2-D mixtures, which a lens on images cannot take
    Config = TemperedGANConfig
    #: runs saved before the paper lens: the small residual lens and the summed reconstruction term
    legacy_defaults = {"lens_arch": "small", "lens_reconstruction": "sum"}

    def __init__(self, config: TemperedGANConfig, input_shape: tuple[int, ...]):
        super().__init__(config, input_shape)
        self.lens = Lens(self.input_shape, config.lens_arch, config.lens_width, config.lens_depth, config.lens_blocks)
        self.register_buffer("lens_steps_done", torch.zeros((), dtype=torch.long))

    def updates(self) -> list[Update]:
        lens = Update("lens", self.lens.parameters, 1, self.config.lens_lr, self.config.betas,
                      active=lambda: not self.lens_dropped())
        return [*super().updates(), lens]

    def lam(self) -> float:
        """The lens's current adversarial weight λ(t)."""
        return lens_weight(self.counter("lens_steps_done"), self.config.lens_steps)

    def lens_dropped(self) -> bool:
        """Whether L is the identity from now on (``lens_after_k=identity`` and K lens steps done)."""
        return self.config.lens_after_k == "identity" and self.counter("lens_steps_done") >= self.config.lens_steps

    def real_view(self, x: Tensor) -> Tensor:
        """What D sees of the real batch: L(x), or x itself once the lens is dropped."""
        return x if self.lens_dropped() else self.lens(x)

    def forward(self, batch: Batch, update: str = "discriminator") -> dict[str, Tensor]:
        x = batch.x
        if update == "generator":
            return super().forward(batch, update)
        z = self.noise(x.shape[0], x)
        with torch.no_grad():
            x_fake = self.G(z)
        if update == "discriminator":
            with torch.no_grad():
                x_lens = self.real_view(x)
            return self.discriminator_loss(x_lens, x_fake)
        x_lens = self.lens(x)
        sigma = self.noise_std()  # the lens plays against the discriminator as it is trained: on x + σε
        d_real, d_fake = self.D(instance_noise(x_lens, sigma)), self.D(instance_noise(x_fake, sigma))
        adversarial = -self.loss_fns.discriminator(d_real, d_fake)  # L_L^A = −L_D
        dist = distortion(x_lens, x)  # (1/n) Σ_i ‖L(x_i) − x_i‖²
        reconstruction = dist / math.prod(self.input_shape) if self.config.lens_reconstruction == "mean" else dist  # L_L^R
        lam = self.lam()
        return {"loss": lam * adversarial + reconstruction, "adversarial": adversarial.detach(),
                "reconstruction": reconstruction.detach(), "distortion": dist.detach(),
                "lambda": torch.tensor(lam, device=x.device)}

    def after_update(self, update: str) -> None:
        super().after_update(update)
        if update == "lens":
            self.bump("lens_steps_done")

    def snapshot(self) -> dict[str, Tensor]:
        """Also ``{"lens": (2, 8, C, H, W)}`` for images: a fixed real batch x above L(x)."""
        out = super().snapshot()
        if len(self.input_shape) == 3 and getattr(self, "lens_probe", None) is not None:
            x = self.lens_probe.to(self.fixed_z.device)
            with torch.no_grad():
                out["lens"] = torch.stack([x, self.real_view(x).clamp(0, 1)]).cpu()
        return out

    def training_data(self, data, seed: int = 0):
        self.lens_probe = data.x[:8].detach().clone() if data.is_image else None  # the images shown through the lens
        return data
