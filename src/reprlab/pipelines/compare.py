"""The pipeline behind ``reprlab compare`` (and ``reprlab.compare``): every method's codes of
the same data at the same code size, scored by the same probes, over several seeds.

For each method (:mod:`.compare_methods`: ``raw``, ``pca``, any registered family or alias, a
run folder) and each seed, the method is fit on the training split and encodes the training and
test splits; the probes (:mod:`reprlab.eval.probes`) then read the codes:

- ``linear_<n>``: a linear probe (logistic regression, C by cross-validation on the labelled
  training codes only, or on a stratified sample of ``cv_labels`` of them) on ``n`` stratified,
  seeded training labels (``all``: every one), scored on the test codes;
- ``knn5``: 5-NN accuracy of the test codes against the training codes; ``knn5_loo``:
  leave-one-out 5-NN accuracy within the test codes;
- ``fewshot_<N>w<k>s``: N-way k-shot accuracy with cosine prototypes on the codes of
  ``fewshot_data`` (all of it, less the classes of the training data: held-out classes; for
  Omniglot's small1 / background sets by default the other set, :data:`FEWSHOT_DATA`), else on the
  test codes (held-out drawings of seen classes), where they have N classes with k + 1 examples;
  n/a otherwise (digits);
- ``robust_<corruption>``: the all-labels linear probe, trained on clean codes, scored on the
  codes of corrupted test inputs (:mod:`reprlab.data.corruptions`);
- ``tsne_T10``: trustworthiness T(10) of a t-SNE map of (at most ``map_points``) test codes;
- cost: ``train_seconds``, ``encode_per_s`` (test inputs encoded per second), ``code_size``.

A cell is the mean ± std (sample standard deviation, n − 1) over the seeds, or a failure with
its one-line reason (the other methods and cells still run), or n/a with the reason. The output
folder holds ``compare.json``, ``compare.csv``, ``config.json``, ``table.png`` (methods x
probes coloured by rank), ``maps.png`` (the t-SNE maps side by side) and ``index.html``.

``data="amazon-reviews"`` (no domain) asks for the Amazon reviews' transfer table instead, on the
``tasks`` (source, target) (:mod:`.compare_transfer`: each representation fit on source + target,
a linear probe trained on source labels, scored on the target), in the same files.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..data import load_dataset
from ..data.base import TensorData
from ..errors import ReprlabError, UsageError
from ..files import ensure_dir
from .compare_methods import Method, Run, make_method
from .compare_output import write_outputs
from .compare_probes import FEWSHOT_DATA, GROUPS, Missing, Probe, Settings, aggregate, held_out, measure

log = logging.getLogger("reprlab")

#: methods compared when none are named
DEFAULT_METHODS = ("raw", "pca", "ae", "dae", "sdae", "vae", "aae", "siamese", "gan-d")


@dataclass
class CompareResult:
    """What :func:`compare` found: ``cells[method][probe]`` (``{"mean", "std", "n", "values"}``,
    ``{"error": reason}`` or ``{"na": reason}``), the ``failures`` (one per method and reason:
    ``{"method", "probes", "reason", "exit_code"}``), the ``methods`` info and the files written."""

    out: Path
    probes: list[Probe]
    cells: dict[str, dict[str, dict]]
    methods: dict[str, dict]
    failures: list[dict]
    settings: dict
    files: list[Path] = field(default_factory=list)
    #: what the page says the table measured, and the title of table.png (None: the probe table's)
    summary: str | None = None
    title: str | None = None

    @property
    def exit_code(self) -> int:
        """0 when every cell has a number or is n/a; 2 when a failure is bad input; else 1."""
        codes = {f["exit_code"] for f in self.failures}
        return 0 if not codes else 2 if 2 in codes else 1

    def failure_lines(self) -> list[str]:
        """One line per failure: ``METHOD[ (probe, probe)]: reason``."""
        every = len(self.probes)
        return [f"{f['method']}{'' if len(f['probes']) == every else ' (' + ', '.join(f['probes']) + ')'}: {f['reason']}"
                for f in self.failures]


def _split_data(data: str, data_dir, seed: int) -> tuple[TensorData, TensorData]:
    train, test = (load_dataset(data, split=s, data_dir=data_dir, seed=seed) for s in ("train", "test"))
    if not isinstance(train, TensorData):
        raise UsageError(f"{data} is a collection of tasks, not of samples; compare a data set of samples (e.g. omniglot)")
    return train, test


def compare(
    data: str = "digits", methods: Sequence[str] | None = None, *, out: str | os.PathLike | None = None,
    runs: Sequence[str | os.PathLike] = (), code_size: int = 32, seeds: Sequence[int] = (0, 1, 2),
    steps: int | None = None, options: dict[str, dict[str, Any]] | None = None, probes: Sequence[str] | None = None,
    labels: Sequence[int | str | None] = (100, 1000, "all"), fewshot_data: str | None = None, fewshot_way: int = 20,
    corruptions: Sequence[str] = ("masking:0.25", "gaussian:0.2"), map_points: int = 2000, tsne_iter: int = 750,
    data_dir: str | None = None, keep_runs: bool = False, cv_labels: int | None = None,
    tasks: Sequence[Sequence[str]] | None = None,
) -> CompareResult:
    """Compare ``methods`` (default :data:`DEFAULT_METHODS`, or ``raw,pca`` beside ``runs``) on
    ``data`` at ``code_size``, over ``seeds`` (see the module docstring), and write the folder
    ``out`` (default ``runs/compare-<data>``).

    ``steps`` sets every learned method's ``train.max_steps``; ``options[method]`` are its
    ``key=value`` overrides (they win over the budget); ``probes`` picks groups of :data:`GROUPS`;
    ``labels`` the linear probe's label budgets (``all``: every training label); ``cv_labels``: the
    linear probe chooses C on at most this many of its labelled codes (None: all), then refits on
    all of them (:func:`reprlab.eval.probes.fit_linear_probe`); ``keep_runs``
    keeps each training run in ``out/runs/<method>-seed<s>/``. Bad arguments raise a one-line
    :class:`UsageError`; a method or cell that fails is recorded in the result (see
    :attr:`CompareResult.exit_code`) and the others still run.

    ``data="amazon-reviews"``: the transfer table of :func:`~.compare_transfer.compare_transfer`
    on ``tasks``, ``(source, target)`` pairs of books, dvd, elec, kitchen (default: the 12 pairs),
    e.g. ``compare("amazon-reviews", ["raw", "msda", "ae"], tasks=[("books", "kitchen")])``;
    ``probes`` then picks among transfer, indomain, cost, and ``labels``, ``fewshot_*``,
    ``corruptions``, ``map_points`` and ``tsne_iter`` do not apply."""
    from .compare_transfer import TRANSFER_DATA, compare_transfer

    if data == TRANSFER_DATA:
        return compare_transfer(methods, tasks=tasks, out=out, runs=runs, code_size=code_size, seeds=seeds, steps=steps,
                                options=options, probes=probes, data_dir=data_dir, keep_runs=keep_runs,
                                cv_labels=cv_labels)
    if tasks is not None:
        raise UsageError(f"tasks (source, target) are the domain pairs of the transfer table: use "
                         f"data={TRANSFER_DATA!r}, not {data!r}")
    settings = _settings(probes, labels, fewshot_data, fewshot_way, corruptions, map_points, tsne_iter, cv_labels)
    seeds = _check_args(code_size, seeds, methods, runs, steps)
    methods = list(methods if methods is not None else (("raw", "pca") if runs else DEFAULT_METHODS))
    stray = sorted(set(options or {}) - set(methods))
    if stray:
        raise UsageError(f"options are given for {stray[0]!r}, which is not among the methods compared ({', '.join(methods)})")
    out = ensure_dir(Path(out) if out is not None else Path("runs") / f"compare-{Path(data.replace(':', '-')).stem}")
    splits = {seeds[0]: _split_data(data, data_dir, seeds[0])}  # a missing data set: one line, before any method
    fewshot_set = None
    fewshot_data = settings.fewshot_data or FEWSHOT_DATA.get(data)
    if fewshot_data and "fewshot" in settings.groups:  # classes the training data do not have
        fewshot_set = held_out(load_dataset(fewshot_data, split="all", data_dir=data_dir, seed=seeds[0]),
                               splits[seeds[0]][0].classes)
        settings.fewshot_data = fewshot_data
    plist = settings.probes()
    cells, infos, maps, failures = {}, {}, {}, []
    entries = [(m, None) for m in methods] + [(_run_name(r, methods), r) for r in runs]
    for name, run in entries:
        t0 = time.perf_counter()
        try:
            method = Run(name, run) if run is not None else make_method(
                name, data=data, data_dir=data_dir, steps=steps, options=(options or {}).get(name),
                run_root=out / "runs" if keep_runs else None)
        except ReprlabError as e:  # no such method, or one without codes: every cell fails with the reason
            method, per_seed = None, [_all_failed(plist, str(e), e.exit_code)]
        else:
            per_seed = _run_seeds(method, data, data_dir, seeds, splits, settings, code_size, fewshot_set, maps)
        cells[name] = aggregate(per_seed, plist)
        infos[name] = {**(method.info if method is not None else {"kind": "unknown"}), "seconds": time.perf_counter() - t0}
        failures += _failures(name, per_seed, plist)
        log.info(f"compare: {name} done in {infos[name]['seconds']:.1f} s")
    record = _record(settings, data=data, data_dir=data_dir, code_size=code_size, seeds=seeds, methods=[e[0] for e in entries],
                     runs=[str(r) for r in runs], steps=steps, options=options or {}, keep_runs=keep_runs)
    result = CompareResult(out, plist, cells, infos, failures, record)
    result.files = write_outputs(result, maps, splits[seeds[0]])
    return result


def _record(settings: Settings, **arguments) -> dict:
    """What compare.json and config.json state about the comparison: the arguments and the probes' settings."""
    s = settings
    return {**arguments, "probes": list(s.groups), "labels": [n or "all" for n in s.labels],
            "fewshot": {"data": s.fewshot_data, "way": s.fewshot_way, "shots": list(s.fewshot_shots), "tasks": s.fewshot_tasks},
            "corruptions": list(s.corruptions), "map_points": s.map_points, "tsne_iter": s.tsne_iter,
            "cv_labels": s.cv_labels}


