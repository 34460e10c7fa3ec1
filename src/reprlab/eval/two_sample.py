r"""Two-sample statistics: how far a set of codes is from samples of a prior.

Used to quantify how well an adversarial auto-encoder or a VAE fits its prior (held-out codes
against prior draws).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import UsageError


def _check(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    a, b = torch.as_tensor(a).double(), torch.as_tensor(b).double()
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise UsageError(f"two-sample statistics need (n, d) and (m, d) samples, got {tuple(a.shape)} and {tuple(b.shape)}")
    if min(len(a), len(b)) < 2:
        raise UsageError("two-sample statistics need at least 2 samples on each side")
    return a, b


def mmd_rbf(a: Tensor, b: Tensor, bandwidths: tuple[float, ...] | None = None) -> float:
    r"""Unbiased squared maximum mean discrepancy with a sum of Gaussian kernels (Gretton et al. 2012):

    .. math::  \mathrm{MMD}^2_u = \frac{1}{n(n-1)}\sum_{i\ne j} k(a_i, a_j) + \frac{1}{m(m-1)}\sum_{i\ne j} k(b_i, b_j)
               - \frac{2}{nm}\sum_{i,j} k(a_i, b_j),\qquad k(x, y) = \sum_s e^{-\|x - y\|^2 / (2 s^2)}

    ``bandwidths`` s default to the median of the a–b and a–a pairwise distances times
    (0.5, 1, 2). Near 0 (possibly negative) when a and b come from the same distribution.
    """
    a, b = _check(a, b)
    n, m = len(a), len(b)
    d_aa, d_bb, d_ab = torch.cdist(a, a).pow(2), torch.cdist(b, b).pow(2), torch.cdist(a, b).pow(2)
    if bandwidths is None:
        med = torch.cat([d_ab.flatten(), d_aa[~torch.eye(n, dtype=torch.bool)]]).sqrt().median().clamp_min(1e-12)
        bandwidths = tuple(float(med) * f for f in (0.5, 1.0, 2.0))
    k = lambda d2: sum(torch.exp(-d2 / (2 * s * s)) for s in bandwidths)  # noqa: E731
    k_aa, k_bb = k(d_aa), k(d_bb)
    term_aa = (k_aa.sum() - k_aa.diagonal().sum()) / (n * (n - 1))
    term_bb = (k_bb.sum() - k_bb.diagonal().sum()) / (m * (m - 1))
    return float(term_aa + term_bb - 2 * k(d_ab).mean())


def sliced_wasserstein(a: Tensor, b: Tensor, projections: int = 256, seed: int = 0) -> float:
    r"""Sliced 2-Wasserstein distance (Rabin et al. 2011; Bonneel et al. 2015):

    .. math::  SW_2(a, b) = \Big(\mathbb E_{\omega \sim U(S^{d-1})} W_2^2(\omega^\top a,\ \omega^\top b)\Big)^{1/2}

    each 1-D :math:`W_2` computed exactly from sorted projections (quantile functions evaluated on
    a common grid when n ≠ m), the expectation over ``projections`` random directions.
    """
    a, b = _check(a, b)
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(a.shape[1], projections, generator=g, dtype=torch.float64)
    w = w / w.norm(dim=0, keepdim=True)  # directions on the sphere
    pa, pb = (a @ w).sort(0).values, (b @ w).sort(0).values  # (n, P), (m, P)
    if len(a) != len(b):
        q = torch.linspace(0, 1, max(len(a), len(b)), dtype=torch.float64)
        pa, pb = (torch.quantile(p, q, dim=0) for p in (pa, pb))
    return float((pa - pb).pow(2).mean().sqrt())


@torch.no_grad()
def aggregate_posterior_sample(model, x: Tensor, seed: int = 0) -> Tensor:
    """One code per input, drawn from the model's encoder: z ~ q(z|x) for a VAE (reparameterized,
    seeded), z = E(x) for a deterministic encoder (AAE): together a sample of the aggregated
    posterior q(z) = E_x q(z|x), the distribution an AAE or a VAE pushes towards its prior. (N, d)"""
    if hasattr(model, "posterior"):
        mu, logvar = model.posterior(model.check_input(x))
        eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(seed)).to(mu)
        return mu + torch.exp(0.5 * logvar) * eps
    return model.encode(x)


def prior_fit(model, x: Tensor, seed: int = 0) -> dict[str, float]:
    """How far the codes of held-out ``x`` are from the model's prior: sliced Wasserstein distance
    and MMD² between :func:`aggregate_posterior_sample` and as many prior draws (seeded)."""
    codes = aggregate_posterior_sample(model, x, seed).cpu().double()
    prior = model.prior.sample(len(codes), torch.Generator().manual_seed(seed + 1)).double()
    return {"sliced_wasserstein": sliced_wasserstein(codes, prior, seed=seed), "mmd2": mmd_rbf(codes[:2000], prior[:2000])}
