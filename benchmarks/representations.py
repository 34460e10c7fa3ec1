"""Representations side by side: every method of the lecture under the same probes, on MNIST, Omniglot and Amazon reviews.

The tables are built by :func:`reprlab.compare` (``reprlab compare``): each method gives codes of
the same data at the same code size (32; raw keeps the pixels), and the library's probes read them
(nothing is re-implemented here). The methods of the MNIST and Omniglot tables are compare's
defaults: raw pixels, PCA, ae, dae, sdae, vae, aae, siamese and gan-d (the GAN discriminator's last
hidden layer); those of the Amazon table its transfer table's: raw, msda, sda, ae, dae.

1. **MNIST** (``--table mnist``): each method is fit on the 60,000 training images; the probes are
   the linear probe from 100, 1,000 and all 60,000 labels, 5-NN, robustness (the all-labels probe
   on codes of masked / noisy test images), the trustworthiness of a t-SNE map of 2,000 test codes
   and the cost; scored on the 10,000 test images, seeds 0, 1, 2 (mean ± std). Published anchors
   (Kingma, Rezende, Mohamed & Welling 2014, Table 1, MNIST with 100 labels, test error): a
   neural-network classifier on the 100 labels 25.81 %, a transductive SVM 16.81 %, M1 (a VAE's
   features) + TSVM 11.82 %. The JSON gives our ``linear_100`` as an error beside them
   (``linear100_error_percent``).
2. **Omniglot few-shot** (``--table omniglot``): each method is fit on ``omniglot:small1``'s
   training split (5 alphabets, 80 % of the drawings); 20-way 1- and 5-shot tasks (cosine
   prototypes, 200 per seed) are drawn from ``omniglot:small2`` less the classes small1 also has
   (Greek and Latin): alphabets no method saw. Lake et al.'s 20 runs are tasks, not a data set of
   samples, so compare does not score them (``benchmarks/oneshot_omniglot.py`` does).

3. **Amazon reviews transfer** (``--table amazon``): the transfer table of ``reprlab compare --data
   amazon-reviews`` (:mod:`reprlab.pipelines.compare_transfer`) on the 4 source -> target pairs of
   :data:`AMAZON_TASKS` (books -> dvd, dvd -> elec, elec -> kitchen, kitchen -> books: each domain
   once a source and once a target; the 12 pairs of ``msda_amazon`` would take 3x the time), methods
   raw, msda, sda, ae and dae: each fit without labels on the training reviews (80 %) of source and
   target, a linear probe trained on the source's labels, scored on the target's test reviews
   (``transfer_<source>-><target>``, ``transfer_mean``), beside the same probe trained on the
   target's labels (``indomain_*``). Budgets in :data:`AMAZON_BUDGETS`.

Protocol (also in the JSON): the test split only reports. Each linear probe chooses its C by 3-fold
cross-validation on the labelled training codes it is given only (for more than ``CV_LABELS`` labels,
on a stratified sample of ``CV_LABELS`` of them, then refit on all); its 100 labels are a stratified
sample drawn with the seed. The training budgets were set from measured CPU seconds per step
(about a minute of one CPU thread per run, so that a method's three seeds with their probes stay
within 5 CPU-minutes and the MNIST table within 45), never from an accuracy. sdae is the
semi-supervised network: pre-trained on every training image, fine-tuned on the same 100 labels
the ``linear_100`` probe draws (the same stratified draw, the same seed); siamese learns from pairs
labelled same / different among all training labels, so its ``linear_100`` is not semi-supervised.

Rows (one per table and method, all seeds) are produced by parts that merge into
``benchmarks/results/representations.json`` under a lock (parts may run at the same time, e.g. one
per core); the headline is recomputed from the rows present: ``linear100_<method>`` and
``linear_all_<method>`` (accuracy fractions, MNIST; ``gan-d`` is written ``gan_d``),
``best_linear100_method``, ``fewshot20_best`` (the best 20-way 1-shot accuracy of the Omniglot
table), ``transfer_best`` (the best ``transfer_mean`` of the Amazon table; its method is
``bests.transfer`` in the JSON) and ``table_minutes`` (the MNIST table's CPU-minutes: each
method's process CPU time for its whole compare call, training, probing, loading and figures, so
that a part sharing the machine with other work still reads its own cost; the wall minutes of
training + probing are ``minutes`` in each row).

    python benchmarks/representations.py                                # the three tables, every method, seeds 0,1,2
    python benchmarks/representations.py --table mnist --methods raw,pca,ae,dae   # a part (run two at once)
    python benchmarks/representations.py --table omniglot --methods siamese --seeds 0,1,2,3,4
    python benchmarks/representations.py --quick --no-write             # smoke run on digits (seconds)
    python benchmarks/representations.py --quick --quick-data mnist --no-write   # on 2,000 MNIST images
    python benchmarks/representations.py --table amazon                 # the transfer table, seeds 0,1,2
    python benchmarks/representations.py --quick --table amazon --no-write   # smoke run: one pair, tiny budgets
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402
from _common import check_targets, command_line, data_dir, git_commit, machine_info, print_table, results_lock  # noqa: E402

NAME = "representations"
METHODS = ("raw", "pca", "ae", "dae", "sdae", "vae", "aae", "siamese", "gan-d")
TABLES = ("mnist", "omniglot", "amazon")
#: the Amazon table's methods (the representations of ``reprlab da`` and the label-free auto-encoders)
AMAZON_METHODS = ("raw", "msda", "sda", "ae", "dae")
#: its source -> target pairs: a cycle through the four domains, each once a source and once a target
AMAZON_TASKS = (("books", "dvd"), ("dvd", "elec"), ("elec", "kitchen"), ("kitchen", "books"))
SEEDS = (0, 1, 2)
CODE_SIZE = 32
CV_LABELS = 10_000  # the linear probe's C is chosen on at most this many labelled codes, then refit on all
TARGETS = {"table_minutes": ("<=", 45.0)}
METHOD_MINUTES = 5.0  # each method's training + probing over its seeds, MNIST (a row's `within_budget`)

#: each learned method's budget on MNIST (``reprlab compare`` options, over its own budget): about a
#: minute of one CPU thread per run, from CPU seconds per step measured on the 2-core Intel Xeon of
#: the other benchmarks while they ran (batch 128 unless said)
MNIST_BUDGETS: dict[str, dict] = {
    "ae": {"train.max_steps": 4500},  # ~13 ms a step
    "dae": {"train.max_steps": 4500},  # ~13 ms
    "vae": {"train.max_steps": 4000},  # ~15 ms
    # ~27 ms: reconstruction, discriminator and encoder updates; the encoder's adversarial updates at a
    # tenth of the reconstruction's rate (Makhzani et al.'s ratio): chosen on MNIST's validation tenth
    # by benchmarks/aae_codes.py (aae_codes.json), against 1e-3 (the earlier rows), a 1000 x 2 D and R1;
    # the rate decayed by a cosine (the AAE's recipe since aae_codes chose it over a constant rate)
    "aae": {"train.max_steps": 2200, "model.lr_g": 1e-4, "train.lr_schedule": "cosine"},
    "gan-d": {"train.max_steps": 4000},  # ~15 ms
    # ~2.5 ms a step of 32: pre-training each layer on every image, then fine-tuning on the linear_100
    # probe's 100 labels (batches of 32 < 100)
    "sdae": {"model.pretrain_steps": 10000, "train.max_steps": 300, "model.finetune_labels": 100, "train.batch_size": 32},
    # ~30 ms; 20,000 similar pairs per class (all pairs of 6,000 images would be 18 million), 40,000 dissimilar
    "siamese": {"model.per_class": 20000, "train.max_steps": 2000},
}
#: the same on Omniglot's 105 x 105 images (about a minute and a half per run): siamese gets its
#: Omniglot recipe (conv4 at 28 px, NT-Xent over 64 characters x 2 drawings, rotations, distortions)
OMNIGLOT_BUDGETS: dict[str, dict] = {
    "ae": {"train.max_steps": 800},  # ~110 ms a step
    "dae": {"train.max_steps": 1000},  # ~90 ms
    "vae": {"train.max_steps": 700},  # ~130 ms
    "aae": {"train.max_steps": 450, "model.lr_g": 1e-4, "train.lr_schedule": "cosine"},  # ~190 ms; as on MNIST (aae_codes.json)
    "gan-d": {"train.max_steps": 800},  # ~110 ms
    "sdae": {"model.pretrain_steps": 800, "train.max_steps": 800},  # ~36 ms; fine-tuned on small1's characters
    "siamese": {"train.max_steps": 300, "train.batch_size": 64},  # ~280 ms (the recipe's batch: 64 characters x 2)
}
#: the same on the Amazon reviews (3,200 training reviews of 400 features per pair; the transfer
#: table's own settings, :data:`reprlab.pipelines.compare_transfer.TRANSFORMERS`, for msda and sda),
#: sized so that the 5 methods x 4 pairs x 3 seeds, probes included, take at most ~15 CPU-minutes.
#: Measured per pair and seed, one thread, training + both probes: raw 2, msda 5-6, sda 6-7, ae 4.5,
#: dae 5 CPU-seconds on an idle machine (~24 s: ~5 CPU-minutes for the table), up to 58 s while two
#: other benchmarks held both cores (~12 CPU-minutes); the 12 pairs would take 3x as long
AMAZON_BUDGETS: dict[str, dict] = {
    "ae": {"train.max_steps": 1000},  # ~3.5 ms a step of 128
    "dae": {"train.max_steps": 1000},  # ~4 ms
    "sda": {"steps": 500},  # one 400-unit layer, ~6 ms a step of 64
}
#: --quick: every learned method trains QUICK_STEPS steps; what else a method needs to stay tiny
QUICK_STEPS = 20
QUICK_OPTIONS: dict[str, dict] = {
    "sdae": {"model.pretrain_steps": 10, "model.finetune_labels": 100, "train.batch_size": 32},
    "siamese": {"model.per_class": 200},
    "sda": {"steps": QUICK_STEPS},
}

PUBLISHED = {
    "source": "Kingma, Rezende, Mohamed & Welling 2014, Semi-supervised learning with deep generative models "
              "(NeurIPS), Table 1: MNIST test error with 100 labels (the rest of the 60,000 unlabelled), %",
    "test_error_percent_100_labels": {"NN baseline": 25.81, "TSVM": 16.81, "M1 + TSVM": 11.82},
    "setting": "M1: the latent features of a VAE trained on all 60,000 images, classified by a TSVM; the NN "
               "baseline is a network trained on the 100 labels only. Ours: a linear probe (logistic regression) on "
               "frozen codes of size 32 from the same 100 labels; linear100_error_percent gives our numbers as errors.",
}

PROTOCOL = (
    "MNIST table: every method is fit on the 60,000 training images (sdae fine-tunes on the linear_100 probe's 100 "
    "labels, the same stratified draw with the same seed; siamese learns from pairs labelled same / different among "
    "all training labels; the others see no label) at code size 32 (raw: the 784 pixels), then scored on the 10,000 "
    "test images. Linear probes: logistic regression on standardized codes, trained on n stratified, seeded training "
    f"labels (n = 100, 1,000, all); C chosen among 1e-3..100 by 3-fold stratified cross-validation on those training "
    f"labels only (beyond {CV_LABELS:,} labels on a stratified sample of {CV_LABELS:,} of them, then refit on all n). "
    "5-NN: test codes against the training codes. Robustness: the all-labels probe, trained on clean codes, on codes "
    "of test images corrupted by masking 0.25 / Gaussian noise 0.2. Map: trustworthiness T(10) of a t-SNE map of "
    "2,000 test codes. Omniglot table: every method is fit on omniglot:small1's training split (80 % of the drawings "
    "of its 5 alphabets, 136 characters); 20-way 1- and 5-shot tasks (200 per seed, cosine prototypes) are drawn from "
    "omniglot:small2 less the classes small1 also has (Greek and Latin): characters and alphabets no method saw; 5-NN "
    "on small1's test drawings. Amazon table: for each source -> target pair of AMAZON_TASKS, every method is fit "
    "without labels on the training reviews (seeded, stratified 80 %) of source and target together (raw: the 400 "
    "features; msda: p 0.5, L 3, [x; h1..h3]; sda: one 400-unit tanh DAE layer, masking 0.5, [x; h1]; ae / dae: codes "
    "of size 32); transfer: the linear probe (C by 3-fold cross-validation on the labelled source codes only) trained "
    "on the source's training reviews, scored on the target's test reviews (20 %, seen by no fit); in-domain: the "
    "same probe trained on the target's training reviews. Nothing is chosen on a test split: the training budgets "
    "were set from measured CPU seconds per step, the probes' C on training labels. Seeds 0, 1, 2 (a cell is mean ± "
    "std); one CPU thread per part; minutes (training + probing, as compare times them) are wall minutes of that "
    "thread, CPU-minutes on a machine the part has to itself; cpu_minutes is the process's CPU time for the whole "
    "compare call (also loading the data and drawing its figures), the comparable number on a shared machine: "
    "table_minutes, the MNIST table's headline, sums it (table_wall_minutes sums the wall minutes).")


def method_key(method: str) -> str:
    """A method's name in headline keys: ``gan-d`` -> ``gan_d``."""
    return method.replace("-", "_")


