"""benchmarks/representations.py: a smoke run (--quick) in two parts on the embedded digits merges
its rows into one JSON whose headline has the keys of the methods run and is recomputed from the
rows present, with the published anchors (Kingma et al. 2014) and the protocol beside them."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def bench():
    """The benchmark script as a module (its parts run in this process: no second start-up of torch)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        return importlib.import_module("representations")
    finally:
        sys.path.remove(str(REPO / "benchmarks"))


@pytest.fixture
def results(tmp_path, monkeypatch, bench):
    """Where the committed results would go, pointed into tmp_path (REPRLAB_BENCH_RESULTS for a
    subprocess; the module's copy for this process)."""
    folder = tmp_path / "results"
    monkeypatch.setenv("REPRLAB_BENCH_RESULTS", str(folder))
    monkeypatch.setattr(bench._common, "RESULTS_DIR", folder)
    return folder


def _part(bench, methods: str, *extra: str) -> None:
    assert bench.main(["--quick", "--table", "mnist", "--methods", methods, *extra]) == 0


def test_two_quick_parts_merge_into_one_result_with_the_published_anchors(bench, results, capsys):
    _part(bench, "raw,pca", "--out", str(results))
    _part(bench, "ae", "--out", str(results))
    assert "mnist/ae:" in capsys.readouterr().out
    record = json.loads((results / "representations.json").read_text())
    rows = {r["row"]: r for r in record["rows"]}
    assert set(rows) == {"mnist/raw", "mnist/pca", "mnist/ae"}  # the second part kept the first part's rows
    h = record["headline"]
    for m in ("raw", "pca", "ae"):
        assert h[f"linear100_{m}"] == round(rows[f"mnist/{m}"]["cells"]["linear_100"]["mean"], 4)
        assert 0.5 < h[f"linear100_{m}"] <= h[f"linear_all_{m}"] + 0.05 and h[f"linear_all_{m}"] <= 1
    assert "linear100_vae" not in h  # a method not run has no key yet
    best = max(("raw", "pca", "ae"), key=lambda m: h[f"linear100_{m}"])
    assert h["best_linear100_method"] == best and "fewshot20_best" not in h  # the Omniglot table did not run
    assert h["table_minutes"] == round(sum(r["cpu_minutes"] for r in rows.values()), 2) > 0  # CPU-minutes
    assert record["table_wall_minutes"] == round(sum(r["minutes"] for r in rows.values()), 2) > 0
    assert rows["mnist/ae"]["cells"]["train_seconds"]["mean"] > 0 and rows["mnist/raw"]["train_minutes"] == 0
    # the anchors, with their source, and our linear_100 as an error beside them
    published = record["published"]
    assert published["test_error_percent_100_labels"] == {"NN baseline": 25.81, "TSVM": 16.81, "M1 + TSVM": 11.82}
    assert "Kingma" in published["source"] and "Table 1" in published["source"]
    assert record["linear100_error_percent"]["ae"] == round(100 * (1 - rows["mnist/ae"]["cells"]["linear_100"]["mean"]), 2)
    assert "cross-validation on those training labels only" in record["protocol"]
    assert record["targets"]["table_minutes"]["target"] == "<= 45.0"
    assert (results / "representations_mnist.png").stat().st_size > 0
    assert rows["mnist/ae"]["settings"]["seeds"] == [0] and rows["mnist/ae"]["quick"]


def test_quick_without_out_writes_nothing(bench, results, capsys):
    _part(bench, "raw")
    assert "mnist/raw:" in capsys.readouterr().out and not results.exists()


