"""Tempered Adversarial Networks on MNIST: the same GAN with and without the paper's lens, FID against the step.

The GAN is ``gan_mnist.py``'s NS-GAN (DCGAN-style nets, Adam 2e-4, β = (0.5, 0.999), batch 64).
``tempered-gan`` adds the lens of Sajjadi et al. 2018 as far as the paper's figures show it
(``lens_arch=paper``, Fig. 4: a 3x3 conv to 32 channels + leaky ReLU, 8 residual blocks
conv 32 -> leaky ReLU -> conv 32 with a skip, a 3x3 conv back to one channel, a global skip; no
BatchNorm), trained on L_L = λ·L_L^A + ‖X − L(X)‖² (mean over pixels) with λ(t) = 1 − sin(tπ/2K)
until K, then 0. The paper uses K = 10,000 and trains 10⁶ steps; its Fig. 5 (MNIST, DCGAN) shows FID
22 with the lens against 42 without, the lens run worse at first and crossing below at about 10⁵
steps. A lens step costs about 0.4 s on one CPU thread here (the GAN step alone: 0.035 s), so a
CPU run in the paper's mode reaches a few thousand steps: K is scaled to a third of the run
(``--lens-steps``, default min(10,000, steps / 3)) so that the lens tempers, returns to the identity
and the GAN then trains on the true data; ``--steps 1000000 --lens-steps 10000`` is the paper's
length for a GPU. The headline runs drop the lens at K (below) and train 30x K.

Both runs of a seed train the same number of steps from the same seed; ``--points`` checkpoints of
each are scored by ``gan_mnist.py``'s classifier FID / KID / precision / recall (5,000 samples vs the
same random half of the MNIST test set), with G itself (``raw``: the paper has no EMA; the headline)
and its EMA. The lens's distortion, the mean ‖L(x) − x‖² per image of each training batch (summed
over pixels), is read from the run's ``metrics.csv`` (``train/lens/distortion``).

Headline keys: ``fid_with_lens``, ``fid_without_lens`` (final FID, medians over seeds),
``fid_auc_with_lens``, ``fid_auc_without_lens`` (area under the FID curve over the run, divided by
its length: the run's mean FID; medians over seeds), ``lens_distortion_start`` (mean distortion over
the first 5 % of K, median over seeds), ``g_steps``, ``seeds``. Figures:
``tempered_mnist_curves.png`` (FID, precision, recall against the step, with and without the lens),
``tempered_mnist_distortion.png`` (the distortion and λ against the step) and
``tempered_mnist_lens.png`` (a fixed real batch x above L(x) at each checkpoint of the first seed's
lens run, drawn by a part with the headline's K whose run has a checkpoint before K; ``settings.lens_figure``
names that run).

``--lens-after-k identity`` drops the lens at K (``model.lens_after_k``: D sees x itself from then on)
instead of training it on the reconstruction term alone as the paper does: the steps after K then cost
plain GAN steps, so runs many times longer than K fit a CPU budget. Rows record the mode
(``lens_after_k``; rows without it are the paper's); the headline reads the (step count, mode) with the
most seeds, then the longest, then the paper's mode, and says which. Rows name the network that
scored them (``feature_network``); the headline compares only rows of the network of the part that
writes it (rows of an earlier classifier stay in the file, shown nowhere).

Parts merge their rows into ``tempered_mnist.json``::

    python benchmarks/tempered_mnist.py --seeds 0,1,2 --steps 3000          # ~21 CPU-min a lens run
    python benchmarks/tempered_mnist.py --seeds 0 --lens with               # one half of a seed
    python benchmarks/tempered_mnist.py --steps 30000 --lens-steps 1000 --lens-after-k identity --points 15
                                                        # 10x longer: the lens dropped at K (~23 CPU-min a lens run)
    python benchmarks/tempered_mnist.py --seeds 1 --steps 60000 --lens-steps 1000 --lens-after-k identity --points 20 --workers 2
                                                        # the headline's runs, a seed a part (~37-43 CPU-min a lens run)
    python benchmarks/tempered_mnist.py --quick                             # smoke run
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS_DIR, command_line, data_dir, print_table, results_lock, write_result  # noqa: E402
from gan_mnist import curves_figure, feature_network, merge_rows, real_halves, run_jobs  # noqa: E402

PAPER = {"source": "Sajjadi et al. 2018, Fig. 5 (MNIST, DCGAN) and Fig. 2 caption (K = 10k)", "fid_with_lens": 22,
         "fid_without_lens": 42, "steps": 1_000_000, "lens_steps_K": 10_000, "curves_cross_at_step": 100_000}
SAMPLES = 5000  # generated images scored at each checkpoint (and real test images they are compared with)


def lens_snapshots(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, picture) of a run's lens snapshots (``lens/step-NNNNNN.png``: x above L(x)), by step."""
    return sorted((int(p.stem.split("-")[1]), p) for p in (run_dir / "lens").glob("step-*.png"))


