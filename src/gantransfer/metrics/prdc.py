"""Precision, recall, density and coverage (Naeem et al. 2020) from k-nearest-neighbour balls."""
from __future__ import annotations

import torch


def _sq_dists(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a.pow(2).sum(1, keepdim=True) + b.pow(2).sum(1)[None] - 2 * a @ b.T).clamp_min(0)


def kth_neighbour_radius(x: torch.Tensor, k: int, chunk: int) -> torch.Tensor:
    """Squared distance from each row of ``x`` to its k-th nearest other row."""
    out = []
    for i in range(0, len(x), chunk):
        d = _sq_dists(x[i:i + chunk], x)
        out.append(d.kthvalue(k + 1, dim=1).values)  # +1: the point itself is at distance 0
    return torch.cat(out)


def prdc(real: torch.Tensor, fake: torch.Tensor, k: int = 5, chunk: int = 2048) -> dict[str, float]:
    """precision: share of fake samples inside some real k-NN ball; recall: share of real samples inside some
    fake k-NN ball; density: mean count of real balls holding a fake sample, over k; coverage: share of real
    balls holding at least one fake sample. Computed in float64, in chunks (never the full N x M matrix)."""
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"PRDC with k={k} needs more than {k} samples on each side")
    x, y = real.to(torch.float64), fake.to(torch.float64)
    r_real, r_fake = kth_neighbour_radius(x, k, chunk), kth_neighbour_radius(y, k, chunk)
    in_real_balls = torch.zeros(len(y), dtype=torch.float64)     # per fake: number of real balls holding it
    real_covered = torch.zeros(len(x), dtype=torch.bool)         # per real: its ball holds a fake
    real_recalled = torch.zeros(len(x), dtype=torch.bool)        # per real: inside some fake ball
    for i in range(0, len(x), chunk):
        d = _sq_dists(x[i:i + chunk], y)                         # (chunk of real, all fake)
        inside = d <= r_real[i:i + chunk, None]
        in_real_balls += inside.sum(0)
        real_covered[i:i + chunk] = inside.any(1)
        real_recalled[i:i + chunk] = (d <= r_fake[None]).any(1)
    return {"precision": float((in_real_balls > 0).double().mean()), "recall": float(real_recalled.double().mean()),
            "density": float(in_real_balls.mean() / k), "coverage": float(real_covered.double().mean())}
