"""The lecture's "GAN vs VAE" figure (Makhzani et al. 2015, Fig. 2), measured: 2-D codes of held-out
MNIST for an adversarial auto-encoder and a VAE, each with a N(0, I) prior and with the mixture of
10 2-D Gaussians, over several seeds.

All models share the MLP encoder/decoder (784-512-512-2 and back, ReLU, Bernoulli / cross-
entropy output), Adam at 1e-3 decayed to 0 by a cosine over the run (``SCHEDULE``: the recipe,
chosen on validation data, below), batch 100, the same steps and seeds. The AAE's code
discriminator is an MLP (2-256-256-1) with the non-saturating loss; the rows ``constant lr`` are
the AAE at a constant 1e-3 (the ablation: the first version of this benchmark). The VAE with the
mixture prior uses the one-sample KL estimate. How well codes
fit the prior: sliced Wasserstein distance and MMD² between the aggregated posterior on the
10,000 test images (one z per image: z = E(x) for the AAE, z ~ q(z|x) for the VAE) and as many
prior draws. Figures (first seed): the four panels (``aae_mnist_codes.png``) and images decoded
along the Gaussian percentiles of the N(0, I) AAE (``aae_mnist_percentiles.png``, panel (e) of the
paper's figure). Headline: the sliced Wasserstein distance of each model, the median over seeds
(no target; the issue asks for the comparison), and ``seeds``.

    python benchmarks/aae_mnist.py                    # 6 models x 3 seeds (~20 min on 2 CPU cores)
    python benchmarks/aae_mnist.py --models '"VAE, N(0, I)"' --seeds 0,1,2,3,4   # a part: other models' rows stay
    python benchmarks/aae_mnist.py --quick            # smoke run

A recipe is tried with ``--validation`` on seeds >= 100: it trains on five sixths of the training
images, scores the sixth held out from them (10,001 images; never the test set) and merges its rows
into the JSON's ``validation_rows`` under ``--label``, the settings ``--set`` changed::

    python benchmarks/aae_mnist.py --validation --label r1-gamma10 --models '"AAE, N(0, I)"' \\
        --seeds 100,101 --set reg=r1 --set gamma=10
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS_DIR, add_recipe_args, command_line, data_dir, print_table, recipe_settings, write_result  # noqa: E402

#: the recipe of every model: the learning rate decayed to 0 by a cosine, chosen on seeds 100 and 101
#: with a sixth of the training images held out (``validation_rows``) before the rows' seeds 0-2 ran. At a
#: constant rate the AAE's codes drift with the adversarial game and where a run stops decides the
#: fit (validation sliced W 2.298 and 0.243; R1 with γ = 10 on D: 0.197 and 0.667); with the decay
#: the game settles (0.054 and 0.051; with R1 as well 0.048 and 0.076, so R1 was left out). The
#: VAE, whose KL term has no such game, scores alike either way (0.165 / 0.243 constant, 0.191 /
#: 0.215 with the decay): the decay is given to all models, so that they differ only in the prior term
SCHEDULE = {"train.lr_schedule": "cosine"}
CONSTANT = {"train.lr_schedule": "constant"}
MODELS = {
    "AAE, N(0, I)": ("aae", {"prior": "gaussian", "latent_dim": 2, **SCHEDULE}),
    "AAE, 10-mixture": ("aae", {"prior": "mixture10", "latent_dim": 2, **SCHEDULE}),
    "VAE, N(0, I)": ("vae", {"prior": "gaussian", "latent_dim": 2, **SCHEDULE}),
    "VAE, 10-mixture": ("vae", {"prior": "mixture10", "latent_dim": 2, **SCHEDULE}),
    "AAE, N(0, I), constant lr": ("aae", {"prior": "gaussian", "latent_dim": 2, **CONSTANT}),
    "AAE, 10-mixture, constant lr": ("aae", {"prior": "mixture10", "latent_dim": 2, **CONSTANT}),
}
#: headline key of each model: the sliced Wasserstein distance, median over seeds
KEYS = {"AAE, N(0, I)": "sw_aae_gaussian", "AAE, 10-mixture": "sw_aae_mixture", "VAE, N(0, I)": "sw_vae_gaussian",
        "VAE, 10-mixture": "sw_vae_mixture", "AAE, N(0, I), constant lr": "sw_aae_gaussian_constant_lr",
        "AAE, 10-mixture, constant lr": "sw_aae_mixture_constant_lr"}
VAL_FRACTION = 1 / 6  # --validation: a sixth of the 60,000 training images held out (10,001: the split rounds up)
STEPS_PER_EPOCH = 600  # batches of 100 in the 60,000 training images
TEST_IMAGES = 10000


def run_one(job: dict) -> dict:
    """Train one model on one seed and score its codes (runs in a worker process, one thread)."""
    import torch

    torch.set_num_threads(1)
    from reprlab.data import load_dataset
    from reprlab.eval.two_sample import aggregate_posterior_sample, prior_fit
    from reprlab.pipelines.training import build_run_config, load_data, train_run, validation_split
    from reprlab.viz import traversal_grid

    name, settings = MODELS[job["model"]]
    val_fraction = VAL_FRACTION if job["validation"] else 0.0
    pairs = [("data.name", "mnist"), ("data.data_dir", str(data_dir())), ("data.val_fraction", val_fraction),
             ("train.max_steps", job["steps"]), ("train.batch_size", 100), ("train.lr", 1e-3), ("train.seed", job["seed"]),
             ("train.progress", False), ("train.tensorboard", False), ("train.log_every", max(1, job["steps"] // 10)),
             ("train.val_every", 10**9), ("hidden", [512, 512]), *settings.items(), *job["extra"].items()]
    rc = build_run_config(name, None, pairs)
    cpu0 = time.process_time()
    model, result = train_run(rc, None)
    cpu = time.process_time() - cpu0
    model.eval()
    if job["validation"]:
        x = validation_split(rc, load_data(rc, "train"))[1].x
        y = None
    else:
        test = load_dataset("mnist", split="test", data_dir=str(data_dir()))
        x, y = test.x[: job["n_test"]], test.y[: job["n_test"]]
    fit = prior_fit(model, x)
    z = aggregate_posterior_sample(model, x).double()
    row = {"model": job["model"], "seed": job["seed"], "steps": job["steps"], "train_seconds": result.wall_s,
           "train_cpu_minutes": round(cpu / 60, 2), **fit, "code_mean": [round(v, 3) for v in z.mean(0).tolist()],
           "code_std": [round(v, 3) for v in z.std(0).tolist()], "evaluated_on": "validation" if job["validation"] else "test",
           "n_eval": len(x), "settings": {**settings, **job["extra"]}, **({"extra": job["extra"]} if job["extra"] else {})}
    out = {"row": row, "codes": z.float().numpy(), "labels": None if y is None else y.numpy()}
    if job["model"] == "AAE, N(0, I)" and job["figures"]:
        out["percentiles"] = traversal_grid(model, 15, prior="gaussian")
    return out


def run_jobs(jobs: list[dict], workers: int) -> list[dict]:
    """:func:`run_one` of each job in ``workers`` processes, in order."""
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run_one, jobs))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smoke run: 30 steps, 1,000 test images, no results file")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--models", default=",".join(f'"{m}"' for m in MODELS),
                   help='the models to run, each quoted, comma-separated (default: all)')
    p.add_argument("--workers", type=int, default=2, help="processes (one thread each)")
    p.add_argument("--validation", action="store_true",
                   help="score a held-out sixth of the training images, seeds >= 100; rows go to validation_rows under --label")
    add_recipe_args(p, "model", "gamma=1")
    a = p.parse_args(argv)
    import csv

    models = next(csv.reader([a.models], skipinitialspace=True))
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise SystemExit(f"--models: unknown {unknown}; choose from {list(MODELS)}")
    seeds = [int(s) for s in a.seeds.split(",")]
    extra = recipe_settings(a, seeds)
    steps = 30 if a.quick else a.epochs * STEPS_PER_EPOCH
    n_test = 1000 if a.quick else TEST_IMAGES
    first = min(seeds)
    jobs = [{"model": m, "seed": s, "steps": steps, "n_test": n_test, "validation": a.validation, "extra": extra,
             "figures": s == first and not a.validation} for m in models for s in seeds]
    results = run_jobs(jobs, a.workers)
    rows = [r["row"] for r in results]
    print_table(rows, [("model", "model", ""), ("seed", "seed", "d"), ("sliced_wasserstein", "sliced W2", ".3f"),
                       ("mmd2", "MMD²", ".4f"), ("train_cpu_minutes", "CPU min", ".1f")])
    if a.quick:
        return
    if a.validation:
        from _common import merge_validation_rows

        for r in rows:
            r.update(label=a.label, command=command_line())
        path = merge_validation_rows("aae_mnist", rows, lambda r: (r["label"], r["model"], r["seed"], r["steps"]))
        print(f"merged {len(rows)} validation rows into {path}")
        return
    figures(results, first)
    import json

    path = RESULTS_DIR / "aae_mnist.json"
    old = json.loads(path.read_text()) if path.is_file() else {}
    # a part (--models): the rows of the models it did not run stay, and the headline reads them all
    rows = [r for r in old.get("rows", []) if r.get("model") in MODELS and r["model"] not in models and "seed" in r] + rows
    present = [m for m in MODELS if any(r["model"] == m for r in rows)]
    seeds_by_model = {m: sorted(r["seed"] for r in rows if r["model"] == m) for m in present}
    headline = {KEYS[m]: statistics.median(r["sliced_wasserstein"] for r in rows if r["model"] == m) for m in present}
    headline["seeds"] = min(len(v) for v in seeds_by_model.values())  # which ones: settings.seeds_by_model
    print(headline)
    write_result("aae_mnist", headline, rows, command_line(), {
        "settings": {"encoder": "784-512-512-2 MLP", "steps": sorted({r["steps"] for r in rows}), "batch": 100,
                     "seeds": sorted({s for v in seeds_by_model.values() for s in v}), "seeds_by_model": seeds_by_model,
                     "test_images": n_test, "schedule": SCHEDULE, "models": {m: MODELS[m] for m in present},
                     "recipe_choice": "seeds 100 and 101, 49,999 training images, scored on the 10,001 held out "
                                      "(validation_rows), before seeds 0-2 ran; the test set chose nothing"},
        **{k: v for k, v in old.items() if k == "validation_rows"},
    })


def figures(results: list[dict], first: int) -> None:
    """The four panels (when this run trained the four models) and the AAE's percentiles (when it trained
    the N(0, I) AAE), from the first seed."""
    from reprlab.viz import save_image_grid
    from reprlab.viz.gan import plot_point_panels

    shown = [r for r in results if r["row"]["seed"] == first and "constant" not in r["row"]["model"]]
    if len(shown) == 4:
        panels = [(f"{r['row']['model']}\nSW {r['row']['sliced_wasserstein']:.3f}", r["codes"]) for r in shown]
        plot_point_panels(panels, RESULTS_DIR / "aae_mnist_codes.png", labels=shown[0]["labels"], ncol=4, lim=8.0)
    grid = next((r["percentiles"] for r in results if "percentiles" in r), None)
    if grid is not None:
        save_image_grid(grid, RESULTS_DIR / "aae_mnist_percentiles.png", nrow=15)

if __name__ == "__main__":
    main()
