"""EarlyStopping on its own (patience, min_delta, state round trip) and through a checkpoint."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from reprlab.data import load_dataset
from reprlab.models import ReprModel
from reprlab.train import Trainer, TrainConfig, seed_everything
from reprlab.train import checkpoint as ckpt
from reprlab.train.early_stopping import EarlyStopping


def _decisions(es: EarlyStopping, values) -> list[tuple[bool, bool]]:
    """(improved, should_stop) after each value."""
    return [(es.update(v), es.should_stop) for v in values]


def test_patience_counts_validations_without_improvement_and_an_improvement_resets_it():
    es = EarlyStopping(patience=2)
    assert _decisions(es, [5.0, 4.0, 4.5, 3.0, 3.5, 3.2]) == [
        (True, False), (True, False), (False, False), (True, False), (False, False), (False, True),
    ]
    assert es.best_val == 3.0 and es.bad_validations == 2


def test_patience_zero_never_stops_but_tracks_the_best():
    es = EarlyStopping(patience=0)
    _decisions(es, [1.0] + [2.0] * 50)
    assert not es.should_stop and es.best_val == 1.0 and es.bad_validations == 50


def test_min_delta_an_improvement_must_be_larger_than_it():
    es = EarlyStopping(patience=3, min_delta=0.1)
    assert es.update(4.0)  # the first value always improves
    assert not es.update(3.95) and not es.update(3.9)  # within min_delta of the best: no improvement
    assert es.best_val == 4.0 and es.bad_validations == 2
    assert es.update(3.85)  # more than min_delta below 4.0
    assert es.best_val == 3.85 and es.bad_validations == 0


def test_without_min_delta_an_equal_value_is_no_improvement():
    es = EarlyStopping(patience=1)
    assert es.update(2.0) and not es.update(2.0) and es.should_stop


@pytest.mark.parametrize("value", [None, math.nan, math.inf, -math.inf])
def test_missing_or_non_finite_values_are_ignored(value):
    es = EarlyStopping(patience=1)
    assert not es.update(value) and es.best_val is None and es.bad_validations == 0
    es.update(1.0)
    assert not es.update(value) and es.best_val == 1.0 and es.bad_validations == 0 and not es.should_stop


def test_state_round_trip_continues_with_the_same_decisions():
    values = [5.0, 4.0, 4.5, 3.95, 3.0, 3.5, 3.4, 3.3]
    whole = EarlyStopping(patience=3, min_delta=0.1)
    expected = _decisions(whole, values)
    for cut in range(len(values) + 1):
        first = EarlyStopping(patience=3, min_delta=0.1)
        got = _decisions(first, values[:cut])
        state = first.state_dict()
        assert set(state) == {"best_val", "bad_validations"}  # the checkpoint's trainer-state keys
        second = EarlyStopping(patience=3, min_delta=0.1)
        second.load_state_dict(state)
        assert second.state_dict() == state
        assert got + _decisions(second, values[cut:]) == expected


def test_loads_a_checkpoints_trainer_state_and_an_empty_one():
    es = EarlyStopping(patience=2)
    es.load_state_dict({"step": 40, "best_val": 4.0, "bad_validations": 1, "wall_s": 2.5, "world_size": 1})
    assert es.best_val == 4.0 and es.bad_validations == 1 and not es.should_stop
    assert not es.update(4.0) and es.should_stop
    es.load_state_dict({})  # a fresh start
    assert es.best_val is None and es.bad_validations == 0 and not es.should_stop


# ---------------------------------------------------------------- through the trainer's checkpoint
class ScriptedValidation(ReprModel):
    """A linear auto-encoder whose validation losses follow a script (one value per validation)."""

    name = "scripted"

    def __init__(self, script):
        super().__init__(None, (1, 8, 8))
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(64, 4), nn.Linear(4, 64))
        self.script = list(script)

    def forward(self, batch, update="model"):
        return {"loss": (self.net(batch.x) - batch.x.flatten(1)).pow(2).sum(1).mean()}

    def evaluate(self, batch):
        return {"loss": torch.tensor(self.script.pop(0))}


def _scripted(script):
    seed_everything(0)
    return ScriptedValidation(script)


def _cfg(max_steps: int) -> TrainConfig:
    return TrainConfig(max_steps=max_steps, batch_size=32, log_every=10, checkpoint_every=10, val_every=10,
                       keep_checkpoints=10, early_stopping_patience=2, early_stopping_min_delta=0.1,
                       progress=False, tensorboard=False)


def test_early_stopping_state_survives_a_checkpoint_and_resume(tmp_path):
    """Validations 5.0, 4.0, 4.5 | 3.95: the run stopped after step 30 remembers best 4.0 and one
    bad validation, so the resumed run stops at step 40 (3.95 is within min_delta), as an
    uninterrupted run does; without that state 3.95 would be a new best."""
    seed_everything(0)
    train_part, val = load_dataset("digits", split="train", seed=0).split(0.1, 0)
    whole = Trainer(_cfg(200), tmp_path / "whole").fit(_scripted([5.0, 4.0, 4.5, 3.95, 1.0]), train_part, val)
    assert whole.stopped_early and whole.steps == 40 and whole.best_val == 4.0

    Trainer(_cfg(30), tmp_path / "part").fit(_scripted([5.0, 4.0, 4.5]), train_part, val)
    state = ckpt.load_state(tmp_path / "part" / "checkpoints" / "step-000030", "state")["trainer"]
    assert set(state) == {"step", "best_val", "bad_validations", "wall_s", "world_size"}
    assert (state["best_val"], state["bad_validations"]) == (4.0, 1)
    resumed = Trainer(_cfg(200), tmp_path / "part").fit(_scripted([3.95, 1.0]), train_part, val, resume=True)
    assert resumed.stopped_early and resumed.steps == 40 and resumed.best_val == 4.0 and resumed.resumed_from == 30