def table_spec(table: str, args, quick_data: str | None) -> dict:
    """The :func:`reprlab.compare` arguments of ``table`` (data, probes and their settings)."""
    if table == "amazon":
        return {"data": "amazon-reviews", "probes": ("transfer", "indomain", "cost"),
                "tasks": AMAZON_TASKS[:1] if args.quick else AMAZON_TASKS}
    if table == "mnist":
        spec = {"data": "mnist", "probes": ("linear", "knn", "robust", "map", "cost"), "labels": (100, 1000, "all"),
                "map_points": 2000, "tsne_iter": 750, "cv_labels": CV_LABELS}
    else:
        spec = {"data": "omniglot:small1", "probes": ("fewshot", "knn", "cost"), "fewshot_way": 20}
    if args.quick:
        spec.update(map_points=120, tsne_iter=300, labels=(100, "all"))
        if table == "mnist":
            spec["data"] = quick_data
    return spec


def budget(table: str, method: str, quick: bool) -> dict:
    """The compare options of ``method`` in ``table``."""
    if table == "omniglot" and method == "sdae":  # fine-tuned on every label of small1's characters
        from reprlab.data import load_dataset

        classes = load_dataset("omniglot:small1", split="train", data_dir=data_dir()).num_classes
        steps = {"model.pretrain_steps": 10} if quick else OMNIGLOT_BUDGETS["sdae"]
        return {**steps, "model.num_classes": classes}
    if quick:
        return dict(QUICK_OPTIONS.get(method, {}))
    return dict({"mnist": MNIST_BUDGETS, "omniglot": OMNIGLOT_BUDGETS, "amazon": AMAZON_BUDGETS}[table].get(method, {}))


