"""2-D maps of codes: the code itself (d = 2), PCA, metric MDS, t-SNE.

Every method takes codes ``(N, d)`` and returns a :class:`Map2D` holding the ``(N, 2)``
coordinates, the method's parameters and its wall time, so that a picture always travels with
what made it. t-SNE runs on openTSNE (FFT-accelerated gradients, Linderman et al. 2019) and
falls back to scikit-learn's Barnes-Hut t-SNE only when openTSNE is missing or when asked
(``backend="sklearn"``).

t-SNE (van der Maaten & Hinton 2008) places map points ``y_i`` so that the Student-t
similarities of the map match the Gaussian similarities of the codes:

.. math::
    p_{j|i} = \\frac{\\exp(-\\|x_i - x_j\\|^2 / 2\\sigma_i^2)}{\\sum_{k \\ne i} \\exp(-\\|x_i - x_k\\|^2 / 2\\sigma_i^2)},
    \\quad p_{ij} = \\frac{p_{j|i} + p_{i|j}}{2N}, \\quad
    q_{ij} = \\frac{(1 + \\|y_i - y_j\\|^2)^{-1}}{\\sum_{k \\ne l} (1 + \\|y_k - y_l\\|^2)^{-1}},

minimizing :math:`KL(P \\| Q) = \\sum_{i \\ne j} p_{ij} \\log (p_{ij} / q_{ij})`, with each
:math:`\\sigma_i` set so that the perplexity :math:`2^{H(P_i)}` equals the chosen one. The
lecture's warning: cluster sizes and distances between clusters mean little, and one
perplexity can mislead; :func:`tsne_sweep` draws several perplexities and seeds side by side.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import UsageError
from ..eval.neighbors import check_points

log = logging.getLogger("reprlab")

METHODS = ("codes", "pca", "mds", "tsne")
#: metric MDS builds an N x N distance matrix and is O(N^2) per SMACOF iteration: beyond this,
#: ask for a subsample (``max_points``) rather than run out of memory or time.
MDS_MAX_POINTS = 5000


@dataclass
class Map2D:
    """A 2-D map: ``coords`` (N, 2), the ``method`` and ``params`` that made it, its wall time."""

    coords: np.ndarray
    method: str
    params: dict = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def title(self) -> str:
        """What was plotted, with what: e.g. ``t-SNE (openTSNE), perplexity 30, seed 0``."""
        name = {"codes": "codes (d = 2)", "pca": "PCA", "mds": "metric MDS", "tsne": "t-SNE"}[self.method]
        if self.method == "tsne":
            init = "" if self.params.get("init", "pca") == "pca" else f", {self.params['init']} init"
            return f"{name} ({self.params['backend']}), perplexity {self.params['perplexity']:g}, seed {self.params['seed']}{init}"
        if self.method == "mds":
            return f"{name}, seed {self.params['seed']}"
        return name


def check_codes(codes) -> np.ndarray:
    """``codes`` as a finite float64 ``(N, d)`` array with N >= 2, or a one-line error."""
    return check_points(codes, "codes")


def default_jobs() -> int:
    """Threads for t-SNE: the CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def pca_2d(codes, seed: int = 0) -> Map2D:
    """The first two principal components (scikit-learn's PCA, exact SVD)."""
    from sklearn.decomposition import PCA

    x = check_codes(codes)
    if x.shape[1] < 2:
        raise UsageError(f"PCA to 2-D needs codes of at least 2 dimensions, got {x.shape[1]}")
    t0 = time.perf_counter()
    coords = PCA(2, svd_solver="full", random_state=seed).fit_transform(x)
    return Map2D(coords, "pca", {}, time.perf_counter() - t0)


def mds_2d(codes, seed: int = 0, max_iter: int = 300) -> Map2D:
    """Metric MDS (scikit-learn's SMACOF from classical MDS): minimizes the raw stress
    :math:`\\sum_{i<j} (\\|y_i - y_j\\| - \\|x_i - x_j\\|)^2`."""
    from sklearn.manifold import MDS

    x = check_codes(codes)
    if len(x) > MDS_MAX_POINTS:
        raise UsageError(f"metric MDS on {len(x)} points needs an {len(x)}x{len(x)} distance matrix; "
                         f"use at most {MDS_MAX_POINTS} (max_points / --max-points) or method tsne")
    t0 = time.perf_counter()
    mds = MDS(2, metric_mds=True, init="classical_mds", max_iter=max_iter, random_state=seed, normalized_stress="auto")
    coords = mds.fit_transform(x)
    return Map2D(coords, "mds", {"seed": seed, "max_iter": max_iter, "stress": float(mds.stress_)}, time.perf_counter() - t0)


