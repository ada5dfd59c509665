"""Single image files read defensively: listed recursively (hidden entries skipped), each checked against a pixel
cap before decoding, converted to a channel count and resized (shorter side, bicubic) + centre-cropped to a side."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from gantransfer.data.folder import check_pixels
from gantransfer.errors import DataError

EXTENSIONS = (".png", ".jpg", ".jpeg")
READ_ERRORS = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


def list_image_files(root: Path, flag: str = "--input") -> list[Path]:
    """Image files under ``root`` (sorted, relative to it); DataError naming ``flag`` when there is none."""
    if not root.is_dir():
        raise DataError(f"{flag} {root} is not a directory; give a folder of PNG/JPEG images")
    files = sorted(p.relative_to(root) for p in root.rglob("*")
                   if p.suffix.lower() in EXTENSIONS and p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    if not files:
        raise DataError(f"{flag} {root} holds no PNG or JPEG file")
    return files


def read_image(path: Path, channels: int, size: int) -> torch.Tensor:
    """One image as float (channels, size, size) in [-1, 1]; one of ``READ_ERRORS`` when it cannot be used."""
    with Image.open(path) as im:
        w, h = im.size
        check_pixels((w, h), size)  # folder.py's pixel, aspect and resized-size caps, before decoding (bombs)
        im.load()
        im = ImageOps.exif_transpose(im).convert("L" if channels == 1 else "RGB")
        s = size / min(im.size)
        im = im.resize((max(size, round(im.width * s)), max(size, round(im.height * s))), Image.Resampling.BICUBIC)
        left, top = (im.width - size) // 2, (im.height - size) // 2
        arr = np.asarray(im.crop((left, top, left + size, top + size)), dtype=np.float32)
    arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    return torch.from_numpy(arr.copy()) / 127.5 - 1


def first_line(e: BaseException) -> str:
    """The first line of an exception's message (its type name when empty)."""
    return str(e).splitlines()[0] if str(e) else type(e).__name__
