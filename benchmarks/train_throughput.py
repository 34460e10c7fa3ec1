"""Training throughput: reprlab's Trainer vs the standard DataLoader recipe vs a minimal loop.

Same model (reprlab's MLP auto-encoder 784-512-128-32-128-512-784, cross-entropy loss, built
with the same seed for every contender, so the arithmetic of a step is identical), Adam with
lr 1e-3, batch 128, the same number of steps, on MNIST's 60,000 training images:

- ``dataloader recipe``: the standard recipe of PyTorch's own examples (``examples/mnist``):
  ``torchvision.datasets.MNIST(..., transform=transforms.ToTensor())`` + ``DataLoader(batch_size=128,
  shuffle=True)`` + ``zero_grad / forward / backward / step``, with ``loss.item()`` read every 50
  steps as the example does for its log line;
- ``minimal loop``: a hand-written loop over the data preloaded as one tensor (``randperm``
  slicing), no logging, no checks -- the floor any trainer's overhead is measured against;
- ``reprlab Trainer``: ``Trainer(TrainConfig(...)).fit(model, data)`` with the default settings
  (deterministic, NaN guard, metrics every 50 steps) except ``progress=False`` and ``run_dir=None``
  (and ``accelerator="cpu"``, which is what ``auto`` picks on a machine without a GPU);
  another row adds what a real ``reprlab train`` run does (run folder with CSV + TensorBoard
  metrics, a checkpoint, final weights and summary; progress bar on).

Each timing covers the training part only: optimizer creation, iterator/loader creation and every
step. Reading the files from disk happens once, before any timing, for every contender; per-batch
work (the recipe's PIL -> ``ToTensor`` -> collate) is inside the timing: it is the point. Model
construction is outside. Repetitions are interleaved (A B C A B C ...) after a discarded warm-up
round; medians are reported.

Everything runs on the CPU, also on a machine with a GPU (``machine.gpu`` is recorded, but
``settings.device`` says what was measured).

Headline: ``speedup_vs_dataloader_recipe`` = median(recipe) / median(reprlab) (target >= 1.5) and
``overhead_vs_minimal_loop`` = median(reprlab) / median(minimal) (target <= 1.10).

Run: ``python benchmarks/train_throughput.py [--quick]`` (``REPRLAB_DATA`` names the folder that
holds ``MNIST/raw``; default ``../shared/data``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from _common import check_targets, command_line, data_dir, interleaved, machine_info, median, print_table, write_result  # noqa: E402

NAME = "train_throughput"
BATCH = 128
LR = 1e-3
SEED = 0
LOG_EVERY = 50  # reprlab's default log_every; the recipe reads the loss as often
TARGETS = {"speedup_vs_dataloader_recipe": (">=", 1.5), "overhead_vs_minimal_loop": ("<=", 1.10)}


def make_model():
    """The one model every contender trains, built from the same seed (identical weights)."""
    from reprlab.models.autoencoder import AutoEncoder, AutoEncoderConfig
    from reprlab.train.trainer import seed_everything

    seed_everything(SEED)
    return AutoEncoder(AutoEncoderConfig(arch="mlp", hidden=(512, 128), latent_dim=32, loss="bce"), (1, 28, 28))


def as_own_process(fn, env: dict[str, str]):
    """Contender ``fn`` run as in a process of its own: the environment variables are exactly
    ``env`` and torch's global settings are PyTorch's defaults; both are restored afterwards.

    Needed because reprlab's trainer changes process-wide state that would otherwise leak into
    the contenders timed after it: ``deterministic=True`` turns on
    ``torch.use_deterministic_algorithms``, and importing ``lightning_fabric`` sets environment
    variables (``PYTORCH_NVML_BASED_CUDA_CHECK=1`` makes every ``torch.cuda.is_available()`` --
    Adam's ``step`` calls it -- an NVML query, a measurable cost per step without a GPU; reprlab
    undoes that one, but the benchmark does not rely on it).
    """

    def run():
        saved = dict(os.environ)
        det, warn_only = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
        threads = torch.get_num_threads()
        os.environ.clear()
        os.environ.update(env)
        try:
            return fn()
        finally:
            os.environ.clear()
            os.environ.update(saved)
            torch.use_deterministic_algorithms(det, warn_only=warn_only)
            torch.set_num_threads(threads)

    return run


# ---------------------------------------------------------------------------------- contenders
def recipe(dataset, steps: int, num_workers: int):
    """PyTorch's examples/mnist recipe: torchvision dataset + ToTensor + DataLoader + the usual loop."""
    from torch.utils.data import DataLoader

    from reprlab.data import Batch

    def run() -> float:
        model = make_model()
        t0 = time.perf_counter()
        opt = torch.optim.Adam(model.parameters(), lr=LR, fused=True)  # as reprlab's trainer
        loader = DataLoader(dataset, batch_size=BATCH, shuffle=True, num_workers=num_workers)
        model.train()
        step = 0
        while step < steps:
            for x, _ in loader:
                opt.zero_grad()
                loss = model(Batch(x))["loss"]
                loss.backward()
                opt.step()
                step += 1
                if step % LOG_EVERY == 0:
                    loss.item()  # the example's log line reads the loss
                if step == steps:
                    break
        elapsed = time.perf_counter() - t0
        del loader  # shut down a worker outside the timing
        return elapsed

    return run


