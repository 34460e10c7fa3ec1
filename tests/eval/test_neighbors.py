"""Trustworthiness and k-NN accuracy against scikit-learn and hand-worked cases."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.manifold import trustworthiness as sk_trustworthiness
from sklearn.neighbors import KNeighborsClassifier

from reprlab.errors import UsageError
from reprlab.eval.neighbors import _block_rows, knn_accuracy, map_quality, trustworthiness


def _digits(n=600, seed=0):
    from sklearn.datasets import load_digits

    d = load_digits()
    rng = np.random.default_rng(seed)
    x = d.data[:n] / 16 + rng.normal(0, 1e-3, (n, 64))  # jitter: no distance ties
    return x, d.target[:n]


def test_trustworthiness_of_a_pca_map_equals_sklearns():
    x, _ = _digits()
    z = PCA(2).fit_transform(x)
    for k in (1, 5, 10, 30):
        assert trustworthiness(x, z, k) == pytest.approx(sk_trustworthiness(x, z, n_neighbors=k), abs=1e-12)


def test_trustworthiness_blocks_do_not_change_the_value(monkeypatch):
    x, _ = _digits(300)
    z = np.random.default_rng(1).normal(size=(300, 2))
    whole = trustworthiness(x, z, 7)
    monkeypatch.setattr("reprlab.eval.neighbors._block_rows", lambda n, budget=0: 13)
    assert trustworthiness(x, z, 7) == pytest.approx(whole, abs=1e-12)
    assert whole == pytest.approx(sk_trustworthiness(x, z, n_neighbors=7), abs=1e-12)
    assert _block_rows(10_000) * 10_000 <= 2**25


def test_trustworthiness_is_one_for_a_similarity_and_low_for_a_shuffled_map():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    rot = np.array([[0.6, -0.8], [0.8, 0.6]])
    assert trustworthiness(x, 3 * x @ rot + 5, 10) == pytest.approx(1.0)
    assert trustworthiness(x, rng.permutation(x), 10) < 0.7


def test_knn_accuracy_matches_a_hand_worked_case_and_sklearn():
    # two clusters on a line; the point at 2.9 sits among the 1-labelled ones
    x = np.array([[0.0], [1.0], [2.0], [2.9], [10.0], [11.0], [3.0]])
    y = np.array([0, 0, 0, 1, 1, 1, 1])
    # k=1: 0->1(0 ok) 1->0 or 2 (0 ok) 2->2.9 (label 1: wrong) 2.9->3 (1 ok) 10->11 ok 11->10 ok 3->2.9 ok
    assert knn_accuracy(x, y, 1) == pytest.approx(6 / 7)
    xs, ys = _digits(500)
    ours = knn_accuracy(xs, ys, 5)
    correct = 0
    for i in range(len(xs)):  # leave-one-out with sklearn's classifier
        keep = np.arange(len(xs)) != i
        clf = KNeighborsClassifier(5).fit(xs[keep], ys[keep])
        correct += int(clf.predict(xs[i : i + 1])[0] == ys[i])
    assert ours == pytest.approx(correct / len(xs), abs=2 / len(xs))  # vote ties may break differently


def test_map_quality_reports_map_and_codes():
    x, y = _digits(300)
    q = map_quality(x, PCA(2).fit_transform(x), y, k=10)
    assert set(q) == {"trustworthiness_k10", "knn_accuracy_map", "knn_accuracy_codes"}
    assert q["knn_accuracy_codes"] > q["knn_accuracy_map"]  # 64-D pixels separate digits better than 2 PCs


@pytest.mark.parametrize(
    "high, low, k, match",
    [
        (np.zeros((1, 3)), np.zeros((1, 2)), 1, "at least 2 points"),
        (np.full((10, 3), np.nan), np.zeros((10, 2)), 2, "NaN"),
        (np.zeros((10, 3)), np.zeros((9, 2)), 2, "same points"),
        (np.random.default_rng(0).normal(size=(10, 3)), np.zeros((10, 2)), 5, "k < n/2"),
    ],
)
def test_bad_inputs_get_one_line_errors(high, low, k, match):
    with pytest.raises(UsageError, match=match):
        trustworthiness(high, low, k)


def test_neighbours_never_include_the_point_itself_even_among_duplicates():
    from reprlab.eval.neighbors import neighbours

    x = np.array([[0.0], [0.0], [0.0], [5.0], [5.1], [9.0]])  # three identical points
    nb = neighbours(x, 2)
    assert nb.shape == (6, 2)
    assert all(i not in row for i, row in enumerate(nb.tolist()))
    assert set(nb[0]) == {1, 2} and set(nb[1]) == {0, 2} and set(nb[2]) == {0, 1}
    assert nb[3, 0] == 4 and nb[5, 0] == 4


def test_map_quality_reuses_a_given_codes_accuracy():
    x, y = _digits(200)
    z = PCA(2).fit_transform(x)
    q = map_quality(x, z, y, k=5, codes_accuracy=0.123)
    assert q["knn_accuracy_codes"] == 0.123
    assert q["knn_accuracy_map"] == knn_accuracy(z, y, 5)
