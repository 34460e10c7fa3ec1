r"""Priors p(z) on the code space, shared by the adversarial auto-encoder and the VAE.

- ``gaussian``: :math:`\mathcal N(0, I_d)`;
- ``mixture10``: the mixture of 10 2-D Gaussians of Makhzani et al. 2015 (Fig. 2b, the lecture's
  "GAN vs VAE" figure), equal weights: component k is :math:`\mathcal N\big(R_k (r, 0)^\top,\
  R_k \operatorname{diag}(\sigma_r^2, \sigma_t^2) R_k^\top\big)` with :math:`R_k` the rotation by
  :math:`2\pi k / 10`: ten blobs elongated along the rays of a circle of radius r;
- a user sampler ``"package.module:function"`` with ``function(n, generator) -> (n, d)`` tensor
  (sampling only: an adversarial auto-encoder needs no density).

Mixture components double as class labels: ``sample(n, labels=y)`` draws component ``y[i]`` for
row i, the semi-supervised layout of the AAE paper.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
from typing import Callable

import torch
from torch import Tensor

from ..errors import ConfigError

LOG_2PI = math.log(2 * math.pi)


class Prior:
    """A distribution on R^d with ``sample`` and, where known, ``log_prob``."""

    name = "prior"
    dim: int
    components: int = 1

    def sample(self, n: int, generator: torch.Generator | None = None, labels: Tensor | None = None) -> Tensor:
        raise NotImplementedError

    def log_prob(self, z: Tensor) -> Tensor:
        raise ConfigError(f"prior {self.name!r} has no density; it can only be sampled (use it with the aae model)")


class GaussianPrior(Prior):
    """N(0, I_d)."""

    name = "gaussian"

    def __init__(self, dim: int):
        self.dim = dim

    def sample(self, n, generator=None, labels=None):
        return torch.randn(n, self.dim, generator=generator)

    def log_prob(self, z: Tensor) -> Tensor:
        """log N(z; 0, I) per row: (..., d) -> (...)."""
        return -0.5 * (LOG_2PI + z.pow(2)).sum(-1)


class RadialMixturePrior(Prior):
    r"""Equal-weight mixture of ``k`` 2-D Gaussians along the rays of a circle (Makhzani et al. 2015):

    .. math::  p(z) = \frac1k \sum_{j=0}^{k-1} \mathcal N\big(z;\ R_j\,(r, 0)^\top,\
               R_j \operatorname{diag}(\sigma_r^2, \sigma_t^2) R_j^\top\big),\quad R_j = \text{rotation by } 2\pi j/k
    """

    name = "mixture10"

    def __init__(self, k: int = 10, radius: float = 4.0, radial_std: float = 1.0, tangential_std: float = 0.25):
        self.dim, self.components = 2, k
        self.radius, self.std = radius, torch.tensor([radial_std, tangential_std], dtype=torch.float64)
        angle = 2 * math.pi * torch.arange(k, dtype=torch.float64) / k
        c, s = torch.cos(angle), torch.sin(angle)
        self.rotations = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)  # (k, 2, 2)

    def sample(self, n, generator=None, labels=None):
        if labels is None:
            labels = torch.randint(0, self.components, (n,), generator=generator)
        elif int(labels.max()) >= self.components or int(labels.min()) < 0:
            raise ConfigError(f"prior {self.name}: component labels must be in 0..{self.components - 1}, got {int(labels.max())}")
        eps = torch.randn(n, 2, generator=generator) * self.std.float() + torch.tensor([self.radius, 0.0])  # (n, 2), on the x-axis
        return torch.einsum("nij,nj->ni", self.rotations[labels.long().cpu()].float(), eps)

    def log_prob(self, z: Tensor) -> Tensor:
        """log p(z) per row: (..., 2) -> (...), by log-sum-exp over the components."""
        rot = self.rotations.to(z.device, z.dtype)
        u = torch.einsum("kji,...j->...ki", rot, z)  # R_kᵀ z: (..., k, 2), back on the x-axis
        std = self.std.to(z.device, z.dtype)
        d = (u - torch.tensor([self.radius, 0.0], device=z.device, dtype=z.dtype)) / std
        log_n = -0.5 * (2 * LOG_2PI + d.pow(2).sum(-1)) - std.log().sum()  # (..., k)
        return torch.logsumexp(log_n, -1) - math.log(self.components)


class SamplerPrior(Prior):
    """A user's sampler ``function(n, generator) -> (n, d)``, named ``"package.module:function"``."""

    def __init__(self, spec: str, dim: int):
        self.name, self.dim = spec, dim
        load_sampler(spec, check_only=True)
        self.fn = None  # imported when first sampled: loading a run does not run code it names

    def sample(self, n, generator=None, labels=None):
        self.fn = self.fn or load_sampler(self.name)
        z = torch.as_tensor(self.fn(n, generator), dtype=torch.float32)
        if z.shape != (n, self.dim):
            raise ConfigError(f"prior sampler {self.name} returned shape {tuple(z.shape)}, expected ({n}, {self.dim}) (latent_dim)")
        return z


def load_sampler(spec: str, check_only: bool = False) -> Callable | None:
    """The function named ``package.module:function``; with ``check_only``, only check that such a
    module exists (without importing, so without running it)."""
    module, _, attr = spec.partition(":")
    if not module or not attr:
        raise ConfigError(f"prior {spec!r}: use gaussian, mixture10 or a sampler 'package.module:function'")
    if check_only:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise ConfigError(f"prior {spec!r}: cannot import it (no module {module!r}); put the module on PYTHONPATH")
        return None
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"prior {spec!r}: cannot import it ({e}); put the module on PYTHONPATH") from None


def make_prior(name: str, dim: int) -> Prior:
    """``gaussian`` (any d), ``mixture10`` (d = 2) or ``package.module:function``."""
    if name == "gaussian":
        return GaussianPrior(dim)
    if name == "mixture10":
        if dim != 2:
            raise ConfigError(f"prior mixture10 is 2-D; set the code dimension to 2 (got {dim})")
        return RadialMixturePrior()
    return SamplerPrior(name, dim)
