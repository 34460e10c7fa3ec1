"""Fault injection: ``kill -9`` during training and during checkpoint writes, then ``--resume``;
and a corpus of bad inputs, each judged on its error message and on the files it leaves.

Part ``resume``: for each model (``ae`` on ``digits``, 2,000 steps; ``gan`` on the 2-D toy
``ring8``, MLP networks, 1,000 steps; a checkpoint every 25 steps, one thread) one uninterrupted
*reference* run, one uninterrupted *control* run (it must equal the reference bit for bit, else the
comparison means nothing), then ``--cycles`` cycles. A cycle starts the same command in a fresh
run folder and kills its process group with SIGKILL 1-3 times, each time followed by
``--resume``; the last ``--resume`` runs to completion. Kills alternate between the first two kinds
(a seeded RNG picks the moments):

- ``checkpoint_write``: after a random delay, ``checkpoints/`` is polled every 2 ms for the
  temporary folder ``.tmp-step-*`` of a checkpoint being written, and the process is killed the
  moment one appears;
- ``random``: a uniformly random moment of the remaining training time, counted from the first
  sign that the process trains (it writes ``metrics.csv`` or ``checkpoints/``);
- ``early`` (first kill of every fifth cycle, 2, 7, 12, ...): the moment the run's
  ``config.yaml`` appears, before any checkpoint exists (the next ``--resume`` must start from
  step 0; a ``--resume`` that refuses with "nothing to resume" is a failed cycle).

Each kill records what it hit: ``during_checkpoint_write`` (a ``.tmp-step-*`` folder of the
killed process is still there after the kill: the kill landed inside the write),
``checkpoint_existed`` and the newest checkpoint's step. A cycle is *exact* when its final
``model.safetensors`` has the reference's key set and every tensor ``torch.equal`` to the
reference's; ``metrics_exact`` also compares every row of ``metrics.csv`` (all columns but
``samples_per_s``; duplicated steps count as a difference). Headline:
``resume_bit_exact_fraction`` = exact cycles / cycles, all models together (target 1.0), over the
cycles in which at least one kill landed (a cycle whose process ended before its first kill is
redone, up to 2 x ``--cycles`` attempts, and counted in ``cycles_without_a_landed_kill``),
``kills_during_checkpoint_write``.

Part ``corpus``: about 50 bad inputs (issue 19's B1-B10 and bad config values, data files and
run folders). Each case runs in a fresh temporary folder (cwd; ``REPRLAB_DATA`` unset) with the
files it needs, under a timeout. A case is *clear* when

- it should fail: the exit code is the expected one (2 for a usage/data/config error, 1 for a
  failed run such as a non-finite loss), stderr has no ``Traceback``, and its last non-empty
  line, the only error line, starts with ``reprlab: error: `` (or argparse's
  ``reprlab <command>: error: ``); plus the case's own checks (e.g. the message names the file,
  no run folder is left behind);
- it should succeed (B1h, B8a, B8b, B8d, X5): exit 0 plus the case's own checks.

*Data loss*: the SHA-256 of every file in the case's folder (the project files, sibling runs,
``important.txt``, ...) is taken before the command; a file missing or changed afterwards is
lost, except the paths the case allows to change (a legitimate ``--overwrite`` or ``--resume``
of a reprlab run). Headline: ``bad_input_cases``, ``bad_input_clear_errors`` (target: all),
``data_loss_cases`` (target 0).

Results: ``benchmarks/results/fault_injection.json``. A run of some parts or models merges its
rows into the existing file (the other rows are kept; each row carries the commit it measured)
and the headline is computed from the merged rows.

    python benchmarks/fault_injection.py                       # everything (~25 min on 2 cores)
    python benchmarks/fault_injection.py --parts resume --models gan --cycles 20
    python benchmarks/fault_injection.py --parts corpus        # ~5 min
    python benchmarks/fault_injection.py --parts corpus --cases B1e,B3a --keep
    python benchmarks/fault_injection.py --quick               # 3 cycles per model + corpus, no JSON
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import random
import re
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS_DIR, command_line, data_dir, git_commit, print_table, write_result  # noqa: E402

NAME = "fault_injection"
TARGETS = {
    "resume_bit_exact_fraction": "== 1.0",
    "bad_input_clear_errors": "== bad_input_cases",
    "data_loss_cases": "== 0",
}

# ---------------------------------------------------------------------------------- set-up
_bin = Path(sys.executable).parent / "reprlab"
#: how the CLI is started: the venv's entry point next to this Python, else the module
REPRLAB = [str(_bin)] if _bin.exists() else [sys.executable, "-c", "import sys; from reprlab.cli import main; sys.exit(main())"]

CHECKPOINT_EVERY = 25
MODELS = {
    "ae": {"args": ["train", "ae", "--data", "digits"], "steps": 2000, "overrides": []},
    "gan": {"args": ["train", "gan", "--data", "ring8"], "steps": 1000, "overrides": ["model.arch=mlp"]},
}
POLL_S = 0.002


def base_env() -> dict:
    """The environment of every command: one thread, ``REPRLAB_DATA`` unset (PYTHONPATH etc. kept)."""
    env = dict(os.environ)
    env.pop("REPRLAB_DATA", None)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    return env


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the process group of ``proc`` (started with ``start_new_session``) and reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def snapshot(root: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under ``root`` (symlinks not followed)."""
    out = {}
    if not root.is_dir():
        return out
    for dirpath, _, files in os.walk(root):
        for name in files:
            p = Path(dirpath) / name
            if p.is_file() and not p.is_symlink():
                try:
                    out[str(p.relative_to(root))] = sha256(p)
                except OSError:
                    out[str(p.relative_to(root))] = "unreadable"
    return out


def weights_equal(a: Path, b: Path) -> tuple[bool, str]:
    """Bit-for-bit comparison of two safetensors files: same keys, ``torch.equal`` tensors."""
    import torch
    from safetensors.torch import load_file

    if not b.is_file():
        return False, f"{b.name} missing"
    try:
        ta, tb = load_file(str(a)), load_file(str(b))
    except Exception as e:  # noqa: BLE001 - any unreadable file is a difference
        return False, f"unreadable: {str(e).splitlines()[0][:100]}"
    if set(ta) != set(tb):
        return False, f"key sets differ ({sorted(set(ta) ^ set(tb))[:3]})"
    for k in ta:
        if ta[k].dtype != tb[k].dtype or ta[k].shape != tb[k].shape or not torch.equal(ta[k], tb[k]):
            return False, f"tensor {k} differs"
    return True, ""


def read_metrics(path: Path) -> tuple[dict[str, dict], list[str]]:
    """metrics.csv as ``{step: row without samples_per_s}`` and the list of duplicated steps."""
    rows, dups = {}, []
    if not path.is_file():
        return rows, dups
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            step = r.get("step")
            r = {k: v for k, v in r.items() if k not in ("samples_per_s", "step")}
            if step in rows:
                dups.append(step)
            rows[step] = r
    return rows, dups


