"""The one trainer: Lightning Fabric for devices, precision and data parallelism; reprlab for the rest.

One training step takes one batch and runs the model's updates in order (one for an
auto-encoder; critic then generator for a GAN, each on its own schedule ``step % every == 0``):

    for update u due at this step:  zero_grad(u) -> loss = model(batch, u) -> backward -> step(u)

With several updates, the parameters that only *other* updates step are frozen
(``requires_grad=False``) during u's forward and backward: their gradients would be thrown away
(each update zeroes its own before its backward), so they are not computed (the generator's
update of a GAN backpropagates through D to G without D's weight gradients: ~15 % less work).

Around it: deterministic seeding, a progress bar, CSV/TensorBoard metrics, a NaN/Inf guard, periodic
atomic checkpoints (:mod:`reprlab.train.checkpoint`) from which ``resume=True`` continues bit for bit,
validation with early stopping, and learning-rate schedules. The same code runs on one CPU, one
GPU, or many processes (``devices=N`` through Fabric's launcher, or under ``torchrun``).
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

import torch
from torch import Tensor

from ..data.base import TensorBatches, TensorData
from ..errors import CheckpointError, ConfigError, NonFiniteLossError
from ..files import OutputError, ensure_dir, is_output_failure, output_error, write_json
from ..models.base import ReprModel
from . import checkpoint as ckpt
from .config import TrainConfig
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


class Trainer:
    """Train any :class:`~reprlab.models.ReprModel` on in-memory data.

    Parameters
    ----------
    config : the training options.
    run_dir : folder for ``config.yaml``, ``metrics.csv``, ``checkpoints/``, ``model.safetensors``
        and ``summary.json``; None trains without writing anything (no checkpoints).
    run_config : unused; kept for callers of earlier versions (the pipeline that owns the run
        folder writes ``config.yaml``, :func:`reprlab.run.train`).
    """

    #: freeze the parameters of other updates during an update (see the module docstring);
    #: False computes (and discards) their gradients, as PyTorch's plain recipe does
    freeze_other_updates: bool = True

    def __init__(self, config: TrainConfig, run_dir: str | os.PathLike | None = None, run_config: dict | None = None):
        self.cfg = config
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.run_config = run_config
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
            ckpt.save_weights(model, tmp / "model.safetensors")
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
        ckpt.load_weights(path / "model.safetensors", model)
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

    def fit(
        self, model: ReprModel, train: TensorData, val: TensorData | None = None, *, resume: bool = False
    ) -> FitResult:
        """Train ``model`` on ``train`` (validating on ``val``); returns a :class:`FitResult`.

        The caller seeds and builds the model (:func:`seed_everything` first, so the
        initialization is reproducible); ``resume=True`` continues from the newest valid
        checkpoint in ``run_dir``.
        """
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

        start, tstate = 0, {}
        if resume:
            start, tstate = self._load_checkpoint(model, foptimizers, schedulers)
        best_val = tstate.get("best_val")
        bad_validations = tstate.get("bad_validations", 0)
        elapsed_before = tstate.get("wall_s", 0.0)
        resumed_from = start if resume else None

        writer = None
        if self.run_dir is not None and self.is_main:
            ensure_dir(self.run_dir)
            for stale in self.checkpoint_dir.glob(".tmp-step-*") if self.checkpoint_dir.is_dir() else []:
                shutil.rmtree(stale, ignore_errors=True)  # left by a process killed while writing a checkpoint
            writer = MetricsLogger(self.run_dir, cfg.tensorboard, resume_step=start if resume else None)

        tracker = MetricTracker([u.name for u in updates], cfg.log_every, device)
        pbar = None
        if cfg.progress and self.is_main:
            from tqdm.auto import tqdm

            pbar = tqdm(total=cfg.max_steps, initial=start, unit="step", dynamic_ncols=True, desc=model.name, leave=True)

        train_metrics: dict[str, float] = {}
        val_metrics: dict[str, float] = {}
        stopped_early = False
        t0 = time.perf_counter()
        t_last, step_last = t0, start
        fmodel.train()
        step = start

        def trainer_state(at: int) -> dict:
            return {
                "step": at,
                "best_val": best_val,
                "bad_validations": bad_validations,
                "wall_s": elapsed_before + time.perf_counter() - t0,
                "world_size": world,
            }

        def check_finite(at: int) -> None:
            bad = tracker.first_non_finite()
            flag = torch.tensor([0 if bad is None else 1], device=device)
            if world > 1:
                flag = fabric.all_reduce(flag, reduce_op="max")
            if int(flag.item()):
                last = ckpt.latest_valid(self.checkpoint_dir) if self.run_dir is not None else None
                where = f"update {bad[0]!r} at step {bad[1]}" if bad else f"another process, before step {at}"
                value = f"{bad[2]}" if bad else "non-finite"
                if pbar is not None:
                    pbar.close()
                fixes = f"lower train.lr (now {cfg.lr:g}), set train.grad_clip=1.0, or check the data for NaN/Inf"
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

        for step in range(start, cfg.max_steps):
            batch = batches.at_step(step)
            for i, (u, opt) in enumerate(zip(updates, foptimizers)):
                if step % u.every:
                    continue
                with frozen(others[i]):  # no gradient for what this update does not step
                    out = self._update(fmodel, opt, batch, u.name)
                model.after_update(u.name)
                tracker.add(u.name, step, out)
            for s in schedulers:
                s.step()
            done = step + 1
            last = done == cfg.max_steps
            if pbar is not None:
                pbar.update(1)

            log_now = done % cfg.log_every == 0 or last
            val_now = val is not None and (done % cfg.val_every == 0 or last)
            ckpt_now = self.run_dir is not None and (done % cfg.checkpoint_every == 0 or last)
            if not (log_now or val_now or ckpt_now):
                continue

            check_finite(done)
            now = time.perf_counter()
            row = tracker.flush()
            if world > 1 and row:  # each rank saw its share of the batch: log the global mean
                mean = fabric.all_reduce(torch.tensor(list(row.values()), device=device), reduce_op="mean")
                row = dict(zip(row, mean.tolist()))
            if row:
                train_metrics = dict(row)
            rate = (done - step_last) * cfg.batch_size / max(now - t_last, 1e-9)
            t_last, step_last = now, done
            row["samples_per_s"] = rate
            row["lr"] = schedulers[0].get_last_lr()[0]
            row["epoch"] = done / len(batches)
            if val_now:
                val_metrics = self._validate(model, val_batches, val)
                row.update(val_metrics)
                monitor = val_metrics.get(model.monitor, next(iter(val_metrics.values()), None))
                if monitor is not None and math.isfinite(monitor):
                    if best_val is None or monitor < best_val - cfg.early_stopping_min_delta:
                        best_val, bad_validations = monitor, 0
                        if cfg.early_stopping_patience and self.run_dir is not None and self.is_main:
                            ckpt.save_weights(model, self.run_dir / "best.safetensors")
                    else:
                        bad_validations += 1
            if writer is not None:
                writer.log(done, row)
            if pbar is not None:
                shown = {k.split("/")[-1] if k.count("/") == 1 else k: v for k, v in row.items() if k.endswith("loss")}
                pbar.set_postfix({**{k: f"{v:.4g}" for k, v in shown.items()}, "samples/s": f"{rate:.0f}"}, refresh=False)
            stop = bool(cfg.early_stopping_patience and bad_validations >= cfg.early_stopping_patience)
            if world > 1:
                stop = bool(fabric.broadcast(stop, src=0))
            if self.run_dir is not None and (ckpt_now or stop):
                self._save_checkpoint(done, model, foptimizers, schedulers, trainer_state(done))
                if self.is_main:
                    model.snapshot(self.run_dir, done)
            if stop:
                stopped_early = True
                self._info(f"early stopping at step {done}: no improvement in {bad_validations} validations")
                break

        if pbar is not None:
            pbar.close()
        final_step = step + 1 if cfg.max_steps > start else start
        wall = elapsed_before + time.perf_counter() - t0
        if stopped_early and self.run_dir is not None and (self.run_dir / "best.safetensors").exists():
            fabric.barrier()
            ckpt.load_weights(self.run_dir / "best.safetensors", model)  # restore the best weights

        replica_diff = None
        if world > 1:  # DDP keeps replicas equal; check it: max over weights of (max - min over ranks)
            flat = torch.cat([p.detach().reshape(-1).float() for p in model.parameters()])
            spread = fabric.all_reduce(flat.clone(), reduce_op="max") - fabric.all_reduce(flat.clone(), reduce_op="min")
            replica_diff = float(spread.abs().max())

        result = FitResult(
            run_dir=str(self.run_dir) if self.run_dir is not None else None,
            steps=final_step,
            stopped_early=stopped_early,
            best_val=best_val,
            train_metrics=train_metrics,
            val_metrics=val_metrics,
            samples_per_s=(final_step - start) * cfg.batch_size / max(time.perf_counter() - t0, 1e-9),
            wall_s=wall,
            world_size=world,
            device=str(device),
            replica_max_abs_diff=replica_diff,
            resumed_from=resumed_from,
        )
        if self.run_dir is not None and self.is_main:
            ckpt.save_weights(model, self.run_dir / "model.safetensors")
            write_json(self.run_dir / "summary.json", result.__dict__)
        if writer is not None:
            writer.close()
        fabric.barrier()
        return result
