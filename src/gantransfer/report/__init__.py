"""Sample grids, plots and HTML reports."""
from gantransfer.report.grid import save_image_grid, save_points_plot, save_samples

__all__ = ["save_image_grid", "save_points_plot", "save_samples"]