def lens_figure(run_dir: Path, path: Path, k: int) -> bool:
    """Stack the lens snapshots (x above L(x), one pair of rows per checkpoint) into one PNG, if the
    run has one before K: the figure shows the lens tempering and returning to the identity, which a
    run checkpointed only after K (long runs, few points) cannot show. Returns whether it was drawn."""
    import numpy as np
    from PIL import Image

    shots = lens_snapshots(run_dir)
    if not any(step < k for step, _ in shots):
        return False
    Image.fromarray(np.concatenate([np.asarray(Image.open(p).convert("RGB")) for _, p in shots], 0)).save(path)
    return True


def distortion_curve(run_dir: Path) -> list[tuple[int, float, float]]:
    """(step, mean ‖L(x) − x‖² per image, λ) from the run's ``metrics.csv``."""
    with open(run_dir / "metrics.csv") as f:
        return [(int(r["step"]), float(r["train/lens/distortion"]), float(r["train/lens/lambda"]))
                for r in csv.DictReader(f) if r.get("train/lens/distortion")]


def fid_auc(curve: list[dict]) -> float:
    """Trapezoidal area under FID against the generator step, divided by the steps it spans."""
    pts = sorted((c["g_step"], c["fid"]) for c in curve)
    if len(pts) < 2:
        return pts[0][1]
    area = sum((x1 - x0) * (y0 + y1) / 2 for (x0, y0), (x1, y1) in zip(pts, pts[1:]))
    return area / (pts[-1][0] - pts[0][0])


