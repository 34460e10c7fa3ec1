"""Domain adaptation protocol: what each step sees, selection on source labels only, the `da` command."""

import json

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression

from reprlab.cli import main
from reprlab.errors import UsageError
from reprlab.eval.domain_adaptation import (
    TASKS,
    load_domain,
    select_on_source,
    source_cv_accuracy,
    transfer_accuracy,
)
from reprlab.pipelines.domain_adaptation import run_tasks, summarize


class Spy(BaseEstimator, TransformerMixin):
    """Records what fit sees; keeps the first ``keep`` columns (scaled)."""

    seen: list = []

    def __init__(self, keep=2, scale=1.0):
        self.keep = keep
        self.scale = scale

    def fit(self, X, y=None):
        Spy.seen.append((X.shape, y))
        return self

    def transform(self, X):
        return X[:, : self.keep] * self.scale


def two_domains(seed=0, shift=0.5):
    """Label in feature 0 (both domains); feature 1 pure noise; the target is shifted."""
    g = np.random.default_rng(seed)
    ys, yt = g.integers(0, 2, 300), g.integers(0, 2, 200)
    Xs = g.normal(size=(300, 4)); Xs[:, 0] += 2 * ys - 1
    Xt = g.normal(size=(200, 4)) + shift; Xt[:, 0] += 2 * yt - 1
    return Xs, ys, Xt, yt


def test_representation_is_fit_on_unlabelled_source_and_target_rows():
    Xs, ys, Xt, yt = two_domains()
    Spy.seen.clear()
    res = transfer_accuracy(Spy(keep=3), Xs, ys, Xt, yt)
    assert Spy.seen == [((500, 4), None)]  # both domains stacked, no labels
    assert res["n_features"] == 3


def test_transfer_accuracy_equals_a_classifier_fit_by_hand():
    Xs, ys, Xt, yt = two_domains()
    clf = LogisticRegression(C=0.5)
    res = transfer_accuracy(None, Xs, ys, Xt, yt, classifier=clf)
    by_hand = LogisticRegression(C=0.5).fit(Xs, ys)
    assert res["target_acc"] == pytest.approx((by_hand.predict(Xt) == yt).mean())
    assert res["source_train_acc"] == pytest.approx((by_hand.predict(Xs) == ys).mean())
    assert res["target_acc"] > 0.7  # the label feature transfers


def test_selection_uses_source_labels_only_and_picks_the_informative_representation():
    Xs, ys, Xt, _ = two_domains()
    # keep=1 keeps the label feature; keep=0 would keep nothing, so use a column-dropping variant
    best, rows = select_on_source(lambda keep: Spy(keep=keep), {"keep": [1, 4]}, Xs, ys, Xt)
    assert [r["keep"] for r in rows] == [1, 4]
    assert all(0 <= r["source_cv_acc"] <= 1 for r in rows)
    assert best["keep"] == max(rows, key=lambda r: r["source_cv_acc"])["keep"]
    # a representation without the label feature scores at chance on source
    noise_only = source_cv_accuracy(_Drop0(), Xs, ys, Xt)
    assert noise_only < 0.65 < rows[0]["source_cv_acc"]


class _Drop0(Spy):
    def transform(self, X):
        return X[:, 1:]


def test_bad_shapes_and_domains_are_one_line_errors():
    Xs, ys, Xt, yt = two_domains()
    with pytest.raises(UsageError, match="same width"):
        transfer_accuracy(None, Xs, ys, Xt[:, :3], yt)
    with pytest.raises(UsageError, match="one label per row"):
        transfer_accuracy(None, Xs, ys[:10], Xt, yt)
    with pytest.raises(UsageError, match="unknown domain 'music'"):
        load_domain("music")


def test_there_are_twelve_tasks_between_four_domains():
    assert len(TASKS) == len(set(TASKS)) == 12
    assert all(s != t for s, t in TASKS)


def test_da_command_rejects_bad_arguments_before_loading(capsys, tmp_path):
    for args, msg in (
        (["--source", "music"], "is not a domain"),
        (["--source", "books", "--target", "books"], "both 'books'"),
        (["--method", "pca"], "--method"),
        (["--p", "1.5"], "--p must be in [0, 1)"),
        (["--layers", "0"], "--layers must be at least 1"),
    ):
        assert main(["da", *args, "--out", str(tmp_path / "x"), "--data-dir", str(tmp_path)]) == 2
        err = capsys.readouterr().err.strip()
        assert msg in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_da_command_names_the_missing_files(capsys, tmp_path):
    assert main(["da", "--source", "books", "--target", "dvd", "--data-dir", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "books_400.mat" in err and "amazon_reviews_400" in err


def test_da_on_amazon_reviews_writes_results_config_and_figure(data_dir, tmp_path, capsys):
    out = tmp_path / "da"
    code = main(["-q", "da", "--source", "books", "--target", "kitchen", "--method", "raw,msda", "--p", "0.7",
                 "--layers", "2", "--data-dir", str(data_dir), "--out", str(out)])
    assert code == 0
    res = json.loads((out / "results.json").read_text())
    assert [(r["source"], r["target"], r["method"]) for r in res["rows"]] == [("books", "kitchen", "raw"), ("books", "kitchen", "msda")]
    assert res["rows"][1]["params"] == {"p": 0.7, "n_layers": 2}
    assert res["rows"][1]["n_features"] == 400 * 3  # [x; h1; h2]
    for r in res["rows"]:
        assert 0.6 < r["target_acc"] < 1.0  # well above chance on a balanced task
    assert res["summary"] == summarize(res["rows"])
    assert json.loads((out / "config.json").read_text())["tasks"] == [["books", "kitchen"]]
    assert (out / "figures" / "target_accuracy.png").stat().st_size > 1000


def test_run_tasks_selects_msda_parameters_on_source_and_reports_the_grid(data_dir):
    rows = run_tasks([("dvd", "elec")], ["msda"], data_dir=data_dir, params={"msda": {"n_layers": 1}},
                     grid={"p": (0.3, 0.8)}, progress=False)
    (row,) = rows
    assert [g["p"] for g in row["selection"]] == [0.3, 0.8]
    best = max(row["selection"], key=lambda g: g["source_cv_acc"])
    assert row["params"] == {"n_layers": 1, "p": best["p"]}
