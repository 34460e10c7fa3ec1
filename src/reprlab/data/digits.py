"""``digits``: scikit-learn's embedded 8x8 handwritten digits (1,797 images, 10 classes)."""

from __future__ import annotations

import torch

from .base import TensorData
from .registry import register
from .splits import seeded_split


@register("digits", "sklearn's embedded 8x8 digits, 1,797 images, 10 classes (no files needed)", embedded=True)
def load_digits(arg, data_dir, split, seed, download) -> TensorData:
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    # Pixel values are integers 0..16; scale to [0, 1]. (N, 64) -> (N, 1, 8, 8)
    x = torch.from_numpy(bunch.images).float().div_(16.0).unsqueeze(1)
    y = torch.from_numpy(bunch.target).long()
    data = TensorData(
        x, y, name="digits", classes=[str(c) for c in range(10)],
        meta={"source": "sklearn.datasets.load_digits", "range": "[0, 1]"},
    )
    return seeded_split(data, split, seed)
