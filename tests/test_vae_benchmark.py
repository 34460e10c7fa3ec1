"""benchmarks/vae_mnist.py's bookkeeping: the quality headline is the mean over the seeds of the
new row's recipe, never mixing in another recipe's rows (the ablations)."""

from __future__ import annotations

from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _row(nll, cpu_s, warmup=30, **kw):
    return {"part": "quality", "epochs": 300, "lr_schedule": "cosine", "kl_warmup_epochs": warmup,
            "test_nll_nats": nll, "train_cpu_seconds": cpu_s, **kw}


def test_quality_headline_is_the_mean_over_the_recipes_seeds(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import vae_mnist

    old_seed0 = _row(85.0, 600.0)  # written before rows recorded their seed: seed 0
    seed1 = _row(86.0, 1200.0, seed=1)
    rows = [old_seed0, seed1, _row(90.0, 60.0, warmup=0), _row(80.0, 60.0, epochs=200, seed=1),
            {"part": "peer", "trainer": "pythae", "test_nll_nats": 1.0}]
    headline = {}
    vae_mnist.quality_headline(rows, seed1, headline)
    assert headline == {"test_nll_nats": 85.5, "train_cpu_minutes": 15.0, "quality_seeds": 2}
    headline = {}
    vae_mnist.quality_headline(rows, rows[2], headline)  # the ablation's own recipe: its one row
    assert headline == {"test_nll_nats": 90.0, "train_cpu_minutes": 1.0, "quality_seeds": 1}
