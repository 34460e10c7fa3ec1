"""The one trainer: Lightning Fabric for devices, precision and data parallelism; reprlab for the rest.

One training step takes one batch and runs the model's updates in order (one for an
auto-encoder; critic then generator for a GAN, each on its own schedule ``step % every == 0``):

    for update u due (and active) at this step:  zero_grad(u) -> loss = model(batch, u) -> backward -> step(u)

With several updates, the parameters that only *other* updates step are frozen
(``requires_grad=False``) during u's forward and backward: their gradients would be thrown away
(each update zeroes its own before its backward), so they are not computed (the generator's
update of a GAN backpropagates through D to G without D's weight gradients: ~15 % less work).

Around it: deterministic seeding, a progress bar, CSV/TensorBoard metrics, a NaN/Inf guard, periodic
atomic checkpoints (:mod:`reprlab.train.checkpoint`) from which ``resume=True`` continues bit for bit
(each followed by the caller's ``on_checkpoint(model, step)``), validation with early stopping
(:mod:`reprlab.train.early_stopping`), and learning-rate schedules. The same code runs on one CPU, one
GPU, or many processes (``devices=N`` through Fabric's launcher, or under ``torchrun``).

``train.compile=true`` runs the steps through ``torch.compile`` (:func:`compiled`): the model's
forward and, by AOTAutograd, its backward become fused kernels; the weights, checkpoints and
evaluation stay the uncompiled module's. Same seed, same numbers, and a resume continues bit for
bit, as without it; the numbers are not an eager run's (fused kernels round differently and draw
their noise from their own generator, seeded from torch's).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor

from ..data.base import TensorBatches, TensorData
from ..errors import CheckpointError, ConfigError, NonFiniteLossError
from ..files import OutputError, ensure_dir, is_output_failure, output_error, write_json
from ..models.base import ReprModel, Update
from ..weights import load_weights, save_weights
from . import checkpoint as ckpt
from .config import TrainConfig
from .early_stopping import EarlyStopping
from .metrics import MetricsLogger
from .tracker import MetricTracker

log = logging.getLogger("reprlab")

#: optimizer settings of a param group that come from the config (re-applied on resume)
HYPERPARAMETERS = ("betas", "weight_decay", "momentum", "eps")


@dataclass
class FitResult:
    """What :meth:`Trainer.fit` returns (also written to ``summary.json``)."""

    run_dir: str | None
    steps: int
    stopped_early: bool = False
    best_val: float | None = None
    train_metrics: dict = field(default_factory=dict)
    val_metrics: dict = field(default_factory=dict)
    samples_per_s: float = 0.0
    wall_s: float = 0.0
    world_size: int = 1
    device: str = "cpu"
    replica_max_abs_diff: float | None = None
    resumed_from: int | None = None


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), NumPy and ``random`` with one number."""
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def distributed_env() -> tuple[int, int] | None:
    """(local processes, nodes) when launched by torchrun / torchelastic, else None."""
    if "TORCHELASTIC_RUN_ID" in os.environ or "LOCAL_WORLD_SIZE" in os.environ:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        local = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
        return local, max(1, world // max(1, local))
    return None


def lr_lambda(cfg: TrainConfig):
    """Multiplier of the base learning rate at step s: linear warm-up, then the schedule."""
    w, total = cfg.warmup_steps, cfg.max_steps

    def f(s: int) -> float:
        if s < w:
            return (s + 1) / w
        if cfg.lr_schedule == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (s - w) / max(1, total - w))))
        if cfg.lr_schedule == "step":
            return cfg.lr_gamma ** ((s - w) // cfg.lr_step_every)
        return 1.0

    return f


_NVML_CHECK = "PYTORCH_NVML_BASED_CUDA_CHECK"


def _import_fabric() -> None:
    """Import ``lightning_fabric`` without keeping the ``PYTORCH_NVML_BASED_CUDA_CHECK=1`` that
    its ``__init__`` sets for the whole process.

    With that variable, ``torch.cuda.is_available()`` is answered by NVML on every call instead
    of once, and ``torch.optim`` asks on every ``step()``: about 0.4 ms per step on a machine
    without a GPU, 4 % of a small model's step. Lightning sets it so that forked processes do
    not inherit an initialized CUDA; reprlab never forks (Fabric's launcher and ``torchrun``
    start fresh processes), so the variable is restored to what it was, unless something
    else imported ``lightning_fabric`` first (then its choice stands).
    """
    import sys

    if "lightning_fabric" in sys.modules:
        return
    before = os.environ.get(_NVML_CHECK)
    import lightning_fabric  # noqa: F401

    if before is None:
        os.environ.pop(_NVML_CHECK, None)
    else:
        os.environ[_NVML_CHECK] = before


def make_optimizer(cfg: TrainConfig, params, lr: float | None, betas) -> torch.optim.Optimizer:
    params = [p for p in params if p.requires_grad]
    lr = cfg.lr if lr is None else lr
    if cfg.optimizer == "lbfgs":
        return torch.optim.LBFGS(
            params, lr=lr, max_iter=cfg.lbfgs_max_iter, history_size=20, line_search_fn="strong_wolfe",
            tolerance_grad=1e-12, tolerance_change=1e-15,
        )
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    # PyTorch's fused kernel: the same Adam update in one pass over all parameters (CPU and CUDA)
    fused = cfg.fused_optimizer and all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params)
    return cls(params, lr=lr, betas=tuple(betas or cfg.betas), weight_decay=cfg.weight_decay, fused=fused or None)


