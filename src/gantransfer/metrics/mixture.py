"""Exact metrics of samples from a 2-D Gaussian mixture with known centres and standard deviation."""
from __future__ import annotations

from typing import Any

import torch


def mixture_metrics(points: torch.Tensor, centers: torch.Tensor, std: float, min_share: float = 0.25) -> dict[str, Any]:
    """High-quality samples lie within 3 std of their nearest centre. A mode is covered when at least
    ``min_share * N / K`` high-quality samples are assigned to it.

    Returns modes_covered, num_modes, hq_share, mode_shares (per mode, share of all samples that are
    high-quality and nearest to it) and mode_share_tv (total variation between the high-quality per-mode
    distribution and uniform)."""
    p, c = points.detach().to(torch.float64), centers.to(torch.float64)
    d = torch.cdist(p, c)
    nearest_d, nearest = d.min(1)
    hq = nearest_d <= 3 * std
    k, n = len(c), len(p)
    counts = torch.bincount(nearest[hq], minlength=k).double()
    hq_total = counts.sum()
    dist = counts / hq_total if hq_total > 0 else torch.zeros(k, dtype=torch.float64)
    return {"modes_covered": int((counts >= min_share * n / k).sum()), "num_modes": k,
            "hq_share": float(hq.double().mean()), "mode_shares": (counts / n).tolist(),
            "mode_share_tv": float(0.5 * (dist - 1.0 / k).abs().sum()) if hq_total > 0 else 1.0}
