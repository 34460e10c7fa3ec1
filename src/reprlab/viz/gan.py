"""GAN figures: generated 2-D points over the true mixture, one panel per training stage."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import UsageError
from ..files import ensure_dir
from .plots import STYLE, save_figure


def _draw_points(ax, points, centers=None, std: float | None = None, title: str = "", labels=None) -> None:
    if centers is not None:  # the true density: its modes, with a 3σ circle each
        c = np.asarray(centers)
        ax.scatter(c[:, 0], c[:, 1], s=30, marker="x", color="tab:red", zorder=3, label="modes")
        if std is not None:
            import matplotlib.patches as mpatches

            for cx, cy in c:
                ax.add_patch(mpatches.Circle((cx, cy), 3 * std, fill=False, color="tab:red", lw=0.6, alpha=0.6))
    p = np.asarray(points)
    if labels is None:
        ax.scatter(p[:, 0], p[:, 1], s=2, alpha=0.35, color="tab:blue", zorder=2)
    else:  # coloured by label, as in the AAE paper's code maps
        y = np.asarray(labels)
        for k in np.unique(y):
            ax.scatter(p[y == k, 0], p[y == k, 1], s=2, alpha=0.5, color=f"C{int(k) % 10}", zorder=2, label=str(k))
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=9)


def save_points(points, path: str | os.PathLike, *, centers=None, std: float | None = None, title: str = "") -> Path:
    """Scatter plot of generated 2-D points (N, 2), with the true modes when ``centers`` (K, 2) is given."""
    panels = [(title, points)]
    return plot_point_panels(panels, path, centers=centers, std=std)


def plot_point_panels(
    panels: list[tuple[str, object]], path: str | os.PathLike, *, centers=None, std: float | None = None,
    ncol: int | None = None, lim: float | None = None, labels=None,
) -> Path:
    """One scatter panel per ``(title, points (N, 2))`` (e.g. per training stage, or per loss), over
    the true modes: mode collapse and oscillation show as panels with few or moving clusters.
    With ``labels`` (N,), points are coloured by label (e.g. 2-D codes of held-out digits)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not panels:
        raise UsageError("plot_point_panels got no panels")
    ncol = ncol or min(len(panels), 5)
    nrow = -(-len(panels) // ncol)
    if lim is None and centers is not None:
        lim = float(np.abs(np.asarray(centers)).max()) * 1.5
    path = Path(path)
    ensure_dir(path.parent)
    with plt.rc_context({**STYLE, "axes.grid": False}):
        fig, axes = plt.subplots(nrow, ncol, figsize=(2.4 * ncol, 2.4 * nrow), squeeze=False)
        for ax in axes.flat[len(panels):]:
            ax.axis("off")
        for ax, (title, pts) in zip(axes.flat, panels):
            _draw_points(ax, pts, centers, std, title, labels)
            if lim is not None:
                ax.set_xlim(-lim, lim)
                ax.set_ylim(-lim, lim)
            ax.tick_params(labelsize=6)
        if labels is not None:
            handles, names = axes.flat[0].get_legend_handles_labels()
            fig.legend(handles, names, loc="center right", frameon=False, markerscale=4, fontsize=7)
            fig.tight_layout(rect=(0, 0, 0.93, 1))
        else:
            fig.tight_layout()
        path = save_figure(fig, path)
    return path