def other_updates_parameters(updates) -> list[list[torch.nn.Parameter]]:
    """For each update, the trainable parameters stepped by other updates and not by it."""
    owned = [{id(p): p for p in u.parameters() if p.requires_grad} for u in updates]
    every = {k: p for o in owned for k, p in o.items()}
    return [[p for k, p in every.items() if k not in mine] for mine in owned]


@contextlib.contextmanager
def frozen(params):
    """``requires_grad=False`` on ``params`` inside the block, restored after (also on error)."""
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def compiled(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``torch.compile(module)`` for the training steps (``train.compile``): TorchInductor fuses the
    element-wise work of the forward and backward passes. The weights stay shared with ``module``
    (checkpoints and evaluation use the uncompiled model). On a CPU Inductor builds C++ kernels:
    without a C++ compiler this raises a one-line :class:`ConfigError`, not an error at the first step."""
    if device.type == "cpu":
        try:
            from torch._inductor.cpp_builder import get_cpp_compiler

            get_cpp_compiler()
        except Exception:  # noqa: BLE001 - any failure to find one means the same thing to the user
            raise ConfigError(
                "train.compile=true on a CPU needs a C++ compiler (g++ or clang++ on PATH, or CXX set): "
                "install one, or set train.compile=false"
            ) from None
        # torch warns at the first compile that a CPU-only machine has no CUDA runtime: nothing to act on
        logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    return torch.compile(module)


@dataclass
class _FitParts:
    """What one :meth:`Trainer.fit` trains with, built once by :meth:`Trainer._setup`."""

    model: ReprModel
    fmodel: torch.nn.Module  # the model as Fabric wraps it (DDP, precision)
    updates: list[Update]
    optimizers: list[torch.optim.Optimizer]  # one per update (Fabric's wrappers)
    schedulers: list[torch.optim.lr_scheduler.LambdaLR]
    others: list[list[torch.nn.Parameter]]  # per update: the parameters frozen during it
    batches: TensorBatches
    val: TensorData | None
    val_batches: TensorBatches | None  # None when the model validates itself, or without val
    tracker: MetricTracker
    writer: MetricsLogger | None  # rank 0 with a run folder
    pbar: Any
    world: int
    device: torch.device
    step_model: torch.nn.Module  # what a training step calls: ``fmodel``, or it compiled (``train.compile``)


@dataclass
class _FitState:
    """What changes while :meth:`Trainer.fit` runs (and what a checkpoint's trainer state holds)."""

    step: int  # steps done
    start: int  # the step this fit started from (the checkpoint's on resume)
    resumed_from: int | None
    early: EarlyStopping  # best_val, bad_validations
    elapsed_before: float  # wall seconds of the runs before a resume
    t0: float  # time.perf_counter() at the first step of this fit
    t_last: float  # ... at the last boundary (for samples_per_s)
    step_last: int  # the step of the last boundary
    train_metrics: dict[str, float] = field(default_factory=dict)
    val_metrics: dict[str, float] = field(default_factory=dict)
    stopped_early: bool = False


class Trainer:
    """Train any :class:`~reprlab.models.ReprModel` on in-memory data.

    Parameters
    ----------
    config : the training options.
    run_dir : the run folder, where the trainer writes ``metrics.csv``, ``checkpoints/``,
        ``best.safetensors``, ``model.safetensors`` and ``summary.json``; None trains without
        writing anything (no checkpoints).
    run_config : accepted and ignored; kept for callers of earlier versions (the pipeline that
        owns the run folder writes ``config.yaml``, :func:`reprlab.pipelines.training.train_run`).
    on_checkpoint : ``on_checkpoint(model, step)``, called on rank 0 right after each checkpoint
        is written (so only with a ``run_dir``), e.g. to write the model's progress pictures
        (:meth:`~reprlab.models.ReprModel.snapshot`) into the run folder.
    """

    #: freeze the parameters of other updates during an update (see the module docstring);
    #: False computes (and discards) their gradients, as PyTorch's plain recipe does
    freeze_other_updates: bool = True

    def __init__(
        self,
        config: TrainConfig,
        run_dir: str | os.PathLike | None = None,
        run_config: dict | None = None,
        *,
        on_checkpoint: Callable[[ReprModel, int], None] | None = None,
    ):
        self.cfg = config
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.run_config = run_config
        self.on_checkpoint = on_checkpoint
        self.fabric = None

    # ------------------------------------------------------------------ set-up
    def _make_fabric(self, multi_update: bool):
        _import_fabric()
        from lightning_fabric import Fabric
        from lightning_fabric.strategies import DDPStrategy

        cfg = self.cfg
        devices, nodes = cfg.devices, cfg.num_nodes
        env = distributed_env()
        if env is not None:  # torchrun decides the number of processes
            devices, nodes = env
        if cfg.deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        strategy = "auto"
        if devices * nodes > 1:
            strategy = DDPStrategy(find_unused_parameters=multi_update)
        try:
            fabric = Fabric(
                accelerator=cfg.accelerator, devices=devices, num_nodes=nodes, strategy=strategy, precision=cfg.precision
            )
            fabric.launch()
        except (ValueError, RuntimeError, TypeError) as e:
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ConfigError(f"train: cannot set up accelerator={cfg.accelerator} devices={devices} precision={cfg.precision}: {msg}") from None
        if fabric.device.type == "cpu" and fabric.world_size > 1:
            # Processes on one machine share its cores: avoid oversubscription.
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(1, devices)))
        if cfg.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False
        return fabric

    @property
    def is_main(self) -> bool:
        return self.fabric is None or self.fabric.global_rank == 0

    def _info(self, msg: str) -> None:
        if self.is_main:
            log.info(msg)

    # ------------------------------------------------------------------ checkpoints
    @property
    def checkpoint_dir(self) -> Path:
        return self.run_dir / "checkpoints"

    def _save_checkpoint(self, step: int, model, optimizers, schedulers, trainer_state: dict) -> None:
        fabric = self.fabric
        final = self.checkpoint_dir / f"step-{step:06d}"
        tmp = self.checkpoint_dir / f".tmp-step-{step:06d}"
        try:
            self._write_checkpoint(tmp, final, model, optimizers, schedulers, trainer_state)
        except BaseException as e:  # a full disk, a read-only folder, Ctrl-C: no partial checkpoint stays
            if self.is_main:
                shutil.rmtree(tmp, ignore_errors=True)
            if is_output_failure(e) and not isinstance(e, OutputError):
                raise output_error(final, e) from None
            raise

    def _write_checkpoint(self, tmp: Path, final: Path, model, optimizers, schedulers, trainer_state: dict) -> None:
        fabric = self.fabric
        if self.is_main:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
        fabric.barrier()
        ckpt.save_state(ckpt.rng_state(), tmp, f"rng-rank{fabric.global_rank}")
        if self.is_main:
            save_weights(model, tmp / "model.safetensors")
            state = {
                "optimizers": [o.state_dict() for o in optimizers],
                "schedulers": [s.state_dict() for s in schedulers],
                "trainer": trainer_state,
            }
            ckpt.save_state(state, tmp, "state")
        fabric.barrier()
        if self.is_main:
            ckpt.atomic_publish(tmp, final)
            for _, old in ckpt.step_dirs(self.checkpoint_dir)[: -self.cfg.keep_checkpoints]:
                shutil.rmtree(old, ignore_errors=True)
        fabric.barrier()

    def _load_checkpoint(self, model, optimizers, schedulers) -> tuple[int, dict]:
        path = ckpt.latest_valid(self.checkpoint_dir, log=self._info)
        if path is None:
            raise CheckpointError(
                f"nothing to resume in {self.run_dir}: it has no complete checkpoint; start without --resume"
            )
        load_weights(path / "model.safetensors", model)
        state = ckpt.load_state(path, "state")
        if len(state["optimizers"]) != len(optimizers):
            raise CheckpointError(f"checkpoint {path} has {len(state['optimizers'])} optimizers, the model has {len(optimizers)}")
        # This run's config (learning rate, schedule, betas, weight decay) applies from the resume
        # step on; the checkpoint's values are only what they were when it was written.
        fresh = [(list(sch.base_lrs), [{k: v for k, v in g.items() if k in HYPERPARAMETERS} for g in o.param_groups])
                 for o, sch in zip(optimizers, schedulers)]
        for o, s in zip(optimizers, state["optimizers"]):
            o.load_state_dict(s)
        for sch, s in zip(schedulers, state["schedulers"]):
            sch.load_state_dict(s)
        changed = set()
        for o, sch, (base_lrs, hyper) in zip(optimizers, schedulers, fresh):
            if list(sch.base_lrs) != base_lrs:
                changed.add(f"lr {sch.base_lrs[0]:g} -> {base_lrs[0]:g}")
            sch.base_lrs = base_lrs
            for g, base, h in zip(o.param_groups, base_lrs, hyper):
                changed.update(f"{k} {g[k]} -> {v}" for k, v in h.items() if g.get(k) != v)
                g.update(h)
                g["initial_lr"] = base
            factors = [f(sch.last_epoch) for f in sch.lr_lambdas]
            for g, base, factor in zip(o.param_groups, base_lrs, factors):
                g["lr"] = base * factor
            sch._last_lr = [g["lr"] for g in o.param_groups]
        if changed:
            self._info(f"resuming with this run's settings: {', '.join(sorted(changed))} (from step {state['trainer']['step']})")
        rng_file = path / f"rng-rank{self.fabric.global_rank}.json"
        if rng_file.exists():
            ckpt.set_rng_state(ckpt.load_state(path, f"rng-rank{self.fabric.global_rank}"))
        else:
            self._info(f"warning: {path} has no random state for rank {self.fabric.global_rank}; reseeding")
            seed_everything(self.cfg.seed + 7919 * self.fabric.global_rank + int(state["trainer"]["step"]))
        self._info(f"resuming from {path} (step {state['trainer']['step']})")
        return int(state["trainer"]["step"]), state["trainer"]

    # ------------------------------------------------------------------ validation
    def _validate(self, model: ReprModel, batches: TensorBatches | None, val: TensorData | None = None) -> dict[str, float]:
        """``val/*`` metrics: the model's own :meth:`~ReprModel.validate` over ``val`` when it has
        one, else the means of :meth:`~ReprModel.evaluate` over ``batches``."""
        own = model.has_own_validation and val is not None
        if not own and batches is None:
            return {}
        was_training = model.training
        model.eval()
        with torch.no_grad():
            metrics = model.validate(val) if own else self._batch_means(model, batches)
        model.train(was_training)
        return {f"val/{k}": float(v) for k, v in metrics.items()}

    def _batch_means(self, model: ReprModel, batches: TensorBatches) -> dict[str, float]:
        sums: dict[str, Tensor] = {}
        n = 0
        precision = self.fabric.strategy.precision
        with self.fabric.autocast():
            for batch in batches.epoch(0):
                b = batch.size
                batch = precision.convert_input(batch)  # e.g. bf16 inputs for precision=bf16-true
                for k, v in model.evaluate(batch).items():
                    v = v.detach().float() * b
                    sums[k] = sums[k] + v if k in sums else v
                n += b
        return {k: float(v) / n for k, v in sums.items()}

    # ------------------------------------------------------------------ fit
    def fit(
        self, model: ReprModel, train: TensorData, val: TensorData | None = None, *, resume: bool = False
    ) -> FitResult:
        """Train ``model`` on ``train`` (validating on ``val``); returns a :class:`FitResult`.

        The caller seeds and builds the model (:func:`seed_everything` first, so the
        initialization is reproducible); ``resume=True`` continues from the newest valid
        checkpoint in ``run_dir``.

        Each step is :meth:`_train_step`; at a log, validation or checkpoint boundary
        :meth:`_at_boundary` does the rest (NaN guard, metrics, validation and early stopping,
        checkpoint); :meth:`_finish` writes the result.
        """
        cfg = self.cfg
        parts, state = self._setup(model, train, val, resume)
        pbar, validating, checkpointing = parts.pbar, parts.val is not None, self.run_dir is not None
        for step in range(state.start, cfg.max_steps):
            self._train_step(parts, step)
            state.step = done = step + 1
            if pbar is not None:
                pbar.update(1)
            last = done == cfg.max_steps
            val_now = validating and (done % cfg.val_every == 0 or last)
            ckpt_now = checkpointing and (done % cfg.checkpoint_every == 0 or last)
            if (done % cfg.log_every == 0 or last or val_now or ckpt_now) and self._at_boundary(
                parts, state, val_now, ckpt_now
            ):
                break
        return self._finish(parts, state)

    def _setup(
        self, model: ReprModel, train: TensorData, val: TensorData | None, resume: bool
    ) -> tuple[_FitParts, _FitState]:
        """Fabric, optimizers, schedulers, batches; the checkpoint's state on resume; the outputs."""
        cfg = self.cfg
        if tuple(train.sample_shape) != tuple(model.input_shape):
            raise ConfigError(
                f"data {train.name!r} has samples of shape {train.sample_shape}, the model expects {model.input_shape}"
            )
        updates = model.updates()
        self.fabric = fabric = self._make_fabric(multi_update=len(updates) > 1)
        rank, world = fabric.global_rank, fabric.world_size
        if resume and self.run_dir is None:
            raise ConfigError("resume needs a run directory")

        optimizers = [make_optimizer(cfg, u.parameters(), u.lr, u.betas) for u in updates]
        others = other_updates_parameters(updates) if self.freeze_other_updates else [[] for _ in updates]
        schedulers = [torch.optim.lr_scheduler.LambdaLR(o, lr_lambda(cfg)) for o in optimizers]
        fmodel, *foptimizers = fabric.setup(model, *optimizers)
        # before the run folder is touched: a missing C++ compiler is refused with nothing written
        step_model = compiled(fmodel, fabric.device) if cfg.compile else fmodel
        if rank > 0:  # ranks draw different noise; rank 0's stream equals a 1-process run's
            torch.manual_seed(cfg.seed + 7919 * rank)

        device = fabric.device
        if cfg.data_on_device and device.type != "cpu":
            train = train.to(device)
            val = val.to(device) if val is not None else None
        batches = TensorBatches(train, cfg.batch_size, seed=cfg.seed, rank=rank, world_size=world)
        val_batches = (
            TensorBatches(val, max(cfg.batch_size, 256), shuffle=False, drop_last=False)
            if val is not None and not model.has_own_validation else None
        )

        start, saved = 0, {}
        if resume:
            start, saved = self._load_checkpoint(model, foptimizers, schedulers)
        early = EarlyStopping(cfg.early_stopping_patience, cfg.early_stopping_min_delta)
        early.load_state_dict(saved)
        writer = self._open_writer(start if resume else None)
        parts = _FitParts(
            model, fmodel, updates, foptimizers, schedulers, others, batches, val, val_batches,
            tracker=MetricTracker([u.name for u in updates], cfg.log_every, device),
            writer=writer, pbar=self._progress_bar(model.name, start), world=world, device=device,
            step_model=step_model,
        )
        t0 = time.perf_counter()
        state = _FitState(step=start, start=start, resumed_from=start if resume else None, early=early,
                          elapsed_before=saved.get("wall_s", 0.0), t0=t0, t_last=t0, step_last=start)
        fmodel.train()
        if cfg.compile:
            self._info("train.compile: the first steps compile the training step (seconds; cached for later runs)")
        return parts, state

    def _open_writer(self, resume_step: int | None) -> MetricsLogger | None:
        """The metrics writer of rank 0 with a run folder (after removing a half-written checkpoint)."""
        if self.run_dir is None or not self.is_main:
            return None
        ensure_dir(self.run_dir)
        for stale in self.checkpoint_dir.glob(".tmp-step-*") if self.checkpoint_dir.is_dir() else []:
            shutil.rmtree(stale, ignore_errors=True)  # left by a process killed while writing a checkpoint
        return MetricsLogger(self.run_dir, self.cfg.tensorboard, resume_step=resume_step)

    def _progress_bar(self, name: str, start: int):
        if not (self.cfg.progress and self.is_main):
            return None
        from tqdm.auto import tqdm

        return tqdm(total=self.cfg.max_steps, initial=start, unit="step", dynamic_ncols=True, desc=name, leave=True)

    def _train_step(self, parts: _FitParts, step: int) -> None:
        """Training step ``step``: its batch, each update due at it (see the module docstring), the schedulers."""
        batch = parts.batches.at_step(step)
        for u, opt, others in zip(parts.updates, parts.optimizers, parts.others):
            if step % u.every or (u.active is not None and not u.active()):
                continue
            with frozen(others):  # no gradient for what this update does not step
                out = self._update(parts.step_model, opt, batch, u.name)
            parts.model.after_update(u.name)
            parts.tracker.add(u.name, step, out)
        for s in parts.schedulers:
            s.step()

    def _update(self, fmodel, opt, batch, update: str) -> dict:
        """One optimizer update on ``batch``; returns the model's outputs at the step's start.

        L-BFGS evaluates the loss several times per step (line search), through a closure.
        """
        first: list[dict] = []

        def closure():
            opt.zero_grad(set_to_none=True)
            out = fmodel(batch, update)
            self.fabric.backward(out["loss"])
            if self.cfg.grad_clip > 0:
                self.fabric.clip_gradients(fmodel, opt, max_norm=self.cfg.grad_clip)
            if not first:
                first.append(out)
            return out["loss"]

        if self.cfg.optimizer == "lbfgs":
            opt.step(closure)
        else:
            closure()
            opt.step()
        return first[0]

    # ------------------------------------------------------------------ step boundaries
    def _at_boundary(self, parts: _FitParts, state: _FitState, val_now: bool, ckpt_now: bool) -> bool:
        """After ``state.step`` steps, at a log, validation or checkpoint boundary: check the losses,
        log the metrics, validate, checkpoint. Returns whether early stopping ends the fit."""
        done = state.step
        self._check_finite(parts, done)
        row = self._train_row(parts, state)
        if val_now:
            row.update(self._validate_and_watch(parts, state))
        if parts.writer is not None:
            parts.writer.log(done, row)
        if parts.pbar is not None:
            shown = {k.split("/")[-1] if k.count("/") == 1 else k: v for k, v in row.items() if k.endswith("loss")}
            postfix = {**{k: f"{v:.4g}" for k, v in shown.items()}, "samples/s": f"{row['samples_per_s']:.0f}"}
            parts.pbar.set_postfix(postfix, refresh=False)
        stop = state.early.should_stop
        if parts.world > 1:
            stop = bool(self.fabric.broadcast(stop, src=0))
        if self.run_dir is not None and (ckpt_now or stop):
            self._checkpoint(parts, state)
        if stop:
            state.stopped_early = True
            self._info(f"early stopping at step {done}: no improvement in {state.early.bad_validations} validations")
        return stop

    def _check_finite(self, parts: _FitParts, at: int) -> None:
        """Raise :class:`NonFiniteLossError` (one line: where, and what to do) when a loss since the
        last boundary, on any process, was NaN or Inf."""
        bad = parts.tracker.first_non_finite()
        flag = torch.tensor([0 if bad is None else 1], device=parts.device)
        if parts.world > 1:
            flag = self.fabric.all_reduce(flag, reduce_op="max")
        if not int(flag.item()):
            return
        last = ckpt.latest_valid(self.checkpoint_dir) if self.run_dir is not None else None
        where = f"update {bad[0]!r} at step {bad[1]}" if bad else f"another process, before step {at}"
        value = f"{bad[2]}" if bad else "non-finite"
        if parts.pbar is not None:
            parts.pbar.close()
        fixes = f"lower train.lr (now {self.cfg.lr:g}), set train.grad_clip=1.0, or check the data for NaN/Inf"
        if last:
            then = f"the last good checkpoint is {last}: {fixes}, then continue it with --resume and the new value"
            if bad and bad[1] <= int(ckpt.STEP_DIR.match(last.name).group(1)) + 1:
                # the update just before that checkpoint may already have diverged
                then += f" (if it diverges again at once, delete {last} first to resume from the one before)"
        elif self.run_dir is not None:
            then = f"no checkpoint was written yet: {fixes}, then run the same command again (the run folder is reused)"
        else:
            then = f"{fixes}, then train again"
        raise NonFiniteLossError(f"loss became {value} in {where}; {then}")

    def _train_row(self, parts: _FitParts, state: _FitState) -> dict[str, float]:
        """The metrics row of this boundary: training means since the last one (over all
        processes), throughput, learning rate and epoch."""
        done, now = state.step, time.perf_counter()
        row = parts.tracker.flush()
        if parts.world > 1 and row:  # each rank saw its share of the batch: log the global mean
            mean = self.fabric.all_reduce(torch.tensor(list(row.values()), device=parts.device), reduce_op="mean")
            row = dict(zip(row, mean.tolist()))
        if row:
            state.train_metrics = dict(row)
        row["samples_per_s"] = (done - state.step_last) * self.cfg.batch_size / max(now - state.t_last, 1e-9)
        state.t_last, state.step_last = now, done
        row["lr"] = parts.schedulers[0].get_last_lr()[0]
        row["epoch"] = done / len(parts.batches)
        return row

    def _validate_and_watch(self, parts: _FitParts, state: _FitState) -> dict[str, float]:
        """Validate; feed the monitored value to early stopping, keeping ``best.safetensors`` when
        early stopping is on and the value improved."""
        state.val_metrics = metrics = self._validate(parts.model, parts.val_batches, parts.val)
        monitor = metrics.get(parts.model.monitor, next(iter(metrics.values()), None))
        improved = state.early.update(monitor)
        if improved and self.cfg.early_stopping_patience and self.run_dir is not None and self.is_main:
            save_weights(parts.model, self.run_dir / "best.safetensors")
        return metrics

    def _checkpoint(self, parts: _FitParts, state: _FitState) -> None:
        """Write the checkpoint of step ``state.step``, then call ``on_checkpoint`` (rank 0)."""
        trainer_state = {
            "step": state.step,
            **state.early.state_dict(),  # best_val, bad_validations
            "wall_s": state.elapsed_before + time.perf_counter() - state.t0,
            "world_size": parts.world,
        }
        self._save_checkpoint(state.step, parts.model, parts.optimizers, parts.schedulers, trainer_state)
        if self.on_checkpoint is not None and self.is_main:
            self.on_checkpoint(parts.model, state.step)

    # ------------------------------------------------------------------ finish
    def _finish(self, parts: _FitParts, state: _FitState) -> FitResult:
        """Close the outputs, restore the best weights after early stopping, compare the replicas,
        write ``model.safetensors`` and ``summary.json``."""
        cfg, fabric, model = self.cfg, self.fabric, parts.model
        if parts.pbar is not None:
            parts.pbar.close()
        wall = state.elapsed_before + time.perf_counter() - state.t0
        if state.stopped_early and self.run_dir is not None and (self.run_dir / "best.safetensors").exists():
            fabric.barrier()
            load_weights(self.run_dir / "best.safetensors", model)  # restore the best weights

        replica_diff = None
        if parts.world > 1:  # DDP keeps replicas equal; check it: max over weights of (max - min over ranks)
            flat = torch.cat([p.detach().reshape(-1).float() for p in model.parameters()])
            spread = fabric.all_reduce(flat.clone(), reduce_op="max") - fabric.all_reduce(flat.clone(), reduce_op="min")
            replica_diff = float(spread.abs().max())

        result = FitResult(
            run_dir=str(self.run_dir) if self.run_dir is not None else None,
            steps=state.step,
            stopped_early=state.stopped_early,
            best_val=state.early.best_val,
            train_metrics=state.train_metrics,
            val_metrics=state.val_metrics,
            samples_per_s=(state.step - state.start) * cfg.batch_size / max(time.perf_counter() - state.t0, 1e-9),
            wall_s=wall,
            world_size=parts.world,
            device=str(parts.device),
            replica_max_abs_diff=replica_diff,
            resumed_from=state.resumed_from,
        )
        if self.run_dir is not None and self.is_main:
            save_weights(model, self.run_dir / "model.safetensors")
            write_json(self.run_dir / "summary.json", result.__dict__)
        if parts.writer is not None:
            parts.writer.close()
        fabric.barrier()
        return result
