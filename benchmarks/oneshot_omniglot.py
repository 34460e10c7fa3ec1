"""Koch et al.'s one-shot Omniglot table: reprlab's Siamese networks trained on the small background sets.

Every row trains ``reprlab train siamese`` on the Omniglot background small sets only
(``images_background_small1`` + ``small2``: 10 alphabets, 292 characters, 20 drawers; a third of
the alphabets Koch et al. had) and is scored on Lake et al.'s 20 one-shot runs (20-way, within
an alphabet of the *evaluation* set: characters and alphabets never seen in training).

Protocol (also written into the JSON):

- **Validation chooses, the test only reports.** The comparison rows hold 2 of the 10 alphabets
  out (``data.val_by=alphabet``, ``data.val_fraction=0.2``: Korean and Balinese) and score
  20-way one-shot tasks drawn within those alphabets: 200 during training, 1,000 for the final
  ``val_accuracy``. Every choice of the recipe (loss, same-alphabet batches, rotations, affine
  distortions, lr schedule, resolution, test-time shifts) was made on validation.
- **Scoring**: the code of an image is the mean unit code of its 9 translates by 0 and ±6 px
  (``tta_shift=0.06``, chosen on validation); every row also reports the plain codes
  (``*_no_tta``). ``--rescore`` scores rows again from their run folders after a change of the
  scoring alone. Lake's 20 runs are the test set: each row reports them
  (``lake20_accuracy``), and no choice was made on them.
- **Headline rows** (``headline-s<seed>``): the chosen recipe, trained on all 10 alphabets for
  ``HEADLINE_STEPS`` steps (a tenth of the drawings held out as a monitoring curve, nothing
  chosen on it), one row per seed; ``lake20_accuracy`` is the mean over the seeds.
- **Comparison rows** share one budget: ``COMPARE_STEPS`` steps of 128 images each (64 pairs, or
  64 classes x 2 images), one seed, one CPU thread; each ablation row switches one ingredient of
  the recipe off.

Rows are produced by parts (``--rows``) that merge into ``benchmarks/results/oneshot_omniglot.json``
(under a lock: parts may run at the same time); the headline is recomputed from the rows present.

    python benchmarks/oneshot_omniglot.py --rows headline-s0,headline-s1,headline-s2
    python benchmarks/oneshot_omniglot.py --rows loss-koch,loss-contrastive --threads 1
    python benchmarks/oneshot_omniglot.py --list                # the rows and their settings
    python benchmarks/oneshot_omniglot.py --rows loss-ntxent --quick --no-write   # smoke run
    python benchmarks/oneshot_omniglot.py --rows koch-105 --koch-steps 20000 --threads 16   # on a GPU machine
    python benchmarks/oneshot_omniglot.py --rows headline-s0 --background full   # row headline-s0@full (30 alphabets)

``--background full`` trains the rows on torchvision's full background set instead
(``omniglot:background``, 30 alphabets; ``reprlab data download omniglot:background``); they are
stored as ``<row>@full`` and never enter the headline, which stays the small sets'.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS_DIR, check_targets, results_lock, command_line, data_dir, git_commit, machine_info, write_result  # noqa: E402

from reprlab.models.siamese import SiameseNet  # noqa: E402

NAME = "oneshot_omniglot"
TARGETS = {"lake20_accuracy": (">=", 0.92)}
COMPARE_STEPS = 2000
HEADLINE_STEPS = 5000
KOCH_STEPS = 60  # arch=koch at 105 px (~7 s a step of 32 pairs on one CPU thread): what fits the comparison budget's minutes
SEEDS = (0, 1, 2)
VAL_TASKS_FINAL = 1000  # each row's final validation score: 1,000 tasks (the training curve's 200 are too noisy to choose)
#: --background: the data set every row trains on
BACKGROUNDS = {"small": "omniglot", "full": "omniglot:background"}

#: the lecture's table (Koch et al. 2015, Table 2): 20-way one-shot accuracy on Lake's runs, %
LECTURE_TABLE = [
    ("Humans", 95.5), ("Hierarchical Bayesian Program Learning", 95.2), ("Affine model", 81.8),
    ("Hierarchical Deep", 65.2), ("Deep Boltzmann Machine", 62.0), ("Simple Stroke", 35.2),
    ("1-Nearest Neighbor", 21.7), ("Siamese Neural Net", 58.3), ("Convolutional Siamese Net", 92.0),
]

#: the recipe: the defaults of ``reprlab train siamese --data omniglot`` (``SiameseNet.recipes``),
#: less the step counts each row sets
RECIPE = {k: v for k, v in SiameseNet.recipes["omniglot"].items()
          if k not in ("train.max_steps", "train.val_every", "train.checkpoint_every", "val_way", "val_tasks")}
#: every row is scored the same way: codes averaged over 9 translates of each image (eval only)
TTA_SHIFT = RECIPE["tta_shift"]
PAIRS = {"arch": "conv4", "input_size": 28, "latent_dim": 64, "augment": True, "negatives": "same:alphabet",
         "ratio": 1.0, "rotations": False, "train.batch_size": 64, "train.lr": 1e-3, "train.lr_schedule": "cosine",
         "train.warmup_steps": 100}

#: row -> (what it is, overrides on top of the recipe, kind)
ROWS: dict[str, tuple[str, dict, str]] = {
    "loss-ntxent": ("the recipe: NT-Xent over all pairs of a batch (τ = 0.1)", {}, "compare"),
    "loss-triplet": ("triplet loss, semi-hard mining, margin 0.2 (same batches)",
                     {"loss": "triplet", "mining": "semi-hard", "triplet_margin": 0.2}, "compare"),
    "loss-koch": ("Koch's weighted-L1 head + cross-entropy, 64 pairs per step (same twin)",
                  {**PAIRS, "loss": "koch", "l2": 0.0}, "pairs"),
    "loss-contrastive": ("Hadsell's contrastive loss, margin 1, 64 pairs per step (same twin)",
                         {**PAIRS, "loss": "contrastive", "margin": 1.0}, "pairs"),
    "loss-cosine": ("Bromley's cosine loss, margin 0, 64 pairs per step (same twin)",
                    {**PAIRS, "loss": "cosine", "margin": 0.0}, "pairs"),
    "protonet": ("prototypical-network episodes (Snell et al. 2017): 64-way, 1 support + 1 query per class, same twin",
                 {"loss": "protonet", "n_support": 1}, "compare"),
    "same-alphabet": ("tried: each batch drawn from one alphabet (hard negatives; not in the recipe: no gain on validation)",
                      {"negatives": "same:alphabet"}, "compare"),
    "group-4": ("tried: 32 characters x 4 drawings per batch (the same 128 images; 3 positives per image)",
                {"group_size": 4, "train.batch_size": 32}, "compare"),
    "temperature-0.05": ("tried: NT-Xent temperature 0.05 instead of 0.1", {"temperature": 0.05}, "compare"),
    "no-rotations": ("ablation: no rotated characters as new classes", {"rotations": False}, "compare"),
    "no-affine": ("ablation: no random affine distortions", {"augment": False}, "compare"),
    "constant-lr": ("ablation: constant learning rate (no warm-up, no cosine decay)",
                    {"train.lr_schedule": "constant", "train.warmup_steps": 0}, "compare"),
    "resolution-52": ("ablation: 52 px input instead of 28 px", {"input_size": 52}, "compare"),
    "koch-105": ("Koch et al.'s network at 105 px (arch=koch, 4096-d code), Koch's loss, pairs",
                 {"arch": "koch", "input_size": 0, "latent_dim": 4096, "loss": "koch", "l2": 1e-5, "ratio": 1.0,
                  "rotations": False, "augment": True, "negatives": "same:alphabet", "train.batch_size": 32,
                  "train.lr": 1e-4, "train.lr_schedule": "cosine", "train.warmup_steps": 10, "val_tasks": 50}, "koch"),
}
for _s in SEEDS:
    ROWS[f"headline-s{_s}"] = (f"the recipe, all 10 alphabets, {HEADLINE_STEPS} steps, seed {_s}", {}, "headline")

#: how each ingredient of the recipe was chosen (validation only; see PROTOCOL)
CHOICES = [
    {"choice": "loss=ntxent (all pairs of a batch)",
     "evidence": "2 held-out alphabets, 3,000-step runs before this script: ntxent 0.658, triplet batch-hard 0.615; "
                 "the loss-* rows compare the five losses at the comparison budget: ntxent has the best val_accuracy "
                 "of the Siamese losses (0.6916 with test-time shifts, triplet 0.6787, cosine 0.615, contrastive "
                 "0.5453, koch 0.3439). protonet reads 0.706 but is the non-Siamese reference the issue asks for, "
                 "not a Siamese recipe"},
    {"choice": "rotations=true", "evidence": "2 held-out alphabets, 3,000-step runs before this script: 0.658 with, "
                                             "0.611 without; row no-rotations: 0.6673 vs 0.6916"},
    {"choice": "negatives=random (no same-alphabet batches)",
     "evidence": "rows loss-ntxent and same-alphabet: val_accuracy 0.6916 vs 0.6933 (1,000 tasks), no gain for a "
                 "slower step: the simpler kept"},
    {"choice": "augment=true, cosine lr with warm-up, 28 px", "evidence": "carried from the earlier runs; rows no-affine "
               "(0.6823), constant-lr (0.6998) and resolution-52 (0.6919) test each against 0.6916. constant-lr's "
               "+0.8 points is one seed on one pair of alphabets: not adopted without more seeds"},
    {"choice": "tta_shift=0.06 (scoring only: codes averaged over 9 translates by 0 and +-6 px of 105)",
     "evidence": "on the weights of the comparison rows, 1,000 tasks of the 2 held-out alphabets (same-alphabet row): "
                 "plain codes 0.6596; shifts of 4 / 5 / 6 / 7 / 8 px 0.6827 / 0.6918 / 0.6932 / 0.6913 / 0.6899; "
                 "25 translates (0, +-3, +-6 px) 0.6921; 9 random affine distortions 0.6787. The same on group-4 "
                 "(0.6614 -> 0.6923) and temperature-0.05 (0.6482 -> 0.6862). Chosen before Lake's runs were scored "
                 "with it; every row reports val and Lake with and without (*_no_tta)"},
    {"choice": f"{HEADLINE_STEPS} steps for the headline", "evidence": "the budget: what fits 30 minutes on one thread of "
                                                                       "this CPU; not chosen on any accuracy"},
]

LOSS_KEYS = {"loss-koch": "loss_koch_accuracy", "loss-contrastive": "loss_contrastive_accuracy",
             "loss-cosine": "loss_cosine_accuracy", "loss-triplet": "loss_triplet_accuracy",
             "loss-ntxent": "loss_ntxent_accuracy"}

PROTOCOL = (
    "Training data: Omniglot images_background_small1 + small2 only (10 alphabets, 292 characters). "
    "Validation (chooses): comparison rows hold out 2 alphabets (data.val_by=alphabet, val_fraction=0.2: "
    "Korean, Balinese) and score 20-way 1-shot tasks drawn within them, seed 0: 200 during training "
    f"(validation_curve), {VAL_TASKS_FINAL} for the final val_accuracy; every choice of the recipe was made on "
    "validation. Scoring: codes averaged over 9 translates of each image (tta_shift, chosen on validation); "
    "*_no_tta fields score the plain codes. Test (reports only): Lake et al.'s 20 runs "
    "(20-way 1-shot within alphabets of the evaluation set), lake20_accuracy, evaluated once per row. "
    "Headline rows: the recipe on all 10 alphabets (10 % of the drawings held out as a monitoring curve), "
    f"{HEADLINE_STEPS} steps, seeds {list(SEEDS)}; lake20_accuracy is their mean. "
    "Rows named <row>@full (--background full) train on the full images_background instead (omniglot:background, "
    "30 alphabets; comparison rows hold out 20 % of them, 6 alphabets, by data.val_by=alphabet) and never enter "
    "the headline, which is the small sets' only.")


def row_name(row: str, background: str = "small") -> str:
    """The name a row is stored under: ``row`` on the small sets, ``row@full`` on the full background set."""
    return row if background == "small" else f"{row}@{background}"


def row_overrides(row: str, steps: int, seed: int, data: str, background: str = "small") -> list[tuple[str, object]]:
    """The ``reprlab train siamese`` overrides of ``row`` (trained on ``BACKGROUNDS[background]``)."""
    _, over, kind = ROWS[row]
    base = dict(RECIPE) if kind in ("compare", "headline") else {}
    base.update(over)
    if kind == "headline":
        split = [("data.val_fraction", 0.1)]
    else:
        split = [("data.val_fraction", 0.2), ("data.val_by", "alphabet")]
    every = steps if kind == "koch" else max(steps // 6, 1)  # Koch's net: one validation (minutes each)
    return [("data.name", BACKGROUNDS[background]), ("data.data_dir", data), *split, ("val_way", 20), ("val_tasks", 200),
            ("tta_shift", TTA_SHIFT), *base.items(), ("train.max_steps", steps), ("train.seed", seed),
            ("train.val_every", every), ("train.checkpoint_every", every),
            ("train.early_stopping_patience", 0), ("train.log_every", 10 if kind == "koch" else 50),
            ("train.tensorboard", False)]


def full_background_missing(folder: Path) -> str | None:
    """Why ``--background full`` cannot run on ``folder`` (one line naming the download), or None."""
    from reprlab.data.download import download_command
    from reprlab.data.omniglot import SETS, _locate

    if _locate(Path(folder), SETS["background"]) is not None:
        return None
    where = Path(folder) / "omniglot-py" / "images_background.zip"
    return (f"--background full needs the full Omniglot background set, {where}, "
            f"which is not there; fetch it with `{download_command('omniglot:background', folder)}` "
            "(or run without --background full: the small sets)")


def score(model, rc, runs) -> dict:
    """The row's final scores, with the recipe's test-time shifts and without (``*_no_tta``): the
    validation split of ``rc`` (``VAL_TASKS_FINAL`` 20-way tasks within its alphabets, seed 0) and
    Lake's 20 runs."""
    from reprlab.data.fewshot import sample_tasks
    from reprlab.pipelines.training import load_data, validation_split

    _, val = validation_split(rc, load_data(rc, "train"))
    tasks = sample_tasks(val, n_way=20, k_shot=1, n_tasks=VAL_TASKS_FINAL, seed=0, within="alphabet", fit=True)
    out = {}
    for shift, tag in ((TTA_SHIFT, ""), (0.0, "_no_tta")):
        # every image of a pool encoded once, then the tasks scored on the codes (the same numbers as
        # scoring the images task by task, a task's images encoded each time)
        for name, t in (("val", tasks), ("lake20", runs)):
            coded = dataclasses.replace(t, x=model.scoring_codes(t.x, tta_shift=shift))
            acc = coded.accuracy(model.code_similarity)
            out[f"{name}_accuracy{tag}"] = round(float(acc.mean()), 4)
            if name == "lake20" and not tag:
                out["lake20_per_run"] = [round(float(a), 3) for a in acc]
    out["scoring"] = (f"tta_shift={TTA_SHIFT} (codes averaged over 9 translates); val: {VAL_TASKS_FINAL} tasks; "
                      "*_no_tta: the plain codes")
    return out