def _all_failed(probes: list[Probe], reason: str, exit_code: int) -> dict[str, Missing]:
    return {p.name: Missing("failed", reason, exit_code) for p in probes}


def _run_seeds(method: Method, data, data_dir, seeds, splits, settings, code_size, fewshot_set, maps) -> list[dict]:
    """``measure`` of ``method`` for each seed; a failure of the method itself fails every cell
    and ends its seeds (the same error would come again)."""
    per_seed = []
    for seed in seeds:
        s = method.data_seed(seed)
        if s not in splits:
            splits[s] = _split_data(data, data_dir, s)
        train, test = splits[s]
        try:
            codes = method.fit(seed, train, code_size)
            values, the_map = measure(codes, train, test, settings, seed, code_size=code_size if method.sized else None,
                                      fewshot_set=fewshot_set)
        except ReprlabError as e:
            per_seed.append(_all_failed(settings.probes(), str(e), e.exit_code))
            break
        except Exception as e:  # a bug or a broken run: one line in the table, the traceback in the log
            log.debug("compare: %s failed", method.name, exc_info=True)
            reason = f"{type(e).__name__}: {(str(e).strip().splitlines() or [''])[0][:200]}"
            per_seed.append(_all_failed(settings.probes(), reason, 1))
            break
        per_seed.append(values)
        if the_map is not None and seed == seeds[0] and s == seeds[0]:
            maps[method.name] = (*the_map, values.get("tsne_T10"))
        shown = ", ".join(f"{k} {v:.3f}" for k, v in values.items() if isinstance(v, float) and k.startswith(("linear_all", "knn")))
        log.info(f"compare: {method.name} seed {seed}: {shown}")
    return per_seed


