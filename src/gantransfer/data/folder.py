"""Image folders: PNG/JPEG found recursively; immediate sub-folders with images become classes."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from gantransfer.errors import DataError

EXTENSIONS = {".png", ".jpg", ".jpeg"}


def list_images(root: Path) -> tuple[list[Path], list[int], list[str]]:
    """(files, labels, class names) of an image folder."""
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in EXTENSIONS)
    if not files:
        raise DataError(f"image folder {root} holds no PNG or JPEG file; point --data at a folder of images")
    subdirs = sorted({p.relative_to(root).parts[0] for p in files if len(p.relative_to(root).parts) > 1})
    if subdirs and all(len(p.relative_to(root).parts) > 1 for p in files):
        names = subdirs
        labels = [names.index(p.relative_to(root).parts[0]) for p in files]
    else:
        names, labels = [root.name or "images"], [0] * len(files)
    return files, labels, names


def _is_colour(im: Image.Image) -> bool:
    if im.mode in ("L", "1", "I", "I;16", "LA", "F"):
        return False
    rgb = np.asarray(im.convert("RGB"))
    return bool((rgb[..., 0] != rgb[..., 1]).any() or (rgb[..., 1] != rgb[..., 2]).any())


def _load(path: Path, resolution: int, mode: str) -> np.ndarray:
    with Image.open(path) as im:
        im = im.convert(mode)
        w, h = im.size
        s = resolution / min(w, h)
        im = im.resize((max(resolution, round(w * s)), max(resolution, round(h * s))), Image.BICUBIC)
        left, top = (im.width - resolution) // 2, (im.height - resolution) // 2
        im = im.crop((left, top, left + resolution, top + resolution))
        arr = np.asarray(im, dtype=np.uint8)
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


def load_folder(root: Path, files: list[Path], labels: list[int], resolution: int | None,
                channels: int | None) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Decode ``files``: (uint8 images (N, C, R, R), labels, native min side of the first image).
    Unreadable files are skipped with one warning that counts them."""
    from gantransfer.data.transforms import check_resolution, default_resolution
    readable, native, colour, bad = [], None, False, []
    for path, label in zip(files, labels):
        try:
            with Image.open(path) as im:
                im.verify()
            with Image.open(path) as im:
                native = native or min(im.size)
                colour = colour or _is_colour(im)
            readable.append((path, label))
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            bad.append(path)
    if bad:
        names = ", ".join(p.name for p in bad[:3])
        warnings.warn(f"skipped {len(bad)} unreadable image file(s) in {root} (e.g. {names})", UserWarning)
    if not readable:
        raise DataError(f"no readable image in {root} ({len(bad)} file(s) could not be decoded)")
    res = resolution or default_resolution(native)
    check_resolution(res)
    mode = "RGB" if (channels or (3 if colour else 1)) == 3 else "L"
    x = torch.from_numpy(np.stack([_load(p, res, mode) for p, _ in readable]))
    y = torch.tensor([label for _, label in readable], dtype=torch.int64)
    return x, y, native
