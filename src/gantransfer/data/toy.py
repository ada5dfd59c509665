"""2-D Gaussian mixtures with exactly known modes: ring8 (8 on a circle of radius 2) and grid25 (5x5 grid)."""
from __future__ import annotations

import functools
import math

import torch

from gantransfer.errors import DataError

STDS = {"ring8": 0.02, "grid25": 0.05}
SEEDS = {"train": 1000, "test": 2000}  # plus the number of components, so ring8 and grid25 draw differently
SIZES = {"train": 50_000, "test": 10_000}


def mixture_spec(name: str) -> tuple[torch.Tensor, float]:
    """(centres float32 (K, 2), isotropic standard deviation) of mixture ``name``."""
    if name == "ring8":
        angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
        centers = torch.stack([2 * angles.cos(), 2 * angles.sin()], 1)
    elif name == "grid25":
        axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0], dtype=torch.float64)
        centers = torch.cartesian_prod(axis, axis)
    else:
        raise DataError(f"unknown 2-D mixture {name!r}; known: {', '.join(sorted(STDS))}")
    return centers.float(), STDS[name]


@functools.lru_cache(maxsize=4)
def mixture_samples(name: str, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(points float32 (N, 2), component labels int64), components drawn uniformly with a fixed seed; cached.

    The cached tensors are shared: callers must not modify them in place.
    """
    centers, std = mixture_spec(name)
    g = torch.Generator().manual_seed(SEEDS[split] + len(centers))
    labels = torch.randint(len(centers), (SIZES[split],), generator=g)
    points = centers[labels] + std * torch.randn(SIZES[split], 2, generator=g)
    return points, labels
