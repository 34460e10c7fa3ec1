r"""GAN losses, as functions of the discriminator's raw outputs (logits / critic values).

The discriminator returns a real number :math:`t = D_\psi(x)`; for the probabilistic losses the
lecture's :math:`D(x) \in [0, 1]` is :math:`\sigma(t)`, and every log is computed from ``t`` stably
(``log σ(t) = −softplus(−t)``, ``log(1 − σ(t)) = −softplus(t)``). Each loss is a pair:

- ``discriminator(t_real, t_fake) -> scalar`` that the discriminator (critic) *minimizes*;
- ``generator(t_fake) -> scalar`` that the generator *minimizes*.

``t_real``: (B,) outputs on real samples, ``t_fake``: (B,) outputs on generated ones.

=============  =================================================================  ======================
name           generator loss                                                     paper
=============  =================================================================  ======================
``minimax``    :math:`\mathbb E \log(1 - D(G(z)))` (saturating)                   Goodfellow et al. 2014
``ns``         :math:`-\mathbb E \log D(G(z))` (non-saturating)                   Goodfellow et al. 2014
``logratio``   :math:`\mathbb E \log\frac{1 - D(G(z))}{D(G(z))}` (the lecture's)  lecture; Huszár 2015
``wgan``       :math:`-\mathbb E\, D(G(z))` (critic, no sigmoid)                  Arjovsky et al. 2017
=============  =================================================================  ======================

WGAN-GP (Gulrajani et al. 2017) is ``wgan`` with the ``gp`` regularizer of
:mod:`reprlab.models.gan.regularizers`; weight clipping is the model's ``clip`` option.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch.nn.functional as F
from torch import Tensor

from ...errors import ConfigError


def gan_discriminator_loss(t_real: Tensor, t_fake: Tensor) -> Tensor:
    r"""The discriminator's side of the minimax game (it maximizes the value, so minimizes its negative):

    .. math::  L_D = -\mathbb E_{x \sim P_r} \log D(x) - \mathbb E_{z} \log\big(1 - D(G(z))\big)
               = \mathbb E\, \mathrm{softplus}(-t_{real}) + \mathbb E\, \mathrm{softplus}(t_{fake})

    Its minimizer is :math:`D^*(x) = P_r(x) / (P_r(x) + P_g(x))` (Goodfellow et al. 2014).
    """
    return F.softplus(-t_real).mean() + F.softplus(t_fake).mean()


def minimax_generator_loss(t_fake: Tensor) -> Tensor:
    r"""Saturating generator loss of the minimax game:

    .. math::  L_G = \mathbb E_z \log\big(1 - D(G(z))\big) = -\mathbb E\, \mathrm{softplus}(t_{fake})

    Its gradient :math:`-\sigma(t)` vanishes when D confidently rejects the fakes (:math:`t \to -\infty`):
    the lecture's "vanishing gradient" caveat.
    """
    return -F.softplus(t_fake).mean()


def nonsaturating_generator_loss(t_fake: Tensor) -> Tensor:
    r"""Non-saturating generator loss (Goodfellow et al. 2014):

    .. math::  L_G = -\mathbb E_z \log D(G(z)) = \mathbb E\, \mathrm{softplus}(-t_{fake})

    Gradient :math:`-(1 - \sigma(t))`: largest when D rejects the fakes.
    """
    return F.softplus(-t_fake).mean()


def logratio_generator_loss(t_fake: Tensor) -> Tensor:
    r"""The lecture's generator loss: replace :math:`\log(1 - D)` by :math:`\log((1 - D)/D)`:

    .. math::  L_G = \mathbb E_z \log\frac{1 - D(G(z))}{D(G(z))} = -\mathbb E\, t_{fake}

    (the generator maximizes :math:`-\log((1 - D)/D)`). It is the sum of the minimax and the
    non-saturating losses; with the optimal :math:`D^*` it equals :math:`KL(P_g \| P_r)`, so it has
    the same fixed point :math:`P_g = P_r`, and its gradient in ``t`` is the constant −1: it never
    saturates.
    """
    return -t_fake.mean()


def wgan_critic_loss(t_real: Tensor, t_fake: Tensor) -> Tensor:
    r"""The WGAN critic's loss (Arjovsky et al. 2017): it maximizes
    :math:`\mathbb E_{P_r} D(x) - \mathbb E_{P_g} D(x)` over 1-Lipschitz D, so minimizes

    .. math::  L_D = \mathbb E_z D(G(z)) - \mathbb E_{x \sim P_r} D(x)

    (Lipschitz by weight clipping, or the ``gp`` penalty for WGAN-GP).
    """
    return t_fake.mean() - t_real.mean()


def wgan_generator_loss(t_fake: Tensor) -> Tensor:
    r"""The WGAN generator's loss: :math:`L_G = -\mathbb E_z D(G(z))` (it minimizes
    :math:`W(P_r, P_g) \approx \mathbb E_{P_r} D - \mathbb E_{P_g} D`)."""
    return -t_fake.mean()


def info_loss(q_logits: Tensor, c: Tensor) -> Tensor:
    r"""InfoGAN's mutual-information term for a categorical code (Chen et al. 2016, eq. 4-5), which G
    and the auxiliary head Q minimize beside the adversarial loss (weight λ):

    .. math::  L_I(G, Q) = \mathbb E_{c \sim \mathrm{Cat}(K),\, z}\big[-\log Q(c \mid G(z, c))\big]
               = H(c) - \hat I, \qquad \hat I \le I\big(c;\, G(z, c)\big)

    (the variational lower bound :math:`\hat I` of the mutual information, up to the constant
    entropy :math:`H(c) = \log K`). ``q_logits``: (B, K) the logits of Q(c | x) on generated
    samples, ``c``: (B,) the categories they were generated from."""
    return F.cross_entropy(q_logits, c)


@dataclass(frozen=True)
class GANLoss:
    """A named pair of losses; ``probabilistic``: D(x) = σ(t) is a probability (not a critic)."""

    name: str
    discriminator: Callable[[Tensor, Tensor], Tensor]
    generator: Callable[[Tensor], Tensor]
    probabilistic: bool
    description: str


LOSSES: dict[str, GANLoss] = {
    "minimax": GANLoss("minimax", gan_discriminator_loss, minimax_generator_loss, True, "min_G max_D E log D(x) + E log(1 − D(G(z)))"),
    "ns": GANLoss("ns", gan_discriminator_loss, nonsaturating_generator_loss, True, "non-saturating: G minimizes −log D(G(z))"),
    "logratio": GANLoss("logratio", gan_discriminator_loss, logratio_generator_loss, True, "G minimizes log((1 − D)/D) (the lecture's)"),
    "wgan": GANLoss("wgan", wgan_critic_loss, wgan_generator_loss, False, "Wasserstein critic E D(fake) − E D(real)"),
}


#: names that stand for a loss with a regularizer: ``wgan-gp`` is the ``wgan`` loss with the ``gp``
#: penalty of :mod:`reprlab.models.gan.regularizers` (Gulrajani et al. 2017), not a loss of its own
LOSS_ALIASES: dict[str, tuple[str, str]] = {"wgan-gp": ("wgan", "gp")}


def loss_names() -> list[str]:
    """Every name a config accepts for a GAN loss: the registry's, then the aliases (read now)."""
    return [*LOSSES, *LOSS_ALIASES]


def get_loss(name: str) -> GANLoss:
    """The loss pair called ``name`` (an alias: its loss, e.g. ``wgan`` for ``wgan-gp``)."""
    key = LOSS_ALIASES[name][0] if name in LOSS_ALIASES else name
    if key not in LOSSES:
        raise ConfigError(f"unknown GAN loss {name!r}; choose one of {', '.join(loss_names())}")
    return LOSSES[key]
