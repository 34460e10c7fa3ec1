"""Shared helpers of the benchmarks (conventions: ``../shared/BENCHMARKS.md``).

A benchmark script imports this module from its own folder (``python benchmarks/<name>.py``
puts ``benchmarks/`` on ``sys.path``) and uses:

- :func:`interleaved` to time contenders A B C A B C ... (after a discarded warm-up round),
- :func:`median` for the summary,
- :func:`machine_info` and :func:`git_commit` for the record,
- :func:`write_result` to write ``benchmarks/results/<name>.json`` in the agreed format
  (``$REPRLAB_BENCH_RESULTS/<name>.json`` when that is set),
- :func:`data_dir` for the folder of real data sets,
- :func:`print_table` for the human-readable table.
"""

from __future__ import annotations

import contextlib

import gc
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
# ``reprlab tour --full`` points this elsewhere so that a rerun leaves the committed results alone
RESULTS_DIR = Path(os.environ.get("REPRLAB_BENCH_RESULTS") or BENCH_DIR / "results")


def data_dir() -> Path:
    """The read-only folder of real data sets: ``$REPRLAB_DATA``, else ``<repo>/../shared/data``."""
    return Path(os.environ.get("REPRLAB_DATA") or REPO.parent / "shared" / "data")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine() or "unknown"


def machine_info() -> dict:
    """``{"cpu", "cores", "gpu", "torch"}``: CPU model, usable cores, CUDA device name or None, torch version."""
    import torch

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu": _cpu_model(), "cores": cores, "gpu": gpu, "torch": torch.__version__.split("+")[0]}


def git_commit() -> str:
    """The commit of the measured code (``HEAD``), suffixed ``+dirty`` when tracked files under
    ``src/`` differ from it; ``"unknown"`` outside a git checkout. Reads only, changes nothing."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", "src")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def command_line() -> str:
    """How this script was run, as ``python benchmarks/<name>.py [args]``."""
    script = Path(sys.argv[0]).resolve()
    try:
        script = script.relative_to(REPO)
    except ValueError:
        pass
    return " ".join(["python", str(script), *sys.argv[1:]])


def median(values) -> float:
    """The median of a non-empty sequence of numbers (mean of the middle two for an even count)."""
    v = sorted(values)
    if not v:
        raise ValueError("median of an empty sequence")
    m = len(v) // 2
    return float(v[m]) if len(v) % 2 else (v[m - 1] + v[m]) / 2.0


def interleaved(fns: dict[str, Callable[[], float | None]], reps: int, warmup: int = 1) -> dict[str, list[float]]:
    """Time each contender ``reps`` times, interleaved A B C A B C ..., after ``warmup`` discarded rounds.

    A contender is called without arguments. If it returns a number, that number is its time in
    seconds (so it can leave per-call set-up out of the measurement); otherwise the wall time of
    the whole call (``time.perf_counter``) is used. Garbage is collected between calls, outside
    the timings. Returns ``{name: [seconds of rep 1, ..., rep reps]}``.
    """
    times: dict[str, list[float]] = {name: [] for name in fns}
    for r in range(warmup + reps):
        for name, fn in fns.items():
            gc.collect()
            t0 = time.perf_counter()
            out = fn()
            elapsed = time.perf_counter() - t0
            if isinstance(out, (int, float)) and not isinstance(out, bool):
                elapsed = float(out)
            if r >= warmup:
                times[name].append(elapsed)
    return times


def print_table(rows: list[dict], columns: list[tuple[str, str, str]]) -> None:
    """Print ``rows`` as an aligned table; ``columns`` is ``[(key, header, format spec), ...]``."""
    cells = [[h for _, h, _ in columns]]
    for row in rows:
        cells.append([("" if row.get(k) is None else format(row[k], f)) for k, _, f in columns])
    widths = [max(len(c[i]) for c in cells) for i in range(len(columns))]
    for j, line in enumerate(cells):
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))))
        if j == 0:
            print("  ".join("-" * w for w in widths))


def write_result(name: str, headline: dict, rows: list[dict], command: str, extra: dict | None = None) -> Path:
    """Write ``benchmarks/results/<name>.json`` in the format of BENCHMARKS.md; returns its path.

    Keys, in order: name, date (UTC, ISO 8601, ``Z``), git, command, machine, headline, rows,
    then the keys of ``extra`` (e.g. targets, settings).
    """
    record = {
        "name": name,
        "date": datetime.now(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "git": git_commit(),
        "command": command,
        "machine": machine_info(),
        "headline": headline,
        "rows": rows,
        **(extra or {}),
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(tmp, path)
    return path


def check_targets(headline: dict, targets: dict[str, tuple[str, float]]) -> dict:
    """``{key: {"target", "value", "met"}}`` for each ``key: (">=" or "<=", bound)`` of ``targets``,
    each also printed as one line (``met`` / ``NOT met``)."""
    out = {}
    for key, (op, bound) in targets.items():
        value = headline[key]
        out[key] = {"target": f"{op} {bound}", "value": value, "met": value >= bound if op == ">=" else value <= bound}
        print(f"{key} = {value:.3f}  (target {op} {bound}: {'met' if out[key]['met'] else 'NOT met'})")
    return out


@contextlib.contextmanager
def results_lock(name: str, folder: Path | None = None):
    """Hold an exclusive lock on ``<folder>/.<name>.lock`` (default: the results folder) while a
    part of benchmark ``name`` merges its rows into the JSON that other parts may be writing."""
    import fcntl

    folder = RESULTS_DIR if folder is None else Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def update_result(name: str, change, folder: Path | None = None) -> Path:
    """Apply ``change(record)`` (it edits the dict in place) to ``<folder>/<name>.json`` under
    :func:`results_lock` and write it back atomically: a part's merge never loses another's.
    A missing file starts as ``{"name", "headline", "rows"}``. Returns the file's path."""
    folder = RESULTS_DIR if folder is None else Path(folder)
    path = folder / f"{name}.json"
    with results_lock(name, folder):
        record = json.loads(path.read_text()) if path.is_file() else {"name": name, "headline": {}, "rows": []}
        change(record)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(record, indent=2) + "\n")
        os.replace(tmp, path)
    return path


