"""Memorisation check for few-shot generators: how close samples come to the few training images.

Distances are per-pixel RMS between an image and its nearest training image. Real test images give the scale:
a sample is a near-copy when it is closer to a training image than 99% of real test images are.
"""
from __future__ import annotations

import torch


def nearest_distances(images: torch.Tensor, train: torch.Tensor, batch: int = 512) -> torch.Tensor:
    """RMS pixel distance from each image to its nearest training image."""
    t = train.flatten(1).float()
    out = []
    for i in range(0, len(images), batch):
        x = images[i:i + batch].flatten(1).float()
        out.append(torch.cdist(x, t).min(1).values / x.shape[1] ** 0.5)
    return torch.cat(out)


def memorisation(samples: torch.Tensor, train: torch.Tensor, test: torch.Tensor) -> dict[str, float]:
    """Share of samples that are near-copies of a training image, and the median nearest distances."""
    ds, dt = nearest_distances(samples, train), nearest_distances(test, train)
    threshold = float(torch.quantile(dt, 0.01))
    return {"memorised_share": float((ds < threshold).float().mean()), "near_copy_threshold": threshold,
            "median_nn_distance_samples": float(ds.median()), "median_nn_distance_test": float(dt.median())}
