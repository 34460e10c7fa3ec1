"""benchmarks/oneshot_omniglot.py: parts merge their rows into one JSON and the headline is
recomputed from the rows present (a smoke run of two parts on the real Omniglot files)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _part(rows: str, results: Path, runs: Path, data_dir: Path) -> None:
    env = {**os.environ, "REPRLAB_BENCH_RESULTS": str(results), "REPRLAB_DATA": str(data_dir), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "oneshot_omniglot.py"), "--rows", rows, "--quick",
                          "--quick-steps", "6", "--run-root", str(runs)], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]


def test_two_parts_merge_into_one_result(tmp_path, data_dir):
    results, runs = tmp_path / "results", tmp_path / "runs"
    _part("loss-ntxent", results, runs, data_dir)
    _part("protonet", results, runs, data_dir)
    record = json.loads((results / "oneshot_omniglot.json").read_text())
    rows = {r["row"]: r for r in record["rows"]}
    assert set(rows) == {"loss-ntxent", "protonet"}  # the second part kept the first part's row
    h = record["headline"]
    assert h["loss_ntxent_accuracy"] == rows["loss-ntxent"]["lake20_accuracy"]
    assert h["protonet_accuracy"] == rows["protonet"]["lake20_accuracy"]
    assert h["lake20_accuracy"] is None and h["loss_koch_accuracy"] is None  # rows not run yet
    assert 0.15 < h["pixel_1nn_cosine_accuracy"] < 0.3 and record["protocol"] and record["choices"]
    settings = dict(rows["loss-ntxent"]["settings"])
    assert settings["data.val_by"] == "alphabet" and settings["loss"] == "ntxent"  # chosen on held-out alphabets
    assert dict(rows["protonet"]["settings"])["loss"] == "protonet"


def test_headline_is_the_mean_min_and_max_of_the_seeds():
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import oneshot_omniglot as bench
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    rows = {f"headline-s{s}": {"lake20_accuracy": a, "seed": s, "train_minutes": m}
            for s, a, m in ((0, 0.9, 20.0), (1, 0.85, 25.5), (2, 0.95, 18.0))}
    h = bench.headline_of(rows, {"cosine": 0.2, "euclidean": 0.19})
    assert (h["lake20_accuracy"], h["lake20_accuracy_min"], h["lake20_accuracy_max"], h["train_minutes"]) == (0.9, 0.85, 0.95, 25.5)
    head = dict(bench.row_overrides("headline-s1", 100, 1, "/d"))
    assert head["data.val_fraction"] == 0.1 and "data.val_by" not in head and head["train.seed"] == 1