def metrics_equal(a: Path, b: Path) -> tuple[bool, str]:
    ra, _ = read_metrics(a)
    rb, dups = read_metrics(b)
    if dups:
        return False, f"duplicated steps {dups[:3]}"
    if set(ra) != set(rb):
        return False, f"steps differ ({sorted(set(ra) ^ set(rb), key=lambda s: int(s or 0))[:3]})"
    for s in ra:
        if ra[s] != rb[s]:
            diff = [k for k in ra[s] if ra[s].get(k) != rb[s].get(k)]
            return False, f"step {s}: {diff[:3]} differ"
    return True, ""


# ---------------------------------------------------------------------------------- part 1: resume
def ckpt_listing(run_dir: Path) -> tuple[list[int], set[str]]:
    """(steps of the complete ``step-*`` folders, names of ``.tmp-step-*`` folders) in checkpoints/."""
    steps, tmps = [], set()
    try:
        names = os.listdir(run_dir / "checkpoints")
    except OSError:
        return steps, tmps
    for n in names:
        if n.startswith(".tmp-step-"):
            tmps.add(n)
        else:
            m = re.fullmatch(r"step-(\d+)", n)
            if m:
                steps.append(int(m.group(1)))
    return sorted(steps), tmps


TRAINING_SIGNS = ("metrics.csv", "checkpoints")


def active_since(run_dir: Path, t_ns: int, names: tuple[str, ...] = TRAINING_SIGNS) -> bool:
    """Did a process started at ``t_ns`` touch one of ``names`` in the run folder (by default the
    signs that it trains: metrics.csv, checkpoints/; add config.yaml for a run still setting up)?"""
    for p in (run_dir / n for n in names):
        try:
            if p.stat().st_mtime_ns >= t_ns:
                return True
        except OSError:
            pass
    return False


def train_cmd(model: str, run_dir: Path, seed: int, resume: bool = False) -> list[str]:
    m = MODELS[model]
    return [*REPRLAB, "-q", *m["args"], "--run-dir", str(run_dir), "--seed", str(seed), "--steps", str(m["steps"]),
            f"train.checkpoint_every={CHECKPOINT_EVERY}", "train.progress=false", *m["overrides"],
            *(["--resume"] if resume else [])]


