"""Frechet distance between Gaussians fitted to features, in float64 with a stable PSD square root.

FID = ||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2). The trace term is the sum of the square roots
of the eigenvalues of the symmetric PSD matrix S1^1/2 S2 S1^1/2 (clipped at zero), which equals
tr sqrt(S1 S2) without the complex round-off of a general ``sqrtm`` or ``eigvals(S1 @ S2)``.
"""
from __future__ import annotations

import torch

__all__ = ["RunningStats", "fid_from_features", "frechet_distance", "gaussian_stats"]


def _check_features(features: torch.Tensor, what: str = "features") -> None:
    if features.dim() != 2 or features.shape[0] < 2:
        raise ValueError(f"{what} must have shape (N >= 2, D), got {tuple(features.shape)}")
    if not bool(torch.isfinite(features).all()):
        raise ValueError(f"{what} contain NaN or infinite values")


def gaussian_stats(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (D,) and unbiased covariance (D, D) (divided by N - 1) of ``features`` (N, D), in float64."""
    _check_features(features)
    x = features.detach().to(torch.float64)
    mu = x.mean(0)
    xc = x - mu
    sigma = xc.T @ xc / (x.shape[0] - 1)
    return mu, (sigma + sigma.T) / 2


def _sqrt_psd(m: torch.Tensor) -> torch.Tensor:
    """Symmetric square root of a PSD matrix via eigh, negative round-off eigenvalues clipped at 0."""
    vals, vecs = torch.linalg.eigh((m + m.T) / 2)
    return (vecs * vals.clamp_min(0).sqrt()) @ vecs.T


def frechet_distance(mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor, sigma2: torch.Tensor) -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2), computed in float64.

    Not clipped: for valid PSD covariances the result is >= 0 up to round-off (about -1e-9 at worst).
    Raises ValueError when the shapes do not fit together or a statistic is not finite.
    """
    d = mu1.shape[0] if mu1.dim() == 1 else -1
    if (mu1.dim() != 1 or mu2.shape != mu1.shape or sigma1.shape != (d, d) or sigma2.shape != (d, d)):
        raise ValueError(f"statistics do not match: means {tuple(mu1.shape)} and {tuple(mu2.shape)} must both be "
                         f"(D,), covariances {tuple(sigma1.shape)} and {tuple(sigma2.shape)} must both be (D, D)")
    mu1, mu2, s1, s2 = (t.detach().to(torch.float64) for t in (mu1, mu2, sigma1, sigma2))
    if not all(bool(torch.isfinite(t).all()) for t in (mu1, mu2, s1, s2)):
        raise ValueError("statistics contain NaN or infinite values")
    r1 = _sqrt_psd(s1)
    m = r1 @ s2 @ r1
    tr_covmean = torch.linalg.eigvalsh((m + m.T) / 2).clamp_min(0).sqrt().sum()
    return float((mu1 - mu2).pow(2).sum() + s1.trace() + s2.trace() - 2 * tr_covmean)


def fid_from_features(a: torch.Tensor, b: torch.Tensor) -> float:
    """FID between two feature sets (N, D) and (M, D)."""
    _check_features(a, "first features")
    _check_features(b, "second features")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dimensions differ: {a.shape[1]} vs {b.shape[1]}")
    return frechet_distance(*gaussian_stats(a), *gaussian_stats(b))


class RunningStats:
    """Streaming mean and unbiased covariance from float64 sums of x and x x^T (an ``Accumulator``: ``update``,
    ``result``).

    Features are accumulated batch by batch, so FID over large sample counts never holds all of them. The
    sums are taken around a shift (the first batch's mean) to avoid cancellation when |mean| >> std; the
    covariance does not depend on the shift.
    """

    def __init__(self, dim: int) -> None:
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        self.dim = dim
        self.n = 0
        self._shift: torch.Tensor | None = None
        self._sum = torch.zeros(dim, dtype=torch.float64)
        self._outer = torch.zeros(dim, dim, dtype=torch.float64)

    def update(self, batch: torch.Tensor) -> None:
        """Add a batch of features (B, D)."""
        if batch.dim() != 2 or batch.shape[1] != self.dim:
            raise ValueError(f"batch must have shape (B, {self.dim}), got {tuple(batch.shape)}")
        if batch.shape[0] == 0:
            return
        x = batch.detach().to(device="cpu", dtype=torch.float64)
        if not bool(torch.isfinite(x).all()):
            raise ValueError("batch contains NaN or infinite values")
        if self._shift is None:
            self._shift = x.mean(0)
        x = x - self._shift
        self.n += x.shape[0]
        self._sum += x.sum(0)
        self._outer += x.T @ x

    @property
    def mean(self) -> torch.Tensor:
        """Mean of all features seen so far (D,), float64."""
        if self.n < 1 or self._shift is None:
            raise ValueError("RunningStats has no samples yet")
        return self._shift + self._sum / self.n

    @property
    def cov(self) -> torch.Tensor:
        """Unbiased covariance (N - 1) of all features seen so far (D, D), float64."""
        if self.n < 2:
            raise ValueError(f"RunningStats needs at least 2 samples for a covariance, has {self.n}")
        m = self._sum / self.n
        c = (self._outer - self.n * torch.outer(m, m)) / (self.n - 1)
        return (c + c.T) / 2

    def result(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, cov), as ``gaussian_stats`` returns them (the ``metrics.streaming.Accumulator`` protocol)."""
        return self.mean, self.cov

    stats = result  # the earlier name