def mnist_subset(folder: Path, n: int = 2000, seed: int = 0) -> str:
    """A stratified, seeded ``n`` of MNIST's training images as ``folder/mnist2000.npz`` (uint8
    images, labels): the data of ``--quick --quick-data mnist`` (its 80/20 split is seeded)."""
    import numpy as np

    from reprlab.data import load_dataset
    from reprlab.eval.probes import label_subset

    train = load_dataset("mnist", split="train", data_dir=data_dir())
    keep = label_subset(train.y.numpy(), n, seed)
    x = np.rint(train.x[keep].squeeze(1).numpy() * 255).astype(np.uint8)
    path = folder / f"mnist{n}.npz"
    np.savez(path, x=x, y=train.y[keep].numpy())
    return str(path)


def run_method(table: str, method: str, spec: dict, seeds: list[int], root: Path, args) -> dict:
    """One row: ``method`` in ``table`` over ``seeds`` by :func:`reprlab.compare` (its folder
    ``root/<table>/<method>``)."""
    import reprlab

    options = budget(table, method, args.quick)
    t0, c0 = time.perf_counter(), time.process_time()
    result = reprlab.compare(spec["data"], [method], out=root / table / method, code_size=CODE_SIZE, seeds=seeds,
                             steps=QUICK_STEPS if args.quick else None, options={method: options} if options else None,
                             probes=spec["probes"], labels=spec.get("labels", ("all",)),
                             fewshot_way=spec.get("fewshot_way", 20), map_points=spec.get("map_points", 2000),
                             tsne_iter=spec.get("tsne_iter", 750), cv_labels=spec.get("cv_labels"),
                             data_dir=str(data_dir()), tasks=spec.get("tasks"))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    cells = result.cells[method]
    info = result.methods[method]
    train_s = sum(cells.get("train_seconds", {}).get("values", []))
    minutes = info["seconds"] / 60
    return {
        "row": f"{table}/{method}", "table": table, "method": method, "data": spec["data"], "seeds": list(seeds),
        "code_size": CODE_SIZE, "quick": bool(args.quick), "threads": args.threads,
        "minutes": round(minutes, 3), "train_minutes": round(train_s / 60, 3), "probe_minutes": round(minutes - train_s / 60, 3),
        "cpu_minutes": round(cpu / 60, 3), "call_minutes": round(wall / 60, 3),
        "within_budget": cpu / 60 <= METHOD_MINUTES if table == "mnist" and not args.quick else None,
        "budget": options, "cells": cells,
        "probes": [{"name": p.name, "label": p.label, "better": p.better} for p in result.probes],
        "method_info": {k: v for k, v in info.items() if k != "seconds"},
        "failures": result.failures, "settings": {k: v for k, v in result.settings.items() if k not in ("data_dir",)},
    }


