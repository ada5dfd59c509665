"""Sample grids, plots and HTML reports."""
from gantransfer.grid import save_image_grid, save_points_plot, save_samples

__all__ = ["save_image_grid", "save_points_plot", "save_samples"]
