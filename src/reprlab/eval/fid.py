"""Sample-quality metrics on features of real and generated images: FID, KID, precision/recall.

Each function takes feature matrices (N, d) (a Tensor or a NumPy array) -- the penultimate layer
of a classifier (:func:`reprlab.eval.features.classifier_features`) or Inception's pool3
(:func:`reprlab.eval.features.inception_features`); :func:`image_quality` runs all of them on
images through a feature extractor. Everything is computed in float64 and is deterministic
(KID's subsets come from a seeded generator).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..errors import UsageError


def _as_f64(a, what: str) -> np.ndarray:
    """A feature matrix as a float64 NumPy array (N, d), checked."""
    a = a.detach().cpu().numpy() if isinstance(a, Tensor) else np.asarray(a)
    a = a.astype(np.float64, copy=False)
    if a.ndim != 2 or a.shape[0] < 2:
        raise UsageError(f"{what} must be a feature matrix (N, d) with N >= 2, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise UsageError(f"{what} holds NaN or Inf values")
    return a


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric PSD matrix, by eigen-decomposition (negative
    round-off eigenvalues clipped to 0)."""
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Fréchet (2-Wasserstein) distance between N(μ1, Σ1) and N(μ2, Σ2) (Heusel et al. 2017, FID):

        d² = ‖μ1 − μ2‖² + Tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^{1/2}).

    Tr (Σ1 Σ2)^{1/2} is computed as Σ_i √λ_i of the symmetric PSD matrix Σ1^{1/2} Σ2 Σ1^{1/2}
    (same eigenvalues as Σ1 Σ2), so it is real and stable even for singular covariances, unlike
    ``scipy.linalg.sqrtm`` of the non-symmetric product. Shapes: μ (d,), Σ (d, d).
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    d = mu1.shape[0]
    if mu2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise UsageError(f"frechet_distance: shapes {mu1.shape}, {s1.shape}, {mu2.shape}, {s2.shape} do not match")
    r1 = _psd_sqrt(s1)
    cross = np.linalg.eigvalsh(r1 @ s2 @ r1)  # (d,) eigenvalues of Σ1^{1/2} Σ2 Σ1^{1/2}
    tr_sqrt = np.sqrt(np.clip(cross, 0, None)).sum()
    diff = mu1 - mu2
    return float(max(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt, 0.0))