def _mean(row: dict | None, probe: str):
    cell = (row or {}).get("cells", {}).get(probe, {})
    return round(cell["mean"], 4) if "mean" in cell else None


def ordered_rows(rows: dict[str, dict], table: str) -> list[dict]:
    """The rows of ``table``, the default methods first in their order, then the others by name."""
    mine = {r["method"]: r for r in rows.values() if r["table"] == table}
    first = AMAZON_METHODS if table == "amazon" else METHODS
    return [mine[m] for m in first if m in mine] + [mine[m] for m in sorted(mine) if m not in first]


def headline_of(rows: dict[str, dict]) -> dict:
    """The headline keys from the rows present (see the module docstring); a method not yet run
    has no keys, a cell without a number is None."""
    mnist, omni = ordered_rows(rows, "mnist"), ordered_rows(rows, "omniglot")
    h: dict = {}
    for r in mnist:
        h[f"linear100_{method_key(r['method'])}"] = _mean(r, "linear_100")
        h[f"linear_all_{method_key(r['method'])}"] = _mean(r, "linear_all")
    scored = {r["method"]: _mean(r, "linear_100") for r in mnist if _mean(r, "linear_100") is not None}
    h["best_linear100_method"] = max(scored, key=scored.get) if scored else None
    few = [_mean(r, "fewshot_20w1s") for r in omni if _mean(r, "fewshot_20w1s") is not None]
    h["fewshot20_best"] = max(few) if few else None
    transfer = _transfer_means(rows)
    h["transfer_best"] = max(transfer.values()) if transfer else None
    h["table_minutes"] = round(sum(r["cpu_minutes"] for r in mnist), 2) if mnist else None  # CPU-minutes
    return h


