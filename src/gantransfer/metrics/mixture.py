"""Exact metrics of samples from a 2-D Gaussian mixture with known centres and one standard deviation."""
from __future__ import annotations

from typing import Any

import torch

__all__ = ["mixture_metrics"]


def mixture_metrics(points: torch.Tensor, centers: torch.Tensor, std: float, min_share: float = 0.25) -> dict[str, Any]:
    """Mode coverage and sample quality of ``points`` (N, 2) for a mixture of K isotropic Gaussians.

    Definitions (each sample is assigned to its nearest centre):

    - high-quality (hq) sample: its distance to the nearest centre is at most ``3 * std``;
    - ``hq_share``: number of hq samples / N;
    - ``mode_shares``: list of K values, (hq samples assigned to mode j) / N; low-quality samples are
      counted in no mode, so the list sums to ``hq_share``;
    - ``modes_covered``: number of modes with at least ``min_share * N / K`` hq samples;
    - ``num_modes``: K;
    - ``mode_share_tv``: total-variation distance 0.5 * sum_j |p_j - 1/K| between the hq per-mode
      distribution p_j = count_j / (number of hq samples) and uniform; 0 for perfectly balanced modes,
      1 - 1/K when all hq samples sit in one mode, and 1.0 by convention when there is no hq sample.
    """
    if points.dim() != 2 or centers.dim() != 2 or points.shape[1] != centers.shape[1]:
        raise ValueError(f"points (N, D) and centers (K, D) must share D, got {tuple(points.shape)} "
                         f"and {tuple(centers.shape)}")
    if len(points) == 0 or len(centers) == 0:
        raise ValueError("mixture_metrics needs at least one point and one centre")
    if not std > 0:
        raise ValueError(f"std must be > 0, got {std}")
    if not 0 <= min_share:
        raise ValueError(f"min_share must be >= 0, got {min_share}")
    p = points.detach().to(device="cpu", dtype=torch.float64)
    c = centers.detach().to(device="cpu", dtype=torch.float64)
    if not bool(torch.isfinite(p).all()):
        raise ValueError("points contain NaN or infinite values")
    nearest_d, nearest = torch.cdist(p, c).min(1)
    hq = nearest_d <= 3 * std
    k, n = len(c), len(p)
    counts = torch.bincount(nearest[hq], minlength=k).double()
    hq_total = float(counts.sum())
    tv = float(0.5 * (counts / hq_total - 1.0 / k).abs().sum()) if hq_total > 0 else 1.0
    return {"modes_covered": int((counts >= min_share * n / k).sum()), "num_modes": k,
            "hq_share": float(hq.double().mean()), "mode_shares": (counts / n).tolist(),
            "mode_share_tv": tv}
