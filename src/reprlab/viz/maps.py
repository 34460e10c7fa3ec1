"""Scatter maps of 2-D codes: coloured by label with a legend, optional image thumbnails, and
small multiples (a t-SNE perplexity x seed sweep). Same style as every other figure
(:data:`reprlab.viz.plots.STYLE`); titles say what was plotted and with what parameters."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import UsageError
from .embed import Map2D
from ..files import ensure_dir
from .plots import STYLE, save_figure

#: pixel size of a single map (width, height) and of one panel of a grid
MAP_SIZE = (900, 760)
PANEL_SIZE = (420, 400)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def quality_line(quality: dict | None, seconds: float | None = None) -> str:
    """``T(10) 0.991 · 10-NN acc 0.987 (map) / 0.982 (codes) · 4.4 s``: the numbers beside a map."""
    parts = []
    for key, value in (quality or {}).items():
        if key.startswith("trustworthiness_k"):
            parts.append(f"T({key.removeprefix('trustworthiness_k')}) {value:.3f}")
    if quality and "knn_accuracy_map" in quality:
        acc = f"k-NN acc {quality['knn_accuracy_map']:.3f} (map)"
        if "knn_accuracy_codes" in quality:
            acc += f" / {quality['knn_accuracy_codes']:.3f} (codes)"
        parts.append(acc)
    if seconds:
        parts.append(f"{seconds:.1f} s")
    return " · ".join(parts)


def _check(coords, labels) -> tuple[np.ndarray, np.ndarray | None]:
    xy = np.asarray(coords, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2 or len(xy) == 0:
        raise UsageError(f"a map needs coordinates of shape (N, 2), got {xy.shape}")
    if not np.isfinite(xy).all():
        raise UsageError("map coordinates hold NaN or Inf; recompute the map from finite codes")
    if labels is None:
        return xy, None
    y = np.asarray(labels)
    if y.shape != (len(xy),):
        raise UsageError(f"labels must have shape ({len(xy)},), got {y.shape}")
    return xy, y


def _scatter(ax, xy: np.ndarray, labels: np.ndarray | None, classes: Sequence[str] | None, legend: bool, size: float):
    """Points coloured by label: a categorical palette with a legend up to 20 classes, a colour bar beyond."""
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_aspect("equal", adjustable="datalim")
    if labels is None:
        ax.scatter(xy[:, 0], xy[:, 1], s=size, c="tab:blue", alpha=0.7, linewidths=0)
        return
    values = np.unique(labels)
    if len(values) > 20:
        sc = ax.scatter(xy[:, 0], xy[:, 1], s=size, c=labels, cmap="viridis", alpha=0.8, linewidths=0)
        if legend:
            ax.figure.colorbar(sc, ax=ax, fraction=0.04, label="label")
        return
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if len(values) <= 10 else "tab20"]
    for i, v in enumerate(values):
        m = labels == v
        name = classes[int(v)] if classes is not None and np.issubdtype(type(v), np.integer) and 0 <= v < len(classes) else str(v)
        ax.scatter(xy[m, 0], xy[m, 1], s=size, color=cmap(i), alpha=0.75, linewidths=0, label=name)
    if legend:
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), markerscale=max(1.0, 30 / max(size, 1)) ** 0.5,
                  frameon=False, title="label")


def spread_points(xy: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Indices of ``n`` points spread over the map (greedy farthest-point sampling from a seeded
    random start), so that thumbnails overlap as little as possible."""
    n = min(n, len(xy))
    rng = np.random.default_rng(seed)
    chosen = [int(rng.integers(len(xy)))]
    d = np.linalg.norm(xy - xy[chosen[0]], axis=1)
    for _ in range(n - 1):
        i = int(np.argmax(d))
        chosen.append(i)
        d = np.minimum(d, np.linalg.norm(xy - xy[i], axis=1))
    return np.array(chosen)


def _thumbnails(ax, xy: np.ndarray, images: np.ndarray, n: int, seed: int) -> None:
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage

    if images.ndim != 4 or len(images) != len(xy):
        raise UsageError(f"thumbnails need images of shape ({len(xy)}, C, H, W), got {images.shape}")
    zoom = 24 / max(images.shape[-2:])  # ~24 px thumbnails whatever the image size
    for i in spread_points(xy, n, seed):
        img = np.clip(images[i], 0, 1)
        img = img[0] if img.shape[0] == 1 else np.transpose(img[:3], (1, 2, 0))
        box = OffsetImage(img, cmap="gray_r" if img.ndim == 2 else None, zoom=zoom, interpolation="nearest")
        ax.add_artist(AnnotationBbox(box, xy[i], frameon=True, pad=0.1, bboxprops={"lw": 0.4, "ec": "0.5"}))


