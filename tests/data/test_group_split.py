"""Validation by held-out groups (``data.val_by=alphabet``): hyper-parameters of a one-shot model
are chosen on alphabets its training never saw."""

from __future__ import annotations

import pytest
import torch

from helpers import error_line, run_cli
from reprlab.data.base import TensorData
from reprlab.errors import DataError


def toy(groups: int = 10, per: int = 6) -> TensorData:
    n = groups * per
    return TensorData(torch.rand(n, 3), torch.arange(n) % 7, name="toy",
                      extras={"alphabet": torch.arange(n) // per, "drawer": torch.arange(n) % per})


def test_whole_groups_are_held_out_and_seeded():
    data = toy()
    first, second = data.split_groups("alphabet", 0.2, seed=3)
    a1, a2 = set(first.extras["alphabet"].tolist()), set(second.extras["alphabet"].tolist())
    assert len(a2) == 2 and len(a1) == 8 and not (a1 & a2)
    assert len(first) + len(second) == len(data) == 60 and len(second) == 12
    assert sorted(second.meta["held_out"]["alphabet"]) == sorted(a2)
    again = data.split_groups("alphabet", 0.2, seed=3)[1]
    assert torch.equal(again.x, second.x)
    other = {tuple(sorted(set(data.split_groups("alphabet", 0.2, seed=s)[1].extras["alphabet"].tolist()))) for s in range(6)}
    assert len(other) > 1  # the seed chooses which


def test_at_least_one_group_each_side_and_clear_errors():
    data = toy(groups=3)
    assert len(set(data.split_groups("alphabet", 0.01, 0)[1].extras["alphabet"].tolist())) == 1
    assert len(set(data.split_groups("alphabet", 0.99, 0)[0].extras["alphabet"].tolist())) == 1
    with pytest.raises(DataError, match="no per-sample 'writer'"):
        data.split_groups("writer", 0.2, 0)
    with pytest.raises(DataError, match="one alphabet only"):
        toy(groups=1).split_groups("alphabet", 0.2, 0)


def test_val_by_through_the_cli(tmp_path, capsys):
    code, _, err = run_cli(capsys, "-q", "train", "ae", "--data", "digits", "data.val_by=alphabet", "--steps", "2",
                           "--run-dir", str(tmp_path / "r"))
    assert code == 2 and "unset data.val_by" in error_line(err)
    assert not (tmp_path / "r").exists()
    code, _, err = run_cli(capsys, "-q", "train", "ae", "--data", "digits", "data.val_by=alphabet",
                           "data.val_fraction=0", "--steps", "2", "--run-dir", str(tmp_path / "r"))
    assert code == 2 and "data.val_fraction is 0; set data.val_fraction" in error_line(err)
    assert not (tmp_path / "r").exists()


def test_siamese_validates_on_unseen_alphabets(data_dir, tmp_path, capsys, caplog):
    import json
    import logging

    run = tmp_path / "s"
    caplog.set_level(logging.INFO, logger="reprlab")
    code, _, err = run_cli(capsys, "train", "siamese", "--data", "omniglot:small1", "--data-dir", str(data_dir),
                           "data.val_by=alphabet", "data.val_fraction=0.2", "arch=conv4", "loss=ntxent", "latent_dim=16",
                           "train.batch_size=8", "--steps", "3", "val_way=5", "val_tasks=5", "--run-dir", str(run))
    assert code == 0, err
    assert "val_by: alphabet" in (run / "config.yaml").read_text()
    assert "val/oneshot_acc" in json.loads((run / "summary.json").read_text())["val_metrics"]
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("validation on held-out alphabet")]
    held = line.split(": ", 1)[1].split(", ")
    assert len(held) == 1 and held[0][0].isalpha()  # 1 of small1's 5 alphabets, by name