def minimal(x: torch.Tensor, steps: int, last: dict):
    """A minimal hand-written loop over preloaded tensors: randperm, slice, step.

    Epoch ``e`` uses ``randperm`` from a generator seeded ``SEED + e``, the order reprlab's
    ``TensorBatches`` uses, so this loop and the Trainer compute the very same steps (checked:
    ``last["minimal"]`` keeps the final weights).
    """
    from reprlab.data import Batch

    def run() -> float:
        model = make_model()
        t0 = time.perf_counter()
        opt = torch.optim.Adam(model.parameters(), lr=LR, fused=True)  # as reprlab's trainer
        n, per_epoch = x.shape[0], x.shape[0] // BATCH
        perm = None
        for step in range(steps):
            epoch, i = divmod(step, per_epoch)
            if i == 0:
                perm = torch.randperm(n, generator=torch.Generator().manual_seed(SEED + epoch))
            xb = x.index_select(0, perm[i * BATCH : (i + 1) * BATCH])  # (faster than x[idx] on CPU)
            loss = model(Batch(xb))["loss"]
            opt.zero_grad()
            loss.backward()
            opt.step()
        elapsed = time.perf_counter() - t0
        last["minimal"] = model
        return elapsed

    return run


def reprlab_trainer(data, steps: int, *, run_dir: bool, progress: bool, last: dict | None = None):
    """reprlab's Trainer.fit with default settings but for ``run_dir`` and ``progress``."""
    from reprlab.train import TrainConfig, Trainer

    def run() -> float:
        model = make_model()
        cfg = TrainConfig(max_steps=steps, batch_size=BATCH, lr=LR, seed=SEED, progress=progress, accelerator="cpu")
        folder = tempfile.mkdtemp(prefix="reprlab-bench-") if run_dir else None
        try:
            # tqdm draws on stderr; send it to /dev/null so the table stays readable (it is
            # rate-limited to ~10 redraws/s, so the terminal itself is not what costs).
            with open(os.devnull, "w") as null, contextlib.redirect_stderr(null):
                t0 = time.perf_counter()
                Trainer(cfg, folder).fit(model, data)
                elapsed = time.perf_counter() - t0
            if last is not None:
                last["reprlab"] = model
            return elapsed
        finally:
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)

    return run