def spawn(cmd: list[str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as f:
        f.write(("\n$ " + shlex.join(cmd) + "\n").encode())
        f.flush()
        return subprocess.Popen(cmd, stdout=f, stderr=f, env=base_env(), start_new_session=True)


def last_error(log: Path) -> str:
    lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip() and not ln.startswith("$ ")]
    errs = [ln for ln in lines if "error" in ln.lower()]
    return (errs or lines or [""])[-1][:200]


def run_to_end(cmd: list[str], run_dir: Path, log: Path, timeout: float) -> tuple[int | None, float, float | None]:
    """Run ``cmd`` to its end; returns (exit code or None on timeout, wall seconds, seconds from
    the start to the first sign of training: metrics.csv or checkpoints/; None if not seen)."""
    t_ns = time.time_ns()
    t0 = time.perf_counter()
    t_start = None
    proc = spawn(cmd, log)
    while proc.poll() is None:
        if t_start is None and active_since(run_dir, t_ns):
            t_start = time.perf_counter() - t0
        if time.perf_counter() - t0 > timeout:
            kill_group(proc)
            return None, time.perf_counter() - t0, t_start
        time.sleep(0.01)
    return proc.returncode, time.perf_counter() - t0, t_start


def run_and_kill(cmd: list[str], run_dir: Path, log: Path, kind: str, rng: random.Random, t_train: float,
                 max_steps: int, timeout: float) -> dict:
    """Start ``cmd``, wait for it to touch the run, then SIGKILL it as ``kind`` says.

    Returns a record of the kill; ``landed`` is False when the process ended by itself first.
    """
    steps0, tmps0 = ckpt_listing(run_dir)
    remaining = max(0.05, 1.0 - (steps0[-1] if steps0 else 0) / max_steps)
    delay = 0.0 if kind == "early" else rng.uniform(0.0, (0.8 if kind == "checkpoint_write" else 0.9) * t_train * remaining)
    rec = {"kind": kind, "resume": "--resume" in cmd, "delay_s": round(delay, 3), "landed": False}
    t_ns = time.time_ns()
    t0 = time.perf_counter()
    proc = spawn(cmd, log)

    def alive() -> bool:
        if time.perf_counter() - t0 > timeout:
            kill_group(proc)
            rec["timed_out"] = True
            return False
        return proc.poll() is None

    # 1. wait until the process trains (metrics.csv, checkpoints/), or for "early" until it writes config.yaml
    signs = ("config.yaml", *TRAINING_SIGNS) if kind == "early" else TRAINING_SIGNS
    while alive() and not active_since(run_dir, t_ns, signs):
        time.sleep(POLL_S)
    tmps0 &= ckpt_listing(run_dir)[1]  # stale temporary folders the new process has removed by now
    if kind != "early":
        t1 = time.perf_counter()  # 2. the random moment
        while alive() and time.perf_counter() - t1 < delay:
            time.sleep(POLL_S)
    if kind == "checkpoint_write":  # 3. the next checkpoint write
        while alive() and not (ckpt_listing(run_dir)[1] - tmps0):
            time.sleep(POLL_S)
    if proc.poll() is not None:
        rec["exit"] = proc.returncode
        return rec
    t_kill = time.perf_counter() - t0
    kill_group(proc)
    steps, tmps = ckpt_listing(run_dir)
    rec.update(landed=True, t_kill_s=round(t_kill, 3), during_checkpoint_write=bool(tmps - tmps0),
               checkpoint_existed=bool(steps), latest_checkpoint=steps[-1] if steps else None)
    return rec


def resume_part(models: list[str], cycles: int, seed: int, work: Path) -> list[dict]:
    rows = []
    commit = git_commit()
    for model in models:
        mdir = work / model
        mdir.mkdir(parents=True, exist_ok=True)
        max_steps = MODELS[model]["steps"]
        ref = mdir / "reference"
        log = mdir / "reference.log"
        rc, wall, t_start = run_to_end(train_cmd(model, ref, seed), ref, log, timeout=900)
        if rc != 0 or not (ref / "model.safetensors").is_file():
            print(f"[{model}] reference run failed (exit {rc}): {last_error(log)}", flush=True)
            rows.append({"part": "resume", "model": model, "cycle": "reference", "exact": False, "git": commit,
                         "failure": f"reference run exit {rc}: {last_error(log)}"})
            continue
        t_train = max(0.2, wall - (t_start or 0.0))
        print(f"[{model}] reference: {wall:.1f} s ({t_train:.1f} s of it training)", flush=True)
        timeout = max(120.0, 10 * wall)
        ctl = mdir / "control"
        rc, wall_c, _ = run_to_end(train_cmd(model, ctl, seed), ctl, mdir / "control.log", timeout=timeout)
        ok, why = weights_equal(ref / "model.safetensors", ctl / "model.safetensors") if rc == 0 else (False, f"exit {rc}")
        mok, mwhy = metrics_equal(ref / "metrics.csv", ctl / "metrics.csv") if rc == 0 else (False, "")
        rows.append({"part": "resume", "model": model, "cycle": "control", "kills": 0, "exact": ok, "metrics_exact": mok,
                     "failure": why or mwhy or None, "seconds": round(wall_c, 1), "reference_s": round(wall, 1),
                     "reference_training_s": round(t_train, 1),
                     "steps": max_steps, "git": commit})
        print(f"[{model}] control (uninterrupted rerun): exact={ok} metrics_exact={mok} {why or mwhy}", flush=True)
        rng = random.Random(f"{seed}-{model}")
        j = 0  # kills of this model so far: even ones aim at a checkpoint write
        killed, i = 0, -1
        while killed < cycles and i + 1 < 2 * cycles:  # a cycle whose kills all came too late is redone
            i += 1
            t0 = time.perf_counter()
            run_dir = mdir / f"cycle-{i:02d}"
            log = mdir / f"cycle-{i:02d}.log"
            n_kills = rng.randint(1, 3)
            kills, failure, finished = [], None, False
            for k in range(n_kills):
                kind = "early" if (k == 0 and i % 5 == 2) else ("checkpoint_write" if j % 2 == 0 else "random")
                j += kind != "early"
                rec = run_and_kill(train_cmd(model, run_dir, seed, resume=k > 0), run_dir, log, kind, rng, t_train,
                                   max_steps, timeout)
                kills.append(rec)
                if rec.get("timed_out"):
                    failure = f"kill {k + 1}: timed out"
                    break
                if not rec["landed"]:  # ended by itself before the kill
                    if rec.get("exit") != 0:
                        failure = f"{'--resume' if k else 'start'} exit {rec.get('exit')}: {last_error(log)}"
                    finished = True
                    break
            if failure is None and not finished:
                rc, _, _ = run_to_end(train_cmd(model, run_dir, seed, resume=True), run_dir, log, timeout)
                if rc != 0:
                    failure = f"final --resume {'timed out' if rc is None else f'exit {rc}'}: {last_error(log)}"
            exact, why = (False, "") if failure else weights_equal(ref / "model.safetensors", run_dir / "model.safetensors")
            mexact, mwhy = (False, "") if failure else metrics_equal(ref / "metrics.csv", run_dir / "metrics.csv")
            landed = [r for r in kills if r["landed"]]
            row = {"part": "resume", "model": model, "cycle": i, "kills": len(landed),
                   "kills_during_checkpoint_write": sum(bool(r.get("during_checkpoint_write")) for r in landed),
                   "kills_without_checkpoint": sum(not r.get("checkpoint_existed") for r in landed),
                   "exact": exact, "metrics_exact": mexact, "failure": failure or why or None,
                   "metrics_difference": mwhy or None, "seconds": round(time.perf_counter() - t0, 1),
                   "kill_log": kills, "git": commit}
            rows.append(row)
            killed += row["kills"] > 0
            print(f"[{model}] cycle {i:2d}: kills={row['kills']} (ckpt-write {row['kills_during_checkpoint_write']}, "
                  f"no-ckpt {row['kills_without_checkpoint']}) exact={exact} metrics_exact={mexact} "
                  f"{failure or why or mwhy or ''}  [{row['seconds']:.0f} s]", flush=True)
            if exact:
                shutil.rmtree(run_dir, ignore_errors=True)
    return rows


# ---------------------------------------------------------------------------------- part 2: corpus
ERR_RE = re.compile(r"^reprlab(?: [a-z][\w-]*)?: error: ")


@dataclass
class Res:
    rc: int | None
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool = False
    cmd: str = ""


class Fixtures:
    """Finished runs built once and copied into the cases: ``ae`` (digits, 60 steps, checkpoints
    at 50 and 60) and ``gan`` (ring8, 30 steps)."""

    def __init__(self, root: Path):
        self.root = root
        self.errors: dict[str, str] = {}

    def build(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        specs = {
            "ae": ["-q", "train", "ae", "--run-dir", "ae", "--steps", "60", "train.checkpoint_every=25", "train.progress=false"],
            "gan": ["-q", "train", "gan", "--data", "ring8", "--run-dir", "gan", "--steps", "30", "train.progress=false"],
        }
        for name, args in specs.items():
            r = run_cli(args, self.root, timeout=300)
            if r.rc != 0 or not (self.root / name / "model.safetensors").is_file():
                self.errors[name] = f"exit {r.rc}: {(r.stderr.strip().splitlines() or [''])[-1][:200]}"
                print(f"fixture {name} failed: {self.errors[name]}", flush=True)

    def copy(self, name: str, dest: Path) -> Path:
        if name in self.errors or not (self.root / name).is_dir():
            raise FixtureError(f"fixture run {name!r} could not be built: {self.errors.get(name)}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(self.root / name, dest)
        return dest


class FixtureError(RuntimeError):
    pass


def run_cli(args: list[str], cwd: Path, timeout: float = 180, limit_as: int | None = None) -> Res:
    """Run ``reprlab ARGS`` in ``cwd``; never hangs (the process group is killed at ``timeout``)."""

    def limits():
        if limit_as:
            resource.setrlimit(resource.RLIMIT_AS, (limit_as, limit_as))

    t0 = time.perf_counter()
    proc = subprocess.Popen([*REPRLAB, *args], cwd=cwd, env=base_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, preexec_fn=limits if limit_as else None)
    try:
        out, err = proc.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        kill_group(proc)
        out, err = proc.communicate()
        timed_out = True
    return Res(None if timed_out else proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"),
               time.perf_counter() - t0, timed_out)


def flip_bytes(path: Path, n: int = 16) -> None:
    """XOR 0xFF ``n`` bytes in the middle of a safetensors file's tensor data (after its header)."""
    b = bytearray(path.read_bytes())
    start = 8 + int.from_bytes(b[:8], "little")
    mid = start + (len(b) - start) // 2
    for i in range(mid, min(mid + n, len(b))):
        b[i] ^= 0xFF
    path.write_bytes(bytes(b))


def error_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ERR_RE.match(ln)]


def clear_error(res: Res, codes: tuple[int, ...]) -> tuple[bool, str]:
    if res.timed_out:
        return False, "timed out"
    if res.rc not in codes:
        return False, f"exit {res.rc} (expected {'/'.join(map(str, codes))})"
    if "Traceback" in res.stderr:
        return False, "traceback on stderr"
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    if not lines:
        return False, "no message on stderr"
    if not ERR_RE.match(lines[-1]):
        return False, "last stderr line is not 'reprlab: error: ...'"
    if len(error_lines(res.stderr)) != 1:
        return False, "more than one error line"
    return True, ""


@dataclass
class Box:
    """A case's folder: ``root`` (snapshotted) and the command's cwd (``root/w`` unless moved)."""

    root: Path
    fixtures: Fixtures
    cwd: Path = field(init=False)
    runs: list[Res] = field(default_factory=list)

    def __post_init__(self):
        self.cwd = self.root / "w"
        self.cwd.mkdir(parents=True)

    def write(self, rel: str, content: str | bytes = "x\n") -> Path:
        p = self.cwd / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content if isinstance(content, bytes) else content.encode())
        return p

    def run_fixture(self, name: str, rel: str) -> Path:
        return self.fixtures.copy(name, self.cwd / rel)

    def show(self, args: list[str]) -> str:
        text = shlex.join(["reprlab", *args])
        return text.replace(str(self.root) + "/", "<case>/").replace(str(self.root), "<case>")

    def run(self, args: list[str], timeout: float = 180, limit_as: int | None = None, cwd: Path | None = None) -> Res:
        r = run_cli(args, cwd or self.cwd, timeout, limit_as)
        r.cmd = self.show(args)
        self.runs.append(r)
        return r


@dataclass
class Case:
    id: str
    title: str
    expected: str
    fn: Callable[[Box], "Verdict"]


@dataclass
class Verdict:
    res: Res
    codes: tuple[int, ...] = (2,)
    checks: list[tuple[bool, str]] = field(default_factory=list)  # (passed, what failed)
    may_change: list[str] = field(default_factory=list)  # globs (relative to the case root) allowed to change
    protect: list[str] = field(default_factory=list)  # globs that must not change even where may_change allows
    before: dict | None = None  # snapshot taken by the case itself (else the one taken before the case)
    command: str | None = None
    skipped: str | None = None


CASES: list[Case] = []


def case(id_: str, title: str, expected: str = "exit 2"):
    def deco(fn):
        CASES.append(Case(id_, title, expected, fn))
        return fn

    return deco


TRAIN_FAST = ["--steps", "20", "train.progress=false"]


def no_folder(box: Box, rel: str) -> tuple[bool, str]:
    return not (box.cwd / rel).exists(), f"{rel} was left behind"


def message_has(res: Res, *words: str) -> tuple[bool, str]:
    msg = " ".join(error_lines(res.stderr)).lower()
    missing = [w for w in words if w.lower() not in msg]
    return not missing, f"message lacks {missing}"


# B1: run-folder paths ------------------------------------------------------------------------
def _project(box: Box, where: Path) -> None:
    for rel, text in {"config.yaml": "my: own settings\n", "important.txt": "do not lose me\n",
                      "src/x.py": "print('mine')\n"}.items():
        p = where / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


@case("B1a", "--name . (must stay inside runs/)")
def _(box):
    box.run_fixture("ae", "runs/ae-a")
    box.write("important.txt")
    return Verdict(box.run(["-q", "train", "ae", "--name", ".", *TRAIN_FAST]))


@case("B1b", "--name ..")
def _(box):
    box.run_fixture("ae", "runs/ae-a")
    box.write("important.txt")
    return Verdict(box.run(["-q", "train", "ae", "--name", "..", *TRAIN_FAST]))


@case("B1c", "--name /absolute/path")
def _(box):
    target = box.root / "abs"
    r = box.run(["-q", "train", "ae", "--name", str(target), *TRAIN_FAST])
    return Verdict(r, checks=[(not target.exists(), "the absolute folder was created")])


@case("B1d", "--name . --overwrite with sibling runs in runs/")
def _(box):
    box.run_fixture("ae", "runs/ae-a")
    box.run_fixture("gan", "runs/gan-b")
    return Verdict(box.run(["-q", "train", "ae", "--name", ".", "--overwrite", *TRAIN_FAST]))


@case("B1e", "--run-dir . --overwrite in a project folder (config.yaml, important.txt, src/)")
def _(box):
    _project(box, box.cwd)
    return Verdict(box.run(["-q", "train", "ae", "--run-dir", ".", "--overwrite", *TRAIN_FAST]))


@case("B1f", "--run-dir .. --overwrite (the parent is a project folder)")
def _(box):
    _project(box, box.cwd)
    box.cwd = box.cwd / "sub"
    box.cwd.mkdir()
    (box.cwd / "notes.md").write_text("mine\n")
    return Verdict(box.run(["-q", "train", "ae", "--run-dir", "..", "--overwrite", *TRAIN_FAST]))


@case("B1g", "--overwrite on a run folder holding the user's notes.txt (refused, notes kept)")
def _(box):
    box.run_fixture("ae", "runs/ae-digits")
    box.write("runs/ae-digits/notes.txt", "my notes\n")
    r = box.run(["-q", "train", "ae", "--name", "ae-digits", "--overwrite", *TRAIN_FAST])
    return Verdict(r, may_change=["w/runs/ae-digits/*"], protect=["w/runs/ae-digits/notes.txt"])


@case("B1h", "legitimate --overwrite of a run (siblings untouched): succeeds", "exit 0")
def _(box):
    box.run_fixture("ae", "runs/ae-digits")
    box.run_fixture("ae", "runs/other")
    r = box.run(["-q", "train", "ae", "--name", "ae-digits", "--overwrite", *TRAIN_FAST])
    cfg = (box.cwd / "runs/ae-digits/config.yaml")
    replaced = cfg.is_file() and "max_steps: 20" in cfg.read_text()
    return Verdict(r, codes=(0,), may_change=["w/runs/ae-digits/*"], checks=[(replaced, "the run was not replaced")])


@case("B1i", "--run-dir . (no --overwrite) in a project folder holding its own config.yaml")
def _(box):
    _project(box, box.cwd)
    return Verdict(box.run(["-q", "train", "ae", "--run-dir", ".", *TRAIN_FAST]))


@case("B1j", "--name ../outside (escapes runs/)")
def _(box):
    r = box.run(["-q", "train", "ae", "--name", "../outside", *TRAIN_FAST])
    return Verdict(r, checks=[no_folder(box, "outside")])


# B2: concurrent runs --------------------------------------------------------------------------
def _popen(box: Box, args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([*REPRLAB, *args], cwd=box.cwd, env=base_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)


def _finish(proc: subprocess.Popen, timeout: float, t0: float, cmd: str) -> Res:
    try:
        out, err = proc.communicate(timeout=timeout)
        return Res(proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"), time.perf_counter() - t0,
                   cmd=cmd)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        out, err = proc.communicate()
        return Res(None, out.decode(errors="replace"), err.decode(errors="replace"), time.perf_counter() - t0, True, cmd)


def _seed_of(run: Path) -> int | None:
    try:
        import yaml

        return int(yaml.safe_load((run / "config.yaml").read_text())["train"]["seed"])
    except Exception:  # noqa: BLE001
        return None


def _steps_of(run: Path) -> int | None:
    try:
        return int(json.loads((run / "summary.json").read_text())["steps"])
    except Exception:  # noqa: BLE001
        return None


@case("B2a", "two trainings at once on one --run-dir (--seed 0 and --seed 1)", "one exit 2 naming the other's PID")
def _(box):
    t0 = time.perf_counter()
    args = [["-q", "train", "ae", "--run-dir", "runs/same", "--seed", str(s), "--steps", "1500", "train.progress=false"]
            for s in (0, 1)]
    procs = [_popen(box, a) for a in args]
    res = [_finish(p, 300, t0, box.show(a)) for p, a in zip(procs, args)]
    refused = [i for i in (0, 1) if res[i].rc == 2]
    if len(refused) != 1:
        return Verdict(res[1] if res[1].rc != 0 else res[0], command=" & ".join(x.cmd for x in res),
                       checks=[(False, f"exits {res[0].rc} and {res[1].rc}: not exactly one refused")])
    bad, good = refused[0], 1 - refused[0]
    run = box.cwd / "runs/same"
    return Verdict(res[bad], command=" & ".join(x.cmd for x in res), checks=[
        (str(procs[good].pid) in res[bad].stderr, f"message does not name the holder's PID {procs[good].pid}"),
        (res[good].rc == 0, f"the other run exited {res[good].rc}"),
        (_seed_of(run) == good, f"config.yaml says seed {_seed_of(run)}, the run that trained had seed {good}"),
        (_steps_of(run) == 1500, "summary.json is not the finished run's"),
    ])


def _while_training(box: Box, extra: list[str]) -> Verdict:
    """Run A trains (paused with SIGSTOP once its config.yaml exists, so it surely still holds the
    folder); B = the same command plus ``extra`` (``--overwrite`` / ``--resume``, seed 1) runs to
    its end; then A continues and must finish intact."""
    t0 = time.perf_counter()
    a_args = ["-q", "train", "ae", "--run-dir", "runs/r", "--seed", "0", "--steps", "1000", "train.progress=false"]
    b_args = ["-q", "train", "ae", "--run-dir", "runs/r", "--seed", "1", "--steps", "1000", "train.progress=false", *extra]
    run = box.cwd / "runs/r"
    a = _popen(box, a_args)
    while a.poll() is None and not (run / "config.yaml").exists() and time.perf_counter() - t0 < 300:
        time.sleep(POLL_S)
    started = a.poll() is None
    if started:
        os.killpg(a.pid, signal.SIGSTOP)
    try:
        b = box.run(b_args)
    finally:
        if started:
            os.killpg(a.pid, signal.SIGCONT)
    ra = _finish(a, 300, t0, box.show(a_args))
    # run A's own writes (checkpoints, lock file, outputs) may change its folder; its intactness is checked below
    return Verdict(b, command=f"{ra.cmd} & {b.cmd}", may_change=["w/runs/r/*"], checks=[
        (started, f"setup: run A ended before it wrote config.yaml (exit {a.returncode})"),
        (str(a.pid) in b.stderr, f"message does not name the holder's PID {a.pid}"),
        (ra.rc == 0, f"the running one exited {ra.rc}: {(error_lines(ra.stderr) or [''])[-1][:120]}"),
        (_seed_of(run) == 0 and _steps_of(run) == 1000 and (run / "model.safetensors").is_file(),
         "the running one's folder is not intact (config seed / summary steps / model.safetensors)"),
    ])


@case("B2b", "--overwrite while another run trains in the folder")
def _(box):
    return _while_training(box, ["--overwrite"])


@case("B2c", "--resume while another run trains in the folder")
def _(box):
    return _while_training(box, ["--resume"])


# B3: corrupt weights --------------------------------------------------------------------------
@case("B3a", "flipped bytes in a finished run's model.safetensors, then eval")
def _(box):
    run = box.run_fixture("ae", "runs/ae")
    flip_bytes(run / "model.safetensors")
    r = box.run(["-q", "eval", "runs/ae"])
    return Verdict(r, checks=[message_has(r, "model.safetensors")])


@case("B3b", "truncated model.safetensors, then eval")
def _(box):
    run = box.run_fixture("ae", "runs/ae")
    p = run / "model.safetensors"
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    r = box.run(["-q", "eval", "runs/ae"])
    return Verdict(r, checks=[message_has(r, "model.safetensors")])


# B5: an existing file where an output folder goes ---------------------------------------------
@case("B5a", "an existing file as --run-dir of train")
def _(box):
    box.write("taken", "user data\n")
    return Verdict(box.run(["-q", "train", "ae", "--run-dir", "taken", *TRAIN_FAST]))


@case("B5b", "an existing file as --out of tour --quick --only benchmarks")
def _(box):
    box.write("taken", "user data\n")
    return Verdict(box.run(["-q", "tour", "--quick", "--only", "benchmarks", "--out", "taken"]))


@case("B5c", "an existing file as --out of embed")
def _(box):
    box.run_fixture("ae", "runs/ae")
    box.write("taken", "user data\n")
    return Verdict(box.run(["-q", "embed", "runs/ae", "--method", "pca", "--out", "taken"]))


@case("B5d", "a file as the -o parent of reconstruct")
def _(box):
    box.run_fixture("ae", "runs/ae")
    box.write("taken", "user data\n")
    return Verdict(box.run(["-q", "reconstruct", "runs/ae", "-o", "taken/out.png"]))


@case("B5e", "a file as the -o parent of sample (GAN run)")
def _(box):
    box.run_fixture("gan", "runs/gan")
    box.write("taken", "user data\n")
    return Verdict(box.run(["-q", "sample", "runs/gan", "-o", "taken/out.png"]))


@case("B5f", "a file as the -o parent of interpolate")
def _(box):
    box.run_fixture("ae", "runs/ae")
    box.write("taken", "user data\n")
    return Verdict(box.run(["-q", "interpolate", "runs/ae", "-o", "taken/out.png"]))


@case("B5g", "a file as the -o parent of dirac")
def _(box):
    box.write("taken", "user data\n")
    return Verdict(box.run(["-q", "dirac", "--steps", "20", "-o", "taken/out.png"]))


@case("B5h", "a file as the -o parent of stylize (tiny texture config)")
def _(box):
    box.write("taken", "user data\n")
    box.write("style.yaml", "size: 32\nsteps: 2\nrandom_filters: 4\nrandom_sizes: [3, 5]\n")
    return Verdict(box.run(["-q", "stylize", "sklearn:flower.jpg", "--texture", "--config", "style.yaml",
                            "-o", "taken/out.png"]))


@case("B5i", "an existing file as --out of da")
def _(box):
    dd = data_dir()
    if not (dd / "amazon_reviews_400").is_dir():
        return Verdict(Res(None, "", "", 0.0), skipped=f"{dd}/amazon_reviews_400 is absent")
    box.write("taken", "user data\n")
    return Verdict(box.run(["-q", "da", "--data-dir", str(dd), "--source", "books", "--target", "dvd",
                            "--method", "raw", "--out", "taken"]))


# B6: encode into an impossible place -----------------------------------------------------------
@case("B6a", "encode -o sub/codes.npz where sub is a file")
def _(box):
    box.run_fixture("ae", "runs/ae")
    box.write("sub", "user data\n")
    return Verdict(box.run(["-q", "encode", "runs/ae", "-o", "sub/codes.npz"]))


@case("B6b", "encode -o codes.npy where codes.npy is a folder holding files")
def _(box):
    box.run_fixture("ae", "runs/ae")
    box.write("codes.npy/keep.txt", "user data\n")
    return Verdict(box.run(["-q", "encode", "runs/ae", "-o", "codes.npy"]))


# B7: a model too large for memory ---------------------------------------------------------------
@case("B7", "2 x 10,000,000 float32 .npy, batch 1, no validation (8 GB address-space limit)",
      "exit 2 before allocating")
def _(box):
    import numpy as np

    arr = np.lib.format.open_memmap(box.cwd / "wide.npy", mode="w+", dtype=np.float32, shape=(2, 10_000_000))
    arr[:] = 0.5
    arr.flush()
    del arr
    r = box.run(["-q", "train", "ae", "--data", "wide.npy", "--name", "wide", "train.batch_size=1",
                 "data.val_fraction=0", *TRAIN_FAST], timeout=240, limit_as=8_000_000_000)
    return Verdict(r)


# B8: killed before the first checkpoint; non-finite loss ----------------------------------------
def _killed_early(box: Box) -> tuple[list[str], dict]:
    """Start a run (only checkpoint: the last step), SIGKILL it when config.yaml appears."""
    args = ["-q", "train", "ae", "--name", "k", "--steps", "2000", "train.checkpoint_every=100000",
            "train.progress=false"]
    run = box.cwd / "runs/k"
    t0 = time.perf_counter()
    p = _popen(box, args)
    while p.poll() is None and not (run / "config.yaml").exists() and time.perf_counter() - t0 < 300:
        time.sleep(POLL_S)
    alive = p.poll() is None
    kill_group(p)
    steps, _ = ckpt_listing(run)
    setup = {"alive": alive, "config": (run / "config.yaml").exists(), "checkpoints": steps}
    return args, setup


def _after_kill(box: Box, resume: bool) -> Verdict:
    args, setup = _killed_early(box)
    before = snapshot(box.root)
    r = box.run(args + (["--resume"] if resume else []))
    run = box.cwd / "runs/k"
    return Verdict(r, codes=(0,), before=before, may_change=["w/runs/k/*"], checks=[
        (setup["alive"] and setup["config"] and not setup["checkpoints"],
         f"setup: kill did not land between config.yaml and the first checkpoint ({setup})"),
        (_steps_of(run) == 2000 and (run / "model.safetensors").is_file(), "the run did not finish"),
    ])


@case("B8a", "kill -9 after config.yaml, before the first checkpoint; then --resume", "exit 0")
def _(box):
    return _after_kill(box, resume=True)


@case("B8b", "kill -9 after config.yaml, before the first checkpoint; then the plain command again", "exit 0")
def _(box):
    return _after_kill(box, resume=False)


NAN_ARGS = ["-q", "train", "ae", "--name", "nan", "--steps", "200", "train.lr=1e30", "train.progress=false"]


@case("B8c", "non-finite loss at step 1 (train.lr=1e30)", "exit 1, one line")
def _(box):
    r = box.run(NAN_ARGS)
    msg = " ".join(error_lines(r.stderr)).lower()
    return Verdict(r, codes=(1,), checks=[("nan" in msg or "inf" in msg or "finite" in msg, "message does not say "
                                           "the loss is not finite")])


@case("B8d", "non-finite loss, then the message's advice followed literally (lower lr)", "exit 0")
def _(box):
    first = box.run(NAN_ARGS)
    msg = (error_lines(first.stderr) or [""])[-1]
    if first.rc == 0 or not msg:
        return Verdict(first, codes=(0,), checks=[(False, f"setup: the lr=1e30 run gave exit {first.rc} without an "
                                                   "error line to follow")])
    follow = [a if a != "train.lr=1e30" else "train.lr=0.001" for a in NAN_ARGS]
    if "--resume" in msg:
        follow.append("--resume")
    if "--overwrite" in msg:
        follow.append("--overwrite")
    before = snapshot(box.root)
    r = box.run(follow)
    return Verdict(r, codes=(0,), before=before, may_change=["w/runs/nan/*"],
                   command=f"{first.cmd}  ->  {r.cmd}  (advice: {msg[:160]})",
                   checks=[(_steps_of(box.cwd / "runs/nan") == 200, "the run did not finish")])


# B9, B10: data that cannot train -----------------------------------------------------------------
def _npy(box: Box, rel: str, arr) -> None:
    import numpy as np

    np.save(box.cwd / rel, arr)


@case("B9", "a 2-row .npy as --data (message must not say 'empty')")
def _(box):
    import numpy as np

    _npy(box, "two.npy", np.random.default_rng(0).random((2, 5), dtype=np.float32))
    r = box.run(["-q", "train", "ae", "--data", "two.npy", "--name", "two", *TRAIN_FAST])
    return Verdict(r, checks=[("empty" not in r.stderr.lower(), "the message says 'empty'"), no_folder(box, "runs/two")])


@case("B10a", "train.batch_size=100000, larger than the data (no run folder left)")
def _(box):
    r = box.run(["-q", "train", "ae", "--name", "big-batch", "train.batch_size=100000", *TRAIN_FAST])
    return Verdict(r, checks=[no_folder(box, "runs/big-batch")])


@case("B10b", "--data images:FOLDER holding no images (no run folder left)")
def _(box):
    box.write("imgs/readme.txt", "not an image\n")
    box.write("imgs/fake.png", "not a png either\n")
    r = box.run(["-q", "train", "ae", "--data", "images:imgs", "--name", "imgs", *TRAIN_FAST])
    return Verdict(r, checks=[no_folder(box, "runs/imgs")])


# X: bad config values, files and run folders ---------------------------------------------------
def _bad_train(id_: str, title: str, extra: list[str], name: str, setup: Callable[[Box], None] | None = None):
    @case(id_, title + " (no run folder left)")
    def _(box):
        if setup:
            setup(box)
        r = box.run(["-q", "train", "ae", "--name", name, *extra, *TRAIN_FAST])
        return Verdict(r, checks=[no_folder(box, f"runs/{name}")])


_bad_train("X1", "unknown config key train.foo=1", ["train.foo=1"], "x1")
_bad_train("X2", "train.lr=-1", ["train.lr=-1"], "x2")
_bad_train("X3", "train.batch_size=0", ["train.batch_size=0"], "x3")
_bad_train("X4", "a missing --data file", ["--data", "missing.npy"], "x4")


@case("X5", "flipped bytes in the newest checkpoint, then --resume: falls back or names it",
      "exit 0 from the previous checkpoint, or exit 2 naming the corrupt one")
def _(box):
    run = box.run_fixture("ae", "runs/ae")
    steps, _ = ckpt_listing(run)
    newest = f"step-{steps[-1]:06d}"
    flip_bytes(run / "checkpoints" / newest / "model.safetensors")
    r = box.run(["train", "ae", "--run-dir", "runs/ae", "--resume", "--steps", "100", "train.checkpoint_every=25",
                 "train.progress=false"])
    try:
        resumed_from = json.loads((run / "summary.json").read_text()).get("resumed_from")
    except Exception:  # noqa: BLE001
        resumed_from = None
    if r.rc == 0:
        said = newest in r.stdout + r.stderr
        checks = [(resumed_from == steps[-2], f"resumed from {resumed_from}, not the previous checkpoint {steps[-2]}"),
                  (said, f"the output does not name the corrupt {newest}")]
        return Verdict(r, codes=(0,), may_change=["w/runs/ae/*"], checks=checks)
    return Verdict(r, codes=(2,), may_change=["w/runs/ae/*"], checks=[message_has(r, newest)])


def _truncated_npy(box: Box) -> None:
    import numpy as np

    _npy(box, "cut.npy", np.random.default_rng(0).random((500, 64), dtype=np.float32))
    p = box.cwd / "cut.npy"
    p.write_bytes(p.read_bytes()[: int(p.stat().st_size * 0.6)])


def _bad_csv(box: Box) -> None:
    rows = ["a,b,c,label"] + [f"{i * 0.1},{i * 0.2},{i * 0.3},{i % 2}" for i in range(40)]
    rows[17] = "1.0,oops,0.5,1"
    box.write("data.csv", "\n".join(rows) + "\n")


def _nan_npy(box: Box) -> None:
    import numpy as np

    x = np.random.default_rng(0).random((300, 16), dtype=np.float32)
    x[5, 3] = np.nan
    _npy(box, "nan.npy", x)


def _npz_without_x(box: Box) -> None:
    import numpy as np

    rng = np.random.default_rng(0)  # two arrays, neither named x (a single array would be taken as x)
    np.savez(box.cwd / "nox.npz", foo=rng.random((500, 4), dtype=np.float32), bar=rng.random((500, 4), dtype=np.float32))


_bad_train("X6", "a truncated .npy as --data", ["--data", "cut.npy"], "x6", _truncated_npy)
_bad_train("X7", "a CSV with a non-numeric cell as --data", ["--data", "data.csv"], "x7", _bad_csv)


@case("X8", "a .npy holding a NaN as --data", "exit 2 (refused) or exit 1 (non-finite loss), one line")
def _(box):
    _nan_npy(box)
    r = box.run(["-q", "train", "ae", "--name", "x8", "--data", "nan.npy", *TRAIN_FAST])
    return Verdict(r, codes=(1, 2))


_bad_train("X9", "--config naming a missing file", ["--config", "nope.yaml"], "x9")
_bad_train("X10", "--config with malformed YAML", ["--config", "bad.yaml"], "x10",
           lambda b: b.write("bad.yaml", "train: [unclosed\n  lr: 1\n"))
_bad_train("X11", "--data mnist with --data-dir naming a file", ["--data", "mnist", "--data-dir", "afile"], "x11",
           lambda b: b.write("afile", "not a folder\n"))
_bad_train("X12", "--data images:FOLDER that does not exist", ["--data", "images:nowhere"], "x12")
_bad_train("X13", "an .npz with arrays foo and bar, no x", ["--data", "nox.npz"], "x13", _npz_without_x)


@case("X14", "encode a data set of the wrong shape (3 features into a digits run)")
def _(box):
    import numpy as np

    box.run_fixture("ae", "runs/ae")
    _npy(box, "three.npy", np.zeros((50, 3), np.float32))
    return Verdict(box.run(["-q", "encode", "runs/ae", "--data", "three.npy", "-o", "codes.npy"]))


@case("X15", "eval a run whose config.yaml is garbage")
def _(box):
    run = box.run_fixture("ae", "runs/ae")
    (run / "config.yaml").write_text("::: [not yaml\n\t- {\n")
    return Verdict(box.run(["-q", "eval", "runs/ae"]))


@case("X16", "--resume --overwrite together")
def _(box):
    box.run_fixture("ae", "runs/ae")
    return Verdict(box.run(["-q", "train", "ae", "--run-dir", "runs/ae", "--resume", "--overwrite", *TRAIN_FAST]))


def run_case(c: Case, work: Path, fixtures: Fixtures, commit: str) -> dict:
    box = Box(work / c.id, fixtures)
    t0 = time.perf_counter()
    row = {"part": "corpus", "id": c.id, "title": c.title, "expected": c.expected, "git": commit}
    before_all = None
    try:
        # the snapshot is taken after the case's set-up: the case function calls box.run once set up;
        # Box.run is wrapped so that the first call snapshots first
        orig_run = box.run
        taken: dict = {}

        def run_with_snapshot(*a, **kw):
            if "before" not in taken:
                taken["before"] = snapshot(box.root)
            return orig_run(*a, **kw)

        box.run = run_with_snapshot  # type: ignore[method-assign]
        v = c.fn(box)
        before_all = v.before if v.before is not None else taken.get("before", {})
    except FixtureError as e:
        row.update(command="", exit=None, stderr_first="", clear=False, data_loss=False, lost=[],
                   why=f"harness: {e}", harness_error=True, seconds=round(time.perf_counter() - t0, 1))
        return row
    except Exception as e:  # noqa: BLE001 - a broken case must not stop the corpus
        traceback.print_exc()
        row.update(command="", exit=None, stderr_first="", clear=False, data_loss=False, lost=[],
                   why=f"harness error: {type(e).__name__}: {e}", harness_error=True,
                   seconds=round(time.perf_counter() - t0, 1))
        return row
    if v.skipped:
        row.update(skipped=v.skipped, command="", exit=None, clear=None, data_loss=None)
        return row
    r = v.res
    if v.codes == (0,):
        ok, why = (r.rc == 0 and not r.timed_out), ("timed out" if r.timed_out else f"exit {r.rc} (expected 0)")
        why = "" if ok else why
    else:
        ok, why = clear_error(r, v.codes)
    for passed, what in v.checks:
        if not passed:
            ok, why = False, "; ".join(x for x in (why, what) if x)
    after = snapshot(box.root)
    lost = sorted(p for p, h in before_all.items()
                  if after.get(p) != h and (not any(fnmatch(p, g) for g in v.may_change)
                                            or any(fnmatch(p, g) for g in v.protect)))
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    row.update(command=v.command or r.cmd, exit=r.rc, stderr_first=(lines[0] if lines else "")[:300],
               error_line=((error_lines(r.stderr) or [""])[-1])[:300], clear=ok, why=why or None,
               data_loss=bool(lost), lost=lost[:20], seconds=round(time.perf_counter() - t0, 1))
    return row


def corpus_part(work: Path, only: set[str] | None) -> list[dict]:
    commit = git_commit()
    fixtures = Fixtures(work / "_fixtures")
    print("building fixture runs ...", flush=True)
    fixtures.build()
    rows = []
    for c in CASES:
        if only and c.id not in only:
            continue
        row = run_case(c, work, fixtures, commit)
        rows.append(row)
        state = ("skipped" if row.get("skipped") else "clear" if row["clear"] else "NOT clear")
        print(f"{c.id:5s} {state:9s} {'DATA LOSS ' if row.get('data_loss') else ''}exit={row.get('exit')} "
              f"[{row.get('seconds', 0):.0f} s] {c.title}" + (f"\n      why: {row['why']}" if row.get("why") else "")
              + (f"\n      lost: {row['lost']}" if row.get("lost") else ""), flush=True)
    return rows


# ---------------------------------------------------------------------------------- results
def headline_of(rows: list[dict]) -> dict:
    every = [r for r in rows if r["part"] == "resume" and isinstance(r.get("cycle"), int)]
    cycles = [r for r in every if r["kills"] > 0 or r.get("failure")]  # a cycle no kill reached tests nothing
    corpus = [r for r in rows if r["part"] == "corpus" and not r.get("skipped")]
    h: dict = {
        "resume_bit_exact_fraction": (sum(r["exact"] for r in cycles) / len(cycles)) if cycles else None,
        "bad_input_cases": len(corpus) if corpus else None,
        "bad_input_clear_errors": sum(bool(r["clear"]) for r in corpus) if corpus else None,
        "data_loss_cases": sum(bool(r["data_loss"]) for r in corpus) if corpus else None,
    }
    for m in sorted({r["model"] for r in cycles}):
        mine = [r for r in cycles if r["model"] == m]
        h[f"cycles_{m}"] = len(mine)
        h[f"exact_cycles_{m}"] = sum(r["exact"] for r in mine)
    h["cycles_without_a_landed_kill"] = len(every) - len(cycles)
    h["kills"] = sum(r["kills"] for r in cycles) if cycles else None
    h["kills_during_checkpoint_write"] = sum(r["kills_during_checkpoint_write"] for r in cycles) if cycles else None
    h["kills_without_checkpoint"] = sum(r["kills_without_checkpoint"] for r in cycles) if cycles else None
    h["metrics_exact_fraction"] = (sum(bool(r.get("metrics_exact")) for r in cycles) / len(cycles)) if cycles else None
    return h


def targets_met(h: dict) -> dict:
    return {
        "resume_bit_exact_fraction": None if h["resume_bit_exact_fraction"] is None else h["resume_bit_exact_fraction"] == 1.0,
        "bad_input_clear_errors": None if h["bad_input_cases"] is None else h["bad_input_clear_errors"] == h["bad_input_cases"],
        "data_loss_cases": None if h["data_loss_cases"] is None else h["data_loss_cases"] == 0,
    }


def merge(old: list[dict], new: list[dict]) -> list[dict]:
    """``old`` rows not replaced by ``new`` ones (same part and model, or same corpus case), then ``new``."""
    new_models = {r["model"] for r in new if r["part"] == "resume"}
    new_cases = {r["id"] for r in new if r["part"] == "corpus"}
    kept = [r for r in old if not ((r["part"] == "resume" and r.get("model") in new_models)
                                   or (r["part"] == "corpus" and r.get("id") in new_cases))]
    order = {c.id: i for i, c in enumerate(CASES)}
    merged = kept + new
    resume = [r for r in merged if r["part"] == "resume"]
    corpus = sorted((r for r in merged if r["part"] == "corpus"), key=lambda r: order.get(r["id"], 1 << 30))
    return resume + corpus


def cli_works() -> bool:
    """``reprlab --help`` exits 0 (the code under test imports); prints why not."""
    r = run_cli(["--help"], Path(tempfile.gettempdir()), timeout=120)
    if r.rc != 0:
        print(f"reprlab --help exits {r.rc}: {(r.stderr.strip().splitlines() or [''])[-1][:200]}", flush=True)
    return r.rc == 0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", default="resume,corpus", help="comma-separated: resume, corpus (default both)")
    p.add_argument("--models", default="ae,gan", help="resume part: comma-separated models (default ae,gan)")
    p.add_argument("--cycles", type=int, default=20, help="resume part: kill/resume cycles per model (default 20)")
    p.add_argument("--seed", type=int, default=0, help="seed of the runs and of the kill moments")
    p.add_argument("--cases", help="corpus part: comma-separated case ids (default all)")
    p.add_argument("--quick", action="store_true", help="smoke run: 3 cycles per model, no results file")
    p.add_argument("--keep", action="store_true", help="keep the temporary folders (printed)")
    p.add_argument("--list", action="store_true", help="list the corpus cases and exit")
    a = p.parse_args()
    if a.list:
        for c in CASES:
            print(f"{c.id:5s} {c.expected:50s} {c.title}")
        return
    parts = {x.strip() for x in a.parts.split(",") if x.strip()}
    unknown = parts - {"resume", "corpus"}
    models = [m.strip() for m in a.models.split(",") if m.strip()]
    if unknown or not parts or any(m not in MODELS for m in models):
        p.error(f"--parts takes resume,corpus and --models {','.join(MODELS)}")
    only = {x.strip() for x in a.cases.split(",")} if a.cases else None
    if only and only - {c.id for c in CASES}:
        p.error(f"unknown cases {sorted(only - {c.id for c in CASES})}; see --list")
    cycles = 3 if a.quick else a.cycles
    if not cli_works():
        sys.exit(1)
    work = Path(tempfile.mkdtemp(prefix="reprlab-fault-"))
    print(f"work folder: {work}  (CLI: {shlex.join(REPRLAB)})", flush=True)
    t0 = time.perf_counter()
    rows: list[dict] = []
    try:
        if "resume" in parts:
            rows += resume_part(models, cycles, a.seed, work / "resume")
        if "corpus" in parts:
            rows += corpus_part(work / "corpus", only)
    finally:
        if a.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    wall = time.perf_counter() - t0
    broke = not cli_works()

    res_rows = [r for r in rows if r["part"] == "resume"]
    if res_rows:
        print()
        print_table([{**r, "cycle": str(r["cycle"]), "failure": (r.get("failure") or "")[:70]} for r in res_rows], [
            ("model", "model", ""), ("cycle", "cycle", ""), ("kills", "kills", "d"),
            ("kills_during_checkpoint_write", "in ckpt write", "d"), ("kills_without_checkpoint", "no ckpt", "d"),
            ("exact", "exact", ""), ("metrics_exact", "metrics", ""), ("seconds", "s", ".0f"), ("failure", "failure", "")])
    cor_rows = [r for r in rows if r["part"] == "corpus"]
    if cor_rows:
        print()
        print_table([{**r, "state": "skip" if r.get("skipped") else ("clear" if r["clear"] else "NOT clear"),
                      "loss": "LOSS" if r.get("data_loss") else "",
                      "msg": (r.get("error_line") or r.get("stderr_first") or r.get("why") or "")[:90]} for r in cor_rows], [
            ("id", "case", ""), ("state", "clear", ""), ("loss", "data loss", ""), ("exit", "exit", ""),
            ("seconds", "s", ".0f"), ("msg", "message", "")])

    path = RESULTS_DIR / f"{NAME}.json"
    old_rows = []
    if path.is_file():
        try:
            old_rows = json.loads(path.read_text()).get("rows", [])
        except (OSError, ValueError):
            old_rows = []
    merged = merge(old_rows, rows)
    headline = headline_of(merged)
    print()
    for k, v in headline.items():
        print(f"{k} = {v}")
    met = targets_met(headline)
    print(f"targets met: {met}  ({wall:.0f} s)")
    if a.quick:
        print("quick run: results not written (the committed JSON comes from a full run)")
        return
    if broke:
        print("the CLI stopped working during the run (is the code being edited?): results not written")
        sys.exit(1)
    out = write_result(NAME, headline, merged, command_line(), {
        "targets": TARGETS,
        "targets_met": met,
        "settings": {"models": {m: {"command": shlex.join(["reprlab", "-q", *MODELS[m]["args"], "--run-dir", "RUN",
                                                            "--seed", str(a.seed), "--steps", str(MODELS[m]["steps"]),
                                                            f"train.checkpoint_every={CHECKPOINT_EVERY}",
                                                            "train.progress=false", *MODELS[m]["overrides"]])}
                                for m in MODELS},
                     "poll_s": POLL_S, "threads": 1, "seed": a.seed, "wall_s_this_invocation": round(wall, 1),
                     "parts_this_invocation": sorted(parts)},
    })
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
