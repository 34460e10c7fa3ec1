"""Linear auto-encoder = PCA: does reprlab's trained linear AE span sklearn's principal subspace?

For each data set (digits; the first ``--mnist-n`` MNIST training images), code size
k in {2, 10, 50} and both weight sharings, a single-layer linear auto-encoder (``reprlab train
ae hidden=[] activation=linear latent_dim=k``, tied ``x̂ = Wᵀ(Wx + b) + c`` with ``model.tied=true``
and untied ``x̂ = V(Wx + b) + c``) is trained by reprlab's Trainer with full-batch L-BFGS
(``train.optimizer=lbfgs``, ``train.batch_size`` = the data size, float64), from a random
initialization, and compared with scikit-learn's ``PCA(k)`` on the same data by
:func:`reprlab.eval.subspace_agreement`: the cosines of the principal angles between the
decoder's column space and the PCA subspace, and the reconstruction MSE relative to PCA's
(the optimum, Baldi & Hornik 1989). The peer's (PCA's) fit time is recorded next to ours.

Headline keys: ``min_cosine_principal_angle`` (the worst over all data sets and k of the tied
AE; target >= 0.999) and ``mse_ratio_to_pca`` (the worst; target <= 1.01); the same two for
the untied AE as ``*_untied``. Both have the same optimum (the principal subspace), but the
untied one is far harder for a gradient method: its encoder has directions of curvature
proportional to the data's smallest variances and a GL(k) family of equivalent solutions
(h -> Ah, V -> VA^-1), so on MNIST it creeps towards the subspace (see the rows).

    python benchmarks/ae_pca.py            # full run
    python benchmarks/ae_pca.py --quick    # smoke run: digits, few steps
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import command_line, data_dir, print_table, write_result  # noqa: E402

TARGETS = {"min_cosine_principal_angle": ">= 0.999", "mse_ratio_to_pca": "<= 1.01"}


def fit_linear_ae(data, k: int, steps: int, seed: int, tied: bool = True):
    """A linear AE with k codes trained on ``data`` by reprlab's Trainer (full-batch L-BFGS, float64)."""
    from reprlab.pipelines.training import build_model, build_run_config
    from reprlab.train import Trainer
    from reprlab.train.trainer import seed_everything

    rc = build_run_config("ae", None, [
        ("hidden", []), ("activation", "linear"), ("latent_dim", k), ("loss", "mse"), ("tied", tied),
        ("train.optimizer", "lbfgs"), ("train.lr", 1.0), ("train.batch_size", len(data)),
        ("train.max_steps", steps), ("train.precision", "64-true"), ("train.seed", seed),
        ("train.progress", False), ("train.log_every", max(1, steps // 10)),
    ])
    seed_everything(seed)
    model = build_model(rc, data.sample_shape)
    result = Trainer(rc.train, None).fit(model, data)
    return model, result


def pca_seconds(x, k: int) -> float:
    from sklearn.decomposition import PCA

    t0 = time.perf_counter()
    PCA(k, svd_solver="full").fit(x)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run: digits only, 5 L-BFGS steps")
    p.add_argument("--steps", type=int, help="L-BFGS steps (x20 iterations) per digits fit (default 100; quick 5)")
    p.add_argument("--mnist-steps", type=int, default=40, help="L-BFGS steps per MNIST fit (default 40)")
    p.add_argument("--tied", default="true,false", help="weight sharings to run (default true,false)")
    p.add_argument("--mnist-n", type=int, default=10000, help="MNIST training images used (default 10000)")
    p.add_argument("--ks", default="2,10,50", help="code sizes (default 2,10,50)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch/BLAS threads (1: a shared 2-core machine oversubscribes)")
    p.add_argument("--no-write", action="store_true", help="print the table only, write no JSON")
    args = p.parse_args(argv)
    steps = args.steps or (5 if args.quick else 100)
    ks = [int(k) for k in args.ks.split(",")]
    tieds = [t.strip().lower() in ("true", "1", "yes") for t in args.tied.split(",")]
    logging.getLogger("lightning_fabric").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module="lightning_fabric")

    import threadpoolctl
    import torch

    from reprlab.data import load_dataset
    from reprlab.eval import subspace_agreement

    torch.set_num_threads(args.threads)
    threadpoolctl.threadpool_limits(args.threads)

    sets = {"digits": load_dataset("digits", split="train", seed=args.seed)}
    if not args.quick:
        mnist = load_dataset("mnist", split="train", data_dir=data_dir())
        sets["mnist"] = mnist.subset(slice(0, args.mnist_n))
    rows = []
    for name, data in sets.items():
        x = data.x.reshape(len(data), -1).double().numpy()
        for k, tied in ((k, t) for t in tieds for k in ks):
            n_steps = steps if name == "digits" else args.mnist_steps
            model, res = fit_linear_ae(data, k, n_steps, args.seed, tied)
            agree = subspace_agreement(model, data.x)
            rows.append({
                "data": name, "n": len(data), "dim": x.shape[1], "k": k, "tied": tied, "steps": n_steps,
                "min_cosine_principal_angle": agree["min_cosine_principal_angle"],
                "mse_ratio_to_pca": agree["mse_ratio_to_pca"], "mse": agree["mse"], "mse_pca": agree["mse_pca"],
                "cosines": agree["cosines"], "ae_fit_seconds": res.wall_s, "pca_fit_seconds": pca_seconds(x, k),
                "seed": args.seed,
            })
            r = rows[-1]
            print(f"{name} k={k} {'tied' if tied else 'untied'}: min cos {r['min_cosine_principal_angle']:.6f}, mse ratio {r['mse_ratio_to_pca']:.5f}, "
                  f"{r['ae_fit_seconds']:.1f} s (PCA {r['pca_fit_seconds']:.2f} s)", flush=True)
    print_table(rows, [("data", "data", ""), ("k", "k", "d"), ("tied", "tied", ""), ("min_cosine_principal_angle", "min cos angle", ".6f"),
                       ("mse_ratio_to_pca", "MSE / PCA", ".5f"), ("ae_fit_seconds", "AE s", ".1f"),
                       ("pca_fit_seconds", "PCA s", ".2f")])
    headline = {}
    for tied in tieds:
        mine, suffix = [r for r in rows if r["tied"] == tied], "" if tied else "_untied"
        headline["min_cosine_principal_angle" + suffix] = round(min(r["min_cosine_principal_angle"] for r in mine), 6)
        headline["mse_ratio_to_pca" + suffix] = round(max(r["mse_ratio_to_pca"] for r in mine), 5)
    print("headline:", headline, "targets:", TARGETS)
    if not args.no_write:
        settings = {"optimizer": "L-BFGS (strong Wolfe, history 20, 20 iterations/step), full batch, float64",
                    "init": "PyTorch default (random), seed above", "mnist_images": args.mnist_n,
                    "steps": {"digits": steps, "mnist": args.mnist_steps}, "threads": args.threads,
                    "headline": "min_cosine_principal_angle / mse_ratio_to_pca: tied AE (worst over data sets and k); "
                                "*_untied: the untied AE, same budget"}
        path = write_result("ae_pca", headline, rows, command_line(), {"targets": TARGETS, "settings": settings})
        print("wrote", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
