"""Kernel Inception Distance (Binkowski et al. 2018): unbiased MMD^2 with a polynomial kernel, averaged over
random subsets; the same estimator as torchmetrics' ``KernelInceptionDistance``."""
from __future__ import annotations

import torch

__all__ = ["kernel_inception_distance"]


def _mmd2_unbiased(x: torch.Tensor, y: torch.Tensor, degree: int, gamma: float, coef: float) -> torch.Tensor:
    """Unbiased MMD^2 between equally sized sets x, y (m, D) with kernel (gamma x.y + coef)^degree."""
    m = x.shape[0]
    c = torch.tensor(coef, dtype=x.dtype, device=x.device)

    def kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.addmm(c, a, b.T, alpha=gamma).pow_(degree)   # one fused matmul + one in-place power

    kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
    sum_xx = (kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
    sum_yy = (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return sum_xx + sum_yy - 2 * kxy.sum() / (m * m)


def kernel_inception_distance(real: torch.Tensor, fake: torch.Tensor, subsets: int = 100, subset_size: int = 1000,
                              degree: int = 3, gamma: float | None = None, coef: float = 1.0,
                              seed: int = 0) -> tuple[float, float]:
    """(mean, std) over ``subsets`` random subsets of the unbiased MMD^2 between ``real`` and ``fake`` (N, D).

    Kernel k(x, y) = (gamma x.y + coef)^degree with gamma = 1/D by default. Each subset takes
    ``min(subset_size, N_real, N_fake)`` rows of each side without replacement, drawn from a
    ``torch.Generator`` seeded with ``seed``, so the result is reproducible. The std is the population std
    over subsets (as torchmetrics). Computed in float64.
    """
    if real.dim() != 2 or fake.dim() != 2:
        raise ValueError(f"KID needs features of shape (N, D), got {tuple(real.shape)} and {tuple(fake.shape)}")
    if real.shape[0] < 2 or fake.shape[0] < 2:
        raise ValueError(f"KID needs at least 2 samples on each side, got {real.shape[0]} and {fake.shape[0]}")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature dimensions differ: {real.shape[1]} vs {fake.shape[1]}")
    if subsets < 1:
        raise ValueError(f"subsets must be >= 1, got {subsets}")
    if subset_size < 2:
        raise ValueError(f"subset_size must be >= 2, got {subset_size}")
    if degree < 1:
        raise ValueError(f"degree must be >= 1, got {degree}")
    g = 1.0 / real.shape[1] if gamma is None else float(gamma)
    if g <= 0:
        raise ValueError(f"gamma must be > 0, got {gamma}")
    size = min(subset_size, real.shape[0], fake.shape[0])
    x, y = real.detach().to(torch.float64), fake.detach().to(torch.float64)
    rng = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(subsets):
        ix = torch.randperm(len(x), generator=rng)[:size].to(x.device)
        iy = torch.randperm(len(y), generator=rng)[:size].to(y.device)
        values.append(_mmd2_unbiased(x[ix], y[iy], degree, g, coef))
    v = torch.stack(values)
    return float(v.mean()), float(v.std(unbiased=False))
