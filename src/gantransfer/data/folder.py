"""Image folders: PNG/JPEG files found recursively; immediate sub-folders holding images become classes."""
from __future__ import annotations

import warnings
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image, ImageOps

from gantransfer.image_space import check_resolution, default_resolution, to_channels
from gantransfer.errors import DataError

EXTENSIONS = {".png", ".jpg", ".jpeg"}
_GRAY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
MAX_PIXELS = 1 << 26  # an image, as decoded and as resized (64 Mpixel; PIL's own bomb limit is near 179 M)
MAX_ASPECT = 64       # width / height either way: a 1 x 2,000,000 PNG is no photograph
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, zlib.error, Image.DecompressionBombError)


def list_images(root: Path) -> tuple[list[Path], list[int], list[str]]:
    """(files, labels, class names) of image folder ``root``; hidden files and folders are ignored.

    If sub-folders of ``root`` hold images (at any depth), each is a class (sorted names) and images
    lying directly in ``root`` are skipped with a warning; otherwise all images form one class named
    after ``root``.
    """
    files = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).parts
        if p.suffix.lower() in EXTENSIONS and not any(part.startswith(".") for part in rel) and p.is_file():
            files.append(p)
    if not files:
        raise DataError(f"image folder {root} holds no PNG or JPEG file; point --data at a folder of images")
    nested = [p for p in files if len(p.relative_to(root).parts) > 1]
    if not nested:
        return files, [0] * len(files), [root.name or "images"]
    if len(nested) < len(files):
        warnings.warn(f"ignored {len(files) - len(nested)} image(s) lying directly in {root}: its sub-folders "
                      "are the classes", UserWarning, stacklevel=4)
    names = sorted({p.relative_to(root).parts[0] for p in nested})
    index = {n: i for i, n in enumerate(names)}
    return nested, [index[p.relative_to(root).parts[0]] for p in nested], names


def check_pixels(size: tuple[int, int], resolution: int = 0) -> None:
    """ValueError (a skipped image) when an image of ``size`` (w, h) is beyond ``MAX_PIXELS`` or ``MAX_ASPECT``, or
    when scaling its short side to ``resolution`` would be."""
    w, h = size
    if w < 1 or h < 1 or w * h > MAX_PIXELS or max(w, h) > MAX_ASPECT * min(w, h) \
            or resolution * resolution * max(w, h) / min(w, h) > MAX_PIXELS:
        raise ValueError(f"its {w} x {h} pixels are beyond {MAX_PIXELS:,} pixels or a side ratio of {MAX_ASPECT}")


def decode_image(path: Path | BinaryIO, resolution: int | None) -> tuple[np.ndarray, int, tuple[int, int]]:
    """(uint8 (C, R, R) with C = 1 for gray or 3 for colour content, min side of the original, its (W, H))."""
    with Image.open(path) as im:
        check_pixels(im.size)  # before decoding: a small file may declare a huge or absurdly thin image
        im.load()
        im = ImageOps.exif_transpose(im)
        native, original = min(im.size), im.size
        if im.mode in _GRAY_MODES:
            if im.mode.startswith("I"):  # 16-bit gray PNG: 0..65535
                im = Image.fromarray((np.asarray(im, dtype=np.float64) / 257.0).round().clip(0, 255)
                                     .astype(np.uint8))
            im = im.convert("L")
        else:
            im = im.convert("RGB")
        res = resolution or default_resolution(native)
        check_pixels(im.size, res)  # the resized image, before it is made
        w, h = im.size
        s = res / min(w, h)
        im = im.resize((max(res, round(w * s)), max(res, round(h * s))), Image.Resampling.BICUBIC)
        left, top = (im.width - res) // 2, (im.height - res) // 2
        arr = np.array(im.crop((left, top, left + res, top + res)), dtype=np.uint8)
    if arr.ndim == 2:
        return arr[None], native, original
    arr = arr.transpose(2, 0, 1)
    if (arr[0] == arr[1]).all() and (arr[1] == arr[2]).all():
        return arr[:1], native, original  # colour mode but gray content
    return arr, native, original


def load_folder(root: Path, resolution: int | None = None,
                channels: int | None = None) -> tuple[torch.Tensor, torch.Tensor, list[str], int]:
    """Decode the image folder ``root``: (uint8 (N, C, R, R), int64 labels, class names, native size).

    Each image's shorter side is resized to R (bicubic) and the centre cropped. R defaults to the
    smallest power of two >= the shorter side of the first readable image (in [16, 256]); C defaults
    to 3 if any image has colour content, else 1. Unreadable files are skipped with one warning.
    """
    if resolution is not None:
        check_resolution(resolution)
    files, labels, names = list_images(root)
    arrays, kept, bad, native = [], [], [], None
    for path, label in zip(files, labels):
        try:
            arr, size, _ = decode_image(path, resolution)
        except _DECODE_ERRORS:
            bad.append(path)
            continue
        if native is None:
            native, resolution = size, resolution or default_resolution(size)
        arrays.append(arr)
        kept.append(label)
    if bad:
        shown = ", ".join(str(p.relative_to(root)) for p in bad[:3]) + (", ..." if len(bad) > 3 else "")
        warnings.warn(f"skipped {len(bad)} unreadable image file(s) in {root}: {shown}", UserWarning, stacklevel=3)
    if not arrays:
        raise DataError(f"no readable image in {root}: all {len(bad)} PNG/JPEG file(s) failed to decode")
    c = channels or (3 if any(a.shape[0] == 3 for a in arrays) else 1)
    x = torch.empty((len(arrays), c, resolution, resolution), dtype=torch.uint8)
    for i, a in enumerate(arrays):
        x[i] = to_channels(torch.from_numpy(a)[None], c)[0]
    return x, torch.tensor(kept, dtype=torch.int64), names, native
