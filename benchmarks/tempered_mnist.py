"""Tempered Adversarial Networks on MNIST: the same GAN with and without the lens, equal steps, several seeds.

The GAN is ``gan_mnist.py``'s NS-GAN (DCGAN-style nets, Adam 2e-4, β = (0.5, 0.999), batch 64).
``tempered-gan`` adds the lens of Sajjadi et al. 2018 (a 3-layer residual conv net started at the
identity) with λ(t) = 1 − sin(tπ/2K) over the first K = half of the steps, then λ = 0. Both are
trained for the same number of steps with the same seeds and scored by the classifier FID of
``gan_mnist.py`` (5,000 samples vs the same random half of the MNIST test set). Headline keys
``fid_with_lens``, ``fid_without_lens`` (medians over seeds) and ``seeds``. Figure: a fixed real
batch x above L(x) at each checkpoint of the first seed (``tempered_mnist_lens.png``).

    python benchmarks/tempered_mnist.py            # full run (about 30 min on 2 CPU cores)
    python benchmarks/tempered_mnist.py --quick    # smoke run
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS_DIR, command_line, data_dir, print_table, write_result  # noqa: E402
from gan_mnist import score, train_gan  # noqa: E402


def lens_figure(run_dir: Path, path: Path) -> None:
    """Stack the lens snapshots (x above L(x), one pair of rows per checkpoint) into one PNG."""
    import numpy as np
    from PIL import Image

    shots = sorted((run_dir / "lens").glob("step-*.png"))
    if shots:
        Image.fromarray(np.concatenate([np.asarray(Image.open(p).convert("RGB")) for p in shots], 0)).save(path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smoke run: 20 steps, one seed, 1,000 samples")
    p.add_argument("--steps", type=int, default=1000, help="generator steps of each run")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--keep-runs", help="keep the run folders here (default: a temporary folder)")
    p.add_argument("--reuse-runs", action="store_true", help="with --keep-runs: score finished runs there instead of training again")
    a = p.parse_args()
    from reprlab.data import load_dataset
    from reprlab.eval.features import classifier_features

    steps, seeds, n = (20, [0], 1000) if a.quick else (a.steps, list(range(a.seeds)), 5000)
    import torch

    test = load_dataset("mnist", split="test", data_dir=str(data_dir()))
    real = test.x[torch.randperm(len(test), generator=torch.Generator().manual_seed(0))[:n]]  # gan_mnist.py's half
    features = classifier_features("mnist", data_dir=str(data_dir()))
    root = Path(a.keep_runs) if a.keep_runs else Path(tempfile.mkdtemp(prefix="tempered_mnist-"))
    rows = []
    for seed in seeds:  # with and without the lens, interleaved, same seed
        for model in ("gan", "tempered-gan"):
            extra = {"lens_steps": max(1, steps // 2)} if model == "tempered-gan" else {}
            trained, seconds, run_dir = train_gan("NS-GAN", steps, seed, root, model=model, extra=extra, reuse=a.reuse_runs)
            rows.append({"model": model, "lens": model == "tempered-gan", "seed": seed, "steps": steps,
                         "train_seconds": seconds, **score(trained, real, features, n, seed)})
            if model == "tempered-gan" and seed == seeds[0] and not a.quick:
                lens_figure(run_dir, RESULTS_DIR / "tempered_mnist_lens.png")
    print_table(rows, [("model", "model", ""), ("seed", "seed", "d"), ("fid", "FID (classifier)", ".2f"),
                       ("kid", "KID", ".4f"), ("train_seconds", "train s", ".0f")])
    if a.quick:
        return
    with_lens = statistics.median(r["fid"] for r in rows if r["lens"])
    without = statistics.median(r["fid"] for r in rows if not r["lens"])
    headline = {"fid_with_lens": with_lens, "fid_without_lens": without, "seeds": len(seeds)}
    print(headline)
    write_result("tempered_mnist", headline, rows, command_line(), {
        "classifier_test_accuracy": features.test_accuracy,
        "settings": {"gan": "NS-GAN of gan_mnist.py", "lens_steps_K": max(1, steps // 2), "lens": "3-layer residual conv, 32 channels",
                     "samples": n, "seeds": seeds},
    })


if __name__ == "__main__":
    main()
