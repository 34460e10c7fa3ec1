"""Koch et al.'s one-shot Omniglot table, with reprlab's Siamese network trained on the small background sets.

A convolutional Siamese network (``reprlab train siamese``; Koch's architecture at CPU size,
``arch=koch-small``, or the paper's ``--arch koch`` on a GPU) is trained on pairs of the
Omniglot background small sets only (``images_background_small1`` + ``small2``: 10 alphabets,
292 characters, 20 drawers; a third of the alphabets Koch et al. had): all similar pairs of
18 of the 20 drawers of each character, dissimilar pairs from the same alphabet at ``--ratio``,
Koch's random affine distortions, Koch's loss (cross-entropy of
σ(Σ α_k |z_k(x) − z_k(x')|) + λ‖w‖²), Adam, early stopping on 20-way one-shot accuracy of
tasks drawn from the 2 held-out drawers. It is then evaluated on Lake et al.'s 20 one-shot runs
(20-way, within an alphabet of the *evaluation* set: characters never seen in training),
exactly that protocol, next to the 1-nearest-neighbour on pixels computed in the same run.

Headline keys: ``lake20_accuracy`` (target >= 0.92, Koch et al.'s convolutional Siamese net),
``pixel_1nn_accuracy`` (the paper's 21.7 %), ``train_minutes``.

    python benchmarks/oneshot_omniglot.py            # full run (~30 min on 2 CPU cores)
    python benchmarks/oneshot_omniglot.py --quick    # smoke run: 40 steps
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import check_targets, command_line, data_dir, write_result  # noqa: E402

TARGETS = {"lake20_accuracy": (">=", 0.92)}

#: the lecture's table (Koch et al. 2015, Table 2): 20-way one-shot accuracy on Lake's runs, %
LECTURE_TABLE = [
    ("Humans", 95.5), ("Hierarchical Bayesian Program Learning", 95.2), ("Affine model", 81.8),
    ("Hierarchical Deep", 65.2), ("Deep Boltzmann Machine", 62.0), ("Simple Stroke", 35.2),
    ("1-Nearest Neighbor", 21.7), ("Siamese Neural Net", 58.3), ("Convolutional Siamese Net", 92.0),
]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run: 40 steps, small validation")
    p.add_argument("--steps", type=int, help="training steps (default 4000; quick 40)")
    p.add_argument("--arch", default="koch-small", help="koch-small (CPU) or koch (the paper's net, for a GPU)")
    p.add_argument("--batch-size", type=int, default=128, help="pairs per step (default 128)")
    p.add_argument("--ratio", type=float, default=2.0, help="dissimilar pairs per similar pair (default 2)")
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--run-dir", default="runs/bench-oneshot", help="the training run's folder (replaced)")
    p.add_argument("--no-write", action="store_true", help="print only, write no JSON")
    args = p.parse_args(argv)
    steps = args.steps or (40 if args.quick else 4000)
    logging.getLogger("lightning_fabric").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module="lightning_fabric")

    import threadpoolctl
    import torch

    from reprlab.data import load_dataset
    from reprlab.eval.oneshot import fewshot_accuracy, pixel_similarity
    from reprlab.pipelines.training import build_run_config, train_run

    torch.set_num_threads(args.threads)
    threadpoolctl.threadpool_limits(args.threads)
    runs = load_dataset("omniglot-oneshot", data_dir=data_dir())
    pixel = fewshot_accuracy(pixel_similarity, runs)
    print(f"1-NN on pixels, Lake's 20 runs: {float(pixel.mean()):.4f}", flush=True)

    overrides = [
        ("data.name", "omniglot"), ("data.data_dir", str(data_dir())), ("data.val_fraction", 0.1),
        ("arch", args.arch), ("loss", "koch"), ("latent_dim", 4096 if args.arch == "koch" else 512),
        ("l2", 1e-5), ("ratio", args.ratio), ("negatives", "same:alphabet"), ("augment", True),
        ("val_way", 20), ("val_tasks", 20 if args.quick else 200),
        ("train.max_steps", steps), ("train.batch_size", args.batch_size), ("train.lr", args.lr),
        ("train.lr_schedule", "cosine"), ("train.warmup_steps", min(200, steps // 10)),
        ("train.val_every", 20 if args.quick else 500), ("train.checkpoint_every", 500),
        ("train.early_stopping_patience", 4), ("train.seed", args.seed), ("train.log_every", 10 if args.quick else 50),
        ("train.tensorboard", False),
    ]
    rc = build_run_config("siamese", None, overrides)
    t0 = time.perf_counter()
    model, result = train_run(rc, Path(args.run_dir), overwrite=True)
    train_minutes = (time.perf_counter() - t0) / 60
    model.eval()
    acc = fewshot_accuracy(model.similarity_matrix, runs)
    ours = float(acc.mean())
    print(f"trained {result.steps} steps in {train_minutes:.1f} min (stopped early: {result.stopped_early}); "
          f"validation: {result.val_metrics}", flush=True)

    table = LECTURE_TABLE + [(f"reprlab Siamese ({args.arch}, small background sets)", 100 * ours),
                             ("reprlab 1-NN on pixels (same run)", 100 * float(pixel.mean()))]
    print("\n20-way one-shot accuracy on Lake et al.'s runs (the lecture's table, with our rows):")
    for name, value in sorted(table, key=lambda r: -r[1]):
        mark = "  <-" if name.startswith("reprlab") else ""
        print(f"  {name:<55} {value:5.1f} %{mark}")

    headline = {"lake20_accuracy": round(ours, 4), "pixel_1nn_accuracy": round(float(pixel.mean()), 4),
                "train_minutes": round(train_minutes, 2)}
    print("headline:", headline)
    targets = check_targets(headline, TARGETS)
    rows = [{"run": name, "siamese_accuracy": float(a), "pixel_1nn_accuracy": float(b)}
            for name, a, b in zip(runs.names, acc, pixel)]
    if not args.no_write:
        import csv

        with open(Path(args.run_dir) / "metrics.csv", newline="") as f:  # the validation curve, for the record
            curve = [{"step": int(r["step"]), "oneshot_acc": float(r["val/oneshot_acc"])}
                     for r in csv.DictReader(f) if r.get("val/oneshot_acc")]
        settings = {"validation_curve": curve, "model": rc.to_dict()["model"], "train": {k: v for k, v in rc.to_dict()["train"].items()
                                                               if k in ("max_steps", "batch_size", "lr", "lr_schedule", "optimizer")},
                    "steps_run": result.steps, "stopped_early": result.stopped_early, "val_metrics": result.val_metrics,
                    "lecture_table_percent": dict(LECTURE_TABLE), "threads": args.threads}
        path = write_result("oneshot_omniglot", headline, rows, command_line(), {"targets": targets, "settings": settings})
        print("wrote", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
