"""Data augmentation on batches of images, one random draw per image, on the batch's device."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def random_affine(
    x: Tensor, generator: torch.Generator | None = None, *, rotation: float = 10.0, shear: float = 0.3,
    scale: tuple[float, float] = (0.8, 1.2), translate: float = 2.0, p: float = 0.5,
) -> Tensor:
    """Koch et al.'s (2015) affine distortions, one per image of ``x`` (B, C, H, W):
    ``T = (θ, ρx, ρy, sx, sy, tx, ty)`` with rotation θ ∈ [−10°, 10°], shears ρ ∈ [−0.3, 0.3],
    scales s ∈ [0.8, 1.2], translations t ∈ [−2, 2] pixels, each component kept with
    probability ``p`` (else the identity's). Bilinear resampling, zeros outside (background)."""
    b, _, h, w = x.shape
    dev = x.device

    def draw(lo: float, hi: float, neutral: float) -> Tensor:
        u = torch.rand(b, generator=generator, device="cpu") * (hi - lo) + lo
        keep = torch.rand(b, generator=generator, device="cpu") < p
        return torch.where(keep, u, torch.full_like(u, neutral)).double()

    theta = draw(-math.radians(rotation), math.radians(rotation), 0.0)
    rho_x, rho_y = draw(-shear, shear, 0.0), draw(-shear, shear, 0.0)
    s_x, s_y = draw(*scale, 1.0), draw(*scale, 1.0)
    t_x, t_y = draw(-translate, translate, 0.0), draw(-translate, translate, 0.0)
    cos, sin = torch.cos(theta), torch.sin(theta)
    # A = R(θ) · Shear(ρx, ρy) · Scale(sx, sy), acting on output coordinates in [-1, 1]
    rot = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)  # (B, 2, 2)
    shr = torch.stack([torch.stack([torch.ones_like(rho_x), rho_x], -1), torch.stack([rho_y, torch.ones_like(rho_y)], -1)], -2)
    scl = torch.diag_embed(torch.stack([s_x, s_y], -1))
    a = rot @ shr @ scl
    # affine_grid maps output to input coordinates: use the inverse so the image itself is transformed
    a_inv = torch.linalg.inv(a)
    shift = torch.stack([t_x * 2 / w, t_y * 2 / h], -1)[..., None]  # pixels -> normalized units
    theta_mat = torch.cat([a_inv, -a_inv @ shift], dim=-1).to(dev, x.dtype)  # (B, 2, 3)
    grid = F.affine_grid(theta_mat, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
