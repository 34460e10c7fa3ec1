"""Morphing in code space: decode the path between two codes, and the grid of decoded 2-D codes.

Any model that can ``encode`` and ``decode`` (AE, DAE, VAE, AAE) can be morphed. A straight
line in code space is the lecture's "interpolation between representations"; for a VAE with a
standard normal prior, codes live near a sphere of radius ~sqrt(d), and the spherical path
(Shoemake 1985; White 2016, "Sampling generative networks") stays there.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from ..errors import UsageError


def _check_pair(z0: Tensor, z1: Tensor, steps: int) -> tuple[Tensor, Tensor]:
    z0, z1 = torch.as_tensor(z0).flatten(), torch.as_tensor(z1).flatten()
    if z0.shape != z1.shape:
        raise UsageError(f"codes to interpolate must have the same size, got {tuple(z0.shape)} and {tuple(z1.shape)}")
    if steps < 2:
        raise UsageError(f"an interpolation needs at least 2 steps (both ends), got {steps}")
    if not (torch.isfinite(z0).all() and torch.isfinite(z1).all()):
        raise UsageError("codes to interpolate hold NaN or Inf; the model diverged: retrain it")
    return z0.double(), z1.double()


def lerp(z0: Tensor, z1: Tensor, steps: int) -> Tensor:
    """The straight line ``z(t) = (1 − t) z0 + t z1`` at ``steps`` evenly spaced ``t`` in [0, 1]: (steps, d)."""
    z0, z1 = _check_pair(z0, z1, steps)
    t = torch.linspace(0, 1, steps, dtype=torch.float64)[:, None]
    return (1 - t) * z0 + t * z1


def slerp(z0: Tensor, z1: Tensor, steps: int) -> Tensor:
    """Spherical interpolation, (steps, d):

    .. math::
        z(t) = \\frac{\\sin((1 - t)\\Omega)}{\\sin \\Omega} z_0 + \\frac{\\sin(t\\Omega)}{\\sin \\Omega} z_1,
        \\qquad \\cos \\Omega = \\frac{z_0 \\cdot z_1}{\\|z_0\\| \\|z_1\\|}

    (the great circle when ``‖z0‖ = ‖z1‖``); the straight line when the codes are (anti)parallel
    or zero, where Ω is undefined."""
    z0, z1 = _check_pair(z0, z1, steps)
    n0, n1 = z0.norm(), z1.norm()
    if n0 == 0 or n1 == 0:
        return lerp(z0, z1, steps)
    cos = float((z0 @ z1) / (n0 * n1))
    omega = math.acos(max(-1.0, min(1.0, cos)))
    if math.sin(omega) < 1e-6:
        return lerp(z0, z1, steps)
    t = torch.linspace(0, 1, steps, dtype=torch.float64)[:, None]
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / math.sin(omega)


PATHS = {"linear": lerp, "slerp": slerp}


def _need(model, *what: str) -> None:
    for w in what:
        if not getattr(model, f"can_{w}"):
            raise UsageError(f"model {model.name!r} cannot {w}: morphing needs a model with an encoder and a decoder")


@torch.no_grad()
def decode_codes(model, z: Tensor) -> Tensor:
    """Decoded images of codes ``z`` (n, d), on the CPU, clamped to [0, 1]: (n, C, H, W)."""
    p = next(model.parameters())
    x = model.decode(torch.as_tensor(z).to(p.device, p.dtype)).float().cpu()
    if x.ndim != 4:
        raise UsageError(f"model {model.name!r} decodes to shape {tuple(x.shape)}, not images: there is no picture to draw")
    return x.clamp(0, 1)


@torch.no_grad()
def interpolate(model, x0: Tensor, x1: Tensor, steps: int = 10, path: str = "linear") -> Tensor:
    """Decode the ``path`` (``linear`` or ``slerp``) from ``encode(x0)`` to ``encode(x1)``:
    (steps, C, H, W) images, the first and last being the reconstructions of ``x0`` and ``x1``."""
    _need(model, "encode", "decode")
    if path not in PATHS:
        raise UsageError(f"path must be one of {', '.join(PATHS)}, got {path!r}")
    z = model.encode(torch.stack([torch.as_tensor(x0), torch.as_tensor(x1)]))
    if z.ndim != 2:
        raise UsageError(f"model {model.name!r} gives codes of shape {tuple(z.shape)}; interpolation needs flat codes (B, d)")
    return decode_codes(model, PATHS[path](z[0].cpu(), z[1].cpu(), steps))


def traversal_codes(n: int, codes: Tensor | None = None, prior: str | None = None, quantile: float = 0.01) -> Tensor:
    """An ``n x n`` grid of 2-D codes, row by row from the top (high z₂) left (low z₁): (n², 2).

    ``prior="gaussian"``: z = Φ⁻¹(u) at u evenly spaced in (0, 1) (the decoded manifold figure of
    Kingma & Welling 2014, for a standard normal prior); otherwise the range of the data's
    ``codes`` between the ``quantile`` and ``1 − quantile`` quantiles of each coordinate."""
    if n < 2:
        raise UsageError(f"a traversal grid needs n >= 2, got {n}")
    if prior == "gaussian":
        from scipy.stats import norm

        u = (np.arange(n) + 0.5) / n
        a = b = torch.as_tensor(norm.ppf(u))
    elif prior is None:
        if codes is None:
            raise UsageError("a traversal grid needs the data's codes (to span their range) or prior='gaussian'")
        codes = torch.as_tensor(codes).double()
        if codes.ndim != 2 or codes.shape[1] != 2:
            raise UsageError(f"a traversal grid is for 2-D codes, got codes of shape {tuple(codes.shape)}; train with latent_dim=2")
        lo, hi = torch.quantile(codes, quantile, dim=0), torch.quantile(codes, 1 - quantile, dim=0)
        a, b = torch.linspace(float(lo[0]), float(hi[0]), n), torch.linspace(float(lo[1]), float(hi[1]), n)
    else:
        raise UsageError(f"prior must be None or 'gaussian', got {prior!r}")
    z1, z2 = torch.meshgrid(a.double(), b.double().flip(0), indexing="xy")  # rows: z2 from high to low
    return torch.stack([z1.reshape(-1), z2.reshape(-1)], dim=1)


def traversal_grid(model, n: int = 15, codes: Tensor | None = None, prior: str | None = None) -> Tensor:
    """Decoded :func:`traversal_codes`: (n², C, H, W) images for an ``n``-per-row grid."""
    _need(model, "decode")
    return decode_codes(model, traversal_codes(n, codes, prior))
