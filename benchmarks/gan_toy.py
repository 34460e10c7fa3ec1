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

PacGAN's grid (Lin et al. 2018, their code ``fjxmlzn/PacGAN``), a part of its own that merges its
rows into the same JSON (``--part pacgan``): ``grid25-pacgan`` (σ = 0.05, high quality within
3σ = 0.15), G an MLP of 4 x 400 units with batch norm and z ~ N(0, I_2), D three maxout layers of
200 units x 5 pieces, weights N(0, 0.02²), Adam(1e-4, β1 = 0.8), 100 packs per batch (100·m
samples), the non-saturating loss; one row per pack size m and seed. PacGAN trains 400 epochs of
100,000 samples (400k steps); a step costs ~45 ms on one CPU thread here, so ``--steps`` sets what
the budget allows and the rows say how far they got:

    python benchmarks/gan_toy.py --part pacgan --packs 1,4 --seeds 0,1,2 --steps 40000
    python benchmarks/gan_toy.py --part pacgan --setup recommended --packs 4 --seeds 0,1,2 --steps 15000 --workers 1
    python benchmarks/gan_toy.py --part pacgan --setup recommended-pacgan-g --packs 1,4 --seeds 0,1,2 --steps 15000

WGAN-GP in its own paper's toy setup (``--setup wgan-gp``: ``WGAN_GP_TOY``, λ = 0.1, 3 x 512 MLPs), on
the ring or the grid, ``--steps`` generator steps (5 critic steps each), rows in the same part::

    python benchmarks/gan_toy.py --part pacgan --setup wgan-gp --data ring8 --packs 1 --seeds 0,1,2 --steps 10000