def test_headline_from_rows_names_gan_d_with_an_underscore_and_picks_the_best_fewshot(bench):
    def row(table, method, minutes, **means):
        return {"row": f"{table}/{method}", "table": table, "method": method, "minutes": minutes, "cpu_minutes": minutes,
                "cells": {k: {"mean": v} for k, v in means.items()}}

    rows = {r["row"]: r for r in (
        row("mnist", "gan-d", 4.0, linear_100=0.7, linear_all=0.95), row("mnist", "vae", 4.5, linear_100=0.8),
        row("omniglot", "siamese", 6.0, fewshot_20w1s=0.8), row("omniglot", "pca", 0.5, fewshot_20w1s=0.4))}
    h = bench.headline_of(rows)
    assert h["linear100_gan_d"] == 0.7 and h["linear_all_gan_d"] == 0.95 and h["linear_all_vae"] is None
    assert h["best_linear100_method"] == "vae" and h["fewshot20_best"] == 0.8 and h["table_minutes"] == 8.5
    extra = bench.extras_of(rows)
    assert extra["linear100_error_percent"] == {"gan-d": 30.0, "vae": 20.0} and extra["bests"]["fewshot_20w1s"] == "siamese"


def test_a_quick_amazon_part_merges_its_transfer_rows_and_names_the_best_transfer(bench, results, tmp_path, monkeypatch,
                                                                                   capsys):
    from helpers import write_fake_amazon_reviews

    monkeypatch.setenv("REPRLAB_DATA", str(write_fake_amazon_reviews(tmp_path / "data")))
    assert bench.main(["--quick", "--table", "amazon", "--methods", "raw,msda", "--out", str(results)]) == 0
    assert "amazon/msda:" in capsys.readouterr().out
    record = json.loads((results / "representations.json").read_text())
    rows = {r["row"]: r for r in record["rows"]}
    assert set(rows) == {"amazon/raw", "amazon/msda"}
    pair = "->".join(bench.AMAZON_TASKS[0])
    means = {m: rows[f"amazon/{m}"]["cells"]["transfer_mean"]["mean"] for m in ("raw", "msda")}
    for m in ("raw", "msda"):
        cells = rows[f"amazon/{m}"]["cells"]
        assert cells["transfer_mean"]["mean"] == cells[f"transfer_{pair}"]["mean"]  # --quick: one pair
        assert 0.5 < cells[f"indomain_{pair}"]["mean"] <= 1 and rows[f"amazon/{m}"]["settings"]["tasks"] == [pair]
    assert record["headline"]["transfer_best"] == round(max(means.values()), 4)
    assert record["bests"]["transfer"] == max(means, key=means.get)
    assert record["transfer_mean"] == {m: round(v, 4) for m, v in means.items()}
    assert record["amazon_tasks"] == [f"{s}->{t}" for s, t in bench.AMAZON_TASKS] and len(bench.AMAZON_TASKS) == 4
    assert set(record["headline"]) == {"transfer_best"}  # no MNIST or Omniglot row: no key to quote
    assert (results / "representations_amazon.png").stat().st_size > 0


def test_headline_names_the_best_mean_transfer_of_the_amazon_rows(bench):
    rows = {f"amazon/{m}": {"row": f"amazon/{m}", "table": "amazon", "method": m, "minutes": 1.0, "cpu_minutes": 1.0,
                            "cells": {"transfer_mean": {"mean": v}, "indomain_mean": {"mean": v + 0.05}}}
            for m, v in (("raw", 0.74), ("msda", 0.79), ("ae", 0.70))}
    rows["amazon/sda"] = {"row": "amazon/sda", "table": "amazon", "method": "sda", "minutes": 1.0, "cpu_minutes": 1.0,
                          "cells": {"transfer_mean": {"error": "broke"}}}
    h = bench.headline_of(rows)
    assert h["transfer_best"] == 0.79 and h["fewshot20_best"] is None
    extra = bench.extras_of(rows)
    assert extra["bests"]["transfer"] == "msda" and extra["transfer_mean"] == {"raw": 0.74, "msda": 0.79, "ae": 0.7}
    assert extra["indomain_mean"]["msda"] == 0.84 and extra["amazon_table_minutes"] == 4.0
