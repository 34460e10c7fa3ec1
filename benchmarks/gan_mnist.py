"""GANs on MNIST, scored offline: Fréchet distance and KID on the features of a cached MNIST classifier.

Three GANs with the same DCGAN-style networks (``reprlab train gan``: G = linear -> 64x7x7 ->
deconv 32 -> deconv 1, BatchNorm, sigmoid; D = conv 32 -> conv 64 -> linear, leaky ReLU), z ~ N(0, I_64),
batch 64, Adam, and **equal generator steps**:

- NS-GAN (non-saturating loss, Goodfellow et al. 2014), Adam(2e-4, β = (0.5, 0.999));
- WGAN-GP (Gulrajani et al. 2017), 5 critic steps per generator step, λ = 10, Adam(2e-4, β = (0.5, 0.9));
- NS-GAN + R1 (Mescheder et al. 2018), γ = 10.

Quality: 5,000 samples of each generator against a random half of the MNIST test set, in the
128-d feature space of the classifier of ``reprlab.eval.features.classifier_features("mnist")``
(trained once and cached; its test accuracy is recorded): Fréchet distance ("classifier FID"),
KID (Bińkowski et al. 2018) and precision/recall (Kynkäänniemi et al. 2019). The floor
``real_vs_real_fid``: the other random half against it, same sizes (random halves: MNIST's first
and last 5,000 test images come from different groups of writers, and differ measurably).
Headline keys ``fid_classifier_best``, ``kid_classifier_best`` (best of the three) and
``real_vs_real_fid``. Classifier FIDs are not comparable to published Inception FIDs.

    python benchmarks/gan_mnist.py            # full run (about 40 min on 2 CPU cores)
    python benchmarks/gan_mnist.py --quick    # smoke run
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS_DIR, command_line, data_dir, print_table, write_result  # noqa: E402

COMMON = {"arch": "conv", "channels": [32, 64], "latent_dim": 64, "train.batch_size": 64, "train.lr": 2e-4}
METHODS = {
    "NS-GAN": {"loss": "ns", "model.betas": [0.5, 0.999]},
    "WGAN-GP": {"loss": "wgan-gp", "n_critic": 5, "gp_weight": 10.0, "model.betas": [0.5, 0.9]},
    "NS-GAN + R1": {"loss": "ns", "reg": "r1", "gamma": 10.0, "model.betas": [0.5, 0.999]},
}


def train_gan(name: str, g_steps: int, seed: int, run_root: Path, model: str = "gan", extra: dict | None = None,
              reuse: bool = False):
    """Train one method for ``g_steps`` generator steps; returns (model, seconds, run folder). With
    ``reuse``, a finished run folder of the same settings is loaded instead of trained again."""
    import json

    import reprlab
    from reprlab.pipelines.training import build_run_config, train_run

    settings = {**COMMON, **METHODS[name], **(extra or {})}
    steps = g_steps * settings.get("n_critic", 1)
    pairs = [("data.name", "mnist"), ("data.data_dir", str(data_dir())), ("data.val_fraction", 0.0),
             ("train.max_steps", steps), ("train.seed", seed), ("train.progress", False), ("train.tensorboard", False),
             ("train.log_every", max(1, steps // 20)), ("train.checkpoint_every", max(1, steps // 4)),
             *settings.items()]
    run_dir = run_root / f"{model}-{name.replace(' ', '').replace('+', '-')}-seed{seed}"
    rc = build_run_config(model, None, pairs)
    if reuse and (run_dir / "model.safetensors").is_file():
        done = reprlab.load(run_dir)
        if done.run_config.to_dict()["model"] != rc.to_dict()["model"] or done.run_config.train.max_steps != steps:
            raise SystemExit(f"{run_dir} was trained with other settings; drop --reuse-runs")
        return done, json.loads((run_dir / "summary.json").read_text())["wall_s"], run_dir
    trained, result = train_run(rc, run_dir, overwrite=True)
    return trained.eval(), result.wall_s, run_dir


def score(model, real, features, n: int, seed: int) -> dict:
    """FID, KID, precision, recall of ``n`` samples (chunks of 1,000 seeded 100·seed + i, clamped to
    [0, 1]) against ``real``; KID over 50 subsets of min(1,000, n): the library's
    :func:`reprlab.eval.sample_quality.generated_image_quality`, which ``reprlab eval`` uses too."""
    from reprlab.eval.sample_quality import generated_image_quality

    return generated_image_quality(model, real, features, n, seed=seed, kid_subsets=50, kid_subset_size=1000)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smoke run: 20 generator steps, 1,000 samples")
    p.add_argument("--g-steps", type=int, default=1500, help="generator steps of every method")
    p.add_argument("--keep-runs", help="keep the run folders here (default: a temporary folder)")
    p.add_argument("--reuse-runs", action="store_true", help="with --keep-runs: score finished runs there instead of training again")
    a = p.parse_args()
    import torch

    from reprlab.data import load_dataset
    from reprlab.eval.features import classifier_features
    from reprlab.eval.fid import image_quality
    from reprlab.viz import save_image_grid

    g_steps, n = (20, 1000) if a.quick else (a.g_steps, 5000)
    test = load_dataset("mnist", split="test", data_dir=str(data_dir()))
    # two random halves (seeded): MNIST's first and last 5,000 test images come from different writers
    halves = torch.randperm(len(test), generator=torch.Generator().manual_seed(0))
    real_a, real_b = test.x[halves[:n]], test.x[halves[5000 : 5000 + n]]
    features = classifier_features("mnist", data_dir=str(data_dir()))
    floor = image_quality(real_b, real_a, features, kid_subsets=50, kid_subset_size=min(1000, n))
    rows = [{"method": "real vs real (test halves)", "g_steps": 0, **floor}]
    root = Path(a.keep_runs) if a.keep_runs else Path(tempfile.mkdtemp(prefix="gan_mnist-"))
    for name in METHODS:
        model, seconds, run_dir = train_gan(name, g_steps, 0, root, reuse=a.reuse_runs)
        q = score(model, real_a, features, n, 0)
        rows.append({"method": name, "g_steps": g_steps, "seed": 0, "train_seconds": seconds, **q})
        if not a.quick:
            save_image_grid(model.sample(64, torch.Generator().manual_seed(0)), RESULTS_DIR / f"gan_mnist_{name.replace(' ', '').replace('+', '-')}.png")
    print_table(rows, [("method", "method", ""), ("fid", "FID (classifier)", ".2f"), ("kid", "KID", ".4f"),
                       ("precision", "precision", ".3f"), ("recall", "recall", ".3f"), ("train_seconds", "train s", ".0f")])
    if a.quick:
        return
    models = rows[1:]
    best_fid = min(models, key=lambda r: r["fid"])
    headline = {"fid_classifier_best": best_fid["fid"], "kid_classifier_best": min(r["kid"] for r in models),
                "real_vs_real_fid": floor["fid"]}
    print(headline, "best:", best_fid["method"])
    write_result("gan_mnist", headline, rows, command_line(), {
        "best_method": best_fid["method"], "classifier_test_accuracy": features.test_accuracy,
        "settings": {"common": COMMON, "methods": METHODS, "samples": n, "seeds": [0]},
        "note": "classifier FID/KID: features of reprlab's cached MNIST classifier, not Inception; not comparable to published FIDs",
    })


if __name__ == "__main__":
    main()