A recipe is tried on seeds >= 100 (no headline row's seed) with ``--validation``: its rows go to the
JSON's ``validation_rows`` under ``--label``, with the settings ``--set`` changed::

    python benchmarks/gan_toy.py --part pacgan --setup recommended-pacgan-g --packs 1 --seeds 100 --steps 15000 \
        --validation --label r1-gamma0.1 --set reg=r1 --set gamma=0.1
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (RESULTS_DIR, add_recipe_args, check_targets, command_line, print_table,  # noqa: E402
                     recipe_settings, write_result)

LOSSES = ["minimax", "ns", "logratio", "wgan", "wgan-gp"]
REGS = {"minimax": ["none", "r1", "r2", "gp", "roth"], "ns": ["none", "r1", "r2", "gp", "roth"],
        "logratio": ["none", "r1", "r2", "gp", "roth"], "wgan": ["none", "r1", "r2", "gp"], "wgan-gp": ["none"]}
GAMMA = {"r1": 0.1, "r2": 0.1, "gp": 1.0, "roth": 0.1}
#: reprlab's recommended setting for low-dimensional data: chosen on ring8, seed 0, before this benchmark
#: was run (ns alone: hq 0.69 after 5k steps; + EMA and cosine lr: 0.81; + batch 512 and 15k steps: 0.98)
RECOMMENDED = {"loss": "ns", "reg": "none", "ema": 0.999, "train.lr_schedule": "cosine", "train.batch_size": 512}
COMMON = {"latent_dim": 16, "g_hidden": [256, 256], "d_hidden": [256, 256], "train.batch_size": 256, "train.lr": 1e-3}
#: PacGAN's grid setup (their config.py): the settings of every --part pacgan row (batch: 100 packs)
PACGAN = {"latent_dim": 2, "g_hidden": [400] * 4, "d_hidden": [200] * 3, "g_mlp_batch_norm": True, "d_maxout": 5,
          "init_std": 0.02, "loss": "ns", "reg": "none", "model.betas": [0.8, 0.999], "train.lr": 1e-4}
#: reprlab's recommended setting with PacGAN's generator (z in R², 4 x 400 ReLU units with batch
#: norm): chosen on seed 100 at 15,000 steps on grid25, before the rows' seeds 0-2 were run
#: (recommended 16 modes / hq 0.70; + PacGAN's G 23 / 0.85; + packing m = 2 14 / 0.27; + PacGAN's
#: maxout D 8 / 0.88)
PACGAN_G = {"latent_dim": 2, "g_hidden": [400] * 4, "g_mlp_batch_norm": True}
#: settings a named setup adds over its base (``recommended-pacgan-g-*`` over RECOMMENDED + PACGAN_G).
#: ``-r1``: R1 with γ = 0.1, chosen on seed 100 at 15,000 steps (``validation_rows``: 25 modes / hq 0.898
#: with γ = 0.1, 25 / 0.899 with γ = 0.01, against 23 / 0.853 without R1), before seeds 0-2 were run
#: ``wgan-gp-ema``: WGAN-GP's toy setup sampled from the EMA of G (decay 0.999), reprlab's recommended
#: sampler, fixed before the runs: EMA does not change training, so with the same seeds it is the
#: ``wgan-gp`` rows' training read through the averaged generator
SETUP_EXTRA: dict[str, dict] = {"recommended-pacgan-g-r1": {"reg": "r1", "gamma": 0.1}, "wgan-gp-ema": {"ema": 0.999}}
#: WGAN-GP's own toy setup (Gulrajani et al. 2017, their ``gan_toy.py``): G and D MLPs of 3 x 512
#: units, z ~ N(0, I_2), λ = 0.1 ("smaller lambda seems to help for toy tasks"), 5 critic steps per
#: generator step, Adam(1e-4, β = (0.5, 0.9)), batch 256 (they train 100k generator steps); --steps
#: counts generator steps for it
WGAN_GP_TOY = {"loss": "wgan-gp", "reg": "none", "gp_weight": 0.1, "n_critic": 5, "latent_dim": 2, "g_hidden": [512] * 3,
               "d_hidden": [512] * 3, "train.lr": 1e-4, "model.betas": [0.5, 0.9], "train.batch_size": 256}
PACGAN_PAPER = {"source": "Lin et al. 2018 (PacGAN), 2D-grid, about 400k iterations (as quoted in issue 18)",
                "GAN": {"modes": 17.3, "hq_percent": 94.8}, "PacGAN4": {"modes": 24.8, "hq_percent": 93.6}}
TARGETS = {"ring8_modes": (">=", 8), "ring8_hq": (">=", 0.90), "grid25_modes": (">=", 25), "grid25_hq": (">=", 0.90)}
#: issue 18's targets for the packing part's rows: grid25 >= 24.5 modes and hq >= 0.90 (means of 3 seeds);
#: the WGAN-GP ring rows keep the ring's 8 modes and hq >= 0.90
PACK_TARGETS = {"grid25_pacgan_g_modes_pack1": (">=", 24.5), "grid25_pacgan_g_hq_pack1": (">=", 0.90),
                "grid25_pacgan_g_r1_modes_pack1": (">=", 24.5), "grid25_pacgan_g_r1_hq_pack1": (">=", 0.90),
                "ring8_wgan_gp_modes_pack1": (">=", 8), "ring8_wgan_gp_hq_pack1": (">=", 0.90),
                "ring8_wgan_gp_ema_modes_pack1": (">=", 8), "ring8_wgan_gp_ema_hq_pack1": (">=", 0.90)}


def pack_targets(headline: dict, targets: dict) -> dict:
    """``targets`` (the table's checks) with :data:`PACK_TARGETS` checked for the keys ``headline`` has."""
    return {**targets, **check_targets(headline, {k: v for k, v in PACK_TARGETS.items() if k in headline})}


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
    rc = build_run_config("gan", None, pairs, recipe=False)  # each row names its whole setting
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        model, _ = train_run(rc, Path(tmp) / "run")
        seconds = time.perf_counter() - t0
        stages = sorted((Path(tmp) / "run" / "samples").glob("step-*.npy"))
        stage_points = [(int(p.stem.split("-")[1]), __import__("numpy").load(p)) for p in stages]
    samples = model.sample(2500, torch.Generator().manual_seed(1000 + job["seed"]))
    cov = mixture_mode_coverage(samples, job["data"])
    # the same protocol at each checkpoint, on the checkpoint's snapshot of fixed noise: the step a run converged
    stage_cov = [(step, mixture_mode_coverage(torch.as_tensor(pts), job["data"])) for step, pts in stage_points]
    return {**{k: v for k, v in job.items() if k != "settings"}, **job["settings"], "modes": cov["modes"],
            "hq": cov["hq"], "kl": cov.get("kl"), "seconds": seconds, "samples": samples[:1000].numpy(),
            "stages": stage_points, "stage_coverage": [
                {"step": step, "n_samples": len(pts), "modes": c["modes"], "hq": round(c["hq"], 4)}
                for (step, c), (_, pts) in zip(stage_cov, stage_points)]}


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


def run_jobs(jobs: list[dict], workers: int) -> tuple[list[dict], list[dict]]:
    """Run ``jobs`` in ``workers`` processes: (the results, their rows without samples and stages)."""
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(run_one, jobs))
    print(f"{len(results)} runs in {(time.perf_counter() - t0) / 60:.1f} min")
    return results, [{k: v for k, v in r.items() if k not in ("samples", "stages")} for r in results]


