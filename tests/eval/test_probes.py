"""The probes of ``reprlab compare`` against independent computations: a hand loop over C with
scikit-learn's cross-validation, brute-force nearest neighbours, prototypes computed by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from reprlab.data.base import TensorData
from reprlab.data.fewshot import sample_tasks
from reprlab.errors import UsageError
from reprlab.eval.probes import LINEAR_CS, fewshot_probe, fit_linear_probe, knn_probe, label_subset, linear_probe


def _digits(n_train=500, n_test=300):
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    return x[:n_train], y[:n_train], x[n_train : n_train + n_test], y[n_train : n_train + n_test]


def test_linear_probe_chooses_c_like_a_hand_loop_over_cross_validation():
    x, y, xt, yt = _digits()
    ours = linear_probe(x, y, xt, yt, seed=3)
    folds = StratifiedKFold(3, shuffle=True, random_state=3)
    scores = [cross_val_score(make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=1000)), x, y, cv=folds).mean()
              for c in LINEAR_CS]
    best = LINEAR_CS[int(np.argmax(scores))]  # ties: the first, the smallest C
    hand = make_pipeline(StandardScaler(), LogisticRegression(C=best, max_iter=1000)).fit(x, y)
    assert ours["C"] == best
    assert ours["cv_accuracy"] == pytest.approx(max(scores), abs=1e-12)
    assert ours["accuracy"] == pytest.approx((hand.predict(xt) == yt).mean(), abs=1e-12)
    assert ours["n_labels"] == len(x)


def test_linear_probe_with_a_label_budget_trains_on_that_stratified_sample_only():
    x, y, xt, yt = _digits()
    keep = label_subset(y, 100, seed=1)
    direct = fit_linear_probe(x[keep], y[keep], seed=1)
    ours = linear_probe(x, y, xt, yt, n_labels=100, seed=1)
    assert ours["n_labels"] == 100 and ours["C"] == direct.C
    assert ours["accuracy"] == pytest.approx(direct.accuracy(xt, yt), abs=1e-12)


def test_cv_labels_chooses_c_on_a_stratified_sample_and_refits_on_every_label():
    x, y, xt, yt = _digits()
    keep = label_subset(y, 150, seed=2)
    chosen = fit_linear_probe(x[keep], y[keep], seed=2)
    ours = fit_linear_probe(x, y, seed=2, cv_labels=150)
    hand = make_pipeline(StandardScaler(), LogisticRegression(C=chosen.C, max_iter=1000)).fit(x, y)
    assert (ours.C, ours.cv_accuracy, ours.n_labels) == (chosen.C, chosen.cv_accuracy, len(x))
    assert ours.accuracy(xt, yt) == pytest.approx((hand.predict(xt) == yt).mean(), abs=1e-12)
    whole = fit_linear_probe(x, y, seed=2, cv_labels=len(x))  # as many as there are: the plain probe
    assert whole.C == fit_linear_probe(x, y, seed=2).C


def test_label_subset_is_stratified_seeded_and_refuses_fewer_labels_than_classes():
    y = np.repeat(np.arange(4), [40, 30, 20, 10])  # shares 0.4, 0.3, 0.2, 0.1
    idx = label_subset(y, 20, seed=0)
    assert len(idx) == 20 and len(set(idx)) == 20 and np.all(np.diff(idx) > 0)
    assert np.bincount(y[idx], minlength=4).tolist() == [8, 6, 4, 2]
    assert np.array_equal(idx, label_subset(y, 20, seed=0))
    assert not np.array_equal(idx, label_subset(y, 20, seed=1))
    assert np.array_equal(label_subset(y, None), np.arange(100)) and np.array_equal(label_subset(y, 500), np.arange(100))
    with pytest.raises(UsageError, match="3 labels are fewer than the 4 classes") as e:
        label_subset(y, 3)
    assert "\n" not in str(e.value)


def test_probes_refuse_unlabelled_codes_and_classes_too_small_for_cross_validation():
    x = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(UsageError, match="needs labels"):
        linear_probe(x, None, x, None)
    with pytest.raises(UsageError, match="needs labels"):
        knn_probe(x, None, x, None)
    with pytest.raises(UsageError, match="needs labels"):
        fewshot_probe(x, None)
    with pytest.raises(UsageError, match="2 labelled examples of each class"):
        fit_linear_probe(x, np.array([0] * 19 + [1]))


def test_knn_probe_matches_a_hand_worked_case_and_brute_force():
    train = np.array([[0.0], [1.0], [2.0], [10.0], [11.0]])
    labels = np.array([0, 0, 1, 1, 1])
    test = np.array([[0.4], [9.0], [1.6]])
    # k=3: 0.4 -> 0, 1, 2 (labels 0, 0, 1: 0); 9 -> 10, 11, 2 (1); 1.6 -> 2, 1, 0 (1, 0, 0: 0)
    assert knn_probe(train, labels, test, np.array([0, 1, 1]), k=3) == pytest.approx(2 / 3)
    x, y, xt, yt = _digits(400, 200)
    d = ((xt[:, None, :] - x[None, :, :]) ** 2).sum(-1)  # (200, 400)
    nearest = np.argsort(d, axis=1, kind="stable")[:, :5]
    votes = np.array([np.bincount(y[row], minlength=10) for row in nearest])
    assert knn_probe(x, y, xt, yt, k=5) == pytest.approx((votes.argmax(1) == yt).mean())


def _cosine_prototype_accuracy(codes, tasks) -> float:
    """The few-shot rule by hand, with numpy: mean shot code per class, cosine, argmax."""
    z = codes / np.linalg.norm(codes, axis=1, keepdims=True)
    accs = []
    for t in range(len(tasks)):
        s, sc = tasks.support[t].numpy(), tasks.support_class[t].numpy()
        protos = np.stack([codes[s[sc == c]].mean(0) for c in range(tasks.n_way)])
        protos /= np.linalg.norm(protos, axis=1, keepdims=True)
        pred = (z[tasks.query[t].numpy()] @ protos.T).argmax(1)
        accs.append((pred == tasks.answer[t].numpy()).mean())
    return float(np.mean(accs))


@pytest.mark.parametrize("k_shot", [1, 5])
def test_fewshot_probe_equals_cosine_prototypes_computed_by_hand(k_shot):
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(30, 16))
    labels = np.repeat(np.arange(30), 8)
    codes = centres[labels] + rng.normal(scale=1.2, size=(240, 16))
    ours = fewshot_probe(codes, labels, n_way=20, k_shot=k_shot, n_tasks=50, seed=4)
    tasks = sample_tasks(TensorData(torch.from_numpy(codes), torch.from_numpy(labels)), 20, k_shot, 50, seed=4)
    assert ours == pytest.approx(_cosine_prototype_accuracy(codes, tasks), abs=1e-12)
    assert 0.05 < ours < 1.0  # noisy classes: better than chance (1/20), not perfect


def test_fewshot_probe_is_perfect_on_orthogonal_classes_and_refuses_too_few_classes():
    labels = np.repeat(np.arange(6), 3)
    codes = np.eye(6)[labels] * np.linspace(1, 3, 18)[:, None]  # each class a direction, lengths vary: cosine ignores them
    assert fewshot_probe(codes, labels, n_way=5, k_shot=1, n_tasks=20) == 1.0
    with pytest.raises(UsageError, match="20-way"):
        fewshot_probe(codes, labels, n_way=20)
