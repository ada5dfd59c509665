"""Precision, recall, density and coverage (Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics for
Generative Models") from k-nearest-neighbour balls, computed exactly in chunks."""
from __future__ import annotations

import torch

__all__ = ["kth_neighbour_radius", "prdc"]


def _sq_dists(a: torch.Tensor, b: torch.Tensor, b_sq: torch.Tensor | None = None) -> torch.Tensor:
    """Squared Euclidean distances (len(a), len(b)) by the expanded form |a|^2 + |b|^2 - 2 a.b, in the inputs'
    dtype; ``b_sq`` are the precomputed squared norms of the rows of ``b``."""
    if b_sq is None:
        b_sq = b.pow(2).sum(1)
    return torch.addmm(b_sq[None], a, b.T, alpha=-2).add_(a.pow(2).sum(1, keepdim=True)).clamp_min_(0)


def kth_neighbour_radius(x: torch.Tensor, k: int, chunk: int = 2048) -> torch.Tensor:
    """Squared distance from each row of ``x`` to its k-th nearest other row (the row itself excluded)."""
    out, x_sq = [], x.pow(2).sum(1)
    for i in range(0, len(x), chunk):
        d = _sq_dists(x[i:i + chunk], x, x_sq)
        rows = torch.arange(d.shape[0], device=d.device)
        d[rows, rows + i] = 0.0                 # the point itself, exactly, so it is the first of the k + 1
        out.append(d.topk(k + 1, dim=1, largest=False).values[:, k])
    return torch.cat(out)


def prdc(real: torch.Tensor, fake: torch.Tensor, k: int = 5, chunk: int = 2048) -> dict[str, float]:
    """PRDC of ``fake`` (M, D) against ``real`` (N, D), as in the authors' reference code (strict ``<``).

    With B(x, r) the open ball around x whose radius r is the distance to the k-th nearest neighbour of x in
    its own set (x itself excluded):

    - precision: share of fake samples inside at least one real ball;
    - recall: share of real samples inside at least one fake ball;
    - density: (1/k) * mean over fake samples of the number of real balls containing it;
    - coverage: share of real balls containing at least one fake sample.

    Distances are computed in float64 in blocks of ``chunk`` rows, so memory is O(chunk * max(N, M)), never
    N x M at once. The result does not depend on the order of the samples.
    """
    if real.dim() != 2 or fake.dim() != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"PRDC needs features (N, D) and (M, D), got {tuple(real.shape)} and {tuple(fake.shape)}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"PRDC with k={k} needs more than {k} samples on each side, "
                         f"got {len(real)} real and {len(fake)} fake")
    x, y = real.detach().to(torch.float64), fake.detach().to(torch.float64)
    r_real, r_fake = kth_neighbour_radius(x, k, chunk), kth_neighbour_radius(y, k, chunk)
    y_sq = y.pow(2).sum(1)
    in_real_balls = torch.zeros(len(y), dtype=torch.int64, device=y.device)  # per fake: real balls holding it
    real_covered = torch.zeros(len(x), dtype=torch.bool, device=x.device)    # per real: its ball holds a fake
    real_recalled = torch.zeros(len(x), dtype=torch.bool, device=x.device)   # per real: inside some fake ball
    for i in range(0, len(x), chunk):
        d = _sq_dists(x[i:i + chunk], y, y_sq)                               # (chunk of real, all fake)
        inside = d < r_real[i:i + chunk, None]
        in_real_balls += inside.to(torch.int32).sum(0, dtype=torch.int32)
        real_covered[i:i + chunk] = inside.any(1)
        real_recalled[i:i + chunk] = (d < r_fake[None]).any(1)
    return {"precision": float((in_real_balls > 0).double().mean()),
            "recall": float(real_recalled.double().mean()),
            "density": float(in_real_balls.double().mean() / k),
            "coverage": float(real_covered.double().mean())}