def pacgan_jobs(packs: list[int], seeds: list[int], steps: int, setup: str = "pacgan", data: str = "grid25-pacgan",
                extra: dict | None = None) -> list[dict]:
    """One job per pack size m and seed: PacGAN's grid setup (``PACGAN``, 100 packs per batch), or
    reprlab's recommended setting (``RECOMMENDED``, its batch of 512 samples cut into packs)."""
    if setup == "pacgan":
        return [{"data": data, "steps": steps, "seed": seed, "recommended": False, "part": "pacgan", "setup": setup,
                 "settings": {**PACGAN, "pack": m, "train.batch_size": 100 * m}} for m in packs for seed in seeds]
    if setup.startswith("wgan-gp"):
        return [{"data": data, "steps": steps * WGAN_GP_TOY["n_critic"], "g_steps": steps, "seed": seed, "recommended": False,
                 "part": "pacgan", "setup": setup,
                 "settings": {**WGAN_GP_TOY, **SETUP_EXTRA.get(setup, {}), **(extra or {}), "pack": m}}
                for m in packs for seed in seeds]
    g = PACGAN_G if setup.startswith("recommended-pacgan-g") else {}
    return [{"data": data, "steps": steps, "seed": seed, "recommended": False, "part": "pacgan", "setup": setup,
             "settings": {**RECOMMENDED, **g, **SETUP_EXTRA.get(setup, {}), **(extra or {}), "pack": m}}
            for m in packs for seed in seeds]


def jobs_steps(results: list[dict]) -> str:
    """The step counts of ``results`` for a file name: ``15000`` or ``15000-30000``."""
    return "-".join(str(st) for st in sorted({r["steps"] for r in results}))


def pack_key(setup: str, data: str, metric: str, m: int) -> str:
    """Headline key of the packing rows: ``pacgan_grid25_modes_pack4`` (PacGAN's setup) or
    ``grid25_modes_pack4`` (the recommended setting) or ``grid25_pacgan_g_modes_pack1`` (the
    recommended setting with PacGAN's generator)."""
    if setup == "pacgan":
        return f"pacgan_grid25_{metric}_pack{m}"
    if setup.startswith("wgan-gp"):  # ring8_wgan_gp_modes_pack1, ring8_wgan_gp_ema_modes_pack1
        return f"{data}_{setup.replace('-', '_')}_{metric}_pack{m}"
    if setup.startswith("recommended-pacgan-g-"):  # a named variant: grid25_pacgan_g_r1_modes_pack1
        return f"{data}_pacgan_g_{setup.removeprefix('recommended-pacgan-g-').replace('-', '_')}_{metric}_pack{m}"
    return f"{data}_{metric}_pack{m}" if setup == "recommended" else f"{data}_pacgan_g_{metric}_pack{m}"


def validation_part(new: list[dict], label: str, extra: dict, folder: Path | None = None) -> Path:
    """Merge the rows of a ``--validation`` run (a recipe tried on seeds no headline row uses) into
    ``gan_toy.json``'s ``validation_rows`` under ``label``; the headline and its rows are untouched."""
    from _common import merge_validation_rows

    for r in new:
        r.update(label=label, extra=extra, command=command_line())
    path = merge_validation_rows("gan_toy", new, lambda r: (r["label"], r["data"], r["pack"], r["seed"], r["steps"]), folder)
    print(f"merged {len(new)} validation rows into {path}")
    return path


