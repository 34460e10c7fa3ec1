"""Whole-process behaviour: a run killed with SIGKILL resumes to the same weights as an
uninterrupted run, and 2-process data parallel (Fabric's launcher and torchrun) keeps replicas
identical and matches a 1-process run on the same global batch."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

CLI = [sys.executable, "-m", "reprlab.cli", "-q", "train", "ae"]
SMALL = ["model.hidden=[32]", "model.latent_dim=4", "train.batch_size=32", "train.tensorboard=false"]


def _env():
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / "model.safetensors"))


def _max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def test_sigkill_mid_training_then_resume_ends_with_the_same_weights(tmp_path):
    steps = ["--steps", "3000", "train.checkpoint_every=100", "train.log_every=100", "train.val_every=1000"]
    full = tmp_path / "full"
    subprocess.run(CLI + SMALL + steps + ["--run-dir", str(full)], check=True, env=_env(), timeout=300)

    run = tmp_path / "killed"
    proc = subprocess.Popen(CLI + SMALL + steps + ["--run-dir", str(run)], env=_env())
    deadline = time.time() + 120
    # Kill as soon as the second checkpoint is published, i.e. mid-run.
    while not (run / "checkpoints" / "step-000200").exists():
        assert proc.poll() is None, "the run ended before it could be killed"
        assert time.time() < deadline
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (run / "model.safetensors").exists(), "the run finished before SIGKILL; the test proves nothing"

    subprocess.run(CLI + SMALL + steps + ["--run-dir", str(run), "--resume"], check=True, env=_env(), timeout=300)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["resumed_from"] is not None and 200 <= summary["resumed_from"] < 3000
    a, b = _weights(full), _weights(run)
    assert all(torch.equal(a[k], b[k]) for k in a), f"max diff {_max_diff(a, b)}"


@pytest.mark.parametrize("launcher", ["fabric", "torchrun"])
def test_two_process_ddp_keeps_replicas_identical_and_matches_one_process(tmp_path, launcher):
    common = SMALL + ["--steps", "60", "train.batch_size=64", "train.log_every=20", "train.checkpoint_every=60"]
    one = tmp_path / "one"
    subprocess.run(CLI + common + ["--run-dir", str(one)], check=True, env=_env(), timeout=300)
    two = tmp_path / "two"
    if launcher == "fabric":
        cmd = CLI + common + ["--devices", "2", "--run-dir", str(two)]
    else:
        torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or "torchrun"
        cmd = [torchrun, "--standalone", "--nproc_per_node", "2", "-m", "reprlab.cli", "-q", "train", "ae"] + common + [
            "--run-dir", str(two)
        ]
    subprocess.run(cmd, check=True, env=_env(), timeout=300)
    summary = json.loads((two / "summary.json").read_text())
    assert summary["world_size"] == 2
    assert summary["replica_max_abs_diff"] == 0.0
    # Same global batch of 64 (2 x 32 under DDP): the same trajectory up to float summation order.
    diff = _max_diff(_weights(one), _weights(two))
    assert diff < 1e-4, diff
    one_loss = json.loads((one / "summary.json").read_text())["train_metrics"]["train/loss"]
    assert summary["train_metrics"]["train/loss"] == pytest.approx(one_loss, rel=1e-4)
