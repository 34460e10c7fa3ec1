"""The figure of ``reprlab compare``: methods x probes, each cell coloured by the method's rank
within its probe (column), its text the mean ± std, or why the cell has no number."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import UsageError
from ..files import ensure_dir
from .plots import STYLE, save_figure

#: colours of cells without a rank: a failed cell, a probe that does not apply, a column never ranked
FAILED_COLOUR, NA_COLOUR, UNRANKED_COLOUR = "#f4c4c0", "#ececec", "#f8f8f8"


def rank_scores(values: np.ndarray, better: str | None) -> np.ndarray:
    """Rank of each finite value within ``values`` (M,), as a score in [0, 1]: 1 the best, 0 the
    worst (``better``: ``higher`` or ``lower``), equal values sharing their mean rank; NaN where the
    value is not finite or ``better`` is None. One finite value scores 1."""
    v = np.asarray(values, dtype=np.float64)
    out = np.full(v.shape, np.nan)
    ok = np.isfinite(v)
    if better is None or not ok.any():
        return out
    if better not in ("higher", "lower"):
        raise UsageError(f"better must be higher, lower or None, got {better!r}")
    good = v[ok] if better == "higher" else -v[ok]
    # rank 0 = worst; ties: the mean of the ranks they span
    ranks = np.array([(good < g).sum() + ((good == g).sum() - 1) / 2 for g in good], dtype=np.float64)
    out[ok] = ranks / (len(good) - 1) if len(good) > 1 else 1.0
    return out


def plot_probe_table(
    rows: Sequence[str], columns: Sequence[str], means, texts: Sequence[Sequence[str]], better: Sequence[str | None],
    path: str | os.PathLike, *, status: Sequence[Sequence[str]] | None = None, title: str = "",
) -> Path:
    """A table as a PNG: ``rows`` (methods) x ``columns`` (probes), cell ``(i, j)`` showing
    ``texts[i][j]`` on a colour from red (worst) to green (best) by the rank of ``means[i, j]``
    in its column (:func:`rank_scores` with ``better[j]``). ``status[i][j]`` ``failed`` or ``n/a``
    greys or reddens the cell instead."""
    m = np.asarray(means, dtype=np.float64)
    if m.shape != (len(rows), len(columns)) or len(texts) != len(rows) or len(better) != len(columns):
        raise UsageError(f"a probe table of {len(rows)} rows x {len(columns)} columns needs means, texts and "
                         f"better of those sizes, got means of shape {m.shape}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    ensure_dir(path.parent)
    cmap = matplotlib.colormaps["RdYlGn"]
    scores = np.stack([rank_scores(m[:, j], better[j]) for j in range(len(columns))], axis=1) if len(columns) else m
    dpi = STYLE["figure.dpi"]
    width, height = 1.6 + 1.15 * len(columns), 1.2 + 0.55 * len(rows)
    with plt.rc_context({**STYLE, "axes.grid": False}):
        fig, ax = plt.subplots(figsize=(width, height), dpi=dpi)
        for i in range(len(rows)):
            for j in range(len(columns)):
                state = status[i][j] if status is not None else "ok"
                colour = (FAILED_COLOUR if state == "failed" else NA_COLOUR if state == "n/a" else
                          UNRANKED_COLOUR if np.isnan(scores[i, j]) else cmap(0.12 + 0.76 * scores[i, j]))
                ax.add_patch(matplotlib.patches.Rectangle((j, i), 1, 1, facecolor=colour, edgecolor="white", lw=1.5))
                lines = textwrap.wrap(str(texts[i][j]), 17)
                lines = lines if len(lines) <= 3 else [*lines[:2], lines[2] + " …"]
                ax.text(j + 0.5, i + 0.5, "\n".join(lines), ha="center", va="center", fontsize=6.5 if len(lines) > 1 else 7.5)
        ax.set_xlim(0, len(columns))
        ax.set_ylim(len(rows), 0)
        ax.set_xticks(np.arange(len(columns)) + 0.5)
        ax.set_xticklabels(columns, rotation=35, ha="right", fontsize=8)
        ax.set_yticks(np.arange(len(rows)) + 0.5)
        ax.set_yticklabels(rows, fontsize=9)
        ax.tick_params(length=0)
        for side in ax.spines.values():
            side.set_visible(False)
        if title:
            ax.set_title(title, fontsize=10)
        fig.tight_layout()
        path = save_figure(fig, path, dpi=dpi)
    return path
