"""Run folders you can trust (issue 19): --overwrite deletes only reprlab's runs, --name stays in
runs/, one writer per folder (a lock naming its holder), checksummed final weights, a resume
applies the new learning rate, a run killed before its first checkpoint restarts, and a run that
fails before its first step leaves no folder. Each error's advice is followed literally."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from helpers import error_line, run_cli
from reprlab.runfolder import LOCK, MARKER, RunLock, RunLockedError

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = ["model.hidden=[16]", "model.latent_dim=3", "train.batch_size=32", "train.tensorboard=false",
         "train.log_every=10", "train.val_every=10", "train.checkpoint_every=10"]


def train(capsys, *args, steps=20):
    return run_cli(capsys, "-q", "train", "ae", *SMALL, "--steps", str(steps), *args)


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------------------------ B1
@pytest.mark.parametrize("name", [".", "..", "../elsewhere", "/tmp/abs-run", "a/../../b", "~/x", ""])
def test_name_cannot_leave_runs(tmp_path, monkeypatch, capsys, name):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "sibling").mkdir(parents=True)
    (tmp_path / "runs" / "sibling" / "keep.txt").write_text("x")
    before = tree(tmp_path)
    code, _, err = train(capsys, "--name", name, "--overwrite")
    assert code == 2 and "--run-dir" in error_line(err)
    assert tree(tmp_path) == before


def test_overwrite_refuses_the_working_directory_with_foreign_files(tmp_path, monkeypatch, capsys):
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "config.yaml").write_text("mine: true\n")
    (project / "important.txt").write_text("do not lose me")
    (project / "src" / "x.py").write_text("print(1)")
    monkeypatch.chdir(project)
    before = tree(project)
    for target in (".", ".."):
        code, _, err = train(capsys, "--run-dir", target, "--overwrite")
        assert code == 2 and "not a reprlab run folder" in error_line(err)
        assert tree(project) == before


def test_overwrite_refuses_a_run_folder_the_user_added_files_to(tmp_path, capsys):
    run = tmp_path / "r"
    assert train(capsys, "--run-dir", str(run))[0] == 0
    (run / "notes.txt").write_text("my notes")
    code, _, err = train(capsys, "--run-dir", str(run), "--overwrite")
    line = error_line(err)
    assert code == 2 and "notes.txt" in line and "move them away" in line
    assert (run / "notes.txt").read_text() == "my notes" and (run / "model.safetensors").is_file()
    # the advice, followed: move the file away, then --overwrite replaces the run
    (run / "notes.txt").rename(tmp_path / "notes.txt")
    assert train(capsys, "--run-dir", str(run), "--overwrite", steps=10)[0] == 0
    assert json.loads((run / "summary.json").read_text())["steps"] == 10


def test_overwrite_refuses_the_working_directory_even_when_it_is_a_run(tmp_path, monkeypatch, capsys):
    run = tmp_path / "r"
    assert train(capsys, "--run-dir", str(run))[0] == 0
    monkeypatch.chdir(run)
    before = tree(run)
    code, _, err = train(capsys, "--run-dir", ".", "--overwrite")
    assert code == 2 and "working directory" in error_line(err)
    assert tree(run) == before


def test_a_new_run_never_writes_into_a_foreign_folder(tmp_path, capsys):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "config.yaml").write_text("mine: true\n")
    code, _, err = train(capsys, "--run-dir", str(folder))
    assert code == 2 and "not a reprlab run folder" in error_line(err)
    assert sorted(p.name for p in folder.iterdir()) == ["config.yaml"]
    assert (folder / "config.yaml").read_text() == "mine: true\n"


def test_started_run_needs_resume_or_overwrite_and_overwrite_replaces_it(tmp_path, capsys):
    run = tmp_path / "r"
    assert train(capsys, "--run-dir", str(run))[0] == 0
    assert (run / MARKER).is_file()
    code, _, err = train(capsys, "--run-dir", str(run))
    assert code == 2 and "--overwrite to replace it" in error_line(err)
    # the advice, followed
    assert train(capsys, "--run-dir", str(run), "--overwrite", "--seed", "3", steps=10)[0] == 0
    assert "seed: 3" in (run / "config.yaml").read_text()
    assert [p.name for p in (run / "checkpoints").iterdir()] == ["step-000010"]
    assert train(capsys, "--run-dir", str(run), "--resume", steps=30)[0] == 0
    assert json.loads((run / "summary.json").read_text())["resumed_from"] == 10


# ------------------------------------------------------------------------------------ B2
def test_the_lock_refuses_a_second_writer_and_names_the_holder(tmp_path, capsys):
    run = tmp_path / "r"
    assert train(capsys, "--run-dir", str(run))[0] == 0
    held = RunLock(run).acquire()  # as if another process trained into it
    try:
        before = tree(run)
        for extra in ([], ["--resume"], ["--overwrite"]):
            code, _, err = train(capsys, "--run-dir", str(run), *extra, steps=40)
            line = error_line(err)
            assert code == 2 and f"PID {os.getpid()}" in line and "is in use" in line
            assert tree(run) == before
    finally:
        held.release()
    assert train(capsys, "--run-dir", str(run), "--resume", steps=30)[0] == 0


def test_a_lock_whose_owner_died_does_not_block(tmp_path):
    folder = tmp_path / "r"
    folder.mkdir()
    code = (f"import sys, time; sys.path.insert(0, {str(Path(__file__).parents[2] / 'src')!r});"
            f"from reprlab.runfolder import RunLock; RunLock({str(folder)!r}).acquire(); print('locked', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(RunLockedError, match=f"PID {proc.pid}"):
            RunLock(folder).acquire()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        lock = RunLock(folder).acquire()  # the kernel released the dead owner's lock
        assert lock.held
        lock.release()
    finally:
        proc.kill()


def test_two_runs_started_together_one_wins_the_other_is_refused(tmp_path):
    """Two processes, --seed 0 and --seed 1, on one folder: exactly one trains; the folder is
    consistent (its config's seed is the winner's)."""
    run = tmp_path / "r"
    cmd = [sys.executable, "-m", "reprlab.cli", "-q", "train", "ae", *SMALL, "--steps", "150", "--run-dir", str(run)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen(cmd + ["--seed", str(s)], env=env, stderr=subprocess.PIPE, text=True) for s in (0, 1)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    codes = sorted(c for c, _ in results)
    assert codes == [0, 2], results
    winner = [s for s, (c, _) in enumerate(results) if c == 0][0]
    loser_err = [e for c, e in results if c == 2][0]
    # the holder is named by PID once the winner has written it; a refusal in the instant between
    # the winner's lock and its note says "another process" (seen under load in CI)
    assert any(m in loser_err for m in ("is in use by PID", "is in use by another process", "already holds a run")), loser_err
    assert f"seed: {winner}" in (run / "config.yaml").read_text()
    steps = [int(line.split(",")[0]) for line in (run / "metrics.csv").read_text().splitlines()[1:]]
    assert steps == sorted(set(steps)) and steps[-1] == 150


# ------------------------------------------------------------------------------------ B3
def _flip_a_tensor_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    header = int.from_bytes(data[:8], "little")
    data[8 + header + 100] ^= 0xFF  # a byte of the first tensor's values
    path.write_bytes(bytes(data))


def test_changed_final_weights_are_refused_and_deleting_them_falls_back(tmp_path, capsys, caplog):
    run = tmp_path / "r"
    assert train(capsys, "--run-dir", str(run))[0] == 0
    _flip_a_tensor_byte(run / "model.safetensors")
    for command in (["eval", str(run)], ["encode", str(run), "-o", str(tmp_path / "c.npy")],
                    ["reconstruct", str(run), "-o", str(tmp_path / "r.png")]):
        code, out, err = run_cli(capsys, *command)
        line = error_line(err)
        assert code == 2 and str(run / "model.safetensors") in line and "SHA-256" in line, line
        assert out == ""
    with pytest.raises(Exception, match="SHA-256"):
        import reprlab

        reprlab.load(run)
    # the advice, followed: delete it, and eval uses the newest checkpoint, saying so and why
    (run / "model.safetensors").unlink()
    with caplog.at_level(logging.INFO, logger="reprlab"):
        code, out, err = run_cli(capsys, "eval", str(run))
    assert code == 0 and json.loads(out)["mse"] > 0
    assert "has no model.safetensors (the run has not finished): using its newest valid checkpoint, step-000020" in caplog.text


def test_eval_says_which_checkpoint_it_falls_back_to_when_the_newest_is_corrupt(tmp_path, capsys, caplog):
    run = tmp_path / "r"
    assert train(capsys, "--run-dir", str(run))[0] == 0
    (run / "model.safetensors").unlink()
    _flip_a_tensor_byte(run / "checkpoints" / "step-000020" / "model.safetensors")
    with caplog.at_level(logging.INFO, logger="reprlab"):
        code, _, err = run_cli(capsys, "eval", str(run))
    assert code == 0
    assert "step-000020 is corrupt" in caplog.text and "using its newest valid checkpoint, step-000010" in caplog.text


def test_final_weights_carry_the_sha256_of_their_tensors(tmp_path, capsys):
    import hashlib

    from safetensors import safe_open

    run = tmp_path / "r"
    assert train(capsys, "--run-dir", str(run))[0] == 0
    with safe_open(str(run / "model.safetensors"), "pt") as f:
        digest = f.metadata()["reprlab_sha256"]
    state = load_file(run / "model.safetensors")
    h = hashlib.sha256()  # independent recomputation of the documented digest
    for k in sorted(state):
        t = state[k].contiguous()
        h.update(f"{k}|{t.dtype}|{tuple(t.shape)}|".encode() + t.numpy().tobytes())
    assert digest == h.hexdigest()


# ------------------------------------------------------------------------------------ B4, B8 (NaN advice)
def test_resume_applies_a_new_learning_rate(tmp_path, capsys):
    """Stopped at step 20, resumed with lr 1e-4: the steps after 20 use 1e-4 (logged lr), and the
    weights equal an uninterrupted run whose lr changes at step 20 (two phases, same steps)."""
    run = tmp_path / "r"
    assert train(capsys, "--run-dir", str(run), "train.lr=1e-2")[0] == 0
    assert train(capsys, "--run-dir", str(run), "--resume", "train.lr=1e-4", steps=40)[0] == 0
    rows = (run / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    lr = {int(r.split(",")[0]): float(r.split(",")[header.index("lr")]) for r in rows[1:]}
    assert lr[20] == pytest.approx(1e-2) and lr[30] == pytest.approx(1e-4) and lr[40] == pytest.approx(1e-4)
    assert "lr: 0.0001" in (run / "config.yaml").read_text()
    # the same run with the same lr throughout differs: the new lr was used
    other = tmp_path / "o"
    assert train(capsys, "--run-dir", str(other), "train.lr=1e-2")[0] == 0
    assert train(capsys, "--run-dir", str(other), "--resume", "train.lr=1e-2", steps=40)[0] == 0
    a, b = load_file(run / "model.safetensors"), load_file(other / "model.safetensors")
    assert any(not torch.equal(a[k], b[k]) for k in a)


def test_resume_with_an_unchanged_config_stays_bit_exact(tmp_path, capsys):
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert train(capsys, "--run-dir", str(full), "train.lr_schedule=cosine", steps=40)[0] == 0
    assert train(capsys, "--run-dir", str(cut), "train.lr_schedule=cosine", "train.max_steps=40",
                 "train.checkpoint_every=20", steps=40)[0] == 0
    # stop at 20 by resuming a copy of the step-20 checkpoint
    import shutil

    shutil.rmtree(cut / "checkpoints" / "step-000040")
    (cut / "model.safetensors").unlink()
    assert train(capsys, "--run-dir", str(cut), "train.lr_schedule=cosine", "--resume", steps=40)[0] == 0
    a, b = load_file(full / "model.safetensors"), load_file(cut / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)


def _run_out(capsys, *args):
    code, _, err = run_cli(capsys, *args)
    return code, err


def test_nan_with_a_checkpoint_advice_resume_with_lower_lr_works(tmp_path, capsys):
    """A loss that diverges after the first checkpoint: the message says to lower train.lr and
    continue with --resume; doing exactly that finishes the run from the checkpoint."""
    run = tmp_path / "r"
    data = tmp_path / "x.npy"
    import numpy as np

    np.save(data, np.random.default_rng(0).random((400, 8)).astype("float32"))
    base = ["-q", "train", "ae", "--data", str(data), "model.hidden=[16]", "model.latent_dim=3",
            "train.tensorboard=false", "train.checkpoint_every=10", "train.log_every=10", "train.val_every=10",
            "train.batch_size=32", "--run-dir", str(run), "--steps", "200"]
    # lr warm-up to a huge value: finite for the first steps, then it diverges
    code, err = _run_out(capsys, *base, "train.optimizer=sgd", "train.lr=1e3", "train.warmup_steps=100000")
    line = error_line(err)
    assert code == 1 and "continue it with --resume" in line and "lower train.lr" in line, line
    assert (run / "checkpoints").is_dir()
    code, err = _run_out(capsys, *base, "train.optimizer=sgd", "train.lr=1e-3", "train.warmup_steps=100000", "--resume")
    assert code == 0, err
    assert json.loads((run / "summary.json").read_text())["steps"] == 200


def test_nan_at_the_first_step_advice_run_again_works(tmp_path, capsys):
    import numpy as np

    run = tmp_path / "r"
    data = tmp_path / "x.npy"
    np.save(data, np.random.default_rng(0).random((400, 8)).astype("float32"))
    base = ["-q", "train", "ae", "--data", str(data), "model.hidden=[16]", "model.latent_dim=3", "train.tensorboard=false",
            "train.batch_size=32", "train.log_every=1", "--run-dir", str(run), "--steps", "20"]
    code, err = _run_out(capsys, *base, "train.optimizer=sgd", "train.lr=1e38")
    line = error_line(err)
    assert code == 1 and "no checkpoint was written yet" in line and "run the same command again" in line, line
    assert "--resume" not in line
    code, err = _run_out(capsys, *base, "train.optimizer=sgd", "train.lr=1e-3")
    assert code == 0, err
    # and --resume on such a folder starts from step 0 too
    (run / "model.safetensors").unlink()
    for p in (run / "checkpoints").iterdir():
        import shutil

        shutil.rmtree(p)
    code, err = _run_out(capsys, *base, "train.optimizer=sgd", "train.lr=1e-3", "--resume")
    assert code == 0, err


# ------------------------------------------------------------------------------------ B8
def test_killed_before_the_first_checkpoint_both_resume_and_plain_start_work(tmp_path):
    run = tmp_path / "r"
    cmd = [sys.executable, "-m", "reprlab.cli", "-q", "train", "ae", *SMALL[:-1], "train.checkpoint_every=100000",
           "--steps", "100000", "--run-dir", str(run)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for extra in (["--resume"], []):
        proc = subprocess.Popen(cmd, env=env)
        deadline = time.time() + 120
        while not (run / "metrics.csv").exists():
            assert proc.poll() is None and time.time() < deadline
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert not (run / "checkpoints").exists() or not any((run / "checkpoints").glob("step-*"))
        done = subprocess.run(cmd[:-4] + ["--steps", "20", "--run-dir", str(run), *extra], env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert json.loads((run / "summary.json").read_text())["steps"] == 20
        (run / "summary.json").unlink()
        (run / "model.safetensors").unlink()
        for p in (run / "checkpoints").iterdir():
            import shutil

            shutil.rmtree(p)


# ------------------------------------------------------------------------------------ B10
def test_a_run_failing_before_its_first_step_leaves_no_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, _, err = train(capsys, "train.batch_size=100000", "--name", "big-batch")
    assert code == 2 and "batch_size" in error_line(err)
    assert not (tmp_path / "runs").exists()
    images = tmp_path / "imgs" / "a"
    images.mkdir(parents=True)
    for i in range(4):
        (images / f"{i}.png").write_text("not an image")
    code, _, err = run_cli(capsys, "-q", "train", "ae", "--data", f"images:{tmp_path / 'imgs'}", "--name", "bad")
    assert code == 2
    error_line(err)
    assert not (tmp_path / "runs").exists()


def test_a_failure_inside_training_before_any_step_removes_the_new_folder(tmp_path, monkeypatch, capsys):
    from reprlab.train import trainer as trainer_module

    def boom(*a, **k):
        raise RuntimeError("simulated failure before the first step")

    monkeypatch.setattr(trainer_module.Trainer, "_update", boom)
    run = tmp_path / "new" / "r"
    with pytest.raises(RuntimeError, match="simulated"):
        train(capsys, "--run-dir", str(run))
    assert not (tmp_path / "new").exists()


def test_a_lock_and_marker_are_the_only_extra_files(tmp_path, capsys):
    run = tmp_path / "r"
    assert train(capsys, "--run-dir", str(run))[0] == 0
    hidden = sorted(p.name for p in run.iterdir() if p.name.startswith("."))
    assert hidden == sorted([LOCK, MARKER])
    assert not list(run.rglob(".*tmp*"))


def test_nan_right_after_a_checkpoint_advice_delete_it_then_resume_works(tmp_path, capsys):
    """Diverging in the step right after a checkpoint: that checkpoint's weights may already give
    an enormous loss; the message says to delete it if resuming diverges again; doing so works."""
    import re
    import shutil

    import numpy as np

    run = tmp_path / "r"
    data = tmp_path / "x.npy"
    np.save(data, np.random.default_rng(0).random((400, 8)).astype("float32"))
    base = ["-q", "train", "ae", "--data", str(data), "model.hidden=[16]", "model.latent_dim=3",
            "train.tensorboard=false", "train.checkpoint_every=10", "train.log_every=10", "train.val_every=10",
            "train.batch_size=32", "--run-dir", str(run), "--steps", "200", "train.optimizer=sgd", "train.warmup_steps=100000"]
    code, err = _run_out(capsys, *base, "train.lr=1e4")
    line = error_line(err)
    assert code == 1 and "if it diverges again at once, delete" in line, line
    code, err = _run_out(capsys, *base, "train.lr=1e-3", "--resume")
    if code == 1:  # it diverged again at once: follow the second half of the advice
        stale = re.search(r"delete (\S+) first", line).group(1)
        shutil.rmtree(stale)
        code, err = _run_out(capsys, *base, "train.lr=1e-3", "--resume")
    assert code == 0, err
    assert json.loads((run / "summary.json").read_text())["steps"] == 200


def test_resume_of_a_missing_run_advice_start_without_resume_works(tmp_path, capsys):
    run = tmp_path / "never-trained"
    code, _, err = train(capsys, "--run-dir", str(run), "--resume")
    line = error_line(err)
    assert code == 2 and "nothing to resume" in line and "start without --resume" in line
    assert not run.exists()
    assert train(capsys, "--run-dir", str(run), steps=10)[0] == 0  # the advice, followed


def test_a_foreign_folder_advice_choose_a_new_folder_works(tmp_path, capsys):
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "notes.txt").write_text("mine")
    code, _, err = train(capsys, "--run-dir", str(tmp_path / "project"))
    assert code == 2 and "choose a new or empty folder with --run-dir" in error_line(err)
    assert train(capsys, "--run-dir", str(tmp_path / "project-run"), steps=10)[0] == 0
    assert sorted(p.name for p in (tmp_path / "project").iterdir()) == ["notes.txt"]
