"""VAE on MNIST: an honest test log-likelihood, and the same VAE trained by reprlab and by Pythae.

1. Quality. A one-stochastic-layer MLP VAE (784-512-512-d=50 and back, ReLU, Bernoulli decoder)
   trained by ``reprlab train vae`` on the 60,000 training images with dynamic binarization
   (a fresh Bernoulli draw of every image each time it is used), Adam; test log-likelihood by
   the IWAE estimate with k = 5,000 importance samples on the 10,000 test images, each binarized
   once (seeded). Published: Burda et al. (2016), Table 1, VAE with one stochastic layer:
   −86.76 nats (a much longer training: 3,280 passes). Headline ``test_nll_nats`` (positive
   nats; target <= 86.76) and ``train_cpu_minutes``.
2. Peer. The same VAE, Pythae's default MLP (784-512-d=16, ReLU, sigmoid output, BCE
   reconstruction, analytic KL), trained on ``mnist:static-binarized`` by reprlab's trainer and
   by Pythae's ``TrainingPipeline`` with the same optimizer (Adam, lr 1e-3), batch (100), epochs
   and threads, one after the other in this process. Pythae's trained weights are copied into a
   reprlab VAE of the identical architecture, so both are scored by the same evaluation code
   (IWAE k = 1,000 on 2,000 test images, same seed). Headline ``speedup_vs_pythae`` (Pythae's
   training time / ours; target >= 1.5) and ``nll_gap_vs_pythae_nats`` (ours − Pythae's;
   target <= 0.5).

Pythae is a benchmark-only dependency: ``pip install pythae`` (or ``pip install -e '.[bench]'``).

    python benchmarks/vae_mnist.py            # full run (~35 min on 2 CPU cores)
    python benchmarks/vae_mnist.py --quick    # smoke run: 1 epoch each, small evaluation
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import check_targets, command_line, data_dir, write_result  # noqa: E402

TARGETS = {"test_nll_nats": ("<=", 86.76), "speedup_vs_pythae": (">=", 1.5), "nll_gap_vs_pythae_nats": ("<=", 0.5)}
PUBLISHED_NLL = 86.76  # Burda et al. 2016, Table 1, VAE, 1 stochastic layer, k = 5000


def reprlab_vae(data_name: str, hidden: list[int], latent: int, epochs: int, batch: int, lr: float, seed: int,
                binarize: str, steps_per_epoch: int):
    from reprlab.pipelines.training import build_run_config, train_run

    rc = build_run_config("vae", None, [
        ("data.name", data_name), ("data.data_dir", str(data_dir())), ("data.val_fraction", 0.0),
        ("hidden", hidden), ("latent_dim", latent), ("decoder", "bernoulli"), ("binarize", binarize),
        ("train.max_steps", epochs * steps_per_epoch), ("train.batch_size", batch), ("train.lr", lr),
        ("train.seed", seed), ("train.progress", False), ("train.tensorboard", False),
        ("train.log_every", steps_per_epoch),
    ])
    model, result = train_run(rc, None)
    return model.eval(), result.wall_s, result  # the training loop's time (data loading excluded, as for Pythae)


def pythae_vae(x_train, latent: int, epochs: int, batch: int, lr: float, seed: int):
    """Pythae's VAE with its default MLP, trained by its TrainingPipeline; returns (model, seconds)."""
    from pythae.models import VAE as PythaeVAE
    from pythae.models import VAEConfig as PythaeVAEConfig
    from pythae.pipelines import TrainingPipeline
    from pythae.trainers import BaseTrainerConfig

    cfg = PythaeVAEConfig(input_dim=(1, 28, 28), latent_dim=latent, reconstruction_loss="bce")
    model = PythaeVAE(model_config=cfg)
    with tempfile.TemporaryDirectory() as out:
        tcfg = BaseTrainerConfig(output_dir=out, num_epochs=epochs, learning_rate=lr, per_device_train_batch_size=batch,
                                 optimizer_cls="Adam", seed=seed, no_cuda=True, steps_saving=None)
        pipe = TrainingPipeline(training_config=tcfg, model=model)
        t0 = time.perf_counter()
        pipe(train_data=x_train)
        seconds = time.perf_counter() - t0
    return pipe.model.eval(), seconds


