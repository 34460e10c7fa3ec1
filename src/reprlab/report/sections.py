"""What a tour section is given and uses: :class:`TourContext`, :func:`train_for_section` (a run
through the same pipeline as ``reprlab train``), :func:`tour_section` (its key and title) and
:func:`add_metric` (a number of the page with its stable id).

The section modules (``tour_autoencoders``, ``tour_representations``, ``tour_adversarial``,
``benchmarks``) import from here, never from :mod:`.tour`; :mod:`.tour` lists them in the
lecture's order and runs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..files import ensure_dir
from ..viz.html import Section

#: a section fills in the :class:`~reprlab.viz.html.Section` it is given
SectionFn = Callable[["TourContext", Section], None]


@dataclass
class TourContext:
    out: Path
    quick: bool
    seed: int
    data_dir: str | None
    full: bool = False  # also run benchmarks/ at their real settings (the "benchmarks" section)
    benchmarks: list[str] | None = None  # with full: only these benchmarks

    def steps(self, default: int, quick: int = 60) -> int:
        """The default budget's value, or the quick one's (``--quick``, a smoke run)."""
        return quick if self.quick else default

    def run_dir(self, name: str) -> Path:
        return self.out / "runs" / name

    def figure(self, section: str, name: str) -> Path:
        p = self.out / "figures" / section / name
        ensure_dir(p.parent)
        return p


def tour_section(key: str, title: str):
    """Mark ``fn(ctx, section)`` as a tour section with its ``key`` (``--only``, the page's anchor)
    and ``title``: both are attached to the function (``fn.tour_key``, ``fn.tour_title``); nothing
    is registered: :data:`reprlab.report.tour.SECTIONS` lists the sections."""

    def deco(fn):
        fn.tour_key, fn.tour_title = key, title
        return fn

    return deco


def train_for_section(ctx: TourContext, name: str, model: str, overrides: list[tuple[str, object]], *,
                      recipe: bool = True):
    """Train ``model`` as run ``<out>/runs/<name>`` with the tour's seed, data folder and quiet
    logging plus ``overrides`` (``("section.key", value)``); returns ``(run config, model, FitResult)``.
    ``recipe=False``: without the model's recipe for the data set (a section with its own setting)."""
    from ..pipelines.training import build_run_config, train_run

    base = [("train.seed", ctx.seed), ("train.progress", False), ("train.tensorboard", False)]
    if ctx.data_dir:
        base.append(("data.data_dir", ctx.data_dir))
    steps = dict(overrides).get("train.max_steps", 2000)
    base.append(("train.log_every", max(1, min(50, steps // 20))))
    rc = build_run_config(model, None, base + overrides, recipe=recipe)
    model_obj, result = train_run(rc, ctx.run_dir(name), overwrite=True)
    return rc, model_obj, result


def add_metric(s: Section, id: str, metric: str, value, reference: str | None = None, **numbers) -> None:
    """Append a row to ``s.metrics``: ``metric`` (the page's text), ``value``, ``reference`` (shown
    as today) and ``id``, a key that stays the same when the text changes (tests and scripts read
    the numbers by it: :func:`metric_values`). ``numbers``: numbers that the reference text shows,
    kept in the row by name (not shown separately). An id is unique within its section."""
    if any(r.get("id") == id for r in s.metrics):
        raise ValueError(f"section {s.key!r}: metric id {id!r} is already used")
    row = {"id": id, "metric": metric, "value": value}
    if reference is not None:
        row["reference"] = reference
    row.update(numbers)
    s.metrics.append(row)


def metric_values(s: Section) -> dict[str, object]:
    """``{id: value}`` of the section's rows that have an id."""
    return {r["id"]: r["value"] for r in s.metrics if "id" in r}


def metric_row(s: Section, id: str) -> dict:
    """The row of ``s.metrics`` with this id (KeyError naming the ids there are, when none)."""
    for r in s.metrics:
        if r.get("id") == id:
            return r
    raise KeyError(f"no metric {id!r} in section {s.key!r}; ids: {', '.join(metric_values(s))}")
