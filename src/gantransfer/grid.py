"""PNG grids of images and scatter plots of 2-D samples."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gantransfer.io import atomic_write


def image_grid(images: torch.Tensor, nrow: int | None = None, pad: int = 2, scale: int = 1) -> Image.Image:
    """A PIL image tiling ``images`` (N, C, H, W) in [-1, 1], ``nrow`` per row, upscaled ``scale`` times."""
    n, c, h, w = images.shape
    nrow = nrow or max(1, int(math.ceil(math.sqrt(n))))
    rows = int(math.ceil(n / nrow))
    x = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    canvas = torch.full((c, rows * (h + pad) + pad, nrow * (w + pad) + pad), 255, dtype=torch.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        canvas[:, pad + r * (h + pad):pad + r * (h + pad) + h, pad + col * (w + pad):pad + col * (w + pad) + w] = x[i]
    arr = canvas.permute(1, 2, 0).numpy()
    img = Image.fromarray(arr[:, :, 0] if c == 1 else arr, mode="L" if c == 1 else "RGB")
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    return img


def save_image_grid(images: torch.Tensor, path: str | Path, nrow: int | None = None, scale: int = 2) -> Path:
    """Write a PNG grid of ``images``; returns the path."""
    p = Path(path)
    grid = image_grid(images, nrow, scale=scale)
    atomic_write(p, lambda tmp: grid.save(tmp, format="PNG"))
    return p


def save_points_plot(points: torch.Tensor, path: str | Path, reference: torch.Tensor | None = None,
                     title: str = "") -> Path:
    """Scatter plot of 2-D ``points`` (over optional ``reference`` points) as PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = Path(path)
    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    if reference is not None:
        ref = np.asarray(reference.cpu())
        ax.scatter(ref[:, 0], ref[:, 1], s=2, c="#bbbbbb", label="real")
    pts = np.asarray(points.detach().float().cpu())
    ax.scatter(pts[:, 0], pts[:, 1], s=2, c="#d62728", label="generated")
    ax.set_aspect("equal")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    try:
        atomic_write(p, lambda tmp: fig.savefig(tmp, format="png"))
    finally:
        plt.close(fig)
    return p


def save_samples(samples: torch.Tensor, path: str | Path, nrow: int | None = None, title: str = "") -> Path:
    """A grid for images (N, C, H, W), a scatter plot for points (N, 2)."""
    if samples.dim() == 4:
        return save_image_grid(samples, path, nrow)
    return save_points_plot(samples, path, title=title)