def _failures(name: str, per_seed: list[dict], probes: list[Probe]) -> list[dict]:
    """One record per distinct reason among the method's failed cells (first seed that failed)."""
    by_reason: dict[str, dict] = {}
    for p in probes:
        miss = next((r[p.name] for r in per_seed if isinstance(r.get(p.name), Missing) and r[p.name].status == "failed"), None)
        if miss is not None:
            rec = by_reason.setdefault(miss.reason, {"method": name, "probes": [], "reason": miss.reason,
                                                     "exit_code": miss.exit_code})
            rec["probes"].append(p.name)
    return list(by_reason.values())


def _run_name(path, taken: Sequence[str]) -> str:
    name, i = Path(path).name or str(path), 2
    base = name
    while name in taken:
        name, i = f"{base}-{i}", i + 1
    return name


def _check_args(code_size: int, seeds: Sequence[int], methods, runs, steps) -> list[int]:
    if code_size < 1:
        raise UsageError(f"the code size must be at least 1, got {code_size}")
    if steps is not None and steps < 1:
        raise UsageError(f"training steps must be at least 1, got {steps}")
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise UsageError(f"give one or more distinct seeds, got {seeds}")
    if methods is not None and not methods and not runs:
        raise UsageError("no methods to compare: name some (e.g. raw,pca,ae) or give run folders")
    if methods is not None and len(set(methods)) != len(methods):
        raise UsageError(f"a method is named twice in {', '.join(methods)}")
    return seeds


def _settings(probes, labels, fewshot_data, fewshot_way, corruptions, map_points, tsne_iter, cv_labels=None) -> Settings:
    from ..data.corruptions import parse_corruption

    groups = tuple(probes) if probes is not None else GROUPS
    bad = [g for g in groups if g not in GROUPS]
    if bad or not groups:
        raise UsageError(f"unknown probe group {bad[0] if bad else '(none)'!r}; choose among {', '.join(GROUPS)}")
    budgets = []
    for n in labels:
        if n is None or str(n) == "all":
            budgets.append(None)
        elif isinstance(n, (int, np.integer)) and n >= 1 or str(n).isdigit() and int(n) >= 1:
            budgets.append(int(n))
        else:
            raise UsageError(f"a label budget is a positive number of labels or 'all', got {n!r}")
    for spec in corruptions:
        parse_corruption(spec, "corruption")
    if fewshot_way < 2:
        raise UsageError(f"few-shot tasks need at least 2 classes (way), got {fewshot_way}")
    if cv_labels is not None and cv_labels < 2:
        raise UsageError(f"cv_labels must be at least 2 (C is chosen on that many labelled codes), got {cv_labels}")
    if map_points < 25:
        raise UsageError(f"a map needs at least 25 points, got map_points={map_points}")
    return Settings(groups=groups, labels=tuple(dict.fromkeys(budgets)), fewshot_way=fewshot_way,
                    fewshot_data=fewshot_data, corruptions=tuple(corruptions), map_points=map_points, tsne_iter=tsne_iter,
                    cv_labels=cv_labels)
