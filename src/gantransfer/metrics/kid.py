"""Kernel Inception Distance: unbiased MMD^2 with a polynomial kernel, averaged over random subsets."""
from __future__ import annotations

import torch


def _mmd2_unbiased(x: torch.Tensor, y: torch.Tensor, degree: int, gamma: float, coef: float) -> torch.Tensor:
    m = x.shape[0]
    kxx = (x @ x.T * gamma + coef).pow(degree)
    kyy = (y @ y.T * gamma + coef).pow(degree)
    kxy = (x @ y.T * gamma + coef).pow(degree)
    sum_xx = (kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
    sum_yy = (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return sum_xx + sum_yy - 2 * kxy.mean()


def kernel_inception_distance(real: torch.Tensor, fake: torch.Tensor, subsets: int = 100, subset_size: int = 1000,
                              degree: int = 3, gamma: float | None = None, coef: float = 1.0,
                              seed: int = 0) -> tuple[float, float]:
    """(mean, std) over ``subsets`` of the unbiased MMD^2 between random subsets of ``real`` and ``fake``
    with kernel (gamma x.y + coef)^degree, gamma = 1/D by default (Binkowski et al. 2018); float64 inside,
    subsets drawn with a seeded generator."""
    if real.shape[0] < 2 or fake.shape[0] < 2:
        raise ValueError(f"KID needs at least 2 samples on each side, got {real.shape[0]} and {fake.shape[0]}")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature dimensions differ: {real.shape[1]} vs {fake.shape[1]}")
    size = min(subset_size, real.shape[0], fake.shape[0])
    g = 1.0 / real.shape[1] if gamma is None else gamma
    x, y = real.to(torch.float64), fake.to(torch.float64)
    rng = torch.Generator().manual_seed(seed)
    values = torch.stack([
        _mmd2_unbiased(x[torch.randperm(len(x), generator=rng)[:size]], y[torch.randperm(len(y), generator=rng)[:size]],
                       degree, g, coef) for _ in range(subsets)])
    return float(values.mean()), float(values.std(unbiased=False))