def _transfer_means(rows: dict[str, dict]) -> dict[str, float]:
    """``{method: transfer_mean}`` of the Amazon table's rows that have one."""
    return {r["method"]: _mean(r, "transfer_mean") for r in ordered_rows(rows, "amazon")
            if _mean(r, "transfer_mean") is not None}


def extras_of(rows: dict[str, dict]) -> dict:
    """What the JSON holds besides the headline: the anchors, our linear_100 as errors, the bests,
    the budgets, the protocol."""
    mnist, omni = ordered_rows(rows, "mnist"), ordered_rows(rows, "omniglot")
    errors = {r["method"]: round(100 * (1 - _mean(r, "linear_100")), 2) for r in mnist if _mean(r, "linear_100") is not None}
    few1 = {r["method"]: _mean(r, "fewshot_20w1s") for r in omni if _mean(r, "fewshot_20w1s") is not None}
    few5 = {r["method"]: _mean(r, "fewshot_20w5s") for r in omni if _mean(r, "fewshot_20w5s") is not None}
    amazon, transfer = ordered_rows(rows, "amazon"), _transfer_means(rows)
    return {
        "published": PUBLISHED,
        "linear100_error_percent": errors,
        "bests": {"linear100": min(errors, key=errors.get) if errors else None,
                  "fewshot_20w1s": max(few1, key=few1.get) if few1 else None,
                  "fewshot_20w5s": max(few5, key=few5.get) if few5 else None,
                  "transfer": max(transfer, key=transfer.get) if transfer else None},
        "transfer_mean": transfer,
        "indomain_mean": {r["method"]: _mean(r, "indomain_mean") for r in amazon if _mean(r, "indomain_mean") is not None},
        "table_wall_minutes": round(sum(r["minutes"] for r in mnist), 2) if mnist else None,
        "omniglot_table_minutes": round(sum(r["minutes"] for r in omni), 2) if omni else None,
        "omniglot_table_cpu_minutes": round(sum(r["cpu_minutes"] for r in omni), 2) if omni else None,
        "amazon_table_minutes": round(sum(r["minutes"] for r in amazon), 2) if amazon else None,
        "amazon_table_cpu_minutes": round(sum(r["cpu_minutes"] for r in amazon), 2) if amazon else None,
        "amazon_tasks": [f"{s}->{t}" for s, t in AMAZON_TASKS],
        "methods_over_budget": [r["method"] for r in mnist if r.get("within_budget") is False],
        "protocol": PROTOCOL,
        "budgets": {"mnist": MNIST_BUDGETS, "omniglot": OMNIGLOT_BUDGETS, "amazon": AMAZON_BUDGETS,
                    "method_minutes": METHOD_MINUTES,
                    "table_minutes": TARGETS["table_minutes"][1], "cv_labels": CV_LABELS,
                    "note": "compare's own budget (reprlab.pipelines.compare_methods.BUDGETS) under these options"},
    }


