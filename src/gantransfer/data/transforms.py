"""Deterministic subsets and splits, class selection (image conversions live in ``gantransfer.image_space``)."""
from __future__ import annotations

import numbers

import torch

from gantransfer.errors import DataError

SPLIT_SEED = 12345  # fixed: a split made here never depends on the user's seed


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


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
