"""``reprlab compare``: parses, calls :func:`reprlab.pipelines.compare.compare`, prints the table.

``reprlab compare --data amazon-reviews [--source DOMAIN|all] [--target DOMAIN|all]`` is the Amazon
reviews' transfer table (:mod:`reprlab.pipelines.compare_transfer`); the domain pairs are spelled as
for ``reprlab da``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from ..errors import UsageError
from .common import _csv_list

log = logging.getLogger("reprlab")


def add_compare_parser(sub) -> None:
    c = sub.add_parser(
        "compare", help="train each representation at the same code size and score all with the same probes",
        description="Each method (raw, pca, a registered family or alias such as gan-d, or a run folder) gives codes "
        "of the data's train and test splits; linear probes (100, 1,000, all labels), k-NN, few-shot, robustness "
        "to corrupted inputs, a t-SNE map's trustworthiness and the cost are measured over several seeds. Writes "
        "compare.json, compare.csv, config.json, table.png, maps.png and index.html into --out. A method or cell "
        "that fails is marked with its reason, the others still run, and the command exits with code 2. "
        "--data amazon-reviews gives the Amazon reviews' transfer table instead: for each source -> target pair of "
        "domains (--source, --target), each representation is fit without labels on both domains' training reviews, "
        "and a linear probe trained on the source's labels is scored on the target's test reviews (transfer), beside "
        "the same probe trained on the target's labels (in-domain).",
    )
    c.add_argument("--data", default="digits", help="data set (default digits); amazon-reviews (no domain): the "
                   "transfer table of --source -> --target")
    c.add_argument("--methods", help="comma-separated: raw, pca, gan-d or any model of `reprlab train` "
                   "(default: raw,pca,ae,dae,sdae,vae,aae,siamese,gan-d; with --runs: raw,pca); with --data "
                   "amazon-reviews also msda and sda (default: raw,msda,sda,ae,dae)")
    c.add_argument("--source", help="--data amazon-reviews: source domain, books, dvd, elec, kitchen or all "
                   "(default all)")
    c.add_argument("--target", help="--data amazon-reviews: target domain, as --source (default: every other domain); "
                   "e.g. --source books --target kitchen, or neither for the 12 pairs")
    c.add_argument("--runs", nargs="+", default=[], metavar="DIR", help="finished run folders to compare as they are")
    c.add_argument("--code-size", type=int, default=32, help="size of every learned method's codes (default 32)")
    c.add_argument("--seeds", default="0,1,2", help="comma-separated seeds; each cell is the mean ± std over them (default 0,1,2)")
    c.add_argument("--steps", type=int, help="training steps of every learned method (default: its budget)")
    c.add_argument("--set", dest="sets", action="append", default=[], metavar="METHOD:KEY=VALUE",
                   help="an option of one method's run, e.g. ae:train.max_steps=500 or vae:beta=0.5 (repeatable)")
    c.add_argument("--probes", help="comma-separated probe groups: linear, knn, fewshot, robust, map, cost (default "
                   "all); with --data amazon-reviews: transfer, indomain, cost (default all)")
    c.add_argument("--labels", default="100,1000,all", help="label budgets of the linear probe (default 100,1000,all)")
    c.add_argument("--fewshot-data", help="data set for the few-shot probe (classes the methods never saw, e.g. "
                   "omniglot:small2; default: the test split)")
    c.add_argument("--way", type=int, default=20, help="N of the N-way 1- and 5-shot tasks (default 20)")
    c.add_argument("--corruptions", default="masking:0.25,gaussian:0.2",
                   help="corruptions of the test inputs for the robustness probe (default masking:0.25,gaussian:0.2)")
    c.add_argument("--map-points", type=int, default=2000, help="test codes in each t-SNE map (default 2000)")
    c.add_argument("--keep-runs", action="store_true", help="keep each training run in OUT/runs/<method>-seed<s>/")
    c.add_argument("--out", help="output folder (default runs/compare-<data>)")
    c.add_argument("--data-dir", help="folder holding the data files (default: $REPRLAB_DATA)")


def _method_options(items: list[str]) -> dict[str, dict[str, Any]]:
    """``["ae:train.max_steps=500"]`` -> ``{"ae": {"train.max_steps": 500}}``."""
    from ..config import parse_overrides

    out: dict[str, dict[str, Any]] = {}
    for item in items:
        method, sep, pair = item.partition(":")
        if not sep or not method or "=" not in pair:
            raise UsageError(f"--set {item!r} must look like METHOD:KEY=VALUE (e.g. ae:train.max_steps=500)")
        out.setdefault(method, {}).update(parse_overrides([pair]))
    return out


def format_table(result) -> str:
    """The table as aligned text: one row per method, one column per probe (mean ± std, failed, n/a)."""
    from ..pipelines.compare_output import cell_text

    header = ["method"] + [p.name for p in result.probes]
    rows = [[m] + [("failed" if "error" in c else "n/a" if "na" in c else cell_text(c, p))
                   for p in result.probes for c in [cells.get(p.name, {"na": ""})]]
            for m, cells in result.cells.items()]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in [header, *rows])


def _tasks(a: argparse.Namespace) -> list[tuple[str, str]] | None:
    """The (source, target) pairs of ``--source`` / ``--target`` (as ``reprlab da`` reads them),
    only with ``--data amazon-reviews``."""
    from ..pipelines.compare_transfer import TRANSFER_DATA
    from .families import _da_tasks

    if a.data != TRANSFER_DATA:
        if a.source is not None or a.target is not None:
            raise UsageError(f"--source and --target choose the domain pairs of the Amazon reviews' transfer table: "
                             f"use --data {TRANSFER_DATA}, not {a.data}")
        return None
    return _da_tasks(a.source or "all", a.target or "all")


def cmd_compare(a: argparse.Namespace) -> int:
    from ..pipelines.compare import compare

    methods = _csv_list(a.methods, str, "--methods") if a.methods is not None else None
    probes = _csv_list(a.probes, str, "--probes") if a.probes is not None else None
    result = compare(
        a.data, methods, out=a.out, runs=a.runs, code_size=a.code_size, seeds=_csv_list(a.seeds, int, "--seeds"),
        steps=a.steps, options=_method_options(a.sets), probes=probes,
        labels=_csv_list(a.labels, str, "--labels"), fewshot_data=a.fewshot_data, fewshot_way=a.way,
        corruptions=_csv_list(a.corruptions, str, "--corruptions"), map_points=a.map_points, data_dir=a.data_dir,
        keep_runs=a.keep_runs, tasks=_tasks(a),
    )
    print(format_table(result))
    log.info(f"wrote {result.out}/ ({', '.join(f.name for f in result.files)})")
    for line in result.failure_lines():
        print(f"reprlab: error: compare: {line}", file=sys.stderr)
    return result.exit_code
