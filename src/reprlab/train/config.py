"""The training config, shared by every model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..config import option
from ..errors import ConfigError


@dataclass
class TrainConfig:
    seed: int = option(0, "seed of initialization, data order and noise: same seed, same machine, same numbers")
    max_steps: int = option(2000, "training steps (one step = one batch, all its updates)", ge=1)
    batch_size: int = option(128, "global batch size (split across processes under DDP)", ge=1)
    optimizer: Literal["adam", "adamw", "sgd", "lbfgs"] = option(
        "adam", "optimizer of every update (lbfgs: full-batch L-BFGS, strong-Wolfe line search; set batch_size to the data size)"
    )
    lbfgs_max_iter: int = option(20, "lbfgs: iterations (each with its line search) per training step", ge=1)
    lr: float = option(1e-3, "learning rate", gt=0)
    betas: tuple[float, float] = option((0.9, 0.999), "Adam betas", ge=0, lt=1)
    momentum: float = option(0.9, "SGD momentum", ge=0, lt=1)
    weight_decay: float = option(0.0, "weight decay (L2 for adam/sgd, decoupled for adamw)", ge=0)
    fused_optimizer: bool = option(True, "adam/adamw: PyTorch's fused kernel (same update; ~1.5x faster steps on CPU)")
    lr_schedule: Literal["constant", "cosine", "step"] = option("constant", "learning-rate schedule after warm-up")
    warmup_steps: int = option(0, "linear warm-up steps", ge=0)
    lr_step_every: int = option(1000, "'step' schedule: multiply the lr by lr_gamma every this many steps", ge=1)
    lr_gamma: float = option(0.5, "'step' schedule factor", gt=0, le=1)
    compile: bool = option(False, "torch.compile the model's training step (fused kernels; the first steps compile)")
    grad_clip: float = option(0.0, "clip the gradient norm to this value (0: off)", ge=0)
    val_every: int = option(500, "validate every this many steps", ge=1)
    early_stopping_patience: int = option(0, "stop after this many validations without improvement (0: off)", ge=0)
    early_stopping_min_delta: float = option(0.0, "improvement smaller than this does not count", ge=0)
    log_every: int = option(50, "log metrics (CSV, TensorBoard, progress bar) every this many steps", ge=1)
    checkpoint_every: int = option(500, "write a checkpoint every this many steps", ge=1)
    keep_checkpoints: int = option(2, "checkpoints kept on disk (oldest deleted)", ge=1)
    accelerator: Literal["auto", "cpu", "cuda", "mps"] = option("auto", "device type (auto: cuda, then mps, then cpu)")
    devices: int = option(1, "processes/devices; >1 runs data-parallel (DDP)", ge=1)
    num_nodes: int = option(1, "machines (for multi-node DDP)", ge=1)
    precision: Literal["32-true", "64-true", "16-mixed", "bf16-mixed", "bf16-true", "16-true"] = option(
        "32-true", "numeric precision (Fabric's names)"
    )
    deterministic: bool = option(True, "use deterministic algorithms (bit-identical reruns)")
    data_on_device: bool = option(True, "move the in-memory data set to the device once (fast batches on GPU)")
    progress: bool = option(True, "show a progress bar (rank 0)")
    tensorboard: bool = option(True, "also log to TensorBoard when it is installed")

    def __post_init__(self):
        if self.optimizer == "lbfgs" and self.weight_decay > 0:
            raise ConfigError("train.weight_decay is not supported with train.optimizer=lbfgs; set it to 0 or use adamw")
        if self.batch_size % (self.devices * self.num_nodes):
            raise ConfigError(
                f"train.batch_size={self.batch_size} must be divisible by devices*num_nodes="
                f"{self.devices * self.num_nodes}"
            )
