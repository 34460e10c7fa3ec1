"""Output failures of `reprlab train` and `reprlab encode` (issue 19, B5 and B6): a full disk while
a checkpoint or the final weights are written, a file given as the run folder, and codes written
over an older file. One line naming the path and the cause, exit 2, no temporary file left, the
older file and the earlier checkpoints intact, and the run resumes once the disk has room."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import numpy as np
import pytest
from safetensors import SafetensorError

from helpers import error_line, run_cli
from reprlab.train import checkpoint as ckpt

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = ["model.hidden=[16]", "model.latent_dim=3", "train.batch_size=32", "train.tensorboard=false",
         "train.log_every=10", "train.val_every=10", "train.checkpoint_every=10"]


def train(capsys, *args, steps=30):
    return run_cli(capsys, "-q", "train", "ae", *SMALL, "--steps", str(steps), *args)


def leftovers(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if ".tmp" in p.name)


@pytest.fixture
def disk_full_at(monkeypatch):
    """``disk_full_at(n)``: the n-th and later safetensors writes write a few bytes, then fail as
    safetensors reports a full disk (a ``SafetensorError`` carrying the OS's text)."""
    from reprlab import weights

    real = ckpt.save_file

    def install(n: int) -> None:
        calls = {"n": 0}

        def fake(tensors, filename, metadata=None):
            calls["n"] += 1
            if calls["n"] >= n:
                Path(filename).write_bytes(b"partial")
                raise SafetensorError("Error while serializing: IoError(Os { code: 28, kind: StorageFull, "
                                      "message: \"No space left on device\" })")
            return real(tensors, filename, metadata=metadata)

        monkeypatch.setattr(ckpt, "save_file", fake)  # optimizer, scheduler and RNG state
        monkeypatch.setattr(weights, "save_file", fake)  # model weights

    yield install


def test_full_disk_during_a_checkpoint_is_one_line_and_leaves_no_partial_checkpoint(tmp_path, capsys, disk_full_at, monkeypatch):
    run = tmp_path / "r"
    # each checkpoint writes 3 safetensors files (rng, model, state): fail inside the second one
    disk_full_at(5)
    code, _, err = train(capsys, "--run-dir", str(run))
    line = error_line(err)
    assert code == 2 and "No space left on device" in line and "step-000020" in line, line
    assert leftovers(run) == []
    assert [p.name for p in (run / "checkpoints").iterdir()] == ["step-000010"]
    ckpt.verify(run / "checkpoints" / "step-000010")
    monkeypatch.undo()  # the disk has room again: the advice (free space) followed, --resume continues
    code, _, err = train(capsys, "--run-dir", str(run), "--resume")
    assert code == 0, err
    assert json.loads((run / "summary.json").read_text())["resumed_from"] == 10


def test_full_disk_while_writing_the_final_weights_keeps_the_old_ones(tmp_path, capsys, disk_full_at):
    run = tmp_path / "r"
    assert train(capsys, "--run-dir", str(run), steps=10)[0] == 0
    old = (run / "model.safetensors").read_bytes()
    disk_full_at(4)  # the checkpoint of step 20 (3 files), then the final weights
    code, _, err = train(capsys, "--run-dir", str(run), "--resume", steps=20)
    line = error_line(err)
    assert code == 2 and str(run / "model.safetensors") in line and "No space left on device" in line, line
    assert (run / "model.safetensors").read_bytes() == old
    assert leftovers(run) == []


def test_a_file_as_run_folder_is_one_line(tmp_path, capsys):
    target = tmp_path / "taken"
    target.write_text("a file")
    code, _, err = train(capsys, "--run-dir", str(target))
    assert code == 2 and str(target) in error_line(err) and "it is a file" in error_line(err)
    assert target.read_text() == "a file"
    code, _, err = train(capsys, "--run-dir", str(target / "sub"))
    assert code == 2 and str(target) in error_line(err)
    assert target.read_text() == "a file"


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    from reprlab.cli import main

    run = tmp_path_factory.mktemp("enc") / "r"
    assert main(["-q", "train", "ae", *SMALL, "--steps", "10", "--run-dir", str(run)]) == 0
    return run


@pytest.mark.parametrize("suffix", [".npy", ".npz"])
def test_encode_on_a_full_disk_keeps_the_old_codes(finished, tmp_path, capsys, monkeypatch, suffix):
    out = tmp_path / f"codes{suffix}"
    assert run_cli(capsys, "encode", str(finished), "-o", str(out))[0] == 0
    old = out.read_bytes()
    import reprlab.files as files

    real_replace = files.os.replace

    def no_space(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device", str(src))

    monkeypatch.setattr(files.os, "replace", no_space)
    code, _, err = run_cli(capsys, "encode", str(finished), "-o", str(out), "--split", "all")
    line = error_line(err)
    assert code == 2 and str(out) in line and "No space left on device" in line, line
    monkeypatch.setattr(files.os, "replace", real_replace)
    assert out.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


def test_encode_into_a_folder_that_is_a_file(finished, tmp_path, capsys):
    (tmp_path / "sub").write_text("a file")
    code, _, err = run_cli(capsys, "encode", str(finished), "-o", str(tmp_path / "sub" / "codes.npz"))
    assert code == 2 and "sub" in error_line(err)
    assert (tmp_path / "sub").read_text() == "a file"