# ---------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run: 30 steps, 2 repetitions")
    p.add_argument("--steps", type=int, help="training steps per repetition (default 300; quick: 30)")
    p.add_argument("--reps", type=int, help="timed repetitions (default 7; quick: 2)")
    p.add_argument("--no-write", action="store_true", help="print the table only, write no JSON")
    args = p.parse_args(argv)
    steps = args.steps or (30 if args.quick else 300)
    reps = args.reps or (2 if args.quick else 7)

    import logging
    import warnings

    # The environment of a plain PyTorch process, and that of a reprlab process: Trainer.fit
    # imports lightning_fabric, whose import may set environment variables for the whole process
    # (reprlab undoes PYTORCH_NVML_BASED_CUDA_CHECK=1, see reprlab.train.trainer._import_fabric;
    # whatever stays is recorded in the results and given to the reprlab rows only).
    if "lightning_fabric" in sys.modules:
        raise RuntimeError("lightning_fabric was imported before the plain environment could be recorded")
    plain_env = dict(os.environ)
    from reprlab.train.trainer import _import_fabric

    _import_fabric()
    reprlab_env = dict(os.environ)
    os.environ.clear()
    os.environ.update(plain_env)
    env_by_fabric = {k: v for k, v in reprlab_env.items() if plain_env.get(k) != v}

    from torchvision import datasets, transforms

    from reprlab.data import load_dataset

    logging.getLogger("lightning_fabric").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module="lightning_fabric")
    root = data_dir()
    # One-time loading from disk, outside every timing.
    tv_mnist = datasets.MNIST(root=str(root), train=True, download=False, transform=transforms.ToTensor())
    data = load_dataset("mnist", split="train", data_dir=root)
    assert len(tv_mnist) == len(data) == 60000

    # num_workers=0: PyTorch's MNIST example (examples/mnist/main.py) passes
    # {'num_workers': 1, 'pin_memory': True, 'shuffle': True} only when CUDA is used; on CPU it
    # loads in the main process. We shuffle in every row, as reprlab and the minimal loop do (the
    # example on CPU would not even shuffle; RandomSampler costs one randperm per epoch). The
    # 1-worker row shows what a worker buys, or costs (its start-up, and a core taken from the
    # compute on a small machine).
    last: dict = {}  # final models of the last repetition, to check the compute was the same
    contenders = {
        "dataloader recipe (num_workers=0)": as_own_process(recipe(tv_mnist, steps, num_workers=0), plain_env),
        "dataloader recipe (num_workers=1)": as_own_process(recipe(tv_mnist, steps, num_workers=1), plain_env),
        "minimal loop": as_own_process(minimal(data.x, steps, last), plain_env),
        "reprlab Trainer": as_own_process(
            reprlab_trainer(data, steps, run_dir=False, progress=False, last=last), reprlab_env
        ),
        "reprlab Trainer (run_dir + progress bar)": as_own_process(
            reprlab_trainer(data, steps, run_dir=True, progress=True), reprlab_env
        ),
    }
    notes = {
        "dataloader recipe (num_workers=0)": "torchvision MNIST + ToTensor + DataLoader(shuffle=True), PyTorch's examples/mnist on CPU",
        "dataloader recipe (num_workers=1)": "as above with one loader worker (the example's CUDA setting)",
        "minimal loop": "preloaded tensors, randperm slicing, zero_grad/backward/step",
        "reprlab Trainer": "Trainer.fit, default TrainConfig except progress=False, run_dir=None",
        "reprlab Trainer (run_dir + progress bar)": "as a real run: metrics.csv + TensorBoard, checkpoint, weights, summary; tqdm on",
    }
    machine = machine_info()
    print(f"{NAME}: {steps} steps x batch {BATCH}, {reps} reps (+1 warm-up), interleaved; "
          f"{machine['cpu']}, {machine['cores']} cores, torch {machine['torch']}, {torch.get_num_threads()} threads")
    t_start = time.perf_counter()
    times = interleaved(contenders, reps, warmup=1)
    total = time.perf_counter() - t_start

    same_weights = all(
        torch.equal(a, b) for a, b in zip(last["minimal"].state_dict().values(), last["reprlab"].state_dict().values())
    )
    med = {k: median(v) for k, v in times.items()}
    ref = med["reprlab Trainer"]
    rows = []
    for k, v in times.items():
        rows.append({
            "contender": k,
            "what": notes[k],
            "steps": steps,
            "batch_size": BATCH,
            "median_s": round(med[k], 4),
            "steps_per_s": round(steps / med[k], 1),
            "time_vs_reprlab": round(med[k] / ref, 3),
            "rep_times_s": [round(t, 4) for t in v],
        })
    headline = {
        "speedup_vs_dataloader_recipe": round(med["dataloader recipe (num_workers=0)"] / ref, 3),
        "overhead_vs_minimal_loop": round(ref / med["minimal loop"], 3),
    }
    print()
    print_table(rows, [("contender", "contender", ""), ("median_s", "median s", ".3f"),
                       ("steps_per_s", "steps/s", ".1f"), ("time_vs_reprlab", "time / reprlab", ".3f")])
    print()
    targets = check_targets(headline, TARGETS)
    print(f"minimal loop and reprlab Trainer end with identical weights: {same_weights}")
    print(f"total benchmark time {total:.0f} s")

    if not args.no_write:
        path = write_result(NAME, headline, rows, command_line(), extra={
            "targets": targets,
            "settings": {
                "model": "reprlab AutoEncoder(arch=mlp, hidden=(512, 128), latent_dim=32, loss=bce), input (1, 28, 28)",
                "optimizer": f"Adam lr={LR}", "batch_size": BATCH, "steps_per_rep": steps, "reps": reps,
                "warmup_reps": 1, "seed": SEED, "data": "MNIST train (60,000)", "device": "cpu",
                "torch_threads": torch.get_num_threads(),
                "env_set_by_lightning_fabric_import": env_by_fabric,
            },
            "same_final_weights_minimal_vs_reprlab": same_weights,
        })
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
