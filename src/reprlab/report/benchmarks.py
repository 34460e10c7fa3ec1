"""The tour's next-to-last section: the benchmarks' results next to their targets and the papers' numbers.

By default it shows the committed results of a checkout (``benchmarks/results/*.json`` and the
figures beside them): reading them takes a second. With ``reprlab tour --full`` it first runs every
script of ``benchmarks/`` at its real settings (hours on a CPU, minutes to an hour on a GPU), each
in its own process writing into ``<out>/benchmarks/`` (``REPRLAB_BENCH_RESULTS``; the committed
files are left alone), and shows those. A benchmark that fails is named with the end of its log;
the others still run. Listed before the comparison of representations (the tour's last section) in
:data:`reprlab.report.tour.SECTIONS`.

Each row's id (:func:`~reprlab.report.sections.metric_values`) is ``<name>.<headline key>``, or
``<name>.missing`` (no result: the row says which command writes it), or ``<name>.unreadable``. The
papers' numbers a result records are a table per benchmark (:func:`paper_rows`, :func:`paper_table`).
"""

from __future__ import annotations

import json
import logging
import os
import re
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
         "style_transfer", "gan_toy", "gan_mnist", "aae_mnist", "tempered_mnist", "representations", "train_throughput",
         "gan_throughput"]
#: the words that name a result's entries holding the papers' numbers (top level or in ``settings``)
PAPER_KEYS = ("paper", "published", "anchor", "lecture_table")
PAPER_HEADER = ("metric", "paper", "value (ours)", "target", "source")
#: a paper's label -> our comparable headline key, where the names differ (else they are matched by name)
SAME_AS = {"oneshot_omniglot": {"Convolutional Siamese Net": "lake20_accuracy",
                                "1-Nearest Neighbor": "pixel_1nn_cosine_accuracy"}}


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


def _compare(target: str, value) -> bool | None:
    """Whether ``value`` meets a target written ``">= 0.9"`` (``<=``, ``==``, ``>``, ``<``); None
    when the target is not such a comparison with a number (``">= avg_target_acc_raw + 0.04"``)."""
    m = re.fullmatch(r"\s*(>=|<=|==|>|<)\s*(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*", target)
    if m is None or not _is_number(value):
        return None
    bound = float(m.group(2))
    return {">=": value >= bound, "<=": value <= bound, "==": value == bound, ">": value > bound, "<": value < bound}[m.group(1)]


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def result_targets(record: dict) -> dict[str, tuple[str, bool | None]]:
    """``{headline key: (target, met)}`` from a result's ``targets`` (``{key: {"target", "value",
    "met"}}``, or ``{key: ">= 0.9"}`` with ``targets_met`` or read off the headline value) or its
    single ``target`` (``{key: value, "met": bool}``); ``met`` is None where neither says."""
    headline, met_of = record.get("headline") or {}, record.get("targets_met") or {}
    raw = dict(record.get("targets") or {})
    single = record.get("target")
    if isinstance(single, dict):
        raw.update({k: {"target": v, "met": single.get("met")} for k, v in single.items() if k != "met" and k not in raw})
    out = {}
    for key, t in raw.items():
        if isinstance(t, dict):
            out[key] = (str(t.get("target", "?")), t.get("met"))
        else:
            out[key] = (str(t), met_of[key] if key in met_of else _compare(str(t), headline.get(key)))
    return out


def _target_text(target: tuple[str, bool | None]) -> str:
    text, met = target
    return f"target {text}" if met is None else f"target {text}: {'met' if met else 'NOT met'}"


def _norm(text) -> str:
    """A key or label reduced for matching: its lower-case words, less those that only say where
    the number comes from (``published_nll_nats`` -> ``nllnats``, ``hq_percent`` -> ``hq``)."""
    words = re.split(r"[^a-z0-9]+", str(text).lower())
    return "".join(w for w in words if w not in ("paper", "papers", "published", "anchor", "anchors", "percent"))


def _our_key(name: str, label: list[str], headline: dict) -> str | None:
    """The headline key comparable to a paper's number labelled ``label``: the one named in
    :data:`SAME_AS`, else the only key whose name holds every part of the label (``test_error /
    SdA-3`` -> ``test_error_sda3``); None when none or several do."""
    if label and label[-1] in SAME_AS.get(name, {}):
        key = SAME_AS[name][label[-1]]
        return key if key in headline else None
    parts = [p for p in map(_norm, label) if p and not p.isdigit()]  # not a list's positions
    found = [k for k in headline if parts and all(p in _norm(k) for p in parts)]
    return found[0] if len(found) == 1 else None


