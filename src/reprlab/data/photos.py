"""Single photographs for style transfer: a file (or one of sklearn's embedded photographs) as
a (1, 3, H, W) float tensor in [0, 1], with one-line errors for what cannot be used."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from .user import _open_image, _reason

MIN_SIDE = 16  # VGG-19 pools four times before conv5_1: a smaller image has no conv5 response
EMBEDDED = ("china.jpg", "flower.jpg")  # sklearn.datasets.load_sample_image


def embedded_photo(name: str) -> torch.Tensor:
    """One of scikit-learn's two embedded photographs (``china.jpg``, ``flower.jpg``), 427x640."""
    from sklearn.datasets import load_sample_image

    if name not in EMBEDDED:
        raise DataError(f"{name!r} is not an embedded photograph; choose {' or '.join(EMBEDDED)}")
    a = np.array(load_sample_image(name), dtype=np.float32) / 255.0  # (H, W, 3)
    return torch.from_numpy(a).permute(2, 0, 1)[None].contiguous()


def read_photo(path: str | Path) -> torch.Tensor:
    """An image file as RGB (1, 3, H, W) in [0, 1] (alpha dropped, grey replicated), or a DataError.

    ``sklearn:china.jpg`` / ``sklearn:flower.jpg`` name the embedded photographs. Images smaller
    than ``MIN_SIDE`` pixels on a side are refused.
    """
    if str(path).startswith("sklearn:"):
        return embedded_photo(str(path).split(":", 1)[1])
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: image not found")
    with _open_image(path) as im:
        try:
            a = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0  # (H, W, 3)
        except Exception as e:  # PIL raises many types for damaged files
            raise DataError(f"{path}: cannot decode the image ({_reason(e)}); re-save it as PNG or JPEG") from None
    h, w = a.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise DataError(f"{path}: image is {w}x{h} pixels; style transfer needs at least {MIN_SIDE} on each side")
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None]
