"""Trainer(on_checkpoint=...): called on rank 0 right after each checkpoint, with the model and
the step; never without a run folder; the trainer itself no longer writes snapshots."""

from __future__ import annotations

import torch
from torch import nn

from reprlab.data import load_dataset
from reprlab.models import ReprModel
from reprlab.train import Trainer, TrainConfig, seed_everything


class Tiny(ReprModel):
    """A linear auto-encoder that records calls of :meth:`snapshot` (the trainer must not make any)."""

    name = "tiny"

    def __init__(self, script=None):
        super().__init__(None, (1, 8, 8))
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(64, 4), nn.Linear(4, 64))
        self.snapshots: list = []
        self.script = list(script or [])

    def forward(self, batch, update="model"):
        return {"loss": (self.net(batch.x) - batch.x.flatten(1)).pow(2).sum(1).mean()}

    def evaluate(self, batch):
        if not self.script:
            return super().evaluate(batch)
        return {"loss": torch.tensor(self.script.pop(0))}

    def snapshot(self, *args):
        self.snapshots.append(args)
        return {}


def _cfg(**kw) -> TrainConfig:
    base = dict(max_steps=50, batch_size=32, log_every=10, checkpoint_every=20, val_every=20, progress=False,
                tensorboard=False, keep_checkpoints=10)
    return TrainConfig(**{**base, **kw})


def _fit(run_dir, resume=False, script=None, val=False, **kw):
    seed_everything(0)
    model = Tiny(script)
    data = load_dataset("digits", split="train", seed=0)
    train, held_out = data.split(0.1, 0) if val else (data, None)
    calls = []

    def hook(m, step):
        # right after the checkpoint of `step` is published, with the trained model itself
        assert m is model and (run_dir / "checkpoints" / f"step-{step:06d}" / "manifest.json").is_file()
        calls.append(step)

    Trainer(_cfg(**kw), run_dir, on_checkpoint=hook).fit(model, train, held_out, resume=resume)
    return model, calls


def test_called_after_each_checkpoint_with_its_step(tmp_path):
    model, calls = _fit(tmp_path / "r")
    assert calls == [20, 40, 50]  # every checkpoint_every steps and the last step
    assert model.snapshots == []  # the trainer no longer calls model.snapshot


def test_on_resume_only_the_new_checkpoints(tmp_path):
    _, first = _fit(tmp_path / "r", max_steps=40)
    _, then = _fit(tmp_path / "r", resume=True, max_steps=70)
    assert first == [20, 40] and then == [60, 70]


def test_called_at_the_checkpoint_early_stopping_writes(tmp_path):
    # validations at 10, 20, 30: 3.0 best, then two without improvement: stop at 30, between checkpoints
    _, calls = _fit(tmp_path / "r", script=[3.0, 4.0, 5.0], val=True, max_steps=200, val_every=10,
                    checkpoint_every=25, early_stopping_patience=2)
    assert calls == [25, 30]


def test_never_called_without_a_run_folder():
    calls = []
    seed_everything(0)
    model = Tiny()
    Trainer(_cfg(checkpoint_every=5), None, on_checkpoint=lambda m, s: calls.append(s)).fit(
        model, load_dataset("digits", split="train", seed=0)
    )
    assert calls == [] and model.snapshots == []


def test_run_config_is_accepted_and_ignored(tmp_path):
    seed_everything(0)
    result = Trainer(_cfg(max_steps=5), None, {"model": {"name": "ignored"}}).fit(
        Tiny(), load_dataset("digits", split="train", seed=0)
    )
    assert result.steps == 5
