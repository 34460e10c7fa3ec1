"""The Dirac-GAN's phase portraits (Mescheder et al. 2018, Fig. 2-4): the gradient vector field
v(θ, ψ) over [−2, 2]² (arrows: its direction, darker where ‖v‖ is larger), with the simultaneous
and alternating gradient-descent trajectories drawn on it."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch

from ..errors import ConfigError, UsageError
from ..models.gan.dirac import MODES, PAPER_METHODS, DiracAnalysis, DiracMethod, analyze, numeric_field
from ..files import ensure_dir
from .plots import STYLE, save_figure

_COLORS = {"simultaneous": "tab:red", "alternating": "tab:blue"}


def _as_analysis(item, steps: int, lr: float, start, modes) -> DiracAnalysis:
    """A name of :data:`PAPER_METHODS`, a :class:`DiracMethod` or a ready :class:`DiracAnalysis`."""
    if isinstance(item, DiracAnalysis):
        return item
    if isinstance(item, str):
        if item not in PAPER_METHODS:
            raise ConfigError(f"unknown Dirac-GAN method {item!r}; choose one of {', '.join(PAPER_METHODS)}")
        title, method = PAPER_METHODS[item]
        return analyze(method, start, lr, steps, modes, title=title)
    if isinstance(item, DiracMethod):
        return analyze(item, start, lr, steps, modes)
    raise UsageError(f"plot_dirac takes method names, DiracMethod or DiracAnalysis objects, got {type(item).__name__}")


def _panel(ax, a: DiracAnalysis, lim: float, grid: int) -> None:
    g = torch.linspace(-lim, lim, grid, dtype=torch.float64)
    th, ps = torch.meshgrid(g, g, indexing="xy")  # (grid, grid) each
    vt, vp = (v.numpy() for v in numeric_field(a.method, th, ps))
    norm = np.hypot(vt, vp) + 1e-12
    ax.quiver(th.numpy(), ps.numpy(), vt / norm, vp / norm, norm, cmap="Greys", clim=(-0.5 * norm.max(), norm.max()),
              angles="xy", pivot="mid", scale=grid * 1.3, width=0.004)
    for mode, traj in a.trajectories.items():
        ax.plot(traj[:, 0], traj[:, 1], color=_COLORS[mode], lw=1.0, alpha=0.9,
                label=f"{mode} (end ‖·‖ = {a.final_distance[mode]:.2g})")
        ax.plot(*traj[-1], "o", color=_COLORS[mode], ms=3)
    ax.plot(*a.start, "ko", ms=4)
    ax.plot(0, 0, "*", color="gold", mec="k", ms=10)
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), xlabel="θ (generator)", ylabel="ψ (discriminator)", aspect="equal")
    ax.set_title(a.title, fontsize=9)
    ax.legend(fontsize=6, loc="lower left")


def plot_dirac(methods, path: str | os.PathLike, steps: int = 500, lr: float = 0.1, start=(1.0, 1.0),
               modes=MODES, lim: float = 2.0, grid: int = 17) -> list[DiracAnalysis]:
    """Write a PNG with one panel per method: v(θ, ψ) as unit arrows (darker: larger ‖v‖), the
    trajectories of each mode from ``start`` (black dot; gold star: the equilibrium (0, 0)).

    ``methods``: names of :data:`~reprlab.models.gan.dirac.PAPER_METHODS` (``gan``, ``ns``, ...),
    :class:`DiracMethod` or :class:`DiracAnalysis` objects. Returns the analyses drawn (trajectories,
    Jacobians at (0, 0)), in order. The ψ axis is the paper's mirrored (see :mod:`.models.gan.dirac`).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    analyses = [_as_analysis(m, steps, lr, start, modes) for m in methods]
    if not analyses:
        raise UsageError("plot_dirac got no methods")
    path = Path(path)
    ensure_dir(path.parent)
    cols = min(3, len(analyses))
    rows = math.ceil(len(analyses) / cols)
    with plt.rc_context({**STYLE, "axes.grid": False}):
        fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.6 * rows), squeeze=False)
        for ax, a in zip(axes.flat, analyses):
            _panel(ax, a, lim, grid)
        for ax in axes.flat[len(analyses):]:
            ax.axis("off")
        fig.suptitle(f"Dirac-GAN: h = {lr:g}, {steps} generator steps from (θ, ψ) = {tuple(start)}", fontsize=10)
        fig.tight_layout()
        save_figure(fig, path)
    return analyses
