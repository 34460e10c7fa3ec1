"""One plotting module for the whole library: image grids, curves, bars (same style everywhere)."""

from .plots import image_grid, plot_curves, plot_grouped_bars, save_image_grid

__all__ = ["image_grid", "plot_curves", "plot_grouped_bars", "save_image_grid"]