def table_figure(rows: list[dict], path: Path, title: str) -> Path:
    """The merged table of ``rows`` as a PNG (compare's figure: each probe's column coloured by rank)."""
    import numpy as np

    from reprlab.pipelines.compare_output import cell_text
    from reprlab.pipelines.compare_probes import Probe
    from reprlab.viz.compare import plot_probe_table

    probes = list({p["name"]: Probe(p["name"], p["label"], p["better"], "") for r in rows for p in r["probes"]}.values())
    means = np.array([[r["cells"].get(p.name, {}).get("mean", np.nan) for p in probes] for r in rows], dtype=float)
    texts = [[cell_text(r["cells"].get(p.name, {"na": "not run"}), p, short=True) for p in probes] for r in rows]
    status = [["failed" if "error" in c else "n/a" if "na" in c else "ok"
               for c in (r["cells"].get(p.name, {"na": ""}) for p in probes)] for r in rows]
    return plot_probe_table([r["method"] for r in rows], [p.name for p in probes], means.reshape(len(rows), len(probes)),
                            texts, [p.better for p in probes], path, status=status, title=title)


def merge(row: dict, folder: Path) -> Path:
    """Merge ``row`` into ``folder/representations.json`` (under a lock: other parts may be writing),
    recompute the headline from the rows present and redraw the tables' figures."""
    with results_lock(NAME, folder):
        path = folder / f"{NAME}.json"
        old = json.loads(path.read_text()) if path.exists() else {}
        rows = {r["row"]: r for r in old.get("rows", []) if "row" in r}
        rows[row["row"]] = {**row, "git": git_commit(), "command": command_line(), "machine": machine_info()}
        ordered = [r for t in TABLES for r in ordered_rows(rows, t)]
        # a table not run yet (or a cell without a number) has no headline key: the README quotes
        # every key the file has, and there is no number to quote for it
        headline = {k: v for k, v in headline_of(rows).items() if v is not None}
        targets = check_targets(headline, TARGETS) if "table_minutes" in headline else {}
        before, _common.RESULTS_DIR = _common.RESULTS_DIR, folder  # write_result writes there
        try:
            out = _common.write_result(NAME, headline, ordered, command_line(), {"targets": targets, **extras_of(rows)})
        finally:
            _common.RESULTS_DIR = before
        for table in TABLES:
            mine = ordered_rows(rows, table)
            if mine:
                data = mine[0]["data"] if not mine[0]["data"].endswith(".npz") else "2,000 MNIST images"
                what = ("source -> target transfer" if table == "amazon" else f"codes of size {CODE_SIZE}")
                table_figure(mine, folder / f"{NAME}_{table}.png",
                             f"{table} table ({data}): {what}, mean ± std over seeds "
                             f"{mine[0]['seeds']} (colour: rank within each probe, green = best)")
        return out


