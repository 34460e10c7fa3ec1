r"""Regularizers of the discriminator, added to its loss: ``reg(D, x_real, x_fake, gamma) -> scalar``.

``D`` maps a batch (B, ...) to raw outputs t (B,) (logits or critic values). Every regularizer
is defined with any loss of :mod:`reprlab.models.gan.losses`, except ``roth``, which needs
:math:`D = \sigma(t)` to be a probability (the ``minimax``, ``ns`` and ``logratio`` losses).
The gradients are taken with respect to the *inputs* of D and kept in the graph
(``create_graph=True``), so that the discriminator's update differentiates through them.

========  =====================  =========================================================================
name      paper                  added to the discriminator's loss
========  =====================  =========================================================================
``r1``    Mescheder et al. 2018  :math:`\frac\gamma2 \mathbb E_{P_r} \|\nabla_x D(x)\|^2`
``r2``    Mescheder et al. 2018  :math:`\frac\gamma2 \mathbb E_{P_g} \|\nabla_x D(x)\|^2`
``gp``    Gulrajani et al. 2017  :math:`\gamma\, \mathbb E_{\hat x} (\|\nabla_{\hat x} D(\hat x)\| - 1)^2`
``roth``  Roth et al. 2017       :math:`\frac\gamma2 \big(\mathbb E_{P_r}(1-\sigma(t))^2\|\nabla t\|^2 + \mathbb E_{P_g}\sigma(t)^2\|\nabla t\|^2\big)`
========  =====================  =========================================================================

Instance noise (Sønderby et al. 2017; Arjovsky & Bottou 2017) is not a penalty but a change of the
discriminator's inputs: :func:`instance_noise`. So is packing (PacGAN, Lin et al. 2018:
:func:`pack_samples`): with ``pack = m`` D judges m samples at once, and every penalty is taken on
the packed inputs (one gradient norm per pack).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from ...errors import ConfigError
from .losses import LOSSES

Discriminator = Callable[[Tensor], Tensor]


def input_gradient(D: Discriminator, x: Tensor) -> tuple[Tensor, Tensor]:
    """``(t, ∇_x t)``: D's outputs (B,) at ``x`` and the gradient of each output with respect to its
    own input (B, ...), kept in the graph for a second differentiation."""
    x = x.detach().requires_grad_(True)
    t = D(x)
    (g,) = torch.autograd.grad(t.sum(), x, create_graph=True)
    return t, g


def _sq_norm(g: Tensor) -> Tensor:
    return g.flatten(1).pow(2).sum(1)  # (B, ...) -> (B,)


def r1_penalty(D: Discriminator, x_real: Tensor, x_fake: Tensor, gamma: float) -> Tensor:
    r"""R1 (Mescheder et al. 2018): gradient penalty on the real data,

    .. math::  R_1(\psi) = \frac\gamma2\, \mathbb E_{x \sim P_r} \|\nabla_x D_\psi(x)\|^2
    """
    _, g = input_gradient(D, x_real)
    return 0.5 * gamma * _sq_norm(g).mean()


def r2_penalty(D: Discriminator, x_real: Tensor, x_fake: Tensor, gamma: float) -> Tensor:
    r"""R2 (Mescheder et al. 2018): gradient penalty on the generated data,

    .. math::  R_2(\theta, \psi) = \frac\gamma2\, \mathbb E_{x \sim P_\theta} \|\nabla_x D_\psi(x)\|^2
    """
    _, g = input_gradient(D, x_fake)
    return 0.5 * gamma * _sq_norm(g).mean()


def wgan_gradient_penalty(D: Discriminator, x_real: Tensor, x_fake: Tensor, gamma: float) -> Tensor:
    r"""WGAN-GP's penalty (Gulrajani et al. 2017) on random interpolates of real and fake samples,

    .. math::  \gamma\, \mathbb E_{\hat x}\big(\|\nabla_{\hat x} D(\hat x)\|_2 - 1\big)^2,\qquad
               \hat x = \epsilon x + (1 - \epsilon)\tilde x,\ \epsilon \sim U[0, 1]

    (the paper's λ is ``gamma``; its default 10).
    """
    eps = torch.rand((x_real.shape[0],) + (1,) * (x_real.dim() - 1), device=x_real.device, dtype=x_real.dtype)
    x_hat = eps * x_real.detach() + (1 - eps) * x_fake.detach()
    _, g = input_gradient(D, x_hat)
    return gamma * (_sq_norm(g).add(1e-12).sqrt() - 1).pow(2).mean()


def roth_penalty(D: Discriminator, x_real: Tensor, x_fake: Tensor, gamma: float) -> Tensor:
    r"""Roth et al. 2017's regularizer for the Jensen-Shannon GAN, with :math:`D = \sigma(\varphi)`:

    .. math::  \frac\gamma2\Big(\mathbb E_{P_r}\big[(1 - D(x))^2 \|\nabla_x \varphi(x)\|^2\big]
               + \mathbb E_{P_g}\big[D(x)^2 \|\nabla_x \varphi(x)\|^2\big]\Big)

    (as written by Mescheder et al. 2018, Sec. 4.1).
    """
    t_r, g_r = input_gradient(D, x_real)
    t_f, g_f = input_gradient(D, x_fake)
    real = (1 - torch.sigmoid(t_r)).pow(2) * _sq_norm(g_r)
    fake = torch.sigmoid(t_f).pow(2) * _sq_norm(g_f)
    return 0.5 * gamma * (real.mean() + fake.mean())


def instance_noise(x: Tensor, sigma: float, generator: torch.Generator | None = None) -> Tensor:
    r"""Instance noise: the discriminator sees :math:`x + \sigma \varepsilon`, :math:`\varepsilon \sim \mathcal N(0, I)`,
    for real and generated samples alike, so that the two distributions overlap (Sønderby et al. 2017);
    the caller anneals σ to 0 (:meth:`reprlab.models.gan.model.GAN.noise_std`)."""
    if sigma <= 0:
        return x
    return x + sigma * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)


def pack_samples(x: Tensor, m: int) -> Tensor:
    r"""PacGAN's packing (Lin et al. 2018): each run of ``m`` consecutive samples becomes one input of
    the discriminator, concatenated along the first feature axis (the channels of images),

    .. math::  (x_1, \dots, x_B) \mapsto \big([x_1; \dots; x_m], [x_{m+1}; \dots; x_{2m}], \dots\big):
               (B, C, \dots) \to (\lfloor B/m \rfloor, mC, \dots),

    so that D sees the joint of m samples and a generator that drops modes is caught by the lack of
    variety within a pack. A remainder of :math:`B \bmod m` samples is left out; ``m = 1`` is the identity."""
    if m == 1:
        return x
    n = x.shape[0] // m
    return x[: n * m].reshape(n, m * x.shape[1], *x.shape[2:])


REGULARIZERS: dict[str, Callable[[Discriminator, Tensor, Tensor, float], Tensor]] = {
    "r1": r1_penalty,
    "r2": r2_penalty,
    "gp": wgan_gradient_penalty,
    "roth": roth_penalty,
}

#: regularizers that need D = σ(t) to be a probability
NEEDS_PROBABILITY = {"roth"}


def regularizer_names() -> list[str]:
    """Every name a config accepts for a regularizer: ``none``, then the registry's (read now)."""
    return ["none", *REGULARIZERS]


def get_regularizer(name: str, probabilistic: bool = True):
    """The regularizer called ``name`` (None for ``none``), checked against the loss it joins."""
    if name == "none":
        return None
    if name not in REGULARIZERS:
        raise ConfigError(f"unknown GAN regularizer {name!r}; choose one of {', '.join(regularizer_names())}")
    if name in NEEDS_PROBABILITY and not probabilistic:
        probabilistic_losses = ", ".join(n for n, spec in LOSSES.items() if spec.probabilistic)
        raise ConfigError(f"regularizer {name!r} needs D(x) = σ(t) to be a probability; use it with loss {probabilistic_losses}")
    return REGULARIZERS[name]


def discriminator_objective(loss_fns, D: Discriminator, x_real: Tensor, x_fake: Tensor, *, regularizer=None,
                            reg_name: str = "", gamma: float = 0.0, pack: int = 1, reg_every: int = 1,
                            d_step: int = 0) -> dict[str, Tensor]:
    """The discriminator's full loss on a real and a (detached) fake batch, shared by every
    adversarial model (GAN, AAE, Tempered GAN): :math:`L_D(D(x), D(\\tilde x))` plus ``regularizer``
    (weight ``gamma``; WGAN-GP is the ``wgan`` loss with the ``gp`` regularizer). With ``pack = m``
    both batches are packed first (:func:`pack_samples`) and ``D`` takes packed inputs.

    Lazy regularization (Karras et al. 2020, Sec. 3.1): with ``reg_every = k`` the penalty is added
    only to the updates whose index ``d_step`` (0, 1, ...) is a multiple of k, with weight k·γ; its
    mean over updates is then the penalty of weight γ, at about 1/k of its cost.

    Returns ``loss`` and the detached terms to log (``adversarial``, ``t_real``, ``t_fake``, and
    ``<reg_name>`` on the updates that carry the penalty)."""
    x_real, x_fake = pack_samples(x_real, pack), pack_samples(x_fake, pack)
    t_real, t_fake = D(x_real), D(x_fake)
    adv = loss_fns.discriminator(t_real, t_fake)
    loss = adv
    out = {"adversarial": adv.detach(), "t_real": t_real.mean().detach(), "t_fake": t_fake.mean().detach()}
    if regularizer is not None and d_step % reg_every == 0:
        reg = regularizer(D, x_real, x_fake, gamma * reg_every)
        loss, out[reg_name] = loss + reg, reg.detach()
    return {"loss": loss, **out}


@torch.no_grad()
def clip_weights(module, c: float) -> None:
    """WGAN's weight clipping (Arjovsky et al. 2017): every parameter of ``module`` into [−c, c]."""
    for p in module.parameters():
        p.clamp_(-c, c)
