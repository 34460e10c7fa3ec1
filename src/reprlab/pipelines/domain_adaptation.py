"""The domain-adaptation pipeline behind ``reprlab da`` and the tour: representations learnt on
source + target, a linear classifier on the source labels, accuracy on the target (the protocol
and its measures are in :mod:`reprlab.eval.domain_adaptation`).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..errors import UsageError
from ..eval.domain_adaptation import load_domain, select_on_source, transfer_accuracy
from ..files import ensure_dir, write_json


#: mSDA's hyper-parameter grid searched on source labels when ``p``/``layers`` are not given
MSDA_GRID = {"p": (0.5, 0.7, 0.9), "n_layers": (1, 3, 5)}


def make_representation(method: str, **params):
    """The representation called ``method``: ``raw`` (None: the features themselves), ``msda``
    (:class:`reprlab.MSDA`, ``params`` e.g. ``p``, ``n_layers``) or ``sda`` (a stacked denoising
    auto-encoder trained by gradient descent, :class:`reprlab.pipelines.sda.StackedDAETransformer`)."""
    if method == "raw":
        return None
    if method == "msda":
        from ..models.mda import MSDA

        return MSDA(**params)
    if method == "sda":
        from ..pipelines.sda import StackedDAETransformer

        return StackedDAETransformer(**params)
    raise UsageError(f"unknown method {method!r}; choose raw, msda or sda")


def run_tasks(
    tasks, methods, *, data_dir=None, params: dict | None = None, grid: dict | None = None, seed: int = 0,
    progress: bool = True,
) -> list[dict]:
    """The protocol on each ``(source, target)`` task for each method; one row per (task, method).

    ``params[method]`` fixes a method's hyper-parameters; mSDA without fixed ``p`` and ``n_layers``
    picks them from ``grid`` (default :data:`MSDA_GRID`) by :func:`select_on_source`. A row holds
    ``source``, ``target``, ``method``, ``target_acc``, ``fit_seconds`` (the representation's fit
    on the task's unlabelled data), ``select_seconds`` and the parameters used.
    """
    from tqdm.auto import tqdm

    params = params or {}
    domains: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    rows = []
    bar = tqdm(total=len(tasks) * len(methods), unit="fit", disable=not progress, desc="domain adaptation")
    for source, target in tasks:
        for d in (source, target):
            if d not in domains:
                domains[d] = load_domain(d, data_dir)
        (Xs, ys), (Xt, yt) = domains[source], domains[target]
        for method in methods:
            chosen, t0, select_rows = dict(params.get(method, {})), time.perf_counter(), None
            if method == "msda" and not {"p", "n_layers"} <= set(chosen):
                free = {k: v for k, v in (grid or MSDA_GRID).items() if k not in chosen}
                best, select_rows = select_on_source(
                    lambda **kw: make_representation("msda", **chosen, **kw), free, Xs, ys, Xt, seed=seed
                )
                chosen.update(best)
            select_s = time.perf_counter() - t0
            res = transfer_accuracy(make_representation(method, **chosen), Xs, ys, Xt, yt, seed=seed)
            rows.append({"source": source, "target": target, "method": method, **res, "select_seconds": select_s,
                         "params": chosen, "selection": select_rows})
            bar.set_postfix({"task": f"{source}->{target}", method: f"{res['target_acc']:.3f}"}, refresh=False)
            bar.update(1)
    bar.close()
    return rows


def summarize(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Per method: ``avg_target_acc`` over tasks and total ``fit_seconds``."""
    out: dict[str, dict[str, float]] = {}
    for m in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == m]
        out[m] = {
            "avg_target_acc": float(np.mean([r["target_acc"] for r in mine])),
            "fit_seconds": float(sum(r["fit_seconds"] for r in mine)),
            "tasks": len(mine),
        }
    return out


def run_da(tasks, methods, out, *, data_dir=None, params: dict | None = None, seed: int = 0, progress: bool = True,
           config: dict | None = None) -> tuple[list[dict], dict]:
    """:func:`run_tasks`, then the folder ``out``: ``config.json``, ``results.json`` (summary and
    rows) and ``figures/target_accuracy.png``. Returns (rows, summary)."""
    from ..viz import plot_grouped_bars

    out = ensure_dir(out)  # a file in the way fails now, not after the tasks ran
    rows = run_tasks(tasks, methods, data_dir=data_dir, params=params, seed=seed, progress=progress)
    summary = summarize(rows)
    write_json(out / "config.json", config or {})
    write_json(out / "results.json", {"summary": summary, "rows": rows})
    by_method = {m: {f"{r['source'][0]}→{r['target'][0]}": r["target_acc"] for r in rows if r["method"] == m} for m in methods}
    plot_grouped_bars(by_method, Path(out) / "figures" / "target_accuracy.png", ylabel="target accuracy",
                      title="Amazon reviews: source → target", baseline=0.5)
    return rows, summary