def gaussian_stats(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean (d,) and unbiased covariance (d, d) of features (N, d), as FID uses them."""
    f = _as_f64(features, "features")
    return f.mean(axis=0), np.cov(f, rowvar=False)


def fid_from_features(real_features, fake_features) -> float:
    """FID = :func:`frechet_distance` of Gaussians fitted to the two feature sets (N1, d), (N2, d)."""
    return frechet_distance(*gaussian_stats(real_features), *gaussian_stats(fake_features))


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """k(x, y) = (xᵀy / d + 1)³ between the rows of x (n, d) and y (m, d): (n, m)."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² (Gretton et al. 2012) of samples x (m, d), y (n, d) with :func:`polynomial_kernel`:

        MMD²_u = Σ_{i≠j} k(x_i, x_j) / m(m−1) + Σ_{i≠j} k(y_i, y_j) / n(n−1) − 2 Σ_{i,j} k(x_i, y_j) / mn.
    """
    m, n = len(x), len(y)
    kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2 * kxy.mean())


def kid(real_features, fake_features, *, subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Kernel Inception Distance (Bińkowski et al. 2018, "Demystifying MMD GANs"): the unbiased
    :func:`mmd2_unbiased` with the cubic kernel k(x, y) = (xᵀy/d + 1)³, averaged over ``subsets``
    random subsets of ``min(subset_size, N1, N2)`` samples of each set (drawn without replacement).

    Returns (mean, std) over the subsets. Unbiased: about 0, possibly negative, for two samples
    of one distribution.
    """
    x, y = _as_f64(real_features, "real features"), _as_f64(fake_features, "fake features")
    if x.shape[1] != y.shape[1]:
        raise UsageError(f"kid: real features have {x.shape[1]} dimensions, fake ones {y.shape[1]}")
    if subsets < 1 or subset_size < 2:
        raise UsageError(f"kid needs subsets >= 1 and subset_size >= 2, got {subsets} and {subset_size}")
    m = min(subset_size, len(x), len(y))
    rng = np.random.default_rng(seed)
    values = np.array([mmd2_unbiased(x[rng.choice(len(x), m, replace=False)], y[rng.choice(len(y), m, replace=False)])
                       for _ in range(subsets)])
    return float(values.mean()), float(values.std())


def _kth_neighbour_radii(x: Tensor, k: int, batch_size: int) -> Tensor:
    """Distance of each row of x (N, d) to its k-th nearest other row (N,)."""
    out = []
    for i in range(0, len(x), batch_size):
        d = torch.cdist(x[i : i + batch_size], x)  # (B, N), the point itself at distance 0
        out.append(d.kthvalue(k + 1, dim=1).values)  # skip the 0 to itself
    return torch.cat(out)


def _inside_manifold(queries: Tensor, support: Tensor, radii: Tensor, batch_size: int) -> Tensor:
    """Whether each query (Q, d) lies within radii[j] of some support point j (N, d): (Q,) bool."""
    out = []
    for i in range(0, len(queries), batch_size):
        d = torch.cdist(queries[i : i + batch_size], support)  # (B, N)
        out.append((d <= radii).any(dim=1))
    return torch.cat(out)


def precision_recall(real_features, fake_features, *, k: int = 3, batch_size: int = 1000) -> tuple[float, float]:
    r"""Improved precision and recall (Kynkäänniemi et al. 2019).

    Each set's manifold is the union of balls B(φ, NN_k(φ)) around its points, NN_k(φ) the distance
    to the k-th nearest other point of the same set:

    .. math::

        \text{precision} = \frac{1}{|\Phi_g|} \sum_{\phi_g \in \Phi_g} 1[\phi_g \in \text{manifold}(\Phi_r)], \qquad
        \text{recall} = \frac{1}{|\Phi_r|} \sum_{\phi_r \in \Phi_r} 1[\phi_r \in \text{manifold}(\Phi_g)].

    Distances are computed ``batch_size`` rows at a time (memory O(batch_size · N)), in float64.
    """
    x = torch.from_numpy(_as_f64(real_features, "real features"))
    y = torch.from_numpy(_as_f64(fake_features, "fake features"))
    if x.shape[1] != y.shape[1]:
        raise UsageError(f"precision_recall: real features have {x.shape[1]} dimensions, fake ones {y.shape[1]}")
    if not 1 <= k < min(len(x), len(y)):
        raise UsageError(f"precision_recall needs 1 <= k < the size of each set, got k={k} for {len(x)} and {len(y)}")
    r_real, r_fake = _kth_neighbour_radii(x, k, batch_size), _kth_neighbour_radii(y, k, batch_size)
    precision = _inside_manifold(y, x, r_real, batch_size).double().mean()
    recall = _inside_manifold(x, y, r_fake, batch_size).double().mean()
    return float(precision), float(recall)


def image_quality(real_images, fake_images, features, *, kid_subsets: int = 100, kid_subset_size: int = 1000,
                  k: int = 3, seed: int = 0) -> dict:
    """FID, KID (mean and std over subsets), precision and recall of ``fake_images`` against
    ``real_images`` (B, C, H, W) in [0, 1], in the feature space of ``features`` (an object with
    ``.features(x) -> (B, d)``, e.g. :func:`~reprlab.eval.features.classifier_features` or
    :func:`~reprlab.eval.features.inception_features`). The numbers depend on the extractor:
    compare only numbers computed with the same one.
    """
    f_real = features.features(getattr(real_images, "x", real_images))  # (N1, d)
    f_fake = features.features(getattr(fake_images, "x", fake_images))  # (N2, d)
    kid_mean, kid_std = kid(f_real, f_fake, subsets=kid_subsets, subset_size=kid_subset_size, seed=seed)
    precision, recall = precision_recall(f_real, f_fake, k=k)
    return {"fid": fid_from_features(f_real, f_fake), "kid": kid_mean, "kid_std": kid_std,
            "precision": precision, "recall": recall}
