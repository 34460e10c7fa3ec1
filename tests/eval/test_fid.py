"""FID, KID and precision/recall checked against closed forms and brute-force loops."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from reprlab.errors import UsageError
from reprlab.eval.fid import fid_from_features, frechet_distance, gaussian_stats, kid, precision_recall


def test_frechet_distance_of_1d_gaussians_is_the_closed_form():
    # d² = (μ1 − μ2)² + (σ1 − σ2)² in 1-D
    assert frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx((1 - 3) ** 2 + (2 - 3) ** 2)


def test_frechet_distance_of_diagonal_gaussians_is_the_closed_form():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    v1, v2 = rng.uniform(0.1, 3, 5), rng.uniform(0.1, 3, 5)
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(v1) - np.sqrt(v2)) ** 2).sum()
    assert frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2)) == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_hand_computed_2x2():
    # Σ1 = I, Σ2 = [[2, 1], [1, 2]] (eigenvalues 3 and 1): Tr Σ2^{1/2} = √3 + 1, so
    # d² = ‖(1, 2)‖² + 2 + 4 − 2(√3 + 1) = 5 + 4 − 2√3.
    d2 = frechet_distance([0, 0], np.eye(2), [1, 2], [[2, 1], [1, 2]])
    assert d2 == pytest.approx(9 - 2 * math.sqrt(3), rel=1e-12)


def test_frechet_distance_general_case_matches_scipy_sqrtm_and_is_symmetric():
    from scipy.linalg import sqrtm

    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(4, 4)), rng.normal(size=(4, 4))
    s1, s2 = a @ a.T + 0.1 * np.eye(4), b @ b.T + 0.1 * np.eye(4)
    mu1, mu2 = rng.normal(size=4), rng.normal(size=4)
    ref = ((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * sqrtm(s1 @ s2).real)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(ref, rel=1e-8)
    assert frechet_distance(mu2, s2, mu1, s1) == pytest.approx(ref, rel=1e-8)


def test_fid_is_zero_for_identical_sets_and_symmetric():
    rng = np.random.default_rng(2)
    f, g = rng.normal(size=(300, 16)), rng.normal(1.0, 1.0, size=(300, 16))
    assert fid_from_features(f, f) == pytest.approx(0.0, abs=1e-8)
    assert fid_from_features(f, g) == pytest.approx(fid_from_features(g, f), rel=1e-10)
    assert fid_from_features(f, g) > 10  # the means differ by 1 in 16 dimensions
    mu, cov = gaussian_stats(torch.from_numpy(f))
    assert np.allclose(cov, np.cov(f.T)) and np.allclose(mu, f.mean(0))


def test_fid_with_fewer_samples_than_dimensions_is_finite():
    rng = np.random.default_rng(3)
    f, g = rng.normal(size=(10, 50)), rng.normal(size=(10, 50))  # singular covariances
    assert math.isfinite(fid_from_features(f, g)) and fid_from_features(f, g) > 0


def _kid_loop(x, y):
    """Unbiased MMD² with k(a, b) = (a·b/d + 1)³ by explicit double loops."""
    m, n, d = len(x), len(y), x.shape[1]
    k = lambda a, b: (float(a @ b) / d + 1) ** 3  # noqa: E731
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_kid_equals_an_explicit_double_loop():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(7, 3)), rng.normal(0.5, 1.0, size=(7, 3))
    mean, std = kid(x, y, subsets=3, subset_size=7)  # a subset of all 7 is the whole set, in some order
    assert mean == pytest.approx(_kid_loop(x, y), rel=1e-10) and std == pytest.approx(0.0, abs=1e-12)


def test_kid_is_about_zero_for_one_distribution_and_positive_for_a_shift():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(2000, 8)), rng.normal(size=(2000, 8))
    same, same_std = kid(x, y, subsets=20, subset_size=500)
    assert abs(same) < 3 * same_std / math.sqrt(20) + 1e-3
    shifted, _ = kid(x, y + 0.5, subsets=20, subset_size=500)
    assert shifted > 10 * abs(same) and shifted > 0.01


def test_kid_is_deterministic_given_seed():
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(100, 4)), rng.normal(size=(120, 4))
    assert kid(x, y, subsets=5, subset_size=50, seed=1) == kid(x, y, subsets=5, subset_size=50, seed=1)


def _pr_loop(real, fake, k):
    """Precision and recall of Kynkäänniemi et al. by explicit loops over points."""
    def radii(s):
        return [sorted(float(np.linalg.norm(s[i] - s[j])) for j in range(len(s)) if j != i)[k - 1] for i in range(len(s))]

    def inside(q, s, r):
        return any(np.linalg.norm(q - s[j]) <= r[j] for j in range(len(s)))

    rr, rf = radii(real), radii(fake)
    return (np.mean([inside(f, real, rr) for f in fake]), np.mean([inside(r, fake, rf) for r in real]))


@pytest.mark.parametrize("k", [1, 3])
def test_precision_recall_equal_a_brute_force_loop(k):
    rng = np.random.default_rng(7)
    real = rng.normal(size=(40, 3))
    fake = np.concatenate([rng.normal(size=(20, 3)), rng.normal(3.0, 0.3, size=(15, 3))])  # partly off-manifold
    p, r = precision_recall(real, fake, k=k, batch_size=7)  # batches that do not divide the sets
    p_ref, r_ref = _pr_loop(real, fake, k)
    assert (p, r) == pytest.approx((p_ref, r_ref))
    assert p < 1 and r < 1


def test_precision_recall_of_identical_sets_is_one_and_collapse_lowers_recall():
    rng = np.random.default_rng(8)
    real = rng.normal(size=(500, 5))
    assert precision_recall(real, real) == (1.0, 1.0)
    collapsed = real[:1] + 0.01 * rng.normal(size=(500, 5))  # every fake near one real point
    p, r = precision_recall(real, collapsed)
    assert p == 1.0 and r < 0.05


def test_metric_inputs_are_checked():
    with pytest.raises(UsageError, match="feature matrix"):
        fid_from_features(np.zeros(5), np.zeros((5, 2)))
    with pytest.raises(UsageError, match="dimensions"):
        kid(np.zeros((5, 2)), np.zeros((5, 3)))
    with pytest.raises(UsageError, match="k="):
        precision_recall(np.zeros((3, 2)), np.zeros((3, 2)), k=3)
    with pytest.raises(UsageError, match="NaN"):
        fid_from_features(np.full((3, 2), np.nan), np.zeros((3, 2)))
