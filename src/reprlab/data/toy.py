"""``ring8`` and ``grid25``: the 2-D Gaussian mixtures of the mode-collapse literature.

As in Unrolled GAN (Metz et al. 2017, Sec. 3.1) and VEEGAN (Srivastava et al. 2017, Sec. 5.1):

* ``ring8``:  8 Gaussians with means evenly spaced on a circle of radius 2,
  μ_k = 2 (cos 2πk/8, sin 2πk/8), k = 0..7, each with covariance σ² I, σ = 0.02;
* ``grid25``: 25 Gaussians with means on the grid {−4, −2, 0, 2, 4}², σ = 0.02;
* ``grid25-pacgan``: the same 25 means with σ = 0.05, PacGAN's grid (Lin et al. 2018, their
  code ``fjxmlzn/PacGAN``: variances 0.05² I; a sample is high quality within 3σ = 0.15),

all components equally likely. ``x`` is float32 (N, 2), ``y`` the component index k (the
"mode"). :func:`mixture_centers` and :data:`MIXTURE_STD` are the one definition that the
mode-coverage metric (:mod:`reprlab.eval.modes`) scores against.

``ring8:N`` / ``grid25:N`` set the train size N (default 50,000); the test split has N // 5.
Samples are drawn from NumPy generators seeded by (seed, split), so a split is the same on
every machine and train and test never share a stream.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from ..errors import DataError
from .base import TensorData
from .registry import register

#: Standard deviation σ of every component, per mixture (VEEGAN / Unrolled GAN: 0.02).
MIXTURE_STD: dict[str, float] = {"ring8": 0.02, "grid25": 0.02, "grid25-pacgan": 0.05}
#: Radius of the ring8 circle.
RING_RADIUS = 2.0
#: Coordinates of the grid25 lattice along each axis.
GRID_AXIS = (-4.0, -2.0, 0.0, 2.0, 4.0)
#: Default number of training samples; the test split has a fifth of it.
TRAIN_SAMPLES = 50_000
_SPLIT_STREAM = {"train": 0, "test": 1}


def mixture_centers(name: str) -> Tensor:
    """The K component means of mixture ``name`` (``ring8``: K = 8, ``grid25``: K = 25), float64 (K, 2).

    Mode k of ``ring8`` is at angle 2πk/8; mode k of ``grid25`` is (GRID_AXIS[k // 5], GRID_AXIS[k % 5]).
    """
    if name == "ring8":
        angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
        return RING_RADIUS * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)  # (8, 2)
    if name in ("grid25", "grid25-pacgan"):
        axis = torch.tensor(GRID_AXIS, dtype=torch.float64)
        return torch.cartesian_prod(axis, axis)  # (25, 2), row-major: (x_i, y_j) at k = 5 i + j
    raise DataError(f"unknown mixture {name!r}; choose one of {', '.join(sorted(MIXTURE_STD))}")


def mixture_std(name: str) -> float:
    """σ of every component of mixture ``name``."""
    mixture_centers(name)  # validates the name
    return MIXTURE_STD[name]


def sample_mixture(name: str, n: int, seed: int = 0, stream: int = 0) -> tuple[Tensor, Tensor]:
    """``n`` samples of mixture ``name``: x float32 (n, 2) and the mode index y int64 (n,).

    y ~ Uniform{0..K−1}, x = μ_y + σ ε with ε ~ N(0, I); deterministic given (seed, stream).
    """
    if n < 1:
        raise DataError(f"{name}: the number of samples must be >= 1, got {n}")
    centers = mixture_centers(name).numpy()
    rng = np.random.default_rng([seed, stream])
    y = rng.integers(0, len(centers), size=n)  # (n,)
    x = centers[y] + mixture_std(name) * rng.standard_normal((n, 2))  # (n, 2)
    return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y.astype(np.int64))


def _train_size(name: str, arg: str | None) -> int:
    if arg is None:
        return TRAIN_SAMPLES
    try:
        n = int(arg.replace("_", ""))
    except ValueError:
        n = 0
    if n < 5:
        raise DataError(f"{name}:{arg}: the argument is the number of training samples, an integer >= 5 (e.g. {name}:10000)")
    return n


def _load_mixture(name: str, arg: str | None, split: str, seed: int) -> TensorData:
    n_train = _train_size(name, arg)
    sizes = {"train": n_train, "test": n_train // 5}
    parts = ("train", "test") if split == "all" else (split,)
    drawn = [sample_mixture(name, sizes[s], seed, _SPLIT_STREAM[s]) for s in parts]
    x = torch.cat([d[0] for d in drawn])
    y = torch.cat([d[1] for d in drawn])
    k = len(mixture_centers(name))
    return TensorData(
        x, y, name=name if arg is None else f"{name}:{arg}", classes=[f"mode {i}" for i in range(k)],
        meta={"source": f"{k}-component Gaussian mixture, sigma {mixture_std(name)}", "split": f"{split} (seed {seed})",
              "range": "R^2"},
    )


@register("ring8", "8 Gaussians on a circle of radius 2, sigma 0.02 (VEEGAN / Unrolled GAN; no files needed)",
          embedded=True, arg_help="N: number of training samples (default 50,000; test has N // 5)")
def load_ring8(arg, data_dir, split, seed, download) -> TensorData:
    return _load_mixture("ring8", arg, split, seed)


@register("grid25", "25 Gaussians on the grid {-4,-2,0,2,4}^2, sigma 0.02 (VEEGAN; no files needed)",
          embedded=True, arg_help="N: number of training samples (default 50,000; test has N // 5)")
def load_grid25(arg, data_dir, split, seed, download) -> TensorData:
    return _load_mixture("grid25", arg, split, seed)


@register("grid25-pacgan", "25 Gaussians on the grid {-4,-2,0,2,4}^2, sigma 0.05 (PacGAN's grid; no files needed)",
          embedded=True, arg_help="N: number of training samples (default 50,000; test has N // 5)")
def load_grid25_pacgan(arg, data_dir, split, seed, download) -> TensorData:
    return _load_mixture("grid25-pacgan", arg, split, seed)
