"""One plotting module for the whole library: image grids, curves, bars, 2-D maps, morphing
(same style everywhere)."""

from .embed import METHODS, Map2D, embed_2d, mds_2d, pca_2d, tsne_2d, tsne_sweep
from .latent import interpolate, lerp, slerp, traversal_codes, traversal_grid
from .maps import plot_map, plot_map_grid
from .plots import image_grid, plot_curves, plot_grouped_bars, plot_image_row, save_image_grid
from .samples import save_samples

__all__ = [
    "METHODS", "Map2D", "embed_2d", "image_grid", "interpolate", "lerp", "mds_2d", "pca_2d", "plot_curves",
    "plot_grouped_bars", "plot_image_row", "plot_map", "plot_map_grid", "save_image_grid", "save_samples", "slerp", "traversal_codes",
    "traversal_grid", "tsne_2d", "tsne_sweep",
]
