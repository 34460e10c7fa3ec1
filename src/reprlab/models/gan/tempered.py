r"""Tempered Adversarial Networks (Sajjadi, Parascandolo, Mehrjou & Schölkopf, ICML 2018).

A lens network L sits between the real data and the discriminator: D is trained on
:math:`\{(L(x), 1)\} \cup \{(G(z), 0)\}` with any loss of :mod:`~reprlab.models.gan.losses`, and
the lens minimizes

.. math::  \mathcal L_L = \lambda\, \mathcal L_L^A + \mathcal L_L^R,\qquad
           \mathcal L_L^A = -\mathcal L_D\big(D(L(x)), D(G(z))\big),\qquad
           \mathcal L_L^R = \frac1n \sum_i \|L(x_i) - x_i\|^2

(the lecture: :math:`L^* = \arg\min -\lambda \mathcal L(D) + \sum_i \|L(x_i) - x_i\|^2`): early on it
makes the real data harder to tell from the fakes, and as the weight follows the paper's schedule

.. math::  \lambda(t) = 1 - \sin\Big(\frac{t\pi}{2K}\Big) \text{ for } t \le K,\qquad \lambda(t) = 0 \text{ after},

the reconstruction term turns the lens into the identity, so that at the end D faces the true
task. K is ``lens_steps``. The lens is a small residual network :math:`L(x) = x + r(x)` whose last
layer starts at zero (L starts as the identity): convolutional for images, an MLP for vectors.
One training step runs ``discriminator``, ``generator`` (every ``n_critic`` steps) and ``lens``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ...config import option
from ...data.base import Batch
from ..base import Update
from ..registry import register_model
from .model import GAN, GANConfig
from .regularizers import instance_noise


def lens_weight(t: int, k: int) -> float:
    r"""λ(t) = 1 − sin(tπ / 2K) for t ≤ K, else 0 (Sajjadi et al. 2018): from 1 smoothly down to 0."""
    return 1.0 - math.sin(t * math.pi / (2 * k)) if t <= k else 0.0


class Lens(nn.Module):
    """L(x) = x + r(x): (B, *shape) -> (B, *shape); r's last layer is zero-initialized (L = identity)."""

    def __init__(self, input_shape: tuple[int, ...], width: int = 32, depth: int = 3):
        super().__init__()
        self.input_shape = input_shape
        if len(input_shape) == 3:
            c = input_shape[0]
            layers: list[nn.Module] = []
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


@dataclass
class TemperedGANConfig(GANConfig):
    lens_steps: int = option(2000, "K: steps over which the lens's adversarial weight λ goes from 1 to 0", ge=1)
    lens_width: int = option(32, "channels (images) or units (vectors) of the lens's hidden layers", ge=1)
    lens_depth: int = option(3, "layers of the lens's residual branch", ge=1)
    lens_lr: float | None = option(None, "lens learning rate (null: train.lr)", gt=0)


@register_model("tempered-gan", "Tempered Adversarial Network: a GAN whose discriminator sees real data through a lens annealed to the identity")
class TemperedGAN(GAN):
    """A :class:`~reprlab.models.gan.model.GAN` with a lens on the real data; ``lens(x)`` shows L(x)."""

    name = "tempered-gan"
    Config = TemperedGANConfig

    def __init__(self, config: TemperedGANConfig, input_shape: tuple[int, ...]):
        super().__init__(config, input_shape)
        self.lens = Lens(self.input_shape, config.lens_width, config.lens_depth)
        self.register_buffer("lens_steps_done", torch.zeros((), dtype=torch.long))

    def updates(self) -> list[Update]:
        return [*super().updates(), Update("lens", self.lens.parameters, 1, self.config.lens_lr, self.config.betas)]

    def lam(self) -> float:
        """The lens's current adversarial weight λ(t)."""
        return lens_weight(self.counter("lens_steps_done"), self.config.lens_steps)

    def forward(self, batch: Batch, update: str = "discriminator") -> dict[str, Tensor]:
        x = batch.x
        if update == "generator":
            return super().forward(batch, update)
        z = self.noise(x.shape[0], x)
        with torch.no_grad():
            x_fake = self.G(z)
        if update == "discriminator":
            with torch.no_grad():
                x_lens = self.lens(x)
            return self.discriminator_loss(x_lens, x_fake)
        x_lens = self.lens(x)
        sigma = self.noise_std()  # the lens plays against the discriminator as it is trained: on x + σε
        d_real, d_fake = self.D(instance_noise(x_lens, sigma)), self.D(instance_noise(x_fake, sigma))
        adversarial = -self.loss_fns.discriminator(d_real, d_fake)  # L_L^A = −L_D
        reconstruction = (x_lens - x).flatten(1).pow(2).sum(1).mean()  # L_L^R
        lam = self.lam()
        return {"loss": lam * adversarial + reconstruction, "adversarial": adversarial.detach(),
                "reconstruction": reconstruction.detach(), "lambda": torch.tensor(lam, device=x.device)}

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
                out["lens"] = torch.stack([x, self.lens(x).clamp(0, 1)]).cpu()
        return out

    def training_data(self, data, seed: int = 0):
        self.lens_probe = data.x[:8].detach().clone() if data.is_image else None  # the images shown through the lens
        return data
