"""Training engine: one Fabric-based trainer for every family, atomic safetensors checkpoints."""

from .config import TrainConfig
from .trainer import FitResult, Trainer, seed_everything

__all__ = ["FitResult", "TrainConfig", "Trainer", "seed_everything"]