def _point_size(n: int) -> float:
    return float(np.clip(4000 / max(n, 1), 1.0, 30.0))


def plot_map(
    the_map: Map2D | np.ndarray, path: str | os.PathLike, labels=None, *, classes: Sequence[str] | None = None,
    title: str | None = None, quality: dict | None = None, images=None, thumbnails: int = 0, seed: int = 0,
    size: tuple[int, int] = MAP_SIZE,
) -> Path:
    """One 2-D map as a PNG of ``size`` pixels: points coloured by ``labels`` (legend with the
    ``classes`` names), ``thumbnails`` of the ``images`` (N, C, H, W) at spread-out points,
    the map's title and the ``quality`` numbers (:func:`reprlab.eval.neighbors.map_quality`)
    under it."""
    coords = the_map.coords if isinstance(the_map, Map2D) else the_map
    xy, y = _check(coords, labels)
    title = title or (the_map.title if isinstance(the_map, Map2D) else "2-D map")
    seconds = the_map.seconds if isinstance(the_map, Map2D) else None
    plt = _pyplot()
    path = Path(path)
    ensure_dir(path.parent)
    dpi = STYLE["figure.dpi"]
    with plt.rc_context({**STYLE, "axes.grid": False}):
        fig, ax = plt.subplots(figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi)
        _scatter(ax, xy, y, classes, legend=True, size=_point_size(len(xy)))
        if thumbnails and images is not None:
            _thumbnails(ax, xy, np.asarray(images, dtype=np.float32), thumbnails, seed)
        line = quality_line(quality, seconds)
        ax.set_title(f"{title}\n{line}" if line else title, fontsize=10)
        ax.text(1.0, -0.02, f"{len(xy)} points", transform=ax.transAxes, ha="right", va="top", fontsize=8, color="0.4")
        fig.tight_layout()
        path = save_figure(fig, path, dpi=dpi)
    return path


def plot_map_grid(
    maps: Sequence[Map2D], path: str | os.PathLike, labels=None, *, classes: Sequence[str] | None = None,
    qualities: Sequence[dict] | None = None, ncols: int | None = None, title: str = "",
    panel_size: tuple[int, int] = PANEL_SIZE, titles: Sequence[str] | None = None,
) -> Path:
    """Small multiples: one panel per map (e.g. rows = seeds, columns = perplexities), each
    titled with its parameters (or ``titles[i]``, e.g. the method whose codes it maps) and
    quality numbers, one shared legend."""
    if not maps:
        raise UsageError("plot_map_grid got no maps")
    ncols = ncols or min(len(maps), 3)
    nrows = math.ceil(len(maps) / ncols)
    plt = _pyplot()
    path = Path(path)
    ensure_dir(path.parent)
    dpi = STYLE["figure.dpi"]
    legend_w = 130 if labels is not None else 0
    with plt.rc_context({**STYLE, "axes.grid": False}):
        fig, axes = plt.subplots(nrows, ncols, squeeze=False, dpi=dpi,
                                 figsize=((ncols * panel_size[0] + legend_w) / dpi, nrows * panel_size[1] / dpi))
        for i, ax in enumerate(axes.flat):
            if i >= len(maps):
                ax.axis("off")
                continue
            xy, y = _check(maps[i].coords, labels)
            _scatter(ax, xy, y, classes, legend=False, size=_point_size(len(xy)) / 2)
            line = quality_line(qualities[i] if qualities else None, maps[i].seconds)
            name = titles[i] if titles is not None else maps[i].title.replace(", perplexity", "\nperplexity")
            ax.set_title(name + (f"\n{line}" if line else ""), fontsize=8)
        if labels is not None:
            handles, names = axes.flat[0].get_legend_handles_labels()
            if handles:
                fig.legend(handles, names, loc="center right", frameon=False, title="label", markerscale=4)
        if title:
            import textwrap

            fig.suptitle("\n".join(textwrap.wrap(title, max(40, int(fig.get_figwidth() * dpi / 8)))), fontsize=11)
        fig.tight_layout(rect=(0, 0, 1 - legend_w / fig.get_figwidth() / dpi, 1))
        path = save_figure(fig, path, dpi=dpi)
    return path
