r"""The Amazon reviews' transfer table of ``reprlab compare --data amazon-reviews`` (and
``reprlab.compare("amazon-reviews", tasks=[("books", "kitchen")])``): each representation
learnt without labels on a source and a target domain, read by a linear probe trained on the
source's labels and scored on the target (the protocol of :mod:`reprlab.eval.domain_adaptation`,
Glorot, Bordes & Bengio 2011; Chen et al. 2012).

A task is a pair of domains ``(source, target)`` of :data:`reprlab.eval.domain_adaptation.DOMAINS`
(default: its 12 :data:`~reprlab.eval.domain_adaptation.TASKS`; on the command line ``--source``
and ``--target``, a domain or ``all``, as for ``reprlab da``). For each method, task and seed
:math:`s`, with :math:`S_{tr}`, :math:`T_{tr}`, :math:`T_{te}` the seeded, stratified 80/20
splits of the source and target reviews (``amazon-reviews:DOMAIN``, seed :math:`s`):

1. the representation :math:`r` is fit on the unlabelled inputs :math:`S_{tr} \cup T_{tr}`
   (``amazon-reviews:SOURCE+TARGET``'s training split, its labels removed): ``raw`` (none: the
   400 features), ``pca``, ``msda`` (:class:`reprlab.MSDA`, closed form, :math:`[x; h_1..h_L]`),
   ``sda`` (:class:`~reprlab.pipelines.sda.StackedDAETransformer`: the same stack trained by
   gradient descent), both built by :func:`~reprlab.pipelines.domain_adaptation.make_representation`
   with :data:`TRANSFORMERS`' settings, or a registered family (``ae``, ``dae``, ...) trained by
   :func:`~reprlab.pipelines.training.train_run` on that data set with its compare budget
   (:mod:`.compare_methods`); a family that needs labels fails its row (the representations see none);
2. ``transfer_<source>-><target>``: the linear probe (:func:`reprlab.eval.probes.fit_linear_probe`:
   logistic regression on standardized codes, C by 3-fold cross-validation on the labelled
   *source* codes :math:`r(S_{tr})` only) trained on :math:`r(S_{tr})`, its accuracy on
   :math:`r(T_{te})`; ``transfer_mean``: its mean over the tasks;
3. ``indomain_<source>-><target>``: the in-domain baseline with the same representation, the
   probe trained on the target's labelled :math:`r(T_{tr})` and scored on the same
   :math:`r(T_{te})` (so that ``indomain - transfer`` is the transfer loss); ``indomain_mean``;
4. cost: ``train_seconds`` (the representation fits of the seed, summed over the tasks),
   ``encode_per_s`` (target test reviews encoded per second), ``code_size``.

Target labels score and do nothing else; the test reviews :math:`T_{te}` are seen by no fit.
A cell is the mean ± std over the seeds; the files are those of the probe table
(:mod:`.compare_output`).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..data import load_dataset
from ..data.base import TensorData
from ..errors import ReprlabError, UsageError
from ..eval.domain_adaptation import DOMAINS, TASKS
from ..files import ensure_dir
from .compare import CompareResult, _check_args, _failures
from .compare_methods import BASELINES, Codes, Family, Method, _plain, make_method, method_names
from .compare_output import write_outputs
from .compare_probes import Missing, Probe, aggregate

log = logging.getLogger("reprlab")

#: the data name that asks ``compare`` for the transfer table
TRANSFER_DATA = "amazon-reviews"
#: methods of the transfer table when none are named
TRANSFER_METHODS = ("raw", "msda", "sda", "ae", "dae")
#: its probe groups, in table order
TRANSFER_GROUPS = ("transfer", "indomain", "cost")
#: the representations of ``reprlab da`` (:func:`~reprlab.pipelines.domain_adaptation.make_representation`)
#: and their settings here, over which ``options[name]`` win. mSDA: its class's corruption p = 0.5
#: and L = 3 layers, the depth ``benchmarks/msda_amazon.py`` chose on source labels in 7 of 12 tasks
#: (fixed: ``reprlab da``'s choice on source labels costs 3-4 CPU-minutes a task). SDA: one
#: 400-unit tanh DAE layer of the same masking noise, 500 Adam steps of 64 (its other defaults)
TRANSFORMERS: dict[str, dict[str, Any]] = {
    "msda": {"p": 0.5, "n_layers": 3},
    "sda": {"hidden": (400,), "noise": "masking:0.5", "steps": 500},
}


class Transformer(Method):
    r"""``msda`` or ``sda``: the scikit-learn transformer of :func:`make_representation` with
    ``params``, fit on the training inputs (its seed set to the comparison's); codes are its
    ``transform``, :math:`[x; h_1; \dots; h_L]` (their own size, like ``raw``)."""

    kind, sized = "transformer", False

    def __init__(self, name: str, params: dict[str, Any]):
        from .domain_adaptation import make_representation

        super().__init__(name)
        known = make_representation(name).get_params()
        bad = sorted(set(params) - set(known))
        if bad:
            raise UsageError(f"{name} has no option {bad[0]!r}; its options: {', '.join(sorted(known))}")
        self.params = dict(params)
        self.seed_key = "seed" if "seed" in known else "random_state"
        self.info.update(options=_plain(self.params))

    def fit(self, seed, train, code_size):
        from .domain_adaptation import make_representation

        rep = make_representation(self.name, **{self.seed_key: seed, **self.params})
        t0 = time.perf_counter()
        try:
            rep.fit(_features(train.x))
        except (TypeError, ValueError) as e:  # e.g. a corruption outside [0, 1): the estimator's own message
            raise UsageError(f"{self.name}: {(str(e).strip().splitlines() or [type(e).__name__])[0]}") from None
        seconds = time.perf_counter() - t0
        return Codes(lambda x: np.asarray(rep.transform(_features(x)), dtype=np.float64), seconds)


def _features(x) -> np.ndarray:
    return x.flatten(1).double().cpu().numpy()  # (N, 400)


def check_tasks(tasks: Sequence[Sequence[str]] | None) -> list[tuple[str, str]]:
    """``tasks`` as distinct ``(source, target)`` pairs of two different :data:`DOMAINS` (None:
    the 12 :data:`TASKS`), or a one-line error naming the bad pair."""
    if tasks is None:
        return list(TASKS)
    out = []
    for task in tasks:
        pair = (task,) if isinstance(task, str) else tuple(task)
        if len(pair) != 2:
            raise UsageError(f"a task is a (source, target) pair of domains, got {task!r}")
        bad = [d for d in pair if d not in DOMAINS]
        if bad:
            raise UsageError(f"unknown domain {bad[0]!r} in the task {pair[0]}->{pair[1]}; choose among "
                             f"{', '.join(DOMAINS)}")
        if pair[0] == pair[1]:
            raise UsageError(f"the task {pair[0]}->{pair[1]} has the same source and target: pick two different "
                             "domains")
        if pair in out:
            raise UsageError(f"the task {pair[0]}->{pair[1]} is named twice")
        out.append(pair)
    if not out:
        raise UsageError("no tasks: name one or more (source, target) pairs of domains, e.g. ('books', 'kitchen')")
    return out


def transfer_probes(tasks: Sequence[tuple[str, str]], groups: Sequence[str] = TRANSFER_GROUPS) -> list[Probe]:
    """The columns of the transfer table, group by group (see the module docstring)."""
    columns = {
        "transfer": [Probe(f"transfer_{s}->{t}", f"{s} labels -> {t} test reviews (linear probe)", "higher",
                           "transfer", (s, t)) for s, t in tasks]
                    + [Probe("transfer_mean", "transfer accuracy, mean over the tasks", "higher", "transfer")],
        "indomain": [Probe(f"indomain_{s}->{t}", f"in-domain: {t} labels -> {t} test reviews (representation of "
                           f"{s} + {t})", "higher", "indomain", (s, t)) for s, t in tasks]
                    + [Probe("indomain_mean", "in-domain accuracy, mean over the tasks", "higher", "indomain")],
        "cost": [Probe("train_seconds", "training seconds (all tasks)", "lower", "cost", "train_seconds"),
                 Probe("encode_per_s", "target test reviews encoded per second", "higher", "cost", "encode_per_s"),
                 Probe("code_size", "code size", None, "cost", "code_size")],
    }
    return [p for g in TRANSFER_GROUPS if g in groups for p in columns[g]]


def transfer_method_names() -> list[str]:
    """Every method the transfer table accepts: the baselines, ``msda``, ``sda``, the families."""
    names = method_names()
    return [*BASELINES, *TRANSFORMERS, *names[len(BASELINES):]]


def make_transfer_method(name: str, task: tuple[str, str], *, data_dir=None, steps=None, options=None,
                         run_root: Path | None = None) -> Method:
    """Method ``name`` for one task: a baseline, a :class:`Transformer`, or a family trained on
    ``amazon-reviews:SOURCE+TARGET`` (:func:`~.compare_methods.make_method`)."""
    if name in TRANSFORMERS:
        return Transformer(name, {**TRANSFORMERS[name], **(options or {})})
    if name not in method_names():
        raise UsageError(f"unknown method {name!r}; the transfer table takes {', '.join(transfer_method_names())}")
    return make_method(name, data=f"{TRANSFER_DATA}:{task[0]}+{task[1]}", data_dir=data_dir, steps=steps,
                       options=options, run_root=run_root)


class _Splits:
    """The seeded splits, loaded once: a domain's ``train`` / ``test`` split and a task's unlabelled
    training inputs (``amazon-reviews:SOURCE+TARGET``'s training split without its labels)."""

    def __init__(self, data_dir):
        self.data_dir, self.cache = data_dir, {}

    def get(self, name: str, split: str, seed: int) -> TensorData:
        key = (name, split, seed)
        if key not in self.cache:
            self.cache[key] = load_dataset(f"{TRANSFER_DATA}:{name}", split=split, data_dir=self.data_dir, seed=seed)
        return self.cache[key]

    def unlabelled(self, task: tuple[str, str], seed: int) -> TensorData:
        both = self.get(f"{task[0]}+{task[1]}", "train", seed)
        return replace(both, y=None, classes=None)


def _check_families_unlabelled(method: Method, train: TensorData, seed: int, code_size: int) -> None:
    """A family that refuses unlabelled data (it learns from labels: sdae's fine-tuning, siamese's
    pairs, a conditional aae) or vectors fails here, in one line, before any training."""
    if not isinstance(method, Family):
        return
    from .training import build_model

    rc = method.run_config(seed, code_size)  # a bad option: its own one-line error
    try:
        model = build_model(rc, train.sample_shape)
    except ReprlabError as e:
        raise UsageError(f"{method.name} cannot take the reviews' {train.sample_shape[0]}-feature vectors: "
                         f"{e}") from None
    except Exception as e:  # a network that cannot be built for vectors (e.g. a convolutional one)
        raise UsageError(f"{method.name} cannot take the reviews' {train.sample_shape[0]}-feature vectors "
                         f"({type(e).__name__}: {(str(e).strip().splitlines() or [''])[0][:160]}); use an MLP "
                         f"(e.g. --set {method.name}:model.arch=mlp)") from None
    try:
        model.check_data(train)
    except ReprlabError as e:
        raise UsageError(f"{method.name} needs labels ({e}), and the transfer table's representations see none: they "
                         "are fit on the unlabelled source + target reviews") from None


def _measure_task(codes: Codes, source: TensorData, target_train: TensorData, target_test: TensorData, seed: int,
                  groups: Sequence[str], cv_labels: int | None) -> dict[str, float]:
    """One task's numbers for one seed: ``transfer``, ``indomain`` (see the module docstring), the
    encoding throughput on the target's test reviews and the code size."""
    from ..eval.probes import fit_linear_probe

    t0 = time.perf_counter()
    z_test = codes.encode(target_test.x)  # (N_te, d)
    encode_s = time.perf_counter() - t0
    y_test = target_test.y.numpy()
    out = {"encode_s": encode_s, "n_test": len(z_test), "code_size": float(z_test.shape[1])}
    if "transfer" in groups:
        probe = fit_linear_probe(codes.encode(source.x), source.y.numpy(), seed=seed, cv_labels=cv_labels)
        out["transfer"] = probe.accuracy(z_test, y_test)
    if "indomain" in groups:
        probe = fit_linear_probe(codes.encode(target_train.x), target_train.y.numpy(), seed=seed, cv_labels=cv_labels)
        out["indomain"] = probe.accuracy(z_test, y_test)
    return out


def _seed_values(method_name: str, per_task: dict[tuple[str, str], dict], seconds: float | None) -> dict[str, float]:
    """The cells' values of one seed from its tasks' numbers."""
    values: dict[str, Any] = {}
    for group in ("transfer", "indomain"):
        accs = [r[group] for r in per_task.values() if group in r]
        if accs:
            values.update({f"{group}_{s}->{t}": r[group] for (s, t), r in per_task.items()})
            values[f"{group}_mean"] = float(np.mean(accs))
    values["train_seconds"] = seconds if seconds is not None else Missing("n/a", "unknown")
    encode_s = sum(r["encode_s"] for r in per_task.values())
    values["encode_per_s"] = sum(r["n_test"] for r in per_task.values()) / max(encode_s, 1e-9)
    values["code_size"] = float(np.mean([r["code_size"] for r in per_task.values()]))
    shown = ", ".join(f"{k} {v:.3f}" for k, v in values.items() if k.endswith("_mean"))
    log.info(f"compare: {method_name}: {shown}")
    return values


def _run_method(name, tasks, seeds, splits: _Splits, probes, groups, *, code_size, data_dir, steps, options, cv_labels,
                run_root) -> tuple[list[dict], dict]:
    """Every seed of one method over the tasks: (per-seed values, the method's info). A failure
    fails every cell and ends the method (the same error would come again)."""
    info: dict[str, Any] = {}
    per_seed, method = [], None
    for seed in seeds:
        per_task, seconds = {}, 0.0
        try:
            for source, target in tasks:
                runs = run_root / f"{source}-{target}" if run_root is not None else None
                method = make_transfer_method(name, (source, target), data_dir=data_dir, steps=steps, options=options,
                                              run_root=runs)
                train = splits.unlabelled((source, target), seed)
                _check_families_unlabelled(method, train, seed, code_size)
                codes = method.fit(seed, train, code_size)
                per_task[source, target] = _measure_task(
                    codes, splits.get(source, "train", seed), splits.get(target, "train", seed),
                    splits.get(target, "test", seed), seed, groups, cv_labels)
                seconds = None if seconds is None or codes.train_seconds is None else seconds + codes.train_seconds
                info = info or {**method.info, "tasks": [f"{s}->{t}" for s, t in tasks]}
        except ReprlabError as e:
            info = info or (method.info if method is not None else {"kind": "unknown"})
            per_seed.append({p.name: Missing("failed", str(e), e.exit_code) for p in probes})
            break
        except Exception as e:  # a bug or a broken fit: one line in the table, the traceback in the log
            log.debug("compare: %s failed", name, exc_info=True)
            info = info or (method.info if method is not None else {"kind": "unknown"})
            reason = f"{type(e).__name__}: {(str(e).strip().splitlines() or [''])[0][:200]}"
            per_seed.append({p.name: Missing("failed", reason, 1) for p in probes})
            break
        per_seed.append(_seed_values(f"{name} seed {seed}", per_task, seconds))
    return per_seed, info


def compare_transfer(
    methods: Sequence[str] | None = None, *, tasks: Sequence[Sequence[str]] | None = None,
    out: str | os.PathLike | None = None, runs: Sequence[str | os.PathLike] = (), code_size: int = 32,
    seeds: Sequence[int] = (0, 1, 2), steps: int | None = None, options: dict[str, dict[str, Any]] | None = None,
    probes: Sequence[str] | None = None, data_dir: str | None = None, keep_runs: bool = False,
    cv_labels: int | None = None,
) -> CompareResult:
    """The transfer table (see the module docstring) of ``methods`` (default
    :data:`TRANSFER_METHODS`) on ``tasks`` (default the 12 :data:`TASKS`), over ``seeds``, written
    to ``out`` (default ``runs/compare-amazon-reviews``) as the probe table's files.

    ``code_size`` sizes the learned families' and PCA's codes (``raw``, ``msda`` and ``sda`` keep
    their own); ``steps`` and ``options[method]`` are the families' budget as in
    :func:`~.compare.compare`, and ``options["msda"]`` / ``options["sda"]`` the keyword arguments
    of :data:`TRANSFORMERS`' estimators (e.g. ``{"sda": {"steps": 2000}}``); ``probes`` picks
    groups of :data:`TRANSFER_GROUPS`; ``cv_labels``: the probes choose C on at most this many of
    their labelled codes; ``keep_runs`` keeps each family's runs in
    ``out/runs/<source>-<target>/<method>-seed<s>/``. Bad arguments (an unknown domain, a task with
    the same source and target, run folders) raise a one-line :class:`UsageError`; a method that
    fails (unknown, needs labels, cannot take vectors) fails its row with the reason and the others
    still run."""
    tasks = check_tasks(tasks)
    seeds = _check_args(code_size, seeds, methods, (), steps)
    if runs:
        raise UsageError("run folders cannot join the transfer table: each representation is fit per task on the "
                         "source + target reviews; name methods instead")
    groups = tuple(probes) if probes is not None else TRANSFER_GROUPS
    bad = [g for g in groups if g not in TRANSFER_GROUPS]
    if bad or not groups:
        raise UsageError(f"unknown probe group {bad[0] if bad else '(none)'!r} for the transfer table; choose among "
                         f"{', '.join(TRANSFER_GROUPS)}")
    if cv_labels is not None and cv_labels < 2:
        raise UsageError(f"cv_labels must be at least 2 (C is chosen on that many labelled codes), got {cv_labels}")
    methods = list(methods if methods is not None else TRANSFER_METHODS)
    stray = sorted(set(options or {}) - set(methods))
    if stray:
        raise UsageError(f"options are given for {stray[0]!r}, which is not among the methods compared "
                         f"({', '.join(methods)})")
    out = ensure_dir(Path(out) if out is not None else Path("runs") / f"compare-{TRANSFER_DATA}")
    splits = _Splits(data_dir)
    for domain in dict.fromkeys(d for task in tasks for d in task):  # missing files: one line, before any method
        splits.get(domain, "train", seeds[0])
    plist = transfer_probes(tasks, groups)
    cells, infos, failures = {}, {}, []
    for name in methods:
        t0 = time.perf_counter()
        per_seed, info = _run_method(name, tasks, seeds, splits, plist, groups, code_size=code_size, data_dir=data_dir,
                                     steps=steps, options=(options or {}).get(name), cv_labels=cv_labels,
                                     run_root=out / "runs" if keep_runs else None)
        cells[name] = aggregate(per_seed, plist)
        infos[name] = {**info, "seconds": time.perf_counter() - t0}
        failures += _failures(name, per_seed, plist)
        log.info(f"compare: {name} done in {infos[name]['seconds']:.1f} s")
    record = {"data": TRANSFER_DATA, "kind": "transfer", "tasks": [f"{s}->{t}" for s, t in tasks],
              "data_dir": data_dir, "code_size": code_size, "seeds": seeds, "methods": methods, "steps": steps,
              "options": options or {}, "keep_runs": keep_runs, "probes": list(groups), "cv_labels": cv_labels,
              "transformers": {k: _plain(v) for k, v in TRANSFORMERS.items()}, "protocol": PROTOCOL}
    result = CompareResult(out, plist, cells, infos, failures, record, summary=PROTOCOL,
                           title=f"Amazon reviews, source -> target, mean ± std over seeds {seeds} (green = best)")
    result.files = write_outputs(result, {}, None)
    return result


#: what the page and compare.json say the transfer table measured
PROTOCOL = (
    "Each representation is fit without labels on the training reviews (seeded, stratified 80 %) of the source and the "
    "target domain together; transfer: a linear probe (logistic regression on standardized codes, C by 3-fold "
    "cross-validation on the labelled source codes only) trained on the source's training reviews, its accuracy on "
    "the target's test reviews (20 %), which no fit saw; in-domain: the same probe trained on the target's training "
    "reviews, scored on the same test reviews. raw: the 400 features; msda / sda: [x; h1..hL]; learned families: "
    "codes of the asked size. A cell is the mean ± std over the seeds (each seed: its own splits, fits and folds).")