def run_row(row: str, args, runs) -> dict:
    import csv

    from reprlab.pipelines.training import build_run_config, train_run

    kind = ROWS[row][2]
    seed = int(row.rsplit("-s", 1)[1]) if kind == "headline" else args.seed
    steps = (args.quick_steps if args.quick else
             {"headline": args.headline_steps, "koch": args.koch_steps}.get(kind, args.compare_steps))
    name, full = row_name(row, args.background), args.background == "full"
    overrides = row_overrides(row, steps, seed, str(data_dir()), args.background)
    if args.quick:
        overrides.append(("val_tasks", 20))
    rc = build_run_config("siamese", None, overrides)
    run_dir = Path(args.run_root) / name
    t0 = time.perf_counter()
    model, result = train_run(rc, run_dir, overwrite=True)
    minutes = (time.perf_counter() - t0) / 60
    model.eval()
    curve = []
    with open(run_dir / "metrics.csv", newline="") as f:
        for r in csv.DictReader(f):
            if r.get("val/oneshot_acc"):
                curve.append({"step": int(r["step"]), "accuracy": float(r["val/oneshot_acc"])})
    out = {
        "row": name, "description": ROWS[row][0].replace("all 10 alphabets", "all 30 alphabets") if full else ROWS[row][0],
        "kind": kind, "seed": seed, "steps": result.steps, "background": args.background,
        "train_minutes": round(minutes, 2), "threads": args.threads,
        "val_split": ("10 % of the drawings (monitoring only)" if kind == "headline" else
                      "6 held-out alphabets (20 % of 30)" if full else "2 held-out alphabets"),
        **score(model, rc, runs),
        "validation_curve": curve,
        "settings": {k: v for k, v in overrides if k not in ("data.data_dir",)},
    }
    print(f"{name}: {result.steps} steps in {minutes:.1f} min; val {out['val_accuracy']} ({out['val_accuracy_no_tta']} "
          f"without shifts); Lake's 20 runs {out['lake20_accuracy']:.4f} ({out['lake20_accuracy_no_tta']:.4f})", flush=True)
    return out