def pythae_into_reprlab(pmodel, latent: int):
    """A reprlab VAE with Pythae's trained weights (identical architecture): Pythae's sigmoid output
    is reprlab's Bernoulli logits through a sigmoid."""
    import torch

    from reprlab.models.vae import VAE, VAEConfig

    ours = VAE(VAEConfig(hidden=(512,), latent_dim=latent), (1, 28, 28)).eval()
    enc, dec = pmodel.encoder, pmodel.decoder
    pairs = [
        (ours.encoder.linears[0], enc.layers[0][0]), (ours.to_mu, enc.embedding), (ours.to_logvar, enc.log_var),
        (ours.decoder.linears[0], dec.layers[0][0]), (ours.decoder.linears[1], dec.layers[1][0]),
    ]
    with torch.no_grad():
        for mine, theirs in pairs:
            mine.weight.copy_(theirs.weight)
            mine.bias.copy_(theirs.bias)
    return ours


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run: 1 epoch each, IWAE k=50 on 200 images")
    p.add_argument("--quality-epochs", type=int, help="epochs of the quality VAE (default 50; quick 1)")
    p.add_argument("--peer-epochs", type=int, help="epochs of each peer-comparison VAE (default 10; quick 1)")
    p.add_argument("--k", type=int, help="importance samples for the quality estimate (default 5000; quick 50)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip-quality", action="store_true", help="run only the peer comparison")
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args(argv)
    q_epochs = args.quality_epochs or (1 if args.quick else 50)
    p_epochs = args.peer_epochs or (1 if args.quick else 10)
    k = args.k or (50 if args.quick else 5000)
    n_eval_peer, k_peer = (200, 50) if args.quick else (2000, 1000)
    logging.getLogger("lightning_fabric").setLevel(logging.WARNING)
    logging.getLogger("pythae").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore")

    import threadpoolctl
    import torch

    from reprlab.data import load_dataset
    from reprlab.eval.likelihood import iwae_nll

    torch.set_num_threads(args.threads)
    threadpoolctl.threadpool_limits(args.threads)
    batch, lr = 100, 1e-3
    steps_per_epoch = 60000 // batch
    rows, headline = [], {}

    # 2. peer comparison first (short), then the long quality run
    static_train = load_dataset("mnist:static-binarized", split="train", data_dir=data_dir())
    static_test = load_dataset("mnist:static-binarized", split="test", data_dir=data_dir()).subset(slice(0, n_eval_peer))
    ours, ours_s, _ = reprlab_vae("mnist:static-binarized", [512], 16, p_epochs, batch, lr, args.seed, "none", steps_per_epoch)
    print(f"reprlab: {p_epochs} epochs in {ours_s:.1f} s", flush=True)
    theirs_p, theirs_s = pythae_vae(static_train.x.numpy(), 16, p_epochs, batch, lr, args.seed)
    print(f"Pythae:  {p_epochs} epochs in {theirs_s:.1f} s", flush=True)
    theirs = pythae_into_reprlab(theirs_p, 16)
    nll_ours = iwae_nll(ours, static_test, k_peer, seed=args.seed)
    nll_theirs = iwae_nll(theirs, static_test, k_peer, seed=args.seed)
    print(f"IWAE k={k_peer} NLL on {n_eval_peer} static-binarized test images: reprlab {nll_ours:.2f}, Pythae {nll_theirs:.2f}", flush=True)
    for who, s, nll in (("reprlab", ours_s, nll_ours), ("pythae", theirs_s, nll_theirs)):
        rows.append({"part": "peer", "trainer": who, "epochs": p_epochs, "train_seconds": s, "test_nll_nats": nll,
                     "k": k_peer, "n_test": n_eval_peer, "data": "mnist:static-binarized", "arch": "784-512-16",
                     "batch": batch, "lr": lr, "threads": args.threads})
    headline["speedup_vs_pythae"] = round(theirs_s / ours_s, 3)
    headline["nll_gap_vs_pythae_nats"] = round(nll_ours - nll_theirs, 3)

    if not args.skip_quality:
        test = load_dataset("mnist", split="test", data_dir=data_dir())
        if args.quick:
            test = test.subset(slice(0, 200))
        model, seconds, result = reprlab_vae("mnist", [512, 512], 50, q_epochs, batch, lr, args.seed, "dynamic", steps_per_epoch)
        print(f"quality VAE: {q_epochs} epochs in {seconds / 60:.1f} min", flush=True)
        t0 = time.perf_counter()
        nll = iwae_nll(model, test, k, seed=args.seed, binarize=True, progress=True)
        print(f"test NLL (IWAE k={k}, {len(test)} images): {nll:.2f} nats; published {PUBLISHED_NLL}", flush=True)
        rows.append({"part": "quality", "trainer": "reprlab", "epochs": q_epochs, "train_seconds": seconds,
                     "test_nll_nats": nll, "k": k, "n_test": len(test), "data": "mnist, dynamic binarization",
                     "arch": "784-512-512-50", "batch": batch, "lr": lr, "iwae_seconds": time.perf_counter() - t0,
                     "train_negative_elbo_last_epoch": result.train_metrics.get("train/loss"), "threads": args.threads})
        headline = {"test_nll_nats": round(nll, 2), "train_cpu_minutes": round(seconds / 60, 2), **headline}
    print("headline:", headline)
    targets = check_targets(headline, {k_: v for k_, v in TARGETS.items() if k_ in headline})
    if not args.no_write:
        settings = {"published_nll_nats": PUBLISHED_NLL, "published": "Burda et al. 2016, Table 1, VAE, 1 stochastic layer",
                    "quality_epochs": q_epochs, "peer_epochs": p_epochs, "k": k, "peer_k": k_peer}
        path = write_result("vae_mnist", headline, rows, command_line(), {"targets": targets, "settings": settings})
        print("wrote", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