def check_perplexity(perplexity: float, n: int) -> None:
    """t-SNE's neighbourhoods hold 3·perplexity points: it must be positive and below (n − 1) / 3."""
    if not perplexity > 0:
        raise UsageError(f"perplexity must be positive, got {perplexity}")
    if 3 * perplexity >= n - 1:
        best = max(1, int((n - 2) // 3))
        raise UsageError(f"perplexity {perplexity:g} is too large for {n} points (t-SNE needs 3·perplexity < n − 1); "
                         f"use a perplexity of at most {best}, or more points")


def tsne_2d(
    codes, perplexity: float = 30.0, seed: int = 0, n_iter: int = 750, n_jobs: int | None = None,
    backend: str = "auto", init: str = "pca", fft_interval: float = 2.0,
) -> Map2D:
    """t-SNE to 2-D (see the module docstring): ``n_iter`` iterations in all, the first 250 with
    early exaggeration 12, each library's automatic learning rate. ``init``: ``pca`` (stable
    across seeds: the seed only moves the neighbour search) or ``random`` (seeded; shows how
    much a picture owes to chance). ``backend``: ``opentsne`` (FFT or Barnes-Hut gradients,
    chosen by size), ``sklearn`` (Barnes-Hut) or ``auto`` (openTSNE when installed).
    ``fft_interval``: width, in map units, of the FFT interpolation intervals (openTSNE's
    ``ints_in_interval``; FIt-SNE's default is 1). On 10,000 MNIST digits 2 gives the same
    trustworthiness as 1 (0.9899 vs 0.9902) in a third of the time on a CPU
    (``benchmarks/tsne.py`` has both rows)."""
    x = check_codes(codes)
    check_perplexity(perplexity, len(x))
    if n_iter <= 250:
        raise UsageError(f"n_iter counts the 250 early-exaggeration iterations too; use more than 250, got {n_iter}")
    if init not in ("pca", "random"):
        raise UsageError(f"t-SNE init must be pca or random, got {init!r}")
    if backend not in ("auto", "opentsne", "sklearn"):
        raise UsageError(f"t-SNE backend must be auto, opentsne or sklearn, got {backend!r}")
    n_jobs = n_jobs or default_jobs()
    if backend in ("auto", "opentsne"):
        try:
            import openTSNE
        except ImportError:
            if backend == "opentsne":
                raise UsageError("openTSNE is not installed: pip install openTSNE (or use backend sklearn)") from None
            log.warning("openTSNE is not installed: using scikit-learn's slower t-SNE (pip install openTSNE)")
            backend = "sklearn"
        else:
            backend = "opentsne"
    params = {"perplexity": float(perplexity), "seed": seed, "n_iter": n_iter, "n_jobs": n_jobs, "backend": backend, "init": init}
    if backend == "opentsne":
        params["fft_interval"] = fft_interval
    t0 = time.perf_counter()
    if backend == "opentsne":
        logging.getLogger("openTSNE").setLevel(logging.WARNING)  # it logs its automatic choices at INFO
        tsne = openTSNE.TSNE(
            perplexity=perplexity, n_iter=n_iter - 250, early_exaggeration_iter=250, early_exaggeration=12,
            initialization=init, n_jobs=n_jobs, random_state=seed, verbose=False, ints_in_interval=fft_interval,
        )
        coords = np.asarray(tsne.fit(x))
    else:
        from sklearn.manifold import TSNE

        tsne = TSNE(2, perplexity=perplexity, early_exaggeration=12.0, learning_rate="auto", max_iter=n_iter,
                    init=init, random_state=seed, n_jobs=n_jobs)
        coords = tsne.fit_transform(x)
    return Map2D(np.ascontiguousarray(coords, dtype=np.float64), "tsne", params, time.perf_counter() - t0)


def embed_2d(codes, method: str = "tsne", *, perplexity: float = 30.0, seed: int = 0, **options) -> Map2D:
    """A 2-D map of ``codes`` (N, d) by ``method``: ``codes`` (d must be 2: plotted as they are),
    ``pca``, ``mds`` or ``tsne`` (``options`` go to :func:`tsne_2d` / :func:`mds_2d`)."""
    x = check_codes(codes)
    if method == "codes":
        if x.shape[1] != 2:
            raise UsageError(f"method codes plots 2-D codes as they are, but these have {x.shape[1]} dimensions; "
                             "use pca, mds or tsne (or train with latent_dim=2)")
        return Map2D(x.copy(), "codes", {})
    if method == "pca":
        return pca_2d(x, seed)
    if method == "mds":
        return mds_2d(x, seed, **options)
    if method == "tsne":
        return tsne_2d(x, perplexity, seed, **options)
    raise UsageError(f"unknown map method {method!r}; choose one of {', '.join(METHODS)}")


def tsne_sweep(codes, perplexities=(5, 30, 50), seeds=(0, 1), **options) -> list[Map2D]:
    """t-SNE maps for every (seed, perplexity), row by row: the lecture's "do and don't" as one
    figure, so that nobody over-reads a single picture."""
    x = check_codes(codes)
    for p in perplexities:
        check_perplexity(p, len(x))  # fail before the first (slow) map, not after it
    return [tsne_2d(x, p, s, **options) for s in seeds for p in perplexities]


def subsample(n: int, max_points: int | None, seed: int = 0) -> np.ndarray:
    """Indices of at most ``max_points`` of ``n`` points, drawn without replacement with ``seed``
    and kept in their original order (all points when ``max_points`` is None or >= n)."""
    if max_points is None or max_points >= n:
        return np.arange(n)
    if max_points < 2:
        raise UsageError(f"max_points must be at least 2, got {max_points}")
    return np.sort(np.random.default_rng(seed).choice(n, max_points, replace=False))
