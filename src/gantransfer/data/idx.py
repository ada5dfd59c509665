"""IDX files (the MNIST format) and the Fashion-MNIST data set stored in them."""
from __future__ import annotations

import functools
import gzip
import zlib
from pathlib import Path

import numpy as np
import torch

from gantransfer.errors import DataError

FMNIST_DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"
FMNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                  "Ankle boot"]
FMNIST_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
_HOW_TO_GET = ("Install it with `apt-get install dataset-fashion-mnist`, or pass --data-dir DIR holding the four "
               "IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
               "t10k-labels-idx1-ubyte; gzipped or not)")


MAX_IDX_BYTES = 1 << 30  # decompressed (Fashion-MNIST's largest file: 47 MB)


def _gunzip(raw: bytes, path: Path) -> bytes:
    """``raw`` gunzipped, at most ``MAX_IDX_BYTES``: a gzip bomb is refused before it fills the memory."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = d.decompress(raw, MAX_IDX_BYTES + 1)
    if len(out) > MAX_IDX_BYTES:
        raise DataError(f"{path} decompresses to more than {MAX_IDX_BYTES >> 20} MiB, more than any IDX data set "
                        "file gantransfer reads; it is refused (a gzip bomb?)")
    return out


def read_idx(path: str | Path) -> np.ndarray:
    """Array of unsigned bytes stored in IDX file ``path`` (gzipped when its name ends in .gz).

    DataError naming the file when it is unreadable, truncated, or not an IDX file of unsigned bytes.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = _gunzip(raw, path)
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path} is truncated or corrupt ({e}); replace it (reinstall dataset-fashion-mnist)") from None
    if len(raw) < 4 or raw[:3] != b"\x00\x00\x08":
        raise DataError(f"{path} is not an IDX file of unsigned bytes (bad magic number {raw[:4].hex()})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path} is truncated or corrupt: its header is cut short")
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    expected = int(np.prod(dims, dtype=np.int64))
    if len(raw) - header != expected:
        raise DataError(f"{path} is truncated or corrupt: {len(raw) - header} data bytes where its header "
                        f"{tuple(dims)} needs {expected}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()


def _find(directory: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem):
        if (directory / name).is_file():
            return directory / name
    raise DataError(f"Fashion-MNIST file {stem}(.gz) is missing in {directory}. {_HOW_TO_GET}")


def fmnist_dir(data_dir: str | None) -> Path:
    """The directory Fashion-MNIST is read from."""
    return Path(data_dir or FMNIST_DEFAULT_DIR).expanduser().resolve()


def fashion_mnist(split: str, data_dir: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(uint8 images (N, 28, 28), int64 labels) of a Fashion-MNIST split; cached in-process.

    The cached tensors are shared: callers must not modify them in place.
    """
    return _fashion_mnist(split, str(fmnist_dir(data_dir)))


@functools.lru_cache(maxsize=4)
def _fashion_mnist(split: str, directory: str) -> tuple[torch.Tensor, torch.Tensor]:
    root = Path(directory)
    if not root.is_dir():
        raise DataError(f"Fashion-MNIST not found: {root} is not a directory. {_HOW_TO_GET}")
    img_stem, lbl_stem = FMNIST_FILES[split]
    img_path, lbl_path = _find(root, img_stem), _find(root, lbl_stem)
    images, labels = read_idx(img_path), read_idx(lbl_path)
    if images.shape[1:] != (28, 28) or images.ndim != 3:
        raise DataError(f"{img_path} holds arrays of shape {images.shape}, not 28x28 images")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataError(f"{lbl_path} holds {labels.shape} labels for {len(images)} images in {img_path}")
    if len(labels) and labels.max() >= len(FMNIST_CLASSES):
        raise DataError(f"{lbl_path} holds label {labels.max()}; Fashion-MNIST labels are 0..9")
    return torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))