def pacgan_part(a) -> None:
    """Run the PacGAN rows asked for and merge them into ``gan_toy.json`` (other rows kept)."""
    import json

    packs, seeds = [int(v) for v in a.packs.split(",")], [int(v) for v in a.seeds.split(",")]
    data = a.data or ("grid25-pacgan" if a.setup == "pacgan" else "grid25")
    extra = recipe_settings(a, seeds)
    results, new = run_jobs(pacgan_jobs(packs, seeds, 60 if a.quick else a.steps, a.setup, data, extra), a.workers)
    print_table(new, [("pack", "m", "d"), ("seed", "seed", "d"), ("steps", "steps", "d"), ("modes", "modes", "d"),
                      ("hq", "hq", ".3f"), ("seconds", "s", ".0f")])
    if a.quick:
        return
    if a.validation:
        return validation_part(new, a.label, extra)
    from _common import results_lock

    with results_lock("gan_toy"):  # other parts may be merging their rows too
        path = RESULTS_DIR / "gan_toy.json"
        old = json.loads(path.read_text())
        key = lambda r: (r.get("part"), r.get("setup", "pacgan"), r.get("data"), r.get("pack"), r.get("seed"), r.get("steps"))  # noqa: E731
        replaced = {key(r) for r in new}
        rows = [r for r in old["rows"] if key(r) not in replaced] + new
        headline = dict(old["headline"])
        groups = {(r.get("setup", "pacgan"), r["data"], r["pack"]) for r in rows if r.get("part") == "pacgan"}
        for setup, group_data, m in sorted(groups):  # (not ``data``: the figure below is of this run's mixture)
            mine = [r for r in rows if r.get("part") == "pacgan"
                    and (r.get("setup", "pacgan"), r["data"], r["pack"]) == (setup, group_data, m)]
            # the step count with the most seeds (then the longest): a one-seed probe never replaces 3 seeds
            count = {st: sum(r["steps"] == st for r in mine) for st in {r["steps"] for r in mine}}
            chosen = max(count, key=lambda st: (count[st], st))
            mine = [r for r in mine if r["steps"] == chosen]
            headline[pack_key(setup, group_data, "modes", m)] = sum(r["modes"] for r in mine) / len(mine)
            headline[pack_key(setup, group_data, "hq", m)] = sum(r["hq"] for r in mine) / len(mine)
        extra = {k: v for k, v in old.items() if k not in ("name", "date", "git", "command", "machine", "headline", "rows")}
        extra["targets"] = pack_targets(headline, old.get("targets", {}))
        extra.update({"pacgan_setup": PACGAN, "pacgan_wgan_gp_setup": WGAN_GP_TOY, "pacgan_published": PACGAN_PAPER, "pacgan_g_setup": PACGAN_G,
                      "pacgan_g_variants": SETUP_EXTRA,
                      "pacgan_g_choice": "seed 100 (not a row's seed), grid25, 15,000 steps, 2,500 samples: recommended "
                                         "16 modes / hq 0.6992; + PacGAN's generator (z in R^2, 4 x 400 + batch norm) "
                                         "23 / 0.8528; + packing m = 2 14 / 0.268; + PacGAN's maxout D 8 / 0.8832",
                      "pacgan_protocol": "grid25-pacgan (sigma 0.05); 2,500 samples; high quality within 3 sigma = 0.15 of "
                                         "the nearest mode; headline packing keys: means over the seeds of each setup and "
                                         "pack size m at the step count with the most seeds"})
        panels = [(f"{a.setup}\nm = {r['pack']}, seed {r['seed']}, {r['steps']} steps\n{r['modes']} modes, hq {r['hq']:.2f}",
                   r["samples"]) for r in results]
        from reprlab.data.toy import mixture_centers, mixture_std
        from reprlab.viz.gan import plot_point_panels

        plot_point_panels(panels, RESULTS_DIR / f"gan_toy_packing_{a.setup}_{data}_{jobs_steps(results)}.png",
                          centers=mixture_centers(data),
                          std=mixture_std(data), ncol=min(len(panels), 3))
        print("wrote", write_result("gan_toy", headline, rows, command_line(), extra))


