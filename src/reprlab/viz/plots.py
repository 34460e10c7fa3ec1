"""Figures: PNG image grids (torchvision's ``make_grid``) and metric curves (matplotlib, Agg)."""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from ..errors import UsageError
from ..files import atomic_path, ensure_dir

#: Figure style shared by every plot of the library.
STYLE = {"figure.dpi": 110, "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False}


def save_figure(fig, path: str | os.PathLike, **kwargs) -> Path:
    """``fig.savefig(path, **kwargs)`` through :func:`reprlab.files.atomic_path` (the old file
    survives a failure, no partial file is left), then close ``fig``. As matplotlib does, a
    ``path`` without a suffix gets ``.png`` (``savefig.format``). Returns the path written."""
    import matplotlib
    import matplotlib.pyplot as plt

    path = Path(path)
    fmt = path.suffix[1:] or matplotlib.rcParams["savefig.format"]
    if not path.suffix:
        path = path.with_name(f"{path.name}.{fmt}")
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, **kwargs)
    finally:
        plt.close(fig)
    return path


def image_grid(images: Tensor, nrow: int | None = None, padding: int = 2, scale: int = 1) -> np.ndarray:
    """(N, C, H, W) images with values in [0, 1] -> (H', W', 3) uint8 grid (``nrow`` images per row).

    ``scale`` enlarges each pixel (nearest neighbour) so that 8x8 digits stay visible.
    """
    from torchvision.utils import make_grid

    if images.ndim != 4:
        raise UsageError(f"image_grid needs images of shape (N, C, H, W), got {tuple(images.shape)}")
    if images.shape[0] == 0:
        raise UsageError("image_grid got no images")
    x = images.detach().float().cpu().clamp(0, 1)
    if scale > 1:
        x = torch.nn.functional.interpolate(x, scale_factor=scale, mode="nearest")
    nrow = nrow or int(math.ceil(math.sqrt(x.shape[0])))
    grid = make_grid(x, nrow=nrow, padding=padding, pad_value=1.0)  # (3, H', W')
    return (grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def save_image_grid(images: Tensor, path: str | os.PathLike, nrow: int | None = None, scale: int | None = None) -> Path:
    """Write a PNG grid of ``images`` (N, C, H, W) in [0, 1]; small images are enlarged to ≥ 28 px."""
    path = Path(path)
    ensure_dir(path.parent)  # a file in the way fails before the grid is drawn
    if scale is None:
        scale = max(1, int(math.ceil(28 / max(images.shape[-2:]))))
    grid = Image.fromarray(image_grid(images, nrow, scale=scale))
    with atomic_path(path) as tmp:  # the temporary name keeps the suffix: PIL picks the format from it
        grid.save(tmp)
    return path


def plot_curves(metrics_csv: str | os.PathLike, path: str | os.PathLike, title: str = "") -> Path:
    """Plot every ``*loss`` column of a run's ``metrics.csv`` against the step; write a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(metrics_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise UsageError(f"{metrics_csv} has no rows to plot")
    columns = [c for c in rows[0] if c.endswith("loss")]
    path = Path(path)
    ensure_dir(path.parent)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6, 3.6))
        for c in columns:
            pts = [(float(r["step"]), float(r[c])) for r in rows if r.get(c) not in (None, "")]
            if pts:
                s, v = zip(*pts)
                few = len(pts) < 20 or c.startswith("val")
                ax.plot(s, v, marker="o" if few else None, ms=3, label=c)
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.set_title(title or "training curves")
        ax.legend()
        fig.tight_layout()
        return save_figure(fig, path)


def plot_grouped_bars(
    values: dict[str, dict[str, float]], path: str | os.PathLike, *, ylabel: str = "", title: str = "",
    baseline: float | None = None,
) -> Path:
    """Bars of ``values[series][group]`` grouped by ``group`` (e.g. accuracy per task, one bar per
    method); ``baseline`` draws a dashed horizontal line (e.g. chance). Writes a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not values or not any(values.values()):
        raise UsageError("plot_grouped_bars got no values")
    groups = list(dict.fromkeys(g for series in values.values() for g in series))
    width = 0.8 / len(values)
    path = Path(path)
    ensure_dir(path.parent)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(max(5.0, 0.6 * len(groups) * len(values) + 1.5), 3.6))
        for j, (series, by_group) in enumerate(values.items()):
            xs = [i + (j - (len(values) - 1) / 2) * width for i, g in enumerate(groups) if g in by_group]
            ax.bar(xs, [by_group[g] for g in groups if g in by_group], width, label=series)
        if baseline is not None:
            ax.axhline(baseline, color="gray", ls="--", lw=1)
        lo = min(v for s in values.values() for v in s.values())
        hi = max(v for s in values.values() for v in s.values())
        ax.set_ylim(max(0.0, lo - 0.1 * (hi - lo + 1e-9) - 0.02), hi + 0.1 * (hi - lo + 1e-9) + 0.01)
        ax.set_xticks(range(len(groups)), groups, rotation=45 if len(groups) > 4 else 0, ha="right" if len(groups) > 4 else "center")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.legend()
        fig.tight_layout()
        return save_figure(fig, path)


def plot_image_row(images: list[Tensor], titles: list[str], path: str | os.PathLike, title: str = "") -> Path:
    """One row of RGB images (each (1, 3, H, W) or (3, H, W) in [0, 1]) with a title above each; a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not images or len(images) != len(titles):
        raise UsageError(f"plot_image_row needs as many titles as images, got {len(images)} and {len(titles)}")
    path = Path(path)
    ensure_dir(path.parent)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(images), figsize=(2.2 * len(images), 2.2 + 0.3 * bool(title)), squeeze=False)
        for ax, img, text in zip(axes[0], images, titles):
            a = img.detach().float().cpu().clamp(0, 1).reshape(-1, *img.shape[-2:])  # (3, H, W)
            ax.imshow(a.permute(1, 2, 0).numpy())
            ax.set_title(text, fontsize=8)
            ax.axis("off")
        if title:
            fig.suptitle(title, fontsize=9)
        fig.tight_layout()
        return save_figure(fig, path)
