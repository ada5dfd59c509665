"""``gantransfer translate``: run an image-to-image translator over a folder of images, one PNG out per image in.

Inputs are every PNG/JPEG under ``--input`` (recursively, hidden entries skipped); each is checked against a pixel
cap before it is decoded, converted to the translator's input channels, resized (shorter side, bicubic) to
``size`` and centre-cropped. Outputs mirror the inputs' relative paths under ``--out`` with a ``.png`` suffix;
every destination is checked before any work (inside ``--out``, not existing unless ``overwrite``), and each file
is written atomically.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from gantransfer.errors import ConfigError, DataError
from gantransfer.io import atomic_write
from gantransfer.models.registry import GeneratorConfig

EXTENSIONS = (".png", ".jpg", ".jpeg")
MAX_PIXELS = 4096 * 4096      # larger images are refused before decoding (decompression bombs)
BATCH = 16


@dataclass
class TranslateResult:
    """What a translate run wrote and skipped."""

    written: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)   # unreadable or oversized inputs, with the reason


def open_translator(source: str | Path, device: str = "cpu", import_options: dict | None = None
                    ) -> tuple[torch.nn.Module, GeneratorConfig]:
    """A translator from a generator or run directory, or a pix2pix/CycleGAN ``.pth`` file (imported on the fly);
    ConfigError when it is a noise-to-image generator."""
    p = Path(source)
    if p.is_file():
        from gantransfer.models.stylegan2_import import import_file
        imported = import_file(p, translator=import_options)
        g, cfg = imported.generator, imported.config
    else:
        if import_options:
            raise ConfigError("--arch/--norm apply to a pix2pix/CycleGAN .pth file, not to a generator directory")
        from gantransfer.models.store import load_generator
        g, cfg = load_generator(p, device)
    if not cfg.is_translator:
        raise ConfigError(f"{source} is a noise-to-image generator ({cfg.arch}), not an image-to-image translator; "
                          f"use `gantransfer sample {source} --out FILE`")
    return g.to(device).eval(), cfg


def list_inputs(root: Path) -> list[Path]:
    """Image files under ``root`` (sorted, relative paths); DataError when there is none."""
    if not root.is_dir():
        raise DataError(f"--input {root} is not a directory; give a folder of PNG/JPEG images")
    files = sorted(p.relative_to(root) for p in root.rglob("*")
                   if p.suffix.lower() in EXTENSIONS and p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    if not files:
        raise DataError(f"--input {root} holds no PNG or JPEG file")
    return files


def destinations(files: list[Path], out: Path, overwrite: bool) -> list[Path]:
    """The output path of each input; ConfigError when one would leave ``out`` or exists without ``overwrite``."""
    base = out.resolve()
    dests = [out / rel.with_suffix(".png") for rel in files]
    if len({d.resolve() for d in dests}) < len(dests):
        seen: dict[Path, Path] = {}
        for rel, d in zip(files, dests):
            if d.resolve() in seen:
                raise ConfigError(f"inputs {seen[d.resolve()]} and {rel} would both be written to {d}; rename one")
            seen[d.resolve()] = rel
    for d in dests:
        if not d.resolve().is_relative_to(base):
            raise ConfigError(f"{d} resolves outside --out {out} (a link?); refusing to write there")
        if d.exists() and not overwrite:
            raise ConfigError(f"{d} already exists; pass --overwrite to replace earlier outputs or choose a new --out")
    return dests


def read_image(path: Path, channels: int, size: int) -> torch.Tensor:
    """One image as float (channels, size, size) in [-1, 1]; ValueError/OSError when it cannot be used."""
    with Image.open(path) as im:
        w, h = im.size
        if w * h > MAX_PIXELS:
            raise ValueError(f"{w}x{h} pixels is over the cap of {MAX_PIXELS}")
        im.load()
        im = ImageOps.exif_transpose(im).convert("L" if channels == 1 else "RGB")
        s = size / min(im.size)
        im = im.resize((max(size, round(im.width * s)), max(size, round(im.height * s))), Image.Resampling.BICUBIC)
        left, top = (im.width - size) // 2, (im.height - size) // 2
        arr = np.asarray(im.crop((left, top, left + size, top + size)), dtype=np.float32)
    arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    return torch.from_numpy(arr.copy()) / 127.5 - 1


def write_png(x: torch.Tensor, path: Path, value_range: tuple[float, float]) -> None:
    """Write one image (C, H, W) in ``value_range`` as an 8-bit PNG, atomically."""
    lo, hi = value_range
    arr = ((x.float().clamp(lo, hi) - lo) / (hi - lo) * 255).round().to(torch.uint8).cpu().numpy()
    img = Image.fromarray(arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0))
    atomic_write(path, lambda tmp: img.save(tmp, format="PNG"))


def check_size(size: int, cfg: GeneratorConfig, module: torch.nn.Module) -> None:
    """ConfigError unless ``size`` is a side the translator takes (a multiple of its downsampling factor)."""
    from gantransfer.models.translator_blocks import MAX_INPUT_SIDE, nearest_sizes
    multiple = int(getattr(module, "multiple", 1))
    if not 1 <= size <= MAX_INPUT_SIDE:
        raise ConfigError(f"--size must be between 1 and {MAX_INPUT_SIDE}, got {size}")
    if size % multiple:
        raise ConfigError(f"--size {size} does not fit this {cfg.arch} translator: the side must be a multiple of "
                          f"{multiple}; nearest valid: {nearest_sizes(size, multiple)}")


def translate_folder(source: str | Path, input_dir: str | Path, out: str | Path, size: int | None = None,
                     overwrite: bool = False, train_mode: bool = False, seed: int = 0, device: str = "cpu",
                     import_options: dict | None = None) -> TranslateResult:
    """Translate every image under ``input_dir`` into ``out`` (one PNG each). ``train_mode``: run as pix2pix's
    test.py does without ``--eval`` (batch norm on each image's own statistics, dropout active; seeded)."""
    g, cfg = open_translator(source, device, import_options)
    size = size or cfg.resolution
    check_size(size, cfg, g)
    root, out = Path(input_dir), Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; give a directory")
    files = list_inputs(root)
    dests = destinations(files, out, overwrite)
    result = TranslateResult()
    batch = 1 if train_mode else BATCH
    g.train(train_mode)
    torch.manual_seed(seed)
    pending: list[tuple[torch.Tensor, Path]] = []
    for i, (rel, dest) in enumerate(zip(files, dests)):
        try:
            pending.append((read_image(root / rel, cfg.input_channels, size), dest))
        except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as e:
            result.skipped.append(f"{rel}: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
        if pending and (len(pending) == batch or i == len(files) - 1):
            with torch.inference_mode():
                y = g(torch.stack([x for x, _ in pending]).to(device))
            for img, (_, d) in zip(y, pending):
                write_png(img, d, cfg.data_range)
                result.written.append(d)
            pending = []
    if result.skipped:
        warnings.warn(f"skipped {len(result.skipped)} unreadable input(s): {'; '.join(result.skipped[:3])}",
                      UserWarning, stacklevel=2)
    if not result.written:
        raise DataError(f"no readable image in {root}: all {len(files)} file(s) failed ({result.skipped[0]})")
    return result
