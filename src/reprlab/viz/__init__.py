"""One plotting module for the whole library: image grids, curves (same style everywhere)."""

from .plots import image_grid, plot_curves, save_image_grid

__all__ = ["image_grid", "plot_curves", "save_image_grid"]
