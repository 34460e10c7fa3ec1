"""The lecture's "GAN vs VAE" figure (Makhzani et al. 2015, Fig. 2), measured: 2-D codes of held-out
MNIST for an adversarial auto-encoder and a VAE, each with a N(0, I) prior and with the mixture of
10 2-D Gaussians.

All four models share the MLP encoder/decoder (784-512-512-2 and back, ReLU, Bernoulli / cross-
entropy output), Adam 1e-3, batch 100, the same steps and seed. The AAE's code discriminator is
an MLP (2-256-256-1) with the non-saturating loss; the VAE with the mixture prior uses the
one-sample KL estimate. How well codes fit the prior: sliced Wasserstein distance and MMD²
between the aggregated posterior on the 10,000 test images (one z per image: z = E(x) for the
AAE, z ~ q(z|x) for the VAE) and as many prior draws. Figures: the four panels
(``aae_mnist_codes.png``) and images decoded along the Gaussian percentiles of the N(0, I) AAE
(``aae_mnist_percentiles.png``, panel (e) of the paper's figure). Headline: the sliced
Wasserstein distances of the four models (no target; the issue asks for the comparison).

    python benchmarks/aae_mnist.py            # full run (about 15 min on 2 CPU cores)
    python benchmarks/aae_mnist.py --quick    # smoke run
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS_DIR, command_line, data_dir, print_table, write_result  # noqa: E402

MODELS = {
    "AAE, N(0, I)": ("aae", {"prior": "gaussian", "latent_dim": 2}),
    "AAE, 10-mixture": ("aae", {"prior": "mixture10", "latent_dim": 2}),
    "VAE, N(0, I)": ("vae", {"prior": "gaussian", "latent_dim": 2}),
    "VAE, 10-mixture": ("vae", {"prior": "mixture10", "latent_dim": 2}),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smoke run: 30 steps, 1,000 test images")
    p.add_argument("--epochs", type=int, default=10)
    a = p.parse_args()
    from reprlab.data import load_dataset
    from reprlab.eval.two_sample import aggregate_posterior_sample, prior_fit
    from reprlab.pipelines.training import build_run_config, train_run
    from reprlab.viz import save_image_grid, traversal_grid
    from reprlab.viz.gan import plot_point_panels

    steps = 30 if a.quick else a.epochs * 600
    test = load_dataset("mnist", split="test", data_dir=str(data_dir()))
    x, y = (test.x[:1000], test.y[:1000]) if a.quick else (test.x, test.y)
    rows, panels, trained = [], [], {}
    for title, (name, settings) in MODELS.items():
        hidden = {"hidden": [512, 512]}
        pairs = [("data.name", "mnist"), ("data.data_dir", str(data_dir())), ("data.val_fraction", 0.0),
                 ("train.max_steps", steps), ("train.batch_size", 100), ("train.lr", 1e-3), ("train.seed", 0),
                 ("train.progress", False), ("train.tensorboard", False), ("train.log_every", max(1, steps // 10)),
                 *hidden.items(), *settings.items()]
        model, result = train_run(build_run_config(name, None, pairs), None)
        model.eval()
        fit = prior_fit(model, x)
        rows.append({"model": title, "steps": steps, "train_seconds": result.wall_s, **fit})
        panels.append((f"{title}\nSW {fit['sliced_wasserstein']:.3f}", aggregate_posterior_sample(model, x).cpu().numpy()))
        trained[title] = model
    print_table(rows, [("model", "model", ""), ("sliced_wasserstein", "sliced W2", ".3f"), ("mmd2", "MMD²", ".4f"),
                       ("train_seconds", "train s", ".0f")])
    if a.quick:
        return
    plot_point_panels(panels, RESULTS_DIR / "aae_mnist_codes.png", labels=y.numpy(), ncol=4, lim=8.0)
    save_image_grid(traversal_grid(trained["AAE, N(0, I)"], 15, prior="gaussian"), RESULTS_DIR / "aae_mnist_percentiles.png", nrow=15)
    headline = {f"sw_{m.split(',')[0].lower()}_{'gaussian' if 'N(0' in m else 'mixture'}": r["sliced_wasserstein"]
                for m, r in zip(MODELS, rows)}
    print(headline)
    write_result("aae_mnist", headline, rows, command_line(), {
        "settings": {"encoder": "784-512-512-2 MLP", "steps": steps, "batch": 100, "seed": 0, "test_images": len(x)},
    })


if __name__ == "__main__":
    main()
