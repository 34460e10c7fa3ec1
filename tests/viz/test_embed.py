"""2-D maps: shapes, agreement with scikit-learn, reproducibility, errors, and the PNGs."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA

from reprlab.errors import UsageError
from reprlab.eval.neighbors import trustworthiness
from reprlab.viz.embed import Map2D, embed_2d, subsample, tsne_2d, tsne_sweep
from reprlab.viz.maps import plot_map, plot_map_grid, spread_points


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    return d.data[:400] / 16, d.target[:400]


@pytest.mark.parametrize("method", ["pca", "mds", "tsne"])
def test_every_method_gives_finite_coordinates_of_shape_n_by_2(digits, method):
    x, _ = digits
    m = embed_2d(x[:150], method, perplexity=10)
    assert m.coords.shape == (150, 2) and np.isfinite(m.coords).all()
    assert m.method == method and m.seconds >= 0
    assert trustworthiness(x[:150], m.coords, 5) > 0.8  # a map, not noise


def test_pca_map_is_sklearns_pca_up_to_sign(digits):
    x, _ = digits
    ours = embed_2d(x, "pca").coords
    ref = PCA(2).fit_transform(x)
    signs = np.sign((ours * ref).sum(0))
    np.testing.assert_allclose(ours * signs, ref, atol=1e-8)


def test_mds_preserves_distances_better_than_pca(digits):
    from scipy.spatial.distance import pdist

    x = digits[0][:120]
    d = pdist(x)

    def raw_stress(y):
        return float(((pdist(y) - d) ** 2).sum())

    assert raw_stress(embed_2d(x, "mds").coords) < raw_stress(embed_2d(x, "pca").coords)


def test_codes_method_plots_2d_codes_as_they_are_and_refuses_others():
    z = np.random.default_rng(0).normal(size=(30, 2))
    np.testing.assert_array_equal(embed_2d(z, "codes").coords, z)
    with pytest.raises(UsageError, match="3 dimensions"):
        embed_2d(np.zeros((30, 3)), "codes")


@pytest.mark.parametrize("backend", ["opentsne", "sklearn"])
def test_tsne_with_a_fixed_seed_is_reproducible(digits, backend):
    x = digits[0][:200]
    a = tsne_2d(x, 15, seed=3, n_iter=300, backend=backend, n_jobs=1)
    b = tsne_2d(x, 15, seed=3, n_iter=300, backend=backend, n_jobs=1)
    np.testing.assert_array_equal(a.coords, b.coords)
    assert a.params["backend"] == backend


def test_random_init_seeds_give_different_maps(digits):
    x = digits[0][:200]
    a = tsne_2d(x, 15, seed=0, n_iter=300, init="random", n_jobs=1)
    b = tsne_2d(x, 15, seed=1, n_iter=300, init="random", n_jobs=1)
    assert np.abs(a.coords - b.coords).max() > 1.0
    assert "random init" in a.title


def test_tsne_separates_digit_classes_like_the_codes(digits):
    from reprlab.eval.neighbors import knn_accuracy

    x, y = digits
    m = tsne_2d(x, 30, n_jobs=1)
    assert knn_accuracy(m.coords, y, 10) > 0.9


def test_sweep_orders_maps_seed_by_seed(digits):
    x = digits[0][:120]
    maps = tsne_sweep(x, perplexities=(5, 10), seeds=(0, 1), n_iter=300, n_jobs=1)
    assert [(m.params["seed"], m.params["perplexity"]) for m in maps] == [(0, 5), (0, 10), (1, 5), (1, 10)]


@pytest.mark.parametrize(
    "codes, method, kw, match",
    [
        (np.zeros((1, 5)), "pca", {}, "at least 2 points"),
        (np.array([[0.0, np.nan], [1, 1], [2, 2]]), "tsne", {}, "NaN"),
        (np.random.default_rng(0).normal(size=(30, 4)), "tsne", {"perplexity": 30}, "perplexity 30 is too large for 30 points"),
        (np.random.default_rng(0).normal(size=(30, 4)), "tsne", {"perplexity": 0}, "positive"),
        (np.zeros((5, 4)), "umap", {}, "unknown map method"),
        (np.array([["a", "b"], ["c", "d"]]), "pca", {}, "numbers"),
    ],
)
def test_bad_inputs_get_a_clear_error(codes, method, kw, match):
    with pytest.raises(UsageError, match=match):
        embed_2d(codes, method, **kw)


def test_sweep_checks_every_perplexity_before_running():
    with pytest.raises(UsageError, match="perplexity 50"):
        tsne_sweep(np.random.default_rng(0).normal(size=(60, 3)), perplexities=(5, 50))


def test_mds_refuses_too_many_points(monkeypatch):
    monkeypatch.setattr("reprlab.viz.embed.MDS_MAX_POINTS", 10)
    with pytest.raises(UsageError, match="max-points"):
        embed_2d(np.random.default_rng(0).normal(size=(11, 3)), "mds")


def test_subsample_is_seeded_sorted_and_complete_when_small():
    a = subsample(100, 10, seed=1)
    assert len(a) == 10 and len(set(a)) == 10 and (np.diff(a) > 0).all()
    np.testing.assert_array_equal(a, subsample(100, 10, seed=1))
    np.testing.assert_array_equal(subsample(5, 10), np.arange(5))


def test_plot_map_writes_a_png_of_the_requested_size(tmp_path, digits):
    x, y = digits
    m = embed_2d(x, "pca")
    images = x.reshape(-1, 1, 8, 8)
    path = plot_map(m, tmp_path / "map.png", y, classes=[str(i) for i in range(10)],
                    quality={"trustworthiness_k10": 0.9}, images=images, thumbnails=12, size=(640, 480))
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        assert im.size == (640, 480) and im.format == "PNG"
        assert len(np.unique(np.asarray(im.convert("RGB")).reshape(-1, 3), axis=0)) > 10  # not blank


def test_plot_map_grid_and_bad_coordinates(tmp_path):
    rng = np.random.default_rng(0)
    maps = [Map2D(rng.normal(size=(50, 2)), "pca") for _ in range(3)]
    path = plot_map_grid(maps, tmp_path / "grid.png", rng.integers(0, 3, 50), ncols=2, panel_size=(200, 180))
    with Image.open(path) as im:
        assert im.size[1] == 2 * 180
    with pytest.raises(UsageError, match="NaN"):
        plot_map(np.array([[0.0, np.inf], [1.0, 1.0]]), tmp_path / "bad.png")
    with pytest.raises(UsageError, match=r"shape \(N, 2\)"):
        plot_map(np.zeros((4, 3)), tmp_path / "bad.png")


def test_spread_points_are_distinct_and_cover_the_extremes():
    xy = np.random.default_rng(0).normal(size=(500, 2))
    idx = spread_points(xy, 20)
    assert len(set(idx.tolist())) == 20
    far = np.argmax(np.linalg.norm(xy - xy[idx[0]], axis=1))
    assert far in idx  # the farthest point from the start is always picked second
