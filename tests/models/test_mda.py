"""Marginalized denoising auto-encoders: the closed form against explicit corruption and exact
expectations, backends, chunking, sparse input, the high-dimensional variant, the sklearn API."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC
from sklearn.utils.estimator_checks import parametrize_with_checks

from reprlab import MDA, MSDA
from reprlab.models.mda import marginalized_moments


def bag_of_words(n: int, d: int, density: float, seed: int = 0) -> np.ndarray:
    """Binary ``n × d`` data, feature ``j`` present with probability falling like ``1/(j+1)``."""
    rng = np.random.default_rng(seed)
    freq = np.minimum(1.0, density * d / np.arange(1, d + 1) / np.log(d + 1))
    return (rng.random((n, d)) < freq).astype(np.float64)


def with_bias(X: np.ndarray) -> np.ndarray:
    return np.hstack([X, np.ones((len(X), 1))])


def ridge(d: int, reg: float) -> np.ndarray:
    """``Λ``: ``reg`` on the non-bias diagonal of a ``(d+1) × (d+1)`` matrix."""
    return np.diag(np.r_[np.full(d, reg), 0.0])


# ---------------------------------------------------------------------------------- the math
def test_mda_moments_equal_exact_average_over_all_corruption_masks():
    # d = 2, n = 3: E[Q], E[P] by enumerating the 2^2 masks of every sample, weighted exactly.
    X = np.array([[1.0, 2.0], [0.5, -1.0], [3.0, 0.0]])
    p = 0.3
    EQ_exact, EP_exact = np.zeros((3, 3)), np.zeros((2, 3))
    for mask in itertools.product([0, 1], repeat=2):
        prob = np.prod([(1 - p) if keep else p for keep in mask])
        Xt = with_bias(X * np.array(mask))  # corrupted copy, bias never corrupted
        EQ_exact += prob * Xt.T @ Xt
        EP_exact += prob * X.T @ Xt
    S = with_bias(X).T @ with_bias(X)
    EQ, EP = marginalized_moments(S, p)
    np.testing.assert_allclose(EQ, EQ_exact, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(EP, EP_exact, rtol=1e-13, atol=1e-13)
    # and the fitted weights are E[P] (E[Q] + Λ)^{-1} of those exact expectations
    W = MDA(p=p, reg=1e-5).fit(X).W_
    np.testing.assert_allclose(W, EP_exact @ np.linalg.inv(EQ_exact + ridge(2, 1e-5)), rtol=1e-10, atol=1e-12)


def test_mda_closed_form_matches_many_corrupted_copies():
    rng = np.random.default_rng(0)
    n, d, p, reg = 30, 4, 0.4, 1e-5
    X = rng.normal(size=(n, d)) + 1.0
    W = MDA(p=p, reg=reg).fit(X).W_
    errors = []
    for m in (10, 100, 1000, 10000):
        keep = rng.random((m, n, d)) >= p
        Xt = with_bias((keep * X).reshape(m * n, d))  # m corrupted copies, stacked: (m n, d+1)
        target = np.tile(X, (m, 1))  # (m n, d), the clean inputs
        # explicit least squares min ||target - Xt W^T||^2 + m λ ||W_x||^2, as an augmented lstsq
        A = np.vstack([Xt, np.sqrt(m * reg) * np.eye(d, d + 1)])
        B = np.vstack([target, np.zeros((d, d))])
        W_m = np.linalg.lstsq(A, B, rcond=None)[0].T
        errors.append(np.linalg.norm(W_m - W) / np.linalg.norm(W))
    assert all(a > b for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < 0.02 and errors[-1] < 0.1 * errors[0], errors


@pytest.mark.parametrize("p", [0.0, 0.5, 0.95])
def test_mda_fast_weights_equal_direct_solve_of_the_moments(p):
    X = bag_of_words(60, 12, 0.2, seed=1)
    X[:, 3] = X[:, 2]  # collinear features
    X[:, 7] = 0.0  # a feature never present
    S = with_bias(X).T @ with_bias(X)
    EQ, EP = marginalized_moments(S, p, reg=1e-5)
    W = MDA(p=p).fit(X).W_
    assert W.shape == (12, 13)
    np.testing.assert_allclose(W, np.linalg.solve(EQ, EP.T).T, rtol=1e-7, atol=1e-7)
    np.testing.assert_allclose(W[7], 0.0, atol=1e-12)  # nothing to reconstruct an absent feature from


def test_mda_p0_is_ridge_least_squares_reconstruction():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(50, 6))
    reg = 0.3
    A = np.vstack([with_bias(X), np.sqrt(reg) * np.eye(6, 7)])
    W_lstsq = np.linalg.lstsq(A, np.vstack([X, np.zeros((6, 6))]), rcond=None)[0].T
    np.testing.assert_allclose(MDA(p=0.0, reg=reg).fit(X).W_, W_lstsq, rtol=1e-10, atol=1e-12)
    # without ridge, X is reconstructed exactly from X̄: W = [I | 0]
    np.testing.assert_allclose(MDA(p=0.0, reg=0.0).fit(X).W_, np.eye(6, 7), atol=1e-10)


def test_mda_singular_moments_fall_back_to_min_norm_solution():
    X = bag_of_words(40, 6, 0.3, seed=3)
    X[:, 1] = X[:, 0]
    W = MDA(p=0.0, reg=0.0, activation="linear").fit(X).W_
    assert np.isfinite(W).all()
    np.testing.assert_allclose(with_bias(X) @ W.T, X, atol=1e-8)  # still reconstructs exactly


@pytest.mark.parametrize("activation, sigma", [
    ("tanh", np.tanh), ("sigmoid", lambda z: 1 / (1 + np.exp(-z))), ("linear", lambda z: z),
])
def test_mda_transform_is_activation_of_w_times_x_bar(activation, sigma):
    X = bag_of_words(20, 5, 0.3)
    mda = MDA(activation=activation).fit(X)
    np.testing.assert_allclose(mda.transform(X), sigma(with_bias(X) @ mda.W_.T), rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------------------- same W by every route
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_mda_dense_and_sparse_input_give_the_same_w(fmt):
    X = bag_of_words(80, 15, 0.1, seed=4)
    mda_dense = MDA(p=0.3).fit(X)
    mda_sparse = MDA(p=0.3).fit(sp.csr_matrix(X).asformat(fmt))
    np.testing.assert_allclose(mda_sparse.W_, mda_dense.W_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(mda_sparse.transform(sp.csr_matrix(X)), mda_dense.transform(X), atol=1e-12)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_mda_chunked_accumulation_equals_unchunked(backend, sparse):
    X = bag_of_words(53, 9, 0.2, seed=5)
    Xin = sp.csr_matrix(X) if sparse else X
    whole = MDA(backend=backend, chunk_size=10_000).fit(Xin)
    chunked = MDA(backend=backend, chunk_size=7).fit(Xin)  # 53 = 7 * 7 + 4: a ragged last chunk
    np.testing.assert_allclose(chunked.W_, whole.W_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(chunked.transform(Xin), whole.transform(Xin), atol=1e-12)


@pytest.mark.parametrize("sparse", [False, True])
def test_mda_numpy_and_torch_backends_agree(sparse):
    X = bag_of_words(70, 11, 0.2, seed=6)
    Xin = sp.csr_matrix(X) if sparse else X
    a = MDA(p=0.6, backend="numpy").fit(Xin)
    b = MDA(p=0.6, backend="torch", device="cpu", chunk_size=16).fit(Xin)
    assert (a.backend_, b.backend_, b.device_) == ("numpy", "torch", "cpu")
    np.testing.assert_allclose(b.W_, a.W_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(b.transform(Xin), a.transform(Xin), atol=1e-12)
    c = MDA(n_reconstruct=4, random_state=0, backend="numpy").fit(Xin)
    t = MDA(n_reconstruct=4, random_state=0, backend="torch", device="cpu").fit(Xin)
    np.testing.assert_allclose(t.transform(Xin), c.transform(Xin), atol=1e-12)


def test_mda_float32_dtype_gives_float32_output_close_to_float64():
    X = bag_of_words(60, 8, 0.3)
    h64 = MDA().fit_transform(X)
    h32 = MDA(dtype=np.float32).fit_transform(X)
    assert h64.dtype == np.float64 and h32.dtype == np.float32
    np.testing.assert_allclose(h32, h64, atol=1e-4)


# ---------------------------------------------------------------------------------- high-dimensional variant
def test_mda_high_dim_variant_shapes_blocks_and_targets():
    X = bag_of_words(100, 23, 0.15, seed=7)
    mda = MDA(n_reconstruct=5, random_state=0).fit(sp.csr_matrix(X))
    assert mda.transform(X).shape == (100, 5)
    assert len(mda.blocks_) == 5 and all(len(b) <= 5 for b in mda.blocks_)
    np.testing.assert_array_equal(np.sort(np.concatenate(mda.blocks_)), np.arange(23))  # a partition
    assert [W.shape for W in mda.W_] == [(5, len(b) + 1) for b in mda.blocks_]
    counts = (X != 0).sum(axis=0)
    assert counts[mda.targets_].min() >= np.delete(counts, mda.targets_).max()  # the most frequent
    assert list(mda.get_feature_names_out()) == [f"mda{i}" for i in range(5)]


def test_mda_high_dim_variant_is_deterministic_given_random_state():
    X = bag_of_words(60, 20, 0.2, seed=8)
    a = MDA(n_reconstruct=6, random_state=3).fit_transform(X)
    b = MDA(n_reconstruct=6, random_state=3).fit_transform(X)
    c = MDA(n_reconstruct=6, random_state=4).fit(X)
    np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(x, y) for x, y in zip(c.blocks_, MDA(n_reconstruct=6, random_state=3).fit(X).blocks_))


def test_mda_high_dim_variant_with_r_at_least_d_is_plain_mda_ordered_by_frequency():
    X = bag_of_words(80, 10, 0.3, seed=9)
    plain = MDA(p=0.4).fit_transform(X)
    for r in (10, 50):
        hd = MDA(p=0.4, n_reconstruct=r, random_state=0).fit(X)
        assert len(hd.blocks_) == 1
        np.testing.assert_allclose(hd.transform(X), plain[:, hd.targets_], atol=1e-10)


def test_mda_high_dim_linear_variant_averages_the_block_reconstructions():
    X = bag_of_words(50, 12, 0.3, seed=10)
    hd = MDA(n_reconstruct=4, activation="linear", random_state=1).fit(X)
    by_hand = np.mean([with_bias(X[:, cols]) @ W.T for cols, W in zip(hd.blocks_, hd.W_)], axis=0)
    np.testing.assert_allclose(hd.transform(X), by_hand, atol=1e-12)


# ---------------------------------------------------------------------------------- mSDA
@pytest.mark.parametrize("sparse", [False, True])
def test_msda_output_is_input_then_each_layer(sparse):
    X = bag_of_words(40, 7, 0.3, seed=11)
    Xin = sp.csr_matrix(X) if sparse else X
    msda = MSDA(p=0.5, n_layers=3).fit(Xin)
    out = msda.transform(Xin)
    assert len(msda.layers_) == 3 and out.shape == (40, 7 * 4)
    np.testing.assert_array_equal(out[:, :7], X)
    h = X
    for t, layer in enumerate(msda.layers_):
        h = layer.transform(h)
        np.testing.assert_allclose(out[:, 7 * (t + 1) : 7 * (t + 2)], h, atol=1e-12)
    np.testing.assert_array_equal(msda.fit_transform(Xin), out)
    last = MSDA(p=0.5, n_layers=3, concat=False).fit(Xin).transform(Xin)
    np.testing.assert_allclose(last, out[:, -7:], atol=1e-12)


def test_msda_with_high_dim_first_layer_has_r_wide_layers():
    X = bag_of_words(40, 15, 0.3, seed=12)
    msda = MSDA(n_layers=2, n_reconstruct=4, random_state=0).fit(sp.csr_matrix(X))
    assert msda.transform(X).shape == (40, 15 + 2 * 4)
    assert msda.layers_[0].blocks_ is not None and msda.layers_[1].W_.shape == (4, 5)
    assert len(msda.get_feature_names_out()) == 23


def test_mda_and_msda_in_a_pipeline_with_linear_classifiers():
    rng = np.random.default_rng(13)
    n, d = 300, 20
    y = rng.integers(0, 2, n)
    freq = np.where(np.arange(d) < 5, 0.15 + 0.5 * y[:, None], 0.2)  # the first 5 words carry the label
    X = (rng.random((n, d)) < freq).astype(float)
    for rep, clf in [(MDA(p=0.5), LogisticRegression()), (MSDA(p=0.5, n_layers=2), LinearSVC())]:
        pipe = make_pipeline(rep, clf).fit(X[:200], y[:200])
        assert pipe.score(X[200:], y[200:]) > 0.8
        name = type(rep).__name__.lower()
        assert pipe.get_params()[f"{name}__p"] == 0.5
        pipe2 = clone(pipe).set_params(**{f"{name}__p": 0.2}).fit(sp.csr_matrix(X[:200]), y[:200])
        assert pipe2.named_steps[name].p == 0.2


# ---------------------------------------------------------------------------------- sklearn contract, errors
@parametrize_with_checks([MDA(), MSDA(n_layers=2), MDA(n_reconstruct=2, random_state=0), MDA(backend="torch")])
def test_sklearn_estimator_checks(estimator, check):
    # check_array_api_input skips itself (SkipTest) unless SCIPY_ARRAY_API is set: the estimators
    # compute with numpy/scipy (or torch through their own backend), not through the array API.
    check(estimator)


@pytest.mark.parametrize("make, match", [
    (lambda: MDA(p=1.0), r"p \(corruption probability\) must be in \[0, 1\), got 1.0"),
    (lambda: MDA(p=-0.1), r"p \(corruption probability\) must be in \[0, 1\)"),
    (lambda: MDA(p="half"), r"p \(corruption probability\) must be in \[0, 1\)"),
    (lambda: MDA(reg=-1.0), r"reg .* must be a number >= 0"),
    (lambda: MDA(activation="relu"), r"activation must be one of"),
    (lambda: MDA(backend="jax"), r"backend must be one of"),
    (lambda: MDA(chunk_size=0), r"chunk_size must be None or an integer >= 1"),
    (lambda: MDA(n_reconstruct=2.5), r"n_reconstruct must be None or an integer >= 1"),
    (lambda: MDA(backend="numpy", device="cuda"), r"device='cuda' needs backend='torch' or 'auto'"),
    (lambda: MSDA(n_layers=0), r"n_layers must be an integer >= 1, got 0"),
    (lambda: MSDA(n_layers=1.5), r"n_layers must be an integer >= 1"),
    (lambda: MSDA(p=1.2), r"p \(corruption probability\) must be in \[0, 1\)"),
])
def test_bad_hyper_parameters_raise_one_line_value_errors(make, match):
    with pytest.raises(ValueError, match=match) as err:
        make().fit(np.ones((5, 3)))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("est", [MDA(), MSDA(n_layers=2)])
def test_bad_inputs_raise_one_line_value_errors(est):
    X = bag_of_words(10, 4, 0.5)
    for bad in (np.nan, np.inf):
        Xbad = X.copy()
        Xbad[2, 1] = bad
        with pytest.raises(ValueError, match="^Input X contains (NaN|infinity)"):  # sklearn's message
            clone(est).fit(Xbad)
    fitted = clone(est).fit(X)
    with pytest.raises(ValueError, match="X has 3 features, but .* is expecting 4 features") as err:
        fitted.transform(X[:, :3])
    assert "\n" not in str(err.value)
