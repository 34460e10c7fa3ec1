"""Samples as pictures: the one function that draws what a model generates or shows."""

from __future__ import annotations

import os
from pathlib import Path

from torch import Tensor

from ..errors import UsageError


def save_samples(x: Tensor, path: str | os.PathLike, *, title: str = "", nrow: int | None = None) -> Path:
    """Save samples as a picture, whatever their kind:

    - images (N, C, H, W), values in [0, 1]: a grid (``nrow`` per row);
    - rows of images (R, N, C, H, W): a grid with one row per leading index (e.g. inputs above
      what a lens or a decoder made of them);
    - 2-D points (N, 2): a scatter plot titled ``title``.

    Anything else (vectors of another size) is a one-line :class:`~reprlab.errors.UsageError`.
    """
    from .gan import save_points
    from .plots import save_image_grid

    x = x.detach().cpu()
    if x.ndim == 5:
        return save_image_grid(x.flatten(0, 1).clamp(0, 1), path, nrow=x.shape[1])
    if x.ndim == 4:
        return save_image_grid(x.clamp(0, 1), path, nrow=nrow)
    if x.ndim == 2 and x.shape[1] == 2:
        return save_points(x, path, title=title)
    raise UsageError(f"samples of shape {tuple(x.shape)[1:]} are neither images nor 2-D points: there is no picture to draw")
