"""``reprlab compare --data amazon-reviews``: the Amazon reviews' transfer table. Its cells against
independent computations (a logistic regression fit by hand on the source features, scored on the
target; mSDA's features through the same probe by hand), what the representations see (the
training reviews of source + target, no label, no test review), the files, and bad inputs that
stop the command or fail one row in one line each. Most tests run on four small domain files in
the real files' format; one reads the real reviews (skipped without them)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import yaml
from helpers import error_line, run_cli, write_fake_amazon_reviews
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import reprlab
from reprlab.data import load_dataset
from reprlab.errors import DataError, UsageError

pytestmark = pytest.mark.usefixtures("one_thread")

TASKS = [("books", "kitchen"), ("dvd", "elec")]
SEEDS = (0, 1)


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    return write_fake_amazon_reviews(tmp_path_factory.mktemp("amazon"))


@pytest.fixture(scope="module")
def table(fake, tmp_path_factory):
    out = tmp_path_factory.mktemp("transfer") / "out"
    return reprlab.compare("amazon-reviews", ["raw", "msda", "ae"], tasks=TASKS, out=out, code_size=4, seeds=SEEDS,
                           steps=5, options={"ae": {"hidden": [16]}, "msda": {"n_layers": 1}}, data_dir=str(fake),
                           keep_runs=True)


def split(domain: str, part: str, seed: int, data_dir) -> tuple[np.ndarray, np.ndarray]:
    d = load_dataset(f"amazon-reviews:{domain}", split=part, seed=seed, data_dir=data_dir)
    return d.x.double().numpy(), d.y.numpy()


def probe_by_hand(x_train, y_train, x_test, y_test, seed: int) -> float:
    """Logistic regression on standardized features, C in 1e-3..100 by 3-fold stratified CV
    (shuffled with the seed) on the training rows only, refit on them, accuracy on the test rows."""
    search = GridSearchCV(make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
                          {"logisticregression__C": [1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0]},
                          cv=StratifiedKFold(3, shuffle=True, random_state=seed))
    return float((search.fit(x_train, y_train).predict(x_test) == y_test).mean())


def test_the_transfer_table_has_a_column_per_pair_and_the_means_over_the_pairs(table):
    assert table.exit_code == 0 and table.failures == []
    names = [p.name for p in table.probes]
    assert names == ["transfer_books->kitchen", "transfer_dvd->elec", "transfer_mean", "indomain_books->kitchen",
                     "indomain_dvd->elec", "indomain_mean", "train_seconds", "encode_per_s", "code_size"]
    for method, cells in table.cells.items():
        for group in ("transfer", "indomain"):
            per_pair = np.array([cells[f"{group}_{s}->{t}"]["values"] for s, t in TASKS])  # (tasks, seeds)
            assert cells[f"{group}_mean"]["values"] == pytest.approx(per_pair.mean(0).tolist())
            assert cells[f"{group}_mean"]["std"] == pytest.approx(np.std(per_pair.mean(0), ddof=1))
            assert all(0.5 < v <= 1 for v in per_pair.ravel())  # the shared sentiment words transfer
    assert table.cells["raw"]["code_size"]["mean"] == 400 and table.cells["raw"]["train_seconds"]["mean"] == 0
    assert table.cells["msda"]["code_size"]["mean"] == 800  # [x; h1]
    assert table.cells["ae"]["code_size"]["mean"] == 4 and table.cells["ae"]["train_seconds"]["mean"] > 0


def test_raw_and_msda_cells_equal_a_probe_fit_by_hand_on_source_and_scored_on_the_target(table, fake):
    for s, t in TASKS:
        for i, seed in enumerate(SEEDS):
            xs, ys = split(s, "train", seed, fake)
            xt, yt = split(t, "train", seed, fake)
            xte, yte = split(t, "test", seed, fake)
            raw = table.cells["raw"]
            assert raw[f"transfer_{s}->{t}"]["values"][i] == pytest.approx(probe_by_hand(xs, ys, xte, yte, seed))
            assert raw[f"indomain_{s}->{t}"]["values"][i] == pytest.approx(probe_by_hand(xt, yt, xte, yte, seed))
            msda = reprlab.MSDA(p=0.5, n_layers=1, random_state=seed).fit(np.vstack([xs, xt]))  # no label, no test row
            by_hand = probe_by_hand(msda.transform(xs), ys, msda.transform(xte), yte, seed)
            assert table.cells["msda"][f"transfer_{s}->{t}"]["values"][i] == pytest.approx(by_hand)


class Spy(BaseEstimator, TransformerMixin):
    """Stands for mSDA: records what ``fit`` is given; its codes are the first 10 features."""

    seen: list = []

    def __init__(self, p=0.5, n_layers=1, random_state=None):
        self.p, self.n_layers, self.random_state = p, n_layers, random_state

    def fit(self, X, y=None):
        Spy.seen.append((np.array(X), y, self.random_state))
        return self

    def transform(self, X):
        return np.asarray(X)[:, :10]


def test_representations_see_the_training_reviews_of_source_and_target_without_labels(fake, tmp_path, monkeypatch):
    from reprlab.pipelines import domain_adaptation

    real = domain_adaptation.make_representation
    monkeypatch.setattr(domain_adaptation, "make_representation",
                        lambda method, **kw: Spy(**kw) if method == "msda" else real(method, **kw))
    Spy.seen.clear()
    r = reprlab.compare("amazon-reviews", ["msda"], tasks=[("elec", "dvd")], out=tmp_path / "o", seeds=(3,),
                        probes=("transfer",), data_dir=str(fake))
    assert r.exit_code == 0 and [p.name for p in r.probes] == ["transfer_elec->dvd", "transfer_mean"]
    (x, y, seed), = Spy.seen
    xs, xt = split("elec", "train", 3, fake)[0], split("dvd", "train", 3, fake)[0]
    assert y is None and seed == 3 and np.array_equal(x, np.vstack([xs, xt]))  # no dvd test review among them
    # the families train on the same reviews: amazon-reviews:SOURCE+TARGET's training split
    union = load_dataset("amazon-reviews:elec+dvd", split="train", seed=3, data_dir=fake)
    assert np.array_equal(union.x.double().numpy(), x) and union.extras["domain"].unique().tolist() == [1, 2]


def test_families_train_on_the_pair_with_the_seed_and_their_runs_are_kept(table):
    run = table.out / "runs" / "books-kitchen" / "ae-seed1"
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["data"]["name"] == "amazon-reviews:books+kitchen" and config["train"]["seed"] == 1
    assert config["model"]["latent_dim"] == 4 and config["train"]["max_steps"] == 5
    assert table.methods["ae"]["family"] == "ae" and table.methods["ae"]["tasks"] == ["books->kitchen", "dvd->elec"]


def test_the_transfer_table_writes_the_compare_files(table):
    out = table.out
    for name in ("compare.json", "compare.csv", "config.json", "table.png", "index.html"):
        assert (out / name).is_file(), name
    assert not (out / "maps.png").exists()
    saved = json.loads((out / "compare.json").read_text())
    assert saved["table"] == json.loads(json.dumps(table.cells)) and saved["tasks"] == ["books->kitchen", "dvd->elec"]
    assert saved["data"] == "amazon-reviews" and saved["kind"] == "transfer" and saved["seeds"] == [0, 1]
    assert "source's training reviews" in saved["protocol"] and saved["transformers"]["msda"] == {"p": 0.5, "n_layers": 3}
    with open(out / "compare.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 * len(table.probes)
    row = next(r for r in rows if r["method"] == "msda" and r["probe"] == "transfer_mean")
    assert float(row["mean"]) == pytest.approx(table.cells["msda"]["transfer_mean"]["mean"], rel=1e-5)
    page = (out / "index.html").read_text()
    assert "transfer_books-&gt;kitchen" in page or "transfer_books->kitchen" in page
    assert "target&#x27;s test reviews" in page or "target's test reviews" in page


def test_a_method_that_needs_labels_or_images_or_is_unknown_fails_its_row_in_one_line(fake, tmp_path, capsys):
    code, out, err = run_cli(capsys, "-q", "compare", "--data", "amazon-reviews", "--source", "books", "--target",
                             "kitchen", "--methods", "raw,sdae,ae,nope", "--set", "ae:model.arch=conv", "--seeds", "0",
                             "--probes", "transfer", "--data-dir", str(fake), "--out", str(tmp_path / "bad"))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("reprlab: error: compare: ") for line in lines)
    assert "sdae: sdae needs labels" in lines[0] and "unlabelled source + target reviews" in lines[0]
    assert "ae: ae cannot take the reviews' 400-feature vectors: model.arch=conv needs images" in lines[1]
    assert "nope: unknown method 'nope'; the transfer table takes raw, pca, msda, sda, gan-d" in lines[2]
    table = json.loads((tmp_path / "bad" / "compare.json").read_text())["table"]
    assert 0.5 < table["raw"]["transfer_books->kitchen"]["mean"] <= 1  # raw still ran
    assert all("error" in c for m in ("sdae", "ae", "nope") for c in table[m].values())
    assert out.splitlines()[0].split() == ["method", "transfer_books->kitchen", "transfer_mean"]


@pytest.mark.parametrize("argv, message", [
    (["--data", "amazon-reviews", "--source", "music"], "--source 'music' is not a domain"),
    (["--data", "amazon-reviews", "--source", "books", "--target", "books"], "source and target are both 'books'"),
    (["--source", "books", "--target", "dvd"], "--source and --target choose the domain pairs of the Amazon reviews' "
                                              "transfer table: use --data amazon-reviews, not digits"),
    (["--data", "amazon-reviews", "--probes", "linear"], "unknown probe group 'linear' for the transfer table"),
    (["--data", "amazon-reviews", "--set", "msda:p=0.7"], "options are given for 'msda', which is not among"),
    (["--data", "amazon-reviews", "--runs", "runs/x"], "run folders cannot join the transfer table"),
    (["--data", "amazon-reviews", "--source", "books", "--target", "dvd", "--data-dir", "EMPTY"], "books_400.mat"),
])
def test_bad_arguments_stop_the_transfer_table_in_one_line(argv, message, tmp_path, capsys):
    argv = [str(tmp_path) if a == "EMPTY" else a for a in argv]
    code, _, err = run_cli(capsys, "-q", "compare", "--methods", "raw", "--out", str(tmp_path / "x"), *argv)
    assert code == 2 and message in error_line(err)


def test_bad_tasks_from_python_are_one_line_errors(tmp_path):
    def run(**kw):
        return reprlab.compare(kw.pop("data", "amazon-reviews"), ["raw"], out=tmp_path / "x", data_dir=str(tmp_path), **kw)

    with pytest.raises(UsageError, match=r"unknown domain 'music' in the task books->music; choose among books, dvd"):
        run(tasks=[("books", "music")])
    with pytest.raises(UsageError, match="the task kitchen->kitchen has the same source and target"):
        run(tasks=[("kitchen", "kitchen")])
    with pytest.raises(UsageError, match="the task books->dvd is named twice"):
        run(tasks=[("books", "dvd"), ("books", "dvd")])
    with pytest.raises(UsageError, match=r"a task is a \(source, target\) pair"):
        run(tasks=["books"])
    with pytest.raises(UsageError, match="tasks .* are the domain pairs of the transfer table: use data='amazon-reviews'"):
        run(data="digits", tasks=[("books", "dvd")])


def test_several_domains_load_as_the_union_of_each_domains_split(fake):
    for part in ("train", "test"):
        both = load_dataset("amazon-reviews:kitchen+books", split=part, seed=2, data_dir=fake)
        k, b = (load_dataset(f"amazon-reviews:{d}", split=part, seed=2, data_dir=fake) for d in ("kitchen", "books"))
        assert np.array_equal(both.x.numpy(), np.vstack([k.x.numpy(), b.x.numpy()]))
        assert both.y.tolist() == k.y.tolist() + b.y.tolist()
        assert both.extras["domain"].tolist() == [3] * len(k) + [0] * len(b)
        assert both.extras["row"].tolist() == k.extras["row"].tolist() + (150 + b.extras["row"]).tolist()
    every = load_dataset("amazon-reviews:all", split="train", seed=1, data_dir=fake)
    joined = load_dataset("amazon-reviews:books+dvd+elec+kitchen", split="train", seed=1, data_dir=fake)
    assert np.array_equal(every.x.numpy(), joined.x.numpy()) and len(every) == 4 * 120
    for name, message in (("books+books", "names a domain twice"), ("books+music", "domain 'music'"),
                          ("", "no domain")):
        with pytest.raises(DataError, match=message):
            load_dataset(f"amazon-reviews:{name}", data_dir=fake)


def test_on_the_real_reviews_raw_transfer_equals_the_probe_by_hand(data_dir, tmp_path):
    if not (data_dir / "amazon_reviews_400").is_dir():
        pytest.skip("no Amazon reviews in the data folder")
    r = reprlab.compare("amazon-reviews", ["raw"], tasks=[("books", "kitchen")], out=tmp_path / "real", seeds=(0,),
                        probes=("transfer",), data_dir=str(data_dir))
    xs, ys = split("books", "train", 0, data_dir)
    xte, yte = split("kitchen", "test", 0, data_dir)
    assert len(ys) == 1600 and len(yte) == 400
    value = r.cells["raw"]["transfer_books->kitchen"]["mean"]
    assert value == pytest.approx(probe_by_hand(xs, ys, xte, yte, 0)) and 0.65 < value < 0.95