def paper_rows(record: dict, name: str = "") -> list[dict]:
    """The papers' numbers a result records, one row each: ``{"metric", "paper" (a number, or None
    for a note), "ours" (the comparable headline key, or None), "source", "percent"}``.

    The numbers are the entries named like :data:`PAPER_KEYS` at the top of the JSON or in its
    ``settings``, of any shape: a number (``published_nll_nats``), a string (a citation or a note),
    a dict nested to any depth (``paper: {"test_error": {"SdA-3": 0.0128}}``,
    ``published_veegan_table1: {"ring8": {"GAN": {"modes": 1.0}}}``), a list. A string under
    ``source`` (or ``paper``, ``published``) is the citation of the numbers beside and under it;
    otherwise the entry's own key is. The result's top-level ``note`` is a row too."""
    headline = record.get("headline") or {}
    rows: list[dict] = []

    def walk(label: list[str], value, source: str, percent: bool) -> None:
        if isinstance(value, dict):
            cite = next((value[k] for k in ("source", *PAPER_KEYS) if isinstance(value.get(k), str)), None)
            before = len(rows)
            for k, v in value.items():
                if isinstance(v, str) and v == cite:
                    continue
                walk([*label, str(k)], v, cite or source, percent or "percent" in str(k))
            if cite is not None and len(rows) == before:  # a citation with no number of its own
                rows.append({"metric": " / ".join(label) or "paper", "paper": None, "ours": None, "source": cite,
                             "percent": False})
        elif isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
            for i, v in enumerate(value):  # an item is labelled by its name, else its position
                named = next((k for k in ("name", "method", "model") if isinstance(v, dict) and isinstance(v.get(k), str)), None)
                walk([*label, v[named] if named else f"[{i}]"],
                     {k: x for k, x in v.items() if k != named} if named else v, source, percent)
        elif _is_number(value):
            rows.append({"metric": " / ".join(label), "paper": value, "ours": _our_key(name, label, headline),
                         "source": source, "percent": percent})
        else:  # a note: text, a list of plain values, a yes / no
            text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
            rows.append({"metric": " / ".join(label), "paper": None, "ours": None, "source": text, "percent": False})

    settings = record.get("settings") if isinstance(record.get("settings"), dict) else {}
    entries = {k: v for k, v in [*record.items(), *settings.items()] if any(w in k.lower() for w in PAPER_KEYS)}
    if isinstance(record.get("note"), str):
        entries["note"] = record["note"]
    cite = next((entries[k] for k in PAPER_KEYS if isinstance(entries.get(k), str)), None)
    for key, value in entries.items():
        if isinstance(value, str) and value == cite and any(_is_number(v) for v in entries.values()):
            continue  # the citation of the numbers beside it (settings.published of vae_mnist)
        if isinstance(value, dict) or (isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value)):
            # a table: its rows are labelled by its own keys (or items), its name is the source
            walk([], value, key, "percent" in key)
        else:
            walk([key], value, cite or key, "percent" in key)
    return rows


def _shown(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def paper_table(record: dict, name: str) -> list[list]:
    """The cells of a result's table of the papers' numbers (:data:`PAPER_HEADER`): each paper's
    number next to ours where the keys correspond ("—" where we have none), with our target."""
    headline, targets = record.get("headline") or {}, result_targets(record)
    cells = []
    for r in paper_rows(record, name):
        key = r["ours"]
        paper = "—" if r["paper"] is None else f"{r['paper']:g} %" if r["percent"] else _shown(r["paper"])
        ours = "—" if not key else f"{_shown(headline[key])} ({key})"
        if key and r["percent"] and _is_number(headline[key]) and abs(headline[key]) <= 1:  # a fraction vs a percent
            ours = f"{100 * headline[key]:.4g} % ({key} = {_shown(headline[key])})"
        text, met = targets.get(key, ("", None))
        target = ("—" if not text else f"{text}: {'met' if met else 'NOT met'}" if met is not None else text,
                  "" if met is None else "ok" if met else "failed")
        cells.append([r["metric"], paper, ours, target, r["source"]])
    return cells


def fill_from_results(s: Section, results: Path, names: list[str]) -> int:
    """One block of rows per ``results/<name>.json``: each headline number with its target (and
    whether it was met), a table of the papers' numbers the result records next to ours, how and
    where it was run; its figures (``<name>.png``, ``<name>_*.png``). A benchmark without a result
    is a row with the command that writes it. Returns the number of results shown."""
    shown = 0
    for name in names:
        path = results / f"{name}.json"
        if not path.is_file():
            add_metric(s, f"{name}.missing", name, "not run",
                       f"no {path.name} in {results}: `python benchmarks/{name}.py` (from the repository's root) writes it")
            continue
        try:
            record = json.loads(path.read_text())
            headline, targets = record["headline"], result_targets(record)
            papers = paper_table(record, name)
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            add_metric(s, f"{name}.unreadable", f"{name}", "unreadable", f"{path.name}: {e}")
            continue
        shown += 1
        machine = record.get("machine") or {}
        s.settings[name] = (f"{record.get('command', '?')} — {record.get('date', '?')}, git {str(record.get('git', '?'))[:10]}, "
                            f"{machine.get('gpu') or machine.get('cpu', '?')}")
        for key, value in headline.items():
            add_metric(s, f"{name}.{key}", f"{name}: {key}", value, _target_text(targets[key]) if key in targets else "")
        if papers:
            s.tables.append((f"{name}: the papers' numbers next to ours", list(PAPER_HEADER), papers))
        for png in sorted([*results.glob(f"{name}.png"), *results.glob(f"{name}_*.png")]):
            s.figures.append((f"{name}: {png.name}", png))
    return shown


@tour_section("benchmarks", "Benchmarks: the real settings, against the papers' numbers and the targets")
def benchmarks(ctx: TourContext, s: Section) -> None:
    folder = benchmarks_dir()
    if folder is None:
        s.summary = ("Skipped: no benchmarks/ folder (it is in a checkout of the repository): "
                     "`REPRLAB_BENCHMARKS=<checkout>/benchmarks reprlab tour --only benchmarks` shows its committed "
                     "results. The other sections ran.")
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
                     "not met is reported as it came out. The commands, dates and machines are in the first table; the "
                     "papers' numbers each result records are in a table per benchmark, next to ours.")
    fill_from_results(s, results, names)
    if errors:
        raise RuntimeError(f"{len(errors)} of {len(names)} benchmarks failed (the others are shown above):\n\n"
                           + "\n\n".join(errors.values()))