def rescore_row(row: str, args, runs, old: dict) -> dict:
    """``row`` scored again from the weights in its run folder (no training): the committed row
    with its scores replaced by :func:`score`'s."""
    from reprlab.pipelines.training import load

    name = row_name(row, args.background)
    run_dir = Path(args.run_root) / name
    if not (run_dir / "model.safetensors").exists():
        raise SystemExit(f"error: {run_dir} has no model.safetensors to rescore; train the row (--rows {row}) or "
                         "point --run-root at the folder of its run")
    if name not in old:
        raise SystemExit(f"error: {name} has no committed row to rescore; train it (--rows {row})")
    model = load(run_dir)
    out = {**old[name], **score(model, model.run_config, runs)}
    out["settings"] = {**out.get("settings", {}), "tta_shift": TTA_SHIFT}
    out["rescored"] = f"{time.strftime('%Y-%m-%d')}: the weights of the original training run, scored again"
    print(f"{name} rescored: val {out['val_accuracy']} ({out['val_accuracy_no_tta']} without shifts); "
          f"Lake's 20 runs {out['lake20_accuracy']:.4f} ({out['lake20_accuracy_no_tta']:.4f})", flush=True)
    return out


def headline_of(rows: dict[str, dict], pixel: dict) -> dict:
    """The headline keys from the rows present (``None`` for a row not yet run)."""
    def acc(r):
        return rows[r]["lake20_accuracy"] if r in rows else None

    heads = [rows[f"headline-s{s}"] for s in SEEDS if f"headline-s{s}" in rows]
    h = {
        "lake20_accuracy": round(sum(r["lake20_accuracy"] for r in heads) / len(heads), 4) if heads else None,
        "lake20_accuracy_min": min((r["lake20_accuracy"] for r in heads), default=None),
        "lake20_accuracy_max": max((r["lake20_accuracy"] for r in heads), default=None),
        "train_minutes": max((r["train_minutes"] for r in heads), default=None),
        "pixel_1nn_cosine_accuracy": pixel["cosine"], "pixel_1nn_euclidean_accuracy": pixel["euclidean"],
        "protonet_accuracy": acc("protonet"),
    }
    h.update({key: acc(r) for r, key in LOSS_KEYS.items()})
    return h


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", help="comma-separated rows to run (see --list); default: the three headline seeds")
    p.add_argument("--list", action="store_true", help="print the rows and their settings, run nothing")
    p.add_argument("--quick", action="store_true", help="smoke run: a few steps per row, 20 validation tasks")
    p.add_argument("--quick-steps", type=int, default=20)
    p.add_argument("--compare-steps", type=int, default=COMPARE_STEPS)
    p.add_argument("--headline-steps", type=int, default=HEADLINE_STEPS)
    p.add_argument("--koch-steps", type=int, default=KOCH_STEPS)
    p.add_argument("--threads", type=int, default=1, help="CPU threads of this part (default 1: run two parts at once)")
    p.add_argument("--seed", type=int, default=0, help="seed of the comparison rows")
    p.add_argument("--run-root", default="runs/bench-oneshot", help="folder of the rows' run folders (each replaced)")
    p.add_argument("--no-write", action="store_true", help="print only, write no JSON")
    p.add_argument("--background", choices=tuple(BACKGROUNDS), default="small",
                   help="small: images_background_small1 + small2 (10 alphabets; the headline); full: the full "
                        "images_background (30 alphabets), rows stored as <row>@full")
    p.add_argument("--rescore", action="store_true",
                   help="score the rows again from the weights in their run folders (no training): after a change "
                        "of the scoring only")
    args = p.parse_args(argv)
    if args.list:
        for name, (what, over, kind) in ROWS.items():
            print(f"{name:<18} [{kind}] {what}: {json.dumps(over)}")
        return 0
    rows_wanted = args.rows.split(",") if args.rows else [f"headline-s{s}" for s in SEEDS]
    unknown = [r for r in rows_wanted if r not in ROWS]
    if unknown:
        print(f"error: unknown rows {unknown}; known: {', '.join(ROWS)}", file=sys.stderr)
        return 2
    if args.background == "full" and (missing := full_background_missing(data_dir())):
        print(f"error: {missing}", file=sys.stderr)
        return 2
    logging.getLogger("lightning_fabric").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module="lightning_fabric")

    import threadpoolctl
    import torch

    from reprlab.data import load_dataset
    from reprlab.eval.oneshot import fewshot_accuracy, pixel_cosine_similarity, pixel_similarity

    torch.set_num_threads(args.threads)
    threadpoolctl.threadpool_limits(args.threads)
    runs = load_dataset("omniglot-oneshot", data_dir=data_dir())
    pixel = {"euclidean": round(float(fewshot_accuracy(pixel_similarity, runs).mean()), 4),
             "cosine": round(float(fewshot_accuracy(pixel_cosine_similarity, runs).mean()), 4)}
    print(f"1-NN on pixels, Lake's 20 runs: Euclidean {pixel['euclidean']:.4f}, cosine {pixel['cosine']:.4f}", flush=True)

    committed = RESULTS_DIR / f"{NAME}.json"
    before = {r["row"]: r for r in json.loads(committed.read_text()).get("rows", [])} if committed.exists() else {}
    for row in rows_wanted:
        out = rescore_row(row, args, runs, before) if args.rescore else run_row(row, args, runs)
        if args.no_write:
            continue
        with results_lock(NAME):  # merge this row into the JSON other parts may be writing too
            path = RESULTS_DIR / f"{NAME}.json"
            old = json.loads(path.read_text()) if path.exists() else {}
            rows = {r["row"]: r for r in old.get("rows", []) if "row" in r}
            rows[out["row"]] = {**out, "git": git_commit(), "command": command_line(), "machine": machine_info()}
            ordered = [rows[n] for b in BACKGROUNDS for n in (row_name(r, b) for r in ROWS) if n in rows]
            headline = headline_of(rows, pixel)
            targets = check_targets(headline, TARGETS) if headline["lake20_accuracy"] is not None else {}
            extra = {"targets": targets, "protocol": PROTOCOL, "choices": CHOICES,
                     "headline_seeds": [rows[f"headline-s{s}"]["seed"] for s in SEEDS if f"headline-s{s}" in rows],
                     "budgets": {"compare_steps": args.compare_steps, "headline_steps": args.headline_steps,
                                 "koch_steps": args.koch_steps, "images_per_step": 128},
                     "recipe": RECIPE, "lecture_table_percent": dict(LECTURE_TABLE),
                     "paper_1nn": "Koch et al.'s 21.7 % (from Lake et al.) is a 1-nearest-neighbour on raw pixels; the "
                                  "papers do not name its similarity. The cosine of images with strokes 1.0 and background "
                                  "0.0 gives 87/400 = 21.75 %, the paper's number; the Euclidean distance gives 19.0 %. "
                                  "pixel_1nn_cosine_accuracy is the row comparable to the paper."}
            print("wrote", write_result(NAME, headline, ordered, command_line(), extra), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
