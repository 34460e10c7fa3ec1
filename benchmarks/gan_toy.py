"""Mode coverage of GANs on the 2-D toys of VEEGAN: every loss x regularizer, several seeds.

Data: ``ring8`` (8 Gaussians on a circle of radius 2) and ``grid25`` (25 on {-4,...,4}^2), σ = 0.02,
as in Unrolled GAN / VEEGAN. Metric, exactly VEEGAN's (Srivastava et al. 2017, Sec. 5.1): from
2,500 generated samples, a sample is high quality if within 3σ of its nearest mode; a mode is
captured if it has a high-quality sample (``reprlab.eval.modes``). VEEGAN's Table 1 (GAN, ALI,
Unrolled GAN, VEEGAN) is written beside ours in the JSON.

Every loss (minimax, ns, logratio, wgan with clipping, wgan-gp) with every regularizer defined
for it (none, r1, r2, gp, roth; wgan-gp is wgan with the gp regularizer, so it takes no other: the
committed results before that change also hold wgan-gp + r1 / r2 rows, penalties added) is trained with the same MLP networks (2 x 256 ReLU / leaky ReLU,
z ~ N(0, I_16)), Adam, batch 256, equal steps (WGAN variants: 5 critic steps per generator step, so equal
*critic* steps). The headline is reprlab's recommended setting (``RECOMMENDED``: non-saturating
loss, EMA of G, cosine lr, batch 512), trained longer (15,000 steps) with three seeds: ``ring8_modes``, ``ring8_hq``, ``grid25_modes``, ``grid25_hq`` (means over seeds;
target: all modes and hq >= 0.90). Figures: samples over the true modes per training stage
(``gan_toy_stages_<data>.png``) and the final samples of every loss x regularizer
(``gan_toy_table_<data>.png``).

    python benchmarks/gan_toy.py            # full run (~35 min on 2 CPU cores, 2 processes)
    python benchmarks/gan_toy.py --quick    # smoke run
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS_DIR, check_targets, command_line, print_table, write_result  # noqa: E402

LOSSES = ["minimax", "ns", "logratio", "wgan", "wgan-gp"]
REGS = {"minimax": ["none", "r1", "r2", "gp", "roth"], "ns": ["none", "r1", "r2", "gp", "roth"],
        "logratio": ["none", "r1", "r2", "gp", "roth"], "wgan": ["none", "r1", "r2", "gp"], "wgan-gp": ["none"]}
GAMMA = {"r1": 0.1, "r2": 0.1, "gp": 1.0, "roth": 0.1}
#: reprlab's recommended setting for low-dimensional data: chosen on ring8, seed 0, before this benchmark
#: was run (ns alone: hq 0.69 after 5k steps; + EMA and cosine lr: 0.81; + batch 512 and 15k steps: 0.98)
RECOMMENDED = {"loss": "ns", "reg": "none", "ema": 0.999, "train.lr_schedule": "cosine", "train.batch_size": 512}
COMMON = {"latent_dim": 16, "g_hidden": [256, 256], "d_hidden": [256, 256], "train.batch_size": 256, "train.lr": 1e-3}
TARGETS = {"ring8_modes": (">=", 8), "ring8_hq": (">=", 0.90), "grid25_modes": (">=", 25), "grid25_hq": (">=", 0.90)}


def run_one(job: dict) -> dict:
    """Train one GAN on one toy and score 2,500 samples (runs in a worker process, one thread)."""
    import torch

    torch.set_num_threads(1)
    from reprlab.eval.modes import mixture_mode_coverage
    from reprlab.pipelines.training import build_run_config, train_run

    overrides = {**COMMON, **job["settings"]}
    if overrides.get("loss", "").startswith("wgan"):
        overrides.setdefault("n_critic", 5)
        overrides.setdefault("model.betas", [0.5, 0.9])
    pairs = [("data.name", job["data"]), ("data.val_fraction", 0.0), ("train.max_steps", job["steps"]),
             ("train.seed", job["seed"]), ("train.progress", False), ("train.tensorboard", False),
             ("train.log_every", max(1, job["steps"] // 10)), ("train.checkpoint_every", max(1, job["steps"] // 5)),
             ("train.keep_checkpoints", 1), *overrides.items()]
    rc = build_run_config("gan", None, pairs)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        model, _ = train_run(rc, Path(tmp) / "run")
        seconds = time.perf_counter() - t0
        stages = sorted((Path(tmp) / "run" / "samples").glob("step-*.npy"))
        stage_points = [(int(p.stem.split("-")[1]), __import__("numpy").load(p)) for p in stages]
    samples = model.sample(2500, torch.Generator().manual_seed(1000 + job["seed"]))
    cov = mixture_mode_coverage(samples, job["data"])
    return {**{k: v for k, v in job.items() if k != "settings"}, **job["settings"], "modes": cov["modes"],
            "hq": cov["hq"], "kl": cov.get("kl"), "seconds": seconds, "samples": samples[:1000].numpy(),
            "stages": stage_points}


def jobs_for(data: str, steps: int, seeds: list[int], rec_steps: int, rec_seeds: list[int]) -> list[dict]:
    out = []
    for seed in rec_seeds:
        out.append({"data": data, "steps": rec_steps, "seed": seed, "recommended": True, "settings": dict(RECOMMENDED)})
    for loss in LOSSES:
        for reg in REGS[loss]:
            settings = {"loss": loss, "reg": reg, **({"gamma": GAMMA[reg]} if reg in GAMMA else {})}
            for seed in seeds:
                out.append({"data": data, "steps": steps, "seed": seed, "recommended": False, "settings": settings})
    return out


def figures(results: list[dict], data: str) -> None:
    from reprlab.data.toy import mixture_centers, mixture_std
    from reprlab.viz.gan import plot_point_panels

    centers, std = mixture_centers(data), mixture_std(data)
    table = [r for r in results if r["data"] == data and not r["recommended"] and r["seed"] == min(x["seed"] for x in results)]
    panels = [(f"{r['loss']} + {r['reg']}: {r['modes']} modes, hq {r['hq']:.2f}", r["samples"]) for r in table]
    plot_point_panels(panels, RESULTS_DIR / f"gan_toy_table_{data}.png", centers=centers, std=std, ncol=5)
    staged = [r for r in results if r["data"] == data and r["seed"] == min(x["seed"] for x in results)
              and (r["recommended"] or (r["reg"] == "none" and r["loss"] in ("minimax", "ns", "wgan-gp")))]
    panels = []
    for r in staged:
        name = "recommended" if r["recommended"] else f"{r['loss']}"
        panels += [(f"{name}, step {step}", pts) for step, pts in r["stages"]]
    ncol = max(len(r["stages"]) for r in staged)
    plot_point_panels(panels, RESULTS_DIR / f"gan_toy_stages_{data}.png", centers=centers, std=std, ncol=ncol)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smoke run: few steps, one seed, no results file")
    p.add_argument("--workers", type=int, default=2, help="processes (one thread each)")
    a = p.parse_args()
    steps, seeds, rec_steps, rec_seeds = (60, [0], 60, [0]) if a.quick else (2000, [0, 1], 15000, [0, 1, 2])
    jobs = [j for d in ("ring8", "grid25") for j in jobs_for(d, steps, seeds, rec_steps, rec_seeds)]
    if a.quick:
        jobs = [j for j in jobs if j["recommended"] or j["settings"]["reg"] in ("none", "r1")][:8]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=a.workers) as pool:
        results = list(pool.map(run_one, jobs))
    print(f"{len(results)} runs in {(time.perf_counter() - t0) / 60:.1f} min")

    rows = [{k: v for k, v in r.items() if k not in ("samples", "stages")} for r in results]
    print_table(rows, [("data", "data", ""), ("loss", "loss", ""), ("reg", "reg", ""), ("seed", "seed", "d"),
                       ("steps", "steps", "d"), ("modes", "modes", "d"), ("hq", "hq", ".3f"), ("seconds", "s", ".0f")])
    if a.quick:
        return
    from reprlab.eval.modes import VEEGAN_TABLE

    headline = {}
    for data in ("ring8", "grid25"):
        rec = [r for r in results if r["data"] == data and r["recommended"]]
        headline[f"{data}_modes"] = sum(r["modes"] for r in rec) / len(rec)
        headline[f"{data}_hq"] = sum(r["hq"] for r in rec) / len(rec)
        figures(results, data)
    targets = check_targets(headline, TARGETS)
    print({k: v for k, v in headline.items()})
    write_result("gan_toy", headline, rows, command_line(), {
        "targets": targets, "recommended": RECOMMENDED, "common": COMMON, "gamma": GAMMA,
        "published_veegan_table1": VEEGAN_TABLE,
        "protocol": "2,500 samples; high quality: within 3 sigma of the nearest mode; captured: >= 1 high-quality sample",
        "seeds": {"table": seeds, "recommended": rec_seeds}, "steps": {"table": steps, "recommended": rec_steps},
    })


if __name__ == "__main__":
    main()
