"""Data layer: named data sets held in memory as tensors, sliced into batches.

>>> from reprlab.data import load_dataset
>>> train = load_dataset("digits", split="train", seed=0)
>>> train.x.shape      # (N, 1, 8, 8), values in [0, 1]
"""

from .base import Batch, TensorBatches, TensorData
from .corruptions import (
    Compose,
    Corruption,
    GaussianNoise,
    MaskingNoise,
    SaltAndPepper,
    gaussian_noise,
    masking_noise,
    parse_corruption,
    salt_and_pepper,
)
from .registry import DATA_ENV, DATASETS, load_dataset, missing_files, register, resolve_data_dir

# Importing a loader module registers its data sets.
from . import digits  # noqa: F401,E402

for _module in ("mnist", "omniglot", "amazon", "user", "toy"):
    try:
        __import__(f"{__name__}.{_module}")
    except ModuleNotFoundError as _e:  # a loader module not written yet
        if _e.name != f"{__name__}.{_module}":
            raise

__all__ = [
    "Batch",
    "Compose",
    "Corruption",
    "DATASETS",
    "DATA_ENV",
    "GaussianNoise",
    "MaskingNoise",
    "SaltAndPepper",
    "TensorBatches",
    "TensorData",
    "gaussian_noise",
    "load_dataset",
    "masking_noise",
    "missing_files",
    "parse_corruption",
    "register",
    "resolve_data_dir",
    "salt_and_pepper",
]
