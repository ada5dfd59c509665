"""Resolution and channel conversion of uint8 image tensors, and deterministic subsets."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from gantransfer.errors import DataError


def check_resolution(resolution: int) -> None:
    if not isinstance(resolution, int) or resolution < 16 or resolution > 256 or resolution & (resolution - 1):
        raise DataError(f"resolution must be a power of two between 16 and 256, got {resolution}")


def default_resolution(native: int) -> int:
    """The smallest allowed power of two >= ``native``."""
    r = 16
    while r < min(native, 256):
        r *= 2
    return r


def to_resolution(x: torch.Tensor, resolution: int) -> torch.Tensor:
    """uint8 (N, C, H, W) -> uint8 (N, C, R, R). 28-pixel images are zero-padded to 32 first (exact)."""
    check_resolution(resolution)
    if x.shape[-1] == 28 and x.shape[-2] == 28:
        x = F.pad(x, (2, 2, 2, 2), value=0)
    if x.shape[-1] == resolution and x.shape[-2] == resolution:
        return x
    y = F.interpolate(x.float(), size=(resolution, resolution), mode="bilinear", antialias=True, align_corners=False)
    return y.round().clamp(0, 255).to(torch.uint8)


def to_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """uint8 (N, C, H, W) with C in {1, 3} -> ``channels`` (gray repeated, or ITU-R 601 luma)."""
    if channels not in (1, 3):
        raise DataError(f"channels must be 1 (gray) or 3 (RGB), got {channels}")
    if x.shape[1] == channels:
        return x
    if channels == 3:
        return x.expand(-1, 3, -1, -1).contiguous()
    luma = 0.299 * x[:, 0].float() + 0.587 * x[:, 1].float() + 0.114 * x[:, 2].float()
    return luma.round().clamp(0, 255).to(torch.uint8)[:, None]


def select_classes(labels: torch.Tensor, classes: list[int], class_names: list[str]) -> torch.Tensor:
    """Indices of the samples whose label is in ``classes``; labels keep their original values."""
    if not classes:
        raise DataError("--classes is empty; give class indices such as 0,1,2")
    k = len(class_names)
    bad = [c for c in classes if not 0 <= c < k]
    if bad:
        names = ", ".join(f"{i}={n}" for i, n in enumerate(class_names))
        raise DataError(f"class {bad[0]} does not exist: valid classes are 0..{k - 1} ({names})")
    return torch.isin(labels, torch.tensor(sorted(set(classes)))).nonzero().squeeze(1)


def seeded_subset(n: int, limit: int, seed: int) -> torch.Tensor:
    """Sorted indices of a seeded random subset of min(limit, n) items."""
    if limit <= 0:
        raise DataError(f"--limit must be a positive number of samples, got {limit}")
    if limit >= n:
        return torch.arange(n)
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:limit].sort().values
