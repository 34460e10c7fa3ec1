"""t-SNE maps of 10,000 MNIST test images: reprlab (openTSNE) vs scikit-learn's TSNE, one run.

Two inputs, as a user would map them: the pixels after PCA to 50 dimensions, and the 32-D codes
of an MLP auto-encoder (784-512-128-32, cross-entropy) trained by reprlab on the 60,000 training
images. On each, :func:`reprlab.viz.tsne_2d` (openTSNE; FFT gradients at this size) and
scikit-learn's ``TSNE`` (Barnes-Hut, the peer) run with the same perplexity, the same number of
iterations (250 early-exaggeration + 500), PCA initialization and the same threads, one after the
other (the order alternates between inputs). Each map is scored by its trustworthiness T(10)
against its input and the leave-one-out 10-NN label accuracy in 2-D
(:mod:`reprlab.eval.neighbors`); the maps are drawn side by side in ``results/tsne.png``.
A third row per input, ``opentsne-fine``, is openTSNE with FIt-SNE's finer FFT grid
(``fft_interval=1``; reprlab's default is 2), for comparison; the headline uses reprlab's default.

Headline keys: ``speedup_vs_sklearn`` (sklearn's time / ours, the worse of the two inputs;
target >= 3), ``trustworthiness_k10`` (ours, the worse input) and ``trustworthiness_k10_sklearn``
(the peer's, the worse input), ``trustworthiness_deficit`` (the largest sklearn − ours over the
inputs; target <= 0.01).

    python benchmarks/tsne.py            # full run (~10 min on 2 cores)
    python benchmarks/tsne.py --quick    # smoke run: 2,000 images, short AE, 300 iterations
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import check_targets, command_line, data_dir, print_table, write_result  # noqa: E402

TARGETS = {"speedup_vs_sklearn": (">=", 3.0), "trustworthiness_deficit": ("<=", 0.01)}


def train_ae_codes(n_test: int, steps: int, seed: int):
    """32-D codes of the first ``n_test`` MNIST test images from an MLP AE trained by reprlab."""
    from reprlab.eval import encode_data
    from reprlab.pipelines.training import build_run_config, load_data, train_run

    rc = build_run_config("ae", None, [
        ("data.name", "mnist"), ("data.data_dir", str(data_dir())), ("data.val_fraction", 0.0),
        ("hidden", [512, 128]), ("latent_dim", 32), ("loss", "bce"), ("train.max_steps", steps),
        ("train.batch_size", 128), ("train.lr", 1e-3), ("train.seed", seed), ("train.progress", False),
        ("train.log_every", max(1, steps // 10)),
    ])
    t0 = time.perf_counter()
    model, _ = train_run(rc, None)
    seconds = time.perf_counter() - t0
    test = load_data(rc, "test").subset(slice(0, n_test))
    model.eval()
    return encode_data(model, test).double().numpy(), seconds


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run: 2,000 images, 200 AE steps, 300 iterations")
    p.add_argument("--n", type=int, help="MNIST test images (default 10000; quick 2000)")
    p.add_argument("--perplexity", type=float, default=30.0)
    p.add_argument("--n-iter", type=int, help="iterations, 250 early-exaggeration ones included (default 750; quick 300)")
    p.add_argument("--ae-steps", type=int, help="AE training steps of 128 images (default 3000; quick 200)")
    p.add_argument("--threads", type=int, default=2, help="threads for both t-SNEs and for BLAS/torch (default 2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-write", action="store_true", help="print the table only, write no JSON or picture")
    args = p.parse_args(argv)
    n = args.n or (2000 if args.quick else 10000)
    n_iter = args.n_iter or (300 if args.quick else 750)
    ae_steps = args.ae_steps or (200 if args.quick else 3000)
    logging.getLogger("lightning_fabric").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module="lightning_fabric")

    import threadpoolctl
    import torch
    from sklearn.decomposition import PCA

    from reprlab.data import load_dataset
    from reprlab.eval import knn_accuracy, trustworthiness
    from reprlab.viz import plot_map_grid, tsne_2d

    torch.set_num_threads(args.threads)
    threadpoolctl.threadpool_limits(args.threads)
    test = load_dataset("mnist", split="test", data_dir=data_dir()).subset(slice(0, n))
    labels = test.y.numpy()
    pixels = test.x.reshape(n, -1).double().numpy()
    inputs = {"pixels-pca50": PCA(50, svd_solver="full", random_state=args.seed).fit_transform(pixels)}
    codes, ae_seconds = train_ae_codes(n, ae_steps, args.seed)
    inputs["ae-codes32"] = codes
    print(f"AE trained in {ae_seconds:.0f} s ({ae_steps} steps); codes {codes.shape}", flush=True)

    rows, maps, qualities = [], [], []
    for i, (name, x) in enumerate(inputs.items()):
        order = ["opentsne", "sklearn", "opentsne-fine"] if i % 2 == 0 else ["sklearn", "opentsne", "opentsne-fine"]
        got = {}
        for backend in order:
            fine = {"fft_interval": 1.0} if backend == "opentsne-fine" else {}
            m = tsne_2d(x, args.perplexity, args.seed, n_iter=n_iter, n_jobs=args.threads,
                        backend=backend.removesuffix("-fine"), **fine)
            q = {"trustworthiness_k10": trustworthiness(x, m.coords, 10), "knn_accuracy_map": knn_accuracy(m.coords, labels, 10)}
            got[backend] = (m, q)
            print(f"{name} {backend}: {m.seconds:.1f} s, T(10) {q['trustworthiness_k10']:.4f}, "
                  f"10-NN acc {q['knn_accuracy_map']:.4f}", flush=True)
        for backend in ("opentsne", "sklearn", "opentsne-fine"):
            m, q = got[backend]
            if backend != "opentsne-fine":
                maps.append(m)
                qualities.append(q)
            rows.append({"input": name, "dim": x.shape[1], "n": n, "backend": backend, "seconds": m.seconds, **q,
                         "knn_accuracy_input": knn_accuracy(x, labels, 10), "perplexity": args.perplexity,
                         "n_iter": n_iter, "threads": args.threads, "seed": args.seed})
        rows[-3]["speedup_vs_sklearn"] = rows[-2]["seconds"] / rows[-3]["seconds"]
        rows[-1]["speedup_vs_sklearn"] = rows[-2]["seconds"] / rows[-1]["seconds"]
    print_table(rows, [("input", "input", ""), ("backend", "backend", ""), ("seconds", "s", ".1f"),
                       ("trustworthiness_k10", "T(10)", ".4f"), ("knn_accuracy_map", "10-NN acc 2-D", ".4f"),
                       ("knn_accuracy_input", "10-NN acc input", ".4f")])
    ours = [r for r in rows if r["backend"] == "opentsne"]
    peer = {r["input"]: r for r in rows if r["backend"] == "sklearn"}
    headline = {
        "speedup_vs_sklearn": round(min(r["speedup_vs_sklearn"] for r in ours), 3),
        "trustworthiness_k10": round(min(r["trustworthiness_k10"] for r in ours), 4),
        "trustworthiness_k10_sklearn": round(min(r["trustworthiness_k10"] for r in peer.values()), 4),
        "trustworthiness_deficit": round(max(peer[r["input"]]["trustworthiness_k10"] - r["trustworthiness_k10"] for r in ours), 4),
    }
    print("headline:", headline)
    targets = check_targets(headline, TARGETS)
    if not args.no_write:
        results = Path(__file__).resolve().parent / "results"
        plot_map_grid(maps, results / "tsne.png", labels, qualities=qualities, ncols=2,
                      title=f"t-SNE of {n} MNIST test images: reprlab/openTSNE (left) vs scikit-learn (right); "
                            f"rows: {', '.join(inputs)}")
        settings = {"perplexity": args.perplexity, "n_iter": n_iter, "early_exaggeration": "12 for 250 iterations",
                    "init": "pca", "learning_rate": "each library's 'auto'", "threads": args.threads,
                    "ae": {"layers": "784-512-128-32", "loss": "bce", "steps": ae_steps, "batch": 128,
                           "fit_seconds": ae_seconds}, "figure": "benchmarks/results/tsne.png"}
        path = write_result("tsne", headline, rows, command_line(), {"targets": targets, "settings": settings})
        print("wrote", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
