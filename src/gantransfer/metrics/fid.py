"""Frechet distance between Gaussians fitted to features, in float64 with a stable PSD square root."""
from __future__ import annotations

import torch


def gaussian_stats(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and unbiased covariance (N - 1) of ``features`` (N, D), computed in float64."""
    if features.dim() != 2 or features.shape[0] < 2:
        raise ValueError(f"need features of shape (N >= 2, D), got {tuple(features.shape)}")
    x = features.detach().to(torch.float64)
    mu = x.mean(0)
    xc = x - mu
    return mu, xc.T @ xc / (x.shape[0] - 1)


def _sqrt_psd(m: torch.Tensor) -> torch.Tensor:
    vals, vecs = torch.linalg.eigh((m + m.T) / 2)
    return (vecs * vals.clamp_min(0).sqrt()) @ vecs.T


def frechet_distance(mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor, sigma2: torch.Tensor) -> float:
    """||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2), all in float64.

    The trace of the matrix square root is the sum of square roots of the eigenvalues of the symmetric PSD
    matrix S1^1/2 S2 S1^1/2 (clipped at zero), which avoids the complex parts of a general sqrtm.
    """
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.shape[0],) * 2:
        raise ValueError(f"statistics do not match: mean {tuple(mu1.shape)} vs {tuple(mu2.shape)}, "
                         f"covariance {tuple(sigma1.shape)} vs {tuple(sigma2.shape)}")
    mu1, mu2, s1, s2 = (t.to(torch.float64) for t in (mu1, mu2, sigma1, sigma2))
    r1 = _sqrt_psd(s1)
    m = r1 @ s2 @ r1
    tr_covmean = torch.linalg.eigvalsh((m + m.T) / 2).clamp_min(0).sqrt().sum()
    return float((mu1 - mu2).pow(2).sum() + s1.trace() + s2.trace() - 2 * tr_covmean)


def fid_from_features(a: torch.Tensor, b: torch.Tensor) -> float:
    """FID between two feature sets."""
    return frechet_distance(*gaussian_stats(a), *gaussian_stats(b))


class RunningStats:
    """Streaming float64 sums of x and x x^T, so large sample counts never hold all features."""

    def __init__(self, dim: int) -> None:
        self.n = 0
        self.sum = torch.zeros(dim, dtype=torch.float64)
        self.outer = torch.zeros(dim, dim, dtype=torch.float64)

    def update(self, batch: torch.Tensor) -> None:
        x = batch.detach().to(torch.float64)
        self.n += x.shape[0]
        self.sum += x.sum(0)
        self.outer += x.T @ x

    def stats(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.n < 2:
            raise ValueError("RunningStats needs at least 2 samples")
        mu = self.sum / self.n
        return mu, (self.outer - self.n * torch.outer(mu, mu)) / (self.n - 1)
