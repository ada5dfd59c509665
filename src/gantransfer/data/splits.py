"""The limited-data splits of a target data set: the few training images, a held-out part of the rest and the
test split."""
from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import torch

from gantransfer.data.base import Dataset
from gantransfer.data.registry import load_dataset
from gantransfer.data.transforms import seeded_subset
from gantransfer.errors import DataError

HELD_OUT_SEED = 7  # picks the held-out images (and the memorisation check's real images); fixed across runs


def target_splits(cfg: Any, resolution: int, channels: int) -> tuple[Dataset, Dataset | None, Dataset | None]:
    """(the few training images, held-out training-split images outside them, the test split) of an adapt config,
    converted to the source's resolution and channels (with a warning when that changes them)."""
    full = load_dataset(cfg.data, "train", classes=cfg.classes, data_dir=cfg.data_dir)
    if full.kind != "image":
        raise DataError(f"--data {cfg.data} holds 2-D points; adapt works on images")
    if full.sample_shape != (channels, resolution, resolution):
        warnings.warn(f"target images are {full.sample_shape[0]}x{full.sample_shape[1]}x{full.sample_shape[2]}; "
                      f"converted to the source's {channels}x{resolution}x{resolution}")
        full = load_dataset(cfg.data, "train", classes=cfg.classes, data_dir=cfg.data_dir, resolution=resolution,
                            channels=channels)
    keep = seeded_subset(len(full), cfg.limit, cfg.seed) if cfg.limit else torch.arange(len(full))
    chosen = torch.zeros(len(full), dtype=torch.bool)
    chosen[keep] = True
    pick = lambda mask: dataclasses.replace(full, x=full.x[mask], y=full.y[mask])  # noqa: E731
    train = pick(chosen)
    rest = (~chosen).nonzero().flatten()  # a seeded subset, not the first ones: files may be sorted by class
    rest = rest[seeded_subset(len(rest), cfg.held_out, HELD_OUT_SEED)] if cfg.held_out > 0 and len(rest) else rest[:0]
    held = pick(rest) if len(rest) >= 10 else None
    try:
        test = load_dataset(cfg.data, "test", classes=cfg.classes, data_dir=cfg.data_dir, resolution=resolution,
                            channels=channels)
    except DataError:
        test = None
    return train, held, test if test is not None and len(test) >= 10 else None
