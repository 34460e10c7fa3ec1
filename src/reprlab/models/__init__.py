"""Models, one module per lecture family; each registers itself by name."""

from .base import ReprModel, Update
from .registry import MODELS, get_model_spec, register_model
from .autoencoder import AutoEncoder, AutoEncoderConfig, reconstruction_loss  # noqa: E402

__all__ = [
    "MODELS",
    "AutoEncoder",
    "AutoEncoderConfig",
    "ReprModel",
    "Update",
    "get_model_spec",
    "reconstruction_loss",
    "register_model",
]
