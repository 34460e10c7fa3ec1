"""Training engine: one Fabric-based trainer for every family, atomic safetensors checkpoints."""

from .config import TrainConfig
from .early_stopping import EarlyStopping
from .trainer import FitResult, Trainer, seed_everything

__all__ = ["EarlyStopping", "FitResult", "TrainConfig", "Trainer", "seed_everything"]
