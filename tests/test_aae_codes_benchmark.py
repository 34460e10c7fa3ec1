"""benchmarks/aae_codes.py end to end at three training steps: every AAE row runs with the AAE's
cosine recipe but the ``-constant`` ablation rows, the AE reference keeps the trainer's constant
rate, and the chosen variant is the AAE with the best median validation linear-100 accuracy."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture()
def aae_codes(data_dir, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))  # undone after the test
    import _common
    import aae_codes as module

    monkeypatch.setenv("REPRLAB_DATA", str(data_dir))
    monkeypatch.setattr(_common, "RESULTS_DIR", tmp_path)
    monkeypatch.setattr(module, "STEPS", 3)
    return module


def test_aae_codes_rows_record_their_schedule_and_the_choice_is_the_best_median(aae_codes, tmp_path):
    variants = "ae,aae-lr_g-1e-4,aae-lr_g-1e-4-constant"
    assert aae_codes.main(["--seeds", "0,1", "--variants", variants]) == 0
    out = json.loads((tmp_path / "aae_codes.json").read_text())
    rows, head = out["rows"], out["headline"]
    assert len(rows) == 6 and {r["steps"] for r in rows} == {3}
    schedule = {r["variant"]: r["lr_schedule"] for r in rows}
    assert schedule == {"ae": "constant", "aae-lr_g-1e-4": "cosine", "aae-lr_g-1e-4-constant": "constant"}
    assert {r["lr_g"] for r in rows if r["family"] == "aae"} == {1e-4}
    medians = {v: statistics.median(r["val_linear100"] for r in rows if r["variant"] == v) for v in schedule}
    best = max(("aae-lr_g-1e-4", "aae-lr_g-1e-4-constant"), key=medians.get)
    assert head["chosen"] == best and head["val_linear100_chosen"] == pytest.approx(medians[best], abs=5e-5)
    assert head["val_linear100_ae"] == pytest.approx(medians["ae"], abs=5e-5) and head["seeds"] == 2


def test_aae_codes_refuses_an_unknown_variant(aae_codes, capsys):
    assert aae_codes.main(["--variants", "aae,aae-cosine"]) == 2
    assert "unknown variants ['aae-cosine']" in capsys.readouterr().err