def merge_validation_rows(name: str, new: list[dict], key, folder: Path | None = None) -> Path:
    """Merge ``new`` rows of a recipe tried on validation data into ``<name>.json``'s
    ``validation_rows`` (a row of the same ``key(row)`` is replaced); the headline and its rows are
    left as they are. Returns the file's path."""
    replaced = {key(r) for r in new}

    def change(record: dict) -> None:
        record["validation_rows"] = [r for r in record.get("validation_rows", []) if key(r) not in replaced] + new

    return update_result(name, change, folder)


def parse_sets(items: list[str]) -> dict:
    """``--set`` values: ``["reg=r1", "gamma=0.1"]`` -> ``{"reg": "r1", "gamma": 0.1}`` (a value is
    read as JSON when it parses, else kept as text); one line naming the form otherwise."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set {item!r}: write KEY=VALUE")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def add_recipe_args(p, subject: str, example: str) -> None:
    """``--label`` and ``--set`` of a script whose ``--validation`` runs try a recipe on seeds >= 100
    (rows to ``validation_rows``): the recipe's name, and the settings it changes over the ``subject``'s."""
    p.add_argument("--label", default="", help="--validation: the name of the recipe tried")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help=f"--validation: a setting over the {subject}'s (VALUE read as JSON), e.g. --set {example}")


def recipe_settings(a, seeds: list[int], hint: str = "") -> dict:
    """The ``--set`` settings of parsed arguments ``a`` (see :func:`add_recipe_args`), after the checks
    that keep a recipe off the headline: ``--set`` / ``--label`` only with ``--validation``, which needs
    a label and seeds >= 100. One line (SystemExit) naming the fix otherwise; ``hint`` ends the first."""
    extra = parse_sets(a.set)
    if (extra or a.label) and not a.validation:
        raise SystemExit(f"--set and --label are for --validation runs{hint}")
    if a.validation and (not a.label or min(seeds) < 100):
        raise SystemExit("--validation needs --label NAME and seeds >= 100 (no headline row's seed)")
    return extra


def merge_keys(name: str, keys: dict, folder: Path | None = None) -> Path:
    """Set top-level ``keys`` of ``<name>.json`` (e.g. a calibration computed on its own), leaving
    everything else as it is. Returns the file's path."""
    return update_result(name, lambda record: record.update(keys), folder)
