"""reprlab: representation learning, from auto-encoders to GANs, under one PyTorch API."""

__version__ = "0.1.0"

from .run import load, train  # noqa: E402
from . import data, models  # noqa: E402,F401
from .models.mda import MDA, MSDA  # noqa: E402

__all__ = ["MDA", "MSDA", "__version__", "data", "load", "models", "train"]