def packing_part_of(path: Path) -> tuple[list[dict], dict, dict]:
    """What a table run keeps of an existing ``gan_toy.json``: the rows of ``--part pacgan``, their
    headline keys (``*_pack<m>``) and settings (``pacgan*``), and the ``validation_rows``; empty
    when there is no file."""
    import json

    if not path.is_file():
        return [], {}, {}
    old = json.loads(path.read_text())
    return ([r for r in old["rows"] if r.get("part") == "pacgan"],
            {k: v for k, v in old["headline"].items() if "_pack" in k},
            {k: v for k, v in old.items() if k.startswith("pacgan") or k == "validation_rows"})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smoke run: few steps, one seed, no results file")
    p.add_argument("--workers", type=int, default=2, help="processes (one thread each)")
    p.add_argument("--part", choices=["table", "pacgan"], default="table",
                   help="table: every loss x regularizer and the recommended setting; pacgan: packing rows")
    p.add_argument("--setup", choices=["pacgan", "recommended", "recommended-pacgan-g", "wgan-gp", *SETUP_EXTRA],
                   default="pacgan",
                   help="--part pacgan: PacGAN's grid networks and optimizer, reprlab's recommended setting, "
                        "the recommended setting with PacGAN's generator (-r1: and R1, γ = 0.1), or WGAN-GP's own "
                        "toy setup (--steps: generator steps; -ema: sampled from the EMA of G)")
    p.add_argument("--data", help="--part pacgan: the mixture (default: grid25-pacgan for --setup pacgan, else grid25)")
    p.add_argument("--packs", default="1,4", help="--part pacgan: pack sizes m")
    p.add_argument("--seeds", default="0,1,2", help="--part pacgan: seeds")
    p.add_argument("--steps", type=int, default=40000, help="--part pacgan: generator steps per run")
    p.add_argument("--validation", action="store_true",
                   help="--part pacgan: a recipe tried on seeds >= 100; rows go to validation_rows under --label")
    add_recipe_args(p, "setup", "reg=r1")
    a = p.parse_args()
    if a.part == "pacgan":
        return pacgan_part(a)
    steps, seeds, rec_steps, rec_seeds = (60, [0], 60, [0]) if a.quick else (2000, [0, 1], 15000, [0, 1, 2])
    jobs = [j for d in ("ring8", "grid25") for j in jobs_for(d, steps, seeds, rec_steps, rec_seeds)]
    if a.quick:
        jobs = [j for j in jobs if j["recommended"] or j["settings"]["reg"] in ("none", "r1")][:8]
    results, rows = run_jobs(jobs, a.workers)
    print_table(rows, [("data", "data", ""), ("loss", "loss", ""), ("reg", "reg", ""), ("seed", "seed", "d"),
                       ("steps", "steps", "d"), ("modes", "modes", "d"), ("hq", "hq", ".3f"), ("seconds", "s", ".0f")])
    if a.quick:
        return
    headline = {}
    for data in ("ring8", "grid25"):
        rec = [r for r in results if r["data"] == data and r["recommended"]]
        headline[f"{data}_modes"] = sum(r["modes"] for r in rec) / len(rec)
        headline[f"{data}_hq"] = sum(r["hq"] for r in rec) / len(rec)
        figures(results, data)
    targets = check_targets(headline, TARGETS)
    print({k: v for k, v in headline.items()})
    kept, kept_headline, kept_extra = packing_part_of(RESULTS_DIR / "gan_toy.json")
    headline.update(kept_headline)
    write_result("gan_toy", headline, rows + kept, command_line(),
                 table_extra(kept_extra, headline, targets, {"table": seeds, "recommended": rec_seeds},
                             {"table": steps, "recommended": rec_steps}))


def table_extra(kept_extra: dict, headline: dict, targets: dict, seeds: dict, steps: dict) -> dict:
    """The keys a table run writes after its rows: the packing part's kept keys, the targets (the
    kept packing keys keep their checks), the settings and the protocol."""
    from reprlab.eval.modes import VEEGAN_TABLE

    return {
        **kept_extra,
        "targets": pack_targets(headline, targets), "recommended": RECOMMENDED, "common": COMMON, "gamma": GAMMA,
        "published_veegan_table1": VEEGAN_TABLE,
        "protocol": "2,500 samples; high quality: within 3 sigma of the nearest mode; captured: >= 1 high-quality sample",
        "seeds": seeds, "steps": steps,
    }


if __name__ == "__main__":
    main()