def _summary_columns(rows: list[dict]) -> list[tuple[str, str, str]]:
    names = list(dict.fromkeys(p["name"] for r in rows for p in r["probes"] if p["name"] not in ("code_size",)))
    return [("method", "method", "s")] + [(n, n, ".4g") for n in names] + [("minutes", "minutes", ".2f")]


def print_rows(rows: list[dict]) -> None:
    flat = [{"method": r["method"], "minutes": r["minutes"],
             **{k: c["mean"] for k, c in r["cells"].items() if "mean" in c}} for r in rows]
    print_table(flat, _summary_columns(rows))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--table", choices=TABLES, help="one table (default: all three)")
    p.add_argument("--methods", help=f"comma-separated methods of this part (default: {','.join(METHODS)}; amazon: "
                   f"{','.join(AMAZON_METHODS)})")
    p.add_argument("--seeds", help="comma-separated seeds (default 0,1,2; --quick: 0)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads of this part (default 1: run two parts at once)")
    p.add_argument("--quick", action="store_true", help=f"smoke run: {QUICK_STEPS} steps per method, small probes, "
                   "the MNIST table on --quick-data; writes nothing unless --out is given")
    p.add_argument("--quick-data", choices=("digits", "mnist"), default="digits",
                   help="--quick: the MNIST table's data, digits or 2,000 MNIST images (default digits)")
    p.add_argument("--out", help="folder of representations.json and its figures (default: benchmarks/results, or "
                   "$REPRLAB_BENCH_RESULTS)")
    p.add_argument("--run-root", help="folder of compare's output per table and method (default "
                   "runs/bench-representations; --quick: a temporary folder, or OUT/compare with --out)")
    p.add_argument("--no-write", action="store_true", help="print only, write no JSON")
    args = p.parse_args(argv)

    from reprlab.pipelines.compare_transfer import transfer_method_names

    tables = [args.table] if args.table else list(TABLES)
    methods = args.methods.split(",") if args.methods else None
    unknown = [m for m in methods or () if m not in transfer_method_names()]
    if unknown:
        print(f"error: unknown methods {unknown}; choose among {', '.join(transfer_method_names())}", file=sys.stderr)
        return 2
    try:
        seeds = [int(s) for s in (args.seeds or ("0" if args.quick else ",".join(map(str, SEEDS)))).split(",")]
    except ValueError:
        print(f"error: --seeds takes comma-separated integers, got {args.seeds!r}", file=sys.stderr)
        return 2
    writing = not args.no_write and (not args.quick or args.out is not None)
    folder = Path(args.out) if args.out else _common.RESULTS_DIR

    logging.getLogger("lightning_fabric").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module="lightning_fabric")
    import threadpoolctl
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    with contextlib.ExitStack() as stack:
        stack.callback(torch.set_num_threads, threads)
        stack.enter_context(threadpoolctl.threadpool_limits(args.threads))
        temp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="reprlab-representations-")))
        if args.run_root:
            root = Path(args.run_root)
        elif args.quick:
            root = folder / "compare" if writing else temp
        else:
            root = Path("runs") / "bench-representations"
        quick_data = mnist_subset(temp) if args.quick and args.quick_data == "mnist" and "mnist" in tables else "digits"
        for table in tables:
            spec = table_spec(table, args, quick_data)
            done = []
            for method in methods or (AMAZON_METHODS if table == "amazon" else METHODS):
                row = run_method(table, method, spec, seeds, root, args)
                done.append(row)
                headline = ("linear", "fewshot", "knn5", "transfer_mean", "indomain_mean")
                shown = ", ".join(f"{k} {c['mean']:.4f}" for k, c in row["cells"].items()
                                  if "mean" in c and k.startswith(headline))
                print(f"{table}/{method}: {row['minutes']:.2f} min (training {row['train_minutes']:.2f}); {shown}", flush=True)
                for f in row["failures"]:
                    print(f"  failed ({', '.join(f['probes'])}): {f['reason']}", flush=True)
                if writing:
                    print("wrote", merge(row, folder), flush=True)
            print(f"\n{table} table ({spec['data']}), seeds {seeds}:")
            print_rows(done)
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