def distortion_figure(rows: list[dict], path: Path, k: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for r in rows:
        ax.plot([s for s, _, _ in r["distortion"]], [d for _, d, _ in r["distortion"]], lw=1, label=f"seed {r['seed']}")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("mean ‖L(x) − x‖² per image")
    ax.axvline(k, color="grey", ls=":", label=f"K = {k}")
    twin = ax.twinx()
    first = rows[0]["distortion"]
    twin.plot([s for s, _, _ in first], [lam for _, _, lam in first], color="black", ls="--", lw=1, label="λ(t)")
    twin.set_ylabel("λ(t)")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title("Tempered GAN on MNIST: how far the lens moves the real images")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def after_k(row: dict) -> str | None:
    """What a row's lens did after K: ``train`` (the paper; rows written before the option) or
    ``identity`` (dropped); None without a lens."""
    return (row.get("lens_after_k") or "train") if row["lens"] else None


def headline_rows(lens_rows: list[dict]) -> list[dict]:
    """The lens rows of one (step count, after-K mode): the most seeds, then the longest run, then the
    paper's mode."""
    groups: dict[tuple, list[dict]] = {}
    for r in lens_rows:
        groups.setdefault((r["g_steps"], after_k(r)), []).append(r)
    if not groups:
        return []
    return groups[max(groups, key=lambda g: (len(groups[g]), g[0], g[1] == "train"))]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smoke run: 20 steps, one seed, 1,000 samples, no results file")
    p.add_argument("--steps", type=int, default=3000, help="generator steps of each run")
    p.add_argument("--lens-steps", type=int, help="K (default: min(10,000, steps / 3))")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--lens", choices=["both", "with", "without"], default="both", help="which runs of each seed")
    p.add_argument("--lens-after-k", choices=["train", "identity"], default="train",
                   help="the lens after K: train (the paper) or identity (dropped: later steps cost a plain GAN step)")
    p.add_argument("--points", type=int, default=10, help="checkpoints scored per run (the curves)")
    p.add_argument("--workers", type=int, default=2, help="runs at a time (one thread each)")
    p.add_argument("--keep-runs", help="keep the run folders here (default: a temporary folder)")
    p.add_argument("--reuse-runs", action="store_true", help="with --keep-runs: score finished runs there instead of training again")
    a = p.parse_args()
    from reprlab.eval.features import classifier_features

    steps, seeds, n = (20, [0], 1000) if a.quick else (a.steps, [int(s) for s in a.seeds.split(",")], SAMPLES)
    k = a.lens_steps or max(1, min(10_000, steps // 3))
    real_halves(n)
    features = classifier_features("mnist", data_dir=str(data_dir()))  # trained and cached once, before the workers
    scorer = feature_network(features)
    root = Path(a.keep_runs) if a.keep_runs else Path(tempfile.mkdtemp(prefix="tempered_mnist-"))
    models = {"both": ["gan", "tempered-gan"], "with": ["tempered-gan"], "without": ["gan"]}[a.lens]
    log_every = max(1, min(25, k // 40))  # ≥ 2 distortion points inside the first 5 % of K
    jobs = [{"method": "NS-GAN", "seed": s, "g_steps": steps, "model": m, "root": str(root), "reuse": a.reuse_runs,
             "points": 2 if a.quick else a.points, "samples": n,
             "extra": {"train.log_every": log_every,
                       **({"lens_steps": k, "lens_after_k": a.lens_after_k} if m == "tempered-gan" else {})}}
            for s in seeds for m in models]
    t0 = time.perf_counter()
    results = run_jobs(jobs, a.workers)
    print(f"{len(jobs)} runs in {(time.perf_counter() - t0) / 60:.1f} min")
    new, lens_run = [], None
    for job, res in zip(jobs, results):
        lens = job["model"] == "tempered-gan"
        for r in res["rows"]:
            r.update({"lens": lens, "lens_steps_K": k if lens else None, "lens_after_k": a.lens_after_k if lens else None,
                      "fid_auc": fid_auc(r["curve"])})
            if lens:
                dist = distortion_curve(Path(res["run_dir"]))
                start = [d for s, d, _ in dist if s <= max(1, 0.05 * k)]
                r["distortion"] = dist
                r["lens_distortion_start"] = statistics.fmean(start) if start else None
                r["lens_distortion_at_K"] = min(dist, key=lambda t: abs(t[0] - k))[1] if dist else None
            new.append(r)
        if lens and job["seed"] == seeds[0]:
            lens_run = job, Path(res["run_dir"])  # its snapshots may become the lens figure (below)
    print_table(new, [("lens", "lens", ""), ("seed", "seed", "d"), ("variant", "G", ""), ("fid", "FID (classifier)", ".2f"),
                      ("fid_auc", "FID AUC", ".2f"), ("precision", "precision", ".3f"), ("recall", "recall", ".3f"),
                      ("lens_distortion_start", "distortion start", ".3f"), ("train_cpu_minutes", "CPU min", ".1f")])
    if a.quick:
        return
    path = RESULTS_DIR / "tempered_mnist.json"
    with results_lock("tempered_mnist"):
        rows, old = merge_rows(path, new, lambda r: (r["lens"], after_k(r), r["seed"], r["g_steps"], r["variant"]))
        # only rows scored by this part's network are compared (rows of an earlier classifier stay in the file)
        scored = [r for r in rows if r.get("feature_network") == scorer and r["variant"] == "raw"]
        with_rows = headline_rows([r for r in scored if r["lens"]])
        without_rows = [r for r in scored if not r["lens"]]
        without_rows = [r for r in without_rows if r["g_steps"] == with_rows[0]["g_steps"]] if with_rows else without_rows
        med = lambda rs, key: statistics.median(r[key] for r in rs) if rs else None  # noqa: E731
        headline = {"fid_with_lens": med(with_rows, "fid"), "fid_without_lens": med(without_rows, "fid"),
                    "fid_auc_with_lens": med(with_rows, "fid_auc"), "fid_auc_without_lens": med(without_rows, "fid_auc"),
                    "lens_distortion_start": med(with_rows, "lens_distortion_start"),
                    "g_steps": with_rows[0]["g_steps"] if with_rows else steps,
                    "lens_after_k": after_k(with_rows[0]) if with_rows else a.lens_after_k,
                    "seeds": min(len(with_rows), len(without_rows))}
        print(headline)
        shown = [r for r in rows if r["g_steps"] == headline["g_steps"] and after_k(r) in (None, headline["lens_after_k"])
                 and r.get("feature_network") == scorer]
        curves_figure(shown, RESULTS_DIR / "tempered_mnist_curves.png",
                      lambda r: ("with lens" + (" (dropped at K)" if after_k(r) == "identity" else "")) if r["lens"] else "without lens")
        # the lens figure: the first seed's lens run of a part with the headline's K and a snapshot before K
        # (up to K the two modes after K are the same run, bit for bit); any other part leaves it as it is
        figure_from = old.get("settings", {}).get("lens_figure")
        head_k = with_rows[0]["lens_steps_K"] if with_rows else k
        if lens_run is not None and k == head_k and lens_figure(lens_run[1], RESULTS_DIR / "tempered_mnist_lens.png", k):
            figure_from = {"seed": lens_run[0]["seed"], "g_steps": steps, "lens_after_k": a.lens_after_k, "lens_steps_K": k,
                           "snapshot_steps": [st for st, _ in lens_snapshots(lens_run[1])]}
        if with_rows:
            distortion_figure(with_rows, RESULTS_DIR / "tempered_mnist_distortion.png", with_rows[0]["lens_steps_K"])
        write_result("tempered_mnist", headline, rows, command_line(), {
            "paper": PAPER, "classifier_test_accuracy": features.test_accuracy, "feature_network": scorer,
            "settings": {"gan": "NS-GAN of gan_mnist.py (its COMMON and METHODS['NS-GAN'])", "lens_arch": "paper",
                         "lens_reconstruction": "mean", "samples": n,
                         # the headline group's (a probe part of other steps does not rewrite them)
                         "lens_steps_K": head_k, "lens_figure": figure_from,
                         "points": len(with_rows[0]["curve"]) if with_rows else a.points,
                         "log_every": log_every, "lens_after_k": "per row (rows without the key: train, the paper)"},
            "protocol": "headline: G itself (raw; the paper has no EMA), medians over seeds; the EMA rows are shown "
                        "beside; same seeds, steps and settings with and without the lens; only rows scored by "
                        "feature_network are compared (rows without the key: cnn-v1, an earlier classifier); "
                        "nothing chosen on the test half",
        })


if __name__ == "__main__":
    main()
