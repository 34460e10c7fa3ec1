"""The tour's last section: the benchmarks' results next to their targets and the papers' numbers.

By default it shows the committed results of a checkout (``benchmarks/results/*.json`` and the
figures beside them): reading them takes a second. With ``reprlab tour --full`` it first runs every
script of ``benchmarks/`` at its real settings (hours on a CPU, minutes to an hour on a GPU), each
in its own process writing into ``<out>/benchmarks/`` (``REPRLAB_BENCH_RESULTS``; the committed
files are left alone), and shows those. A benchmark that fails is named with the end of its log;
the others still run. Listed last in :data:`reprlab.report.tour.SECTIONS`.

Each row's id (:func:`~reprlab.report.sections.metric_values`) is ``<name>.<headline key>``, or
``<name>.published.<key>`` for the papers' numbers, or ``<name>.unreadable``.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

from ..errors import UsageError
from ..files import ensure_dir, output_error
from ..viz.html import Section
from .sections import TourContext, add_metric, tour_section

log = logging.getLogger("reprlab")

# The lecture's order; scripts not named here run after these, alphabetically.
ORDER = ["ae_pca", "sdae_mnist", "msda_amazon", "msda_speed", "tsne", "oneshot_omniglot", "vae_mnist",
         "style_transfer", "gan_toy", "gan_mnist", "aae_mnist", "tempered_mnist", "train_throughput", "gan_throughput"]
PAPER_KEYS = ("paper", "published")  # top-level keys of a result holding the papers' numbers


def benchmarks_dir() -> Path | None:
    """The ``benchmarks/`` folder: ``$REPRLAB_BENCHMARKS``, else the checkout this package was
    installed from (``pip install -e``), else ``./benchmarks``; None when there is none."""
    env = os.environ.get("REPRLAB_BENCHMARKS")
    candidates = [Path(env)] if env else [Path(__file__).resolve().parents[3] / "benchmarks", Path.cwd() / "benchmarks"]
    return next((c for c in candidates if c.is_dir() and any(c.glob("*.py"))), None)


def benchmark_names(folder: Path, only: list[str] | None = None) -> list[str]:
    """The benchmark scripts of ``folder`` (``<name>.py``, not ``_*.py``) in the lecture's order."""
    found = sorted(p.stem for p in folder.glob("*.py") if not p.name.startswith("_"))
    names = [n for n in ORDER if n in found] + [n for n in found if n not in ORDER]
    if only:
        unknown = [n for n in only if n not in found]
        if unknown:
            raise UsageError(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(names)}")
        names = [n for n in names if n in only]
    return names


def run_benchmarks(folder: Path, names: list[str], results: Path, data_dir: str | None) -> dict[str, str]:
    """Run each ``folder/<name>.py`` with its default (real) settings, one process each, its working
    folder and results in ``results``; its output goes to ``results/<name>.log``.
    Returns ``{name: error}`` for those that failed."""
    ensure_dir(results)
    env = dict(os.environ, REPRLAB_BENCH_RESULTS=str(results.resolve()))
    if data_dir:
        env["REPRLAB_DATA"] = str(data_dir)
    errors = {}
    for i, name in enumerate(names, 1):
        log_path = results / f"{name}.log"
        log.info(f"    benchmark {i}/{len(names)}: {name} (log: {log_path}) ...")
        t0 = time.perf_counter()
        # The log is streamed by the benchmark's process while it runs (for hours: `tail -f` shows where it is),
        # so it is a plain file, not one renamed into place at the end; a log cut short by a full disk is still
        # the log of what ran. Failing to create it is one line.
        try:
            f = open(log_path, "w")
        except OSError as e:
            raise output_error(log_path, e, "create") from None
        with f:
            rc = subprocess.run([sys.executable, str((folder / f"{name}.py").resolve())], cwd=results, env=env,
                                stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL).returncode
        took = time.perf_counter() - t0
        if rc != 0:
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-8:])
            errors[name] = f"{name}: exit status {rc} after {took:.0f} s; the end of {log_path.name}:\n{tail}"
        log.info(f"    benchmark {name}: {'failed' if rc else 'done'} in {took:.0f} s")
    return errors


def _target_text(target) -> str:
    if isinstance(target, dict):
        return f"target {target.get('target')}: {'met' if target.get('met') else 'NOT met'}"
    return f"target {target}"


def _compact(value, limit: int = 400) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fill_from_results(s: Section, results: Path, names: list[str]) -> int:
    """One block of rows per ``results/<name>.json``: each headline number with its target (and
    whether it was met), the papers' numbers the result records, how and where it was run; its
    figures (``<name>.png``, ``<name>_*.png``). Returns the number of results shown."""
    shown = 0
    for name in names:
        path = results / f"{name}.json"
        if not path.is_file():
            continue
        try:
            record = json.loads(path.read_text())
            headline, targets = record["headline"], record.get("targets") or {}
        except (ValueError, KeyError, TypeError) as e:
            add_metric(s, f"{name}.unreadable", f"{name}", "unreadable", f"{path.name}: {e}")
            continue
        shown += 1
        machine = record.get("machine") or {}
        s.settings[name] = (f"{record.get('command', '?')} — {record.get('date', '?')}, git {str(record.get('git', '?'))[:10]}, "
                            f"{machine.get('gpu') or machine.get('cpu', '?')}")
        for key, value in headline.items():
            ref = _target_text(targets[key]) if key in targets else ""
            add_metric(s, f"{name}.{key}", f"{name}: {key}", value, ref)
        for key, value in record.items():
            if any(k in key.lower() for k in PAPER_KEYS):
                add_metric(s, f"{name}.published.{key}", f"{name}: {key}", "published", _compact(value))
        for png in sorted([*results.glob(f"{name}.png"), *results.glob(f"{name}_*.png")]):
            s.figures.append((f"{name}: {png.name}", png))
    return shown


@tour_section("benchmarks", "Benchmarks: the real settings, against the papers' numbers and the targets")
def benchmarks(ctx: TourContext, s: Section) -> None:
    folder = benchmarks_dir()
    if folder is None:
        s.summary = ("Skipped: no benchmarks/ folder (it is in a checkout of the repository; set REPRLAB_BENCHMARKS "
                     "to it). The other sections ran.")
        if ctx.full:
            raise UsageError("--full runs the scripts of benchmarks/, which is not here: run the tour from a checkout "
                             "of the repository or set REPRLAB_BENCHMARKS to its benchmarks/ folder")
        return
    names = benchmark_names(folder, ctx.benchmarks)
    if ctx.full:
        results = ctx.out / "benchmarks"
        s.summary = (f"`--full`: every benchmark of {folder} ran here at its real settings, one process each; results, "
                     f"figures and logs are in {results}. Each headline number is shown with its target; a target not "
                     "met is reported as it came out.")
        errors = run_benchmarks(folder, names, results, ctx.data_dir)
    else:
        results, errors = folder / "results", {}
        s.summary = (f"The committed results of {folder} (run `reprlab tour --full` to run them all again here, at "
                     "their real settings: hours on a CPU). Each headline number is shown with its target; a target "
                     "not met is reported as it came out. The commands, dates and machines are in the first table.")
    fill_from_results(s, results, names)
    if errors:
        raise RuntimeError(f"{len(errors)} of {len(names)} benchmarks failed (the others are shown above):\n\n"
                           + "\n\n".join(errors.values()))
