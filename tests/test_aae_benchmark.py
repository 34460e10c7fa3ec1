"""benchmarks/aae_mnist.py end to end at two training steps: medians over seeds in the headline, the
figures, validation rows that never touch the headline or the test set, and its one-line refusals."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture()
def aae_mnist(data_dir, tmp_path, monkeypatch):
    sys.path.insert(0, str(BENCH))
    try:
        import _common
        import aae_mnist

        monkeypatch.setenv("REPRLAB_DATA", str(data_dir))
        for mod in (_common, aae_mnist):
            monkeypatch.setattr(mod, "RESULTS_DIR", tmp_path)
        monkeypatch.setattr(aae_mnist, "STEPS_PER_EPOCH", 2)
        monkeypatch.setattr(aae_mnist, "TEST_IMAGES", 300)
        monkeypatch.setattr(aae_mnist, "run_jobs", lambda jobs, workers: [aae_mnist.run_one(j) for j in jobs])
        yield aae_mnist
    finally:
        sys.path.remove(str(BENCH))


def test_aae_mnist_headline_is_the_median_over_seeds_and_validation_rows_leave_it(aae_mnist, tmp_path):
    models = '"AAE, N(0, I)", "AAE, 10-mixture", "VAE, N(0, I)", "VAE, 10-mixture"'
    aae_mnist.main(["--seeds", "0,1,2", "--epochs", "1", "--models", models])
    out = json.loads((tmp_path / "aae_mnist.json").read_text())
    head, rows = out["headline"], out["rows"]
    assert head["seeds"] == 3 and out["settings"]["seeds"] == [0, 1, 2] and len(rows) == 12
    for model, key in (("AAE, N(0, I)", "sw_aae_gaussian"), ("VAE, N(0, I)", "sw_vae_gaussian")):
        mine = [r for r in rows if r["model"] == model]
        assert sorted(r["seed"] for r in mine) == [0, 1, 2]
        assert head[key] == statistics.median(r["sliced_wasserstein"] for r in mine)
        assert all(r["evaluated_on"] == "test" and r["n_eval"] == 300 and r["steps"] == 2 for r in mine)
    assert len({r["sliced_wasserstein"] for r in rows}) == 12  # seeds and models differ: not one copied number
    assert out["settings"]["schedule"] == aae_mnist.SCHEDULE == {"train.lr_schedule": "cosine"}
    assert out["settings"]["models"]["AAE, N(0, I)"][1]["train.lr_schedule"] == "cosine"
    assert aae_mnist.MODELS["AAE, N(0, I), constant lr"][1]["train.lr_schedule"] == "constant"
    assert (tmp_path / "aae_mnist_codes.png").stat().st_size > 0 and (tmp_path / "aae_mnist_percentiles.png").stat().st_size > 0

    aae_mnist.main(["--validation", "--label", "r1-gamma1", "--seeds", "100", "--epochs", "1",
                    "--models", '"AAE, N(0, I), constant lr"', "--set", "reg=r1", "--set", "gamma=1"])
    after = json.loads((tmp_path / "aae_mnist.json").read_text())
    assert after["headline"] == head and after["rows"] == rows
    (val,) = after["validation_rows"]
    # 10,000 training images held out and scored: the test set is not read by a validation run
    assert val["label"] == "r1-gamma1" and val["evaluated_on"] == "validation" and abs(val["n_eval"] - 10000) <= 1
    assert val["extra"] == {"reg": "r1", "gamma": 1} and val["seed"] == 100

    (tmp_path / "aae_mnist_codes.png").unlink()
    aae_mnist.main(["--seeds", "0", "--epochs", "1", "--models", '"VAE, N(0, I)"'])
    again = json.loads((tmp_path / "aae_mnist.json").read_text())
    assert again["validation_rows"] == after["validation_rows"] and again["headline"]["seeds"] == 1
    # a part: the VAE's rows replaced by its one seed, the AAE's three kept and still in the headline
    assert [r for r in again["rows"] if r["model"] == "AAE, N(0, I)"] == [r for r in rows if r["model"] == "AAE, N(0, I)"]
    assert [r["seed"] for r in again["rows"] if r["model"] == "VAE, N(0, I)"] == [0]
    assert again["headline"]["sw_aae_gaussian"] == head["sw_aae_gaussian"]
    assert again["settings"]["seeds_by_model"]["VAE, N(0, I)"] == [0]
    assert again["settings"]["seeds_by_model"]["AAE, 10-mixture"] == [0, 1, 2]
    assert not (tmp_path / "aae_mnist_codes.png").exists()  # two of the four panels: not redrawn


def test_aae_mnist_refuses_bad_arguments_in_one_line(aae_mnist):
    with pytest.raises(SystemExit, match="unknown"):
        aae_mnist.main(["--models", '"AAE, N(0, 1)"'])
    with pytest.raises(SystemExit, match="seeds >= 100"):
        aae_mnist.main(["--validation", "--label", "x", "--seeds", "0"])
    with pytest.raises(SystemExit, match="--validation runs"):
        aae_mnist.main(["--set", "gamma=1"])
