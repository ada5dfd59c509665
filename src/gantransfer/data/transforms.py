"""Resolution and channel conversion of uint8 image tensors, and deterministic subsets and splits."""
from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F

from gantransfer.errors import DataError

SPLIT_SEED = 12345  # fixed: a split made here never depends on the user's seed
_CHUNK = 2048  # images resized at once: bounds the float32 working memory


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_resolution(resolution: int) -> None:
    """DataError unless ``resolution`` is a power of two in [16, 256]."""
    if not _is_int(resolution) or not 16 <= resolution <= 256 or resolution & (resolution - 1):
        raise DataError(f"resolution must be a power of two between 16 and 256, got {resolution}")


def check_channels(channels: int) -> None:
    """DataError unless ``channels`` is 1 or 3."""
    if not _is_int(channels) or channels not in (1, 3):
        raise DataError(f"channels must be 1 (gray) or 3 (RGB), got {channels}")


def default_resolution(native: int) -> int:
    """The smallest allowed power of two >= ``native``, clipped to [16, 256]."""
    r = 16
    while r < min(native, 256):
        r *= 2
    return r


def to_resolution(x: torch.Tensor, resolution: int) -> torch.Tensor:
    """uint8 (N, C, H, W) -> uint8 (N, C, R, R); may return ``x`` itself when nothing changes.

    28x28 images are first zero-padded to 32x32 (exact); any other change of size is a bilinear
    antialiased resize, rounded and clamped.
    """
    check_resolution(resolution)
    if x.shape[-2:] == (28, 28):
        x = F.pad(x, (2, 2, 2, 2), value=0)
    if x.shape[-2:] == (resolution, resolution):
        return x
    out = torch.empty((*x.shape[:2], resolution, resolution), dtype=torch.uint8)
    for i in range(0, len(x), _CHUNK):
        y = F.interpolate(x[i:i + _CHUNK].float(), size=(resolution, resolution), mode="bilinear",
                          antialias=True, align_corners=False)
        out[i:i + _CHUNK] = y.round_().clamp_(0, 255).to(torch.uint8)
    return out


def to_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """uint8 (N, C, H, W) with C in {1, 3} -> ``channels``: gray repeated, or ITU-R 601 luma of RGB."""
    check_channels(channels)
    if x.shape[1] == channels:
        return x
    if channels == 3:
        return x.expand(-1, 3, -1, -1).contiguous()
    luma = 0.299 * x[:, 0].float() + 0.587 * x[:, 1].float() + 0.114 * x[:, 2].float()
    return luma.round_().clamp_(0, 255).to(torch.uint8)[:, None]


def _describe(class_names: list[str]) -> str:
    listed = ", ".join(f"{i}={n}" for i, n in enumerate(class_names))
    return f"valid classes are 0..{len(class_names) - 1} ({listed})"


def select_classes(labels: torch.Tensor, classes: list[int], class_names: list[str]) -> torch.Tensor:
    """Indices, in data order, of the samples whose label is in ``classes`` (duplicates ignored).

    Labels keep their original values. DataError for an empty list or a class out of range.
    """
    if not classes:
        raise DataError(f"--classes is empty; {_describe(class_names)}")
    bad = [c for c in classes if not _is_int(c) or not 0 <= c < len(class_names)]
    if bad:
        raise DataError(f"class {bad[0]!r} does not exist: {_describe(class_names)}")
    keep = torch.tensor(sorted({int(c) for c in classes}), dtype=labels.dtype)
    return torch.isin(labels, keep).nonzero().squeeze(1)


def check_limit(limit: int) -> None:
    """DataError unless ``limit`` is a positive integer."""
    if not _is_int(limit) or limit <= 0:
        raise DataError(f"--limit must be a positive number of samples, got {limit}")


def seeded_subset(n: int, limit: int, seed: int) -> torch.Tensor:
    """Sorted indices of min(limit, n) of ``n`` items, picked by a randperm seeded with ``seed``."""
    check_limit(limit)
    if limit >= n:
        return torch.arange(n)
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:limit].sort().values


def fixed_split(n: int, split: str) -> torch.Tensor:
    """Sorted indices of ``split`` in a fixed split of ``n`` items (permutation seeded with 12345).

    Test gets n // 6 items, at least one when n >= 2 (so train always keeps at least one); with
    n == 1 the only item is in train and test is empty.
    """
    order = torch.randperm(n, generator=torch.Generator().manual_seed(SPLIT_SEED))
    n_test = max(1, n // 6) if n >= 2 else 0
    return (order[:n_test] if split == "test" else order[n_test:]).sort().values
