"""GAN training throughput: reprlab's Trainer vs hand-written PyTorch loops of the same steps.

The same DCGAN-style GAN (reprlab's conv GAN on 28 x 28 images, channels 32/64, z of 64, the
non-saturating loss, one critic step per generator step, Adam lr 2e-4, betas (0.5, 0.999), PyTorch's
fused Adam for every contender), batch 64, the same number of steps, on MNIST's first 10,000
training images held in memory. One step = a discriminator update on (x, G(z) without gradient)
then a generator update on D(G(z')):

- ``plain loop``: the recipe of PyTorch's DCGAN example and of PyTorch-GAN's scripts: zero_grad /
  forward / backward / step for D, then for G, where the generator's backward also computes the
  gradients of D's weights (thrown away: D zeroes them before its next update);
- ``frozen-D loop``: the same loop with D's weights set ``requires_grad=False`` around the
  generator's forward and backward (what reprlab's trainer does) -- the floor for the trainer;
- ``reprlab Trainer``: ``Trainer(TrainConfig(...)).fit(model, data)``, defaults but
  ``progress=False``, no run folder, CPU.

Timings cover the steps (and the trainer's set-up); model construction is outside. Interleaved
repetitions after a warm-up round, medians. Headline: ``speedup_vs_plain_loop`` =
median(plain) / median(reprlab) (target >= 1.05) and ``overhead_vs_frozen_loop`` =
median(reprlab) / median(frozen) (target <= 1.10).

    python benchmarks/gan_throughput.py            # 200 steps x 5 repetitions (~4 min on 2 cores)
    python benchmarks/gan_throughput.py --quick    # smoke run
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from _common import check_targets, command_line, data_dir, interleaved, median, print_table, write_result  # noqa: E402

NAME = "gan_throughput"
BATCH, LR, BETAS, SEED = 64, 2e-4, (0.5, 0.999), 0
TARGETS = {"speedup_vs_plain_loop": (">=", 1.05), "overhead_vs_frozen_loop": ("<=", 1.10)}


def make_model():
    from reprlab.models import GAN, GANConfig
    from reprlab.train.trainer import seed_everything

    seed_everything(SEED)
    return GAN(GANConfig(arch="conv", channels=(32, 64), latent_dim=64, loss="ns", betas=BETAS), (1, 28, 28))


def hand_loop(x: torch.Tensor, steps: int, freeze_d: bool):
    """The plain PyTorch loop over the same model, its losses and optimizers."""
    from reprlab.train import TrainConfig
    from reprlab.train.trainer import make_optimizer

    def run() -> float:
        model = make_model()
        G, D, losses = model.generator, model.discriminator, model.loss_fns
        cfg = TrainConfig(lr=LR, betas=BETAS)
        t0 = time.perf_counter()
        opt_d = make_optimizer(cfg, D.parameters(), LR, BETAS)
        opt_g = make_optimizer(cfg, G.parameters(), LR, BETAS)
        g = torch.Generator().manual_seed(SEED)
        for _ in range(steps):
            idx = torch.randint(len(x), (BATCH,), generator=g)
            real = x[idx]
            opt_d.zero_grad(set_to_none=True)
            with torch.no_grad():
                fake = model.G(torch.randn(BATCH, 64))
            losses.discriminator(model.D(real), model.D(fake)).backward()
            opt_d.step()
            opt_g.zero_grad(set_to_none=True)
            if freeze_d:
                D.requires_grad_(False)
            losses.generator(model.D(model.G(torch.randn(BATCH, 64)))).backward()
            if freeze_d:
                D.requires_grad_(True)
            opt_g.step()
        return time.perf_counter() - t0

    return run


def reprlab_trainer(data, steps: int):
    from reprlab.train import TrainConfig, Trainer

    def run() -> float:
        model = make_model()
        cfg = TrainConfig(max_steps=steps, batch_size=BATCH, lr=LR, betas=BETAS, seed=SEED, progress=False,
                          tensorboard=False, accelerator="cpu")
        with open(os.devnull, "w") as null, contextlib.redirect_stderr(null):
            t0 = time.perf_counter()
            Trainer(cfg).fit(model, data)
            return time.perf_counter() - t0

    return run


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run: 20 steps, 2 repetitions, no results file")
    p.add_argument("--steps", type=int, help="steps per repetition (default 200; quick 20)")
    p.add_argument("--reps", type=int, help="timed repetitions (default 5; quick 2)")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    args = p.parse_args(argv)
    steps = args.steps or (20 if args.quick else 200)
    reps = args.reps or (2 if args.quick else 5)
    torch.set_num_threads(args.threads)

    from reprlab.data import load_dataset

    mnist = load_dataset("mnist", split="train", data_dir=str(data_dir()))
    data = mnist.subset(slice(0, 10_000))
    x = data.x.contiguous()
    times = interleaved({
        "plain loop": hand_loop(x, steps, freeze_d=False),
        "frozen-D loop": hand_loop(x, steps, freeze_d=True),
        "reprlab Trainer": reprlab_trainer(data, steps),
    }, reps)
    med = {k: median(v) for k, v in times.items()}
    rows = [{"contender": k, "median_s": med[k], "steps_per_s": steps / med[k], "times_s": v} for k, v in times.items()]
    print_table(rows, [("contender", "contender", ""), ("median_s", "median s", ".3f"), ("steps_per_s", "steps/s", ".1f")])
    headline = {"speedup_vs_plain_loop": round(med["plain loop"] / med["reprlab Trainer"], 3),
                "overhead_vs_frozen_loop": round(med["reprlab Trainer"] / med["frozen-D loop"], 3)}
    print("headline:", headline)
    targets = check_targets(headline, TARGETS)
    if not args.quick:
        settings = {"steps": steps, "reps": reps, "threads": args.threads, "batch": BATCH, "lr": LR, "betas": BETAS,
                    "model": "conv GAN 28x28, channels 32/64, z 64, ns loss, n_critic 1, fused Adam",
                    "data": "MNIST train[:10000], in memory", "device": "cpu"}
        print("wrote", write_result(NAME, headline, rows, command_line(), {"targets": targets, "settings": settings}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
