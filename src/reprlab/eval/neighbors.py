"""How faithful is a 2-D map? Trustworthiness and k-NN label accuracy, memory-bounded.

Both are computed on ``(N, D)`` codes and their ``(N, 2)`` map (any ``(N, d)`` works) without
forming an ``N x N`` matrix: distances are taken a block of rows at a time, so 70,000 points
fit in a few hundred MB.
"""

from __future__ import annotations

import numpy as np

from ..errors import UsageError


def check_points(x, name: str = "points") -> np.ndarray:
    """``x`` as a finite float64 ``(N, d)`` array with N >= 2 (images (N, C, H, W) are flattened
    to pixels), or a one-line error naming the fix."""
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise UsageError(f"{name} must be numbers, got dtype {a.dtype}")
    if a.ndim > 2:
        a = a.reshape(len(a), -1)
    if a.ndim != 2 or a.shape[0] < 2 or a.shape[1] < 1:
        raise UsageError(f"{name} must hold at least 2 points of shape (N, d), got shape {np.shape(x)}")
    a = a.astype(np.float64, copy=False)
    bad = ~np.isfinite(a).all(axis=1)
    if bad.any():
        raise UsageError(f"{name} hold NaN or Inf at {int(bad.sum())} points (first: {int(np.argmax(bad))}); "
                         "drop or fix those points (a diverged model: retrain it)")
    return a


def neighbours(x: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` nearest other points of each point (Euclidean): (N, k). A point is
    never its own neighbour, even when it has duplicates."""
    from sklearn.neighbors import NearestNeighbors

    idx = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x, return_distance=False)
    keep = idx != np.arange(len(x))[:, None]
    keep[keep.sum(1) > k, -1] = False  # self not among the k+1 (duplicates): drop the farthest instead
    return idx[keep].reshape(len(x), k)


def _block_rows(n: int, budget: float = 2**25) -> int:
    """Rows per block so that a (rows, n) float64 block stays near ``budget`` elements (256 MB)."""
    return max(1, min(n, int(budget // max(n, 1))))


def _sq_dists(a: np.ndarray, b: np.ndarray, b_sq: np.ndarray) -> np.ndarray:
    """‖a_i − b_j‖², shape (len(a), len(b)); clipped at 0 against rounding."""
    d = (a * a).sum(1)[:, None] - 2.0 * (a @ b.T) + b_sq[None, :]
    return np.maximum(d, 0.0)


def trustworthiness(high, low, k: int = 10) -> float:
    r"""Trustworthiness of the map ``low`` of the points ``high`` (Venna & Kaski 2001).

    .. math::
        T(k) = 1 - \frac{2}{n k (2n - 3k - 1)} \sum_{i=1}^{n} \sum_{j \in U_k(i)} \big(r(i, j) - k\big)

    where :math:`U_k(i)` are the ``k`` nearest neighbours of point ``i`` in the map that are not
    among its ``k`` nearest in the original space, and :math:`r(i, j)` is the rank of ``j`` among
    ``i``'s neighbours in the original space (1 = nearest). 1 means no false neighbours in the
    map. Equals :func:`sklearn.manifold.trustworthiness` (Euclidean) when there are no distance
    ties, in O(N·block) memory instead of O(N²).
    """
    high, low = check_points(high, "codes"), check_points(low, "map")
    n = len(high)
    if len(low) != n:
        raise UsageError(f"codes ({n} points) and map ({len(low)} points) must hold the same points")
    if not 1 <= k < n / 2:
        raise UsageError(f"trustworthiness needs 1 <= k < n/2 = {n / 2:g}, got k={k}; use a smaller k or more points")
    nn_low = neighbours(low, k)  # k nearest in the map, self excluded: (n, k)
    high_sq = (high * high).sum(1)
    penalty = 0.0
    step = _block_rows(n)
    for start in range(0, n, step):
        rows = np.arange(start, min(n, start + step))
        d = _sq_dists(high[rows], high, high_sq)  # (b, n)
        d[np.arange(len(rows)), rows] = np.inf  # self is never a neighbour
        d_nb = np.take_along_axis(d, nn_low[rows], axis=1)  # (b, k) original distances of the map's neighbours
        # rank r(i, j) = 1 + number of points strictly closer to i than j in the original space
        ranks = 1 + np.stack([(d < d_nb[:, [c]]).sum(1) for c in range(k)], axis=1)  # (b, k)
        excess = ranks - k
        penalty += float(excess[excess > 0].sum())
    return 1.0 - penalty * 2.0 / (n * k * (2.0 * n - 3.0 * k - 1.0))


def knn_accuracy(x, labels, k: int = 10) -> float:
    """Leave-one-out k-NN label accuracy: the share of points whose label is the majority label
    of their ``k`` nearest other points (Euclidean; ties go to the smallest label)."""
    x = check_points(x, "points")
    y = np.asarray(labels)
    if y.shape != (len(x),):
        raise UsageError(f"labels must have shape ({len(x)},), got {y.shape}")
    if not 1 <= k < len(x):
        raise UsageError(f"k-NN accuracy needs 1 <= k < n = {len(x)}, got k={k}")
    _, y = np.unique(y, return_inverse=True)
    nb = neighbours(x, k)
    votes = np.zeros((len(x), y.max() + 1), dtype=np.int64)
    np.add.at(votes, (np.repeat(np.arange(len(x)), k), y[nb].ravel()), 1)
    return float((votes.argmax(1) == y).mean())


def map_quality(codes, coords, labels=None, k: int = 10, codes_accuracy: float | None = None) -> dict[str, float]:
    """The numbers shown next to every map: ``trustworthiness_k{k}`` and, with labels,
    ``knn_accuracy_map`` (in 2-D) and ``knn_accuracy_codes`` (in the original code space; pass
    ``codes_accuracy`` when several maps share the codes, to compute it once)."""
    out = {f"trustworthiness_k{k}": trustworthiness(codes, coords, k)}
    if labels is not None:
        out["knn_accuracy_map"] = knn_accuracy(coords, labels, k)
        out["knn_accuracy_codes"] = knn_accuracy(codes, labels, k) if codes_accuracy is None else codes_accuracy
    return out
