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

import torch
from PIL import Image

from gantransfer.data.image_files import READ_ERRORS, first_line, list_image_files, read_image
from gantransfer.errors import ConfigError, DataError
from gantransfer.io import atomic_write
from gantransfer.deploy.translator_opener import open_any_translator
from gantransfer.models.translators import check_size

BATCH = 16


@dataclass
class TranslateResult:
    """What a translate run wrote and skipped."""

    written: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)   # unreadable or oversized inputs, with the reason


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


def write_png(x: torch.Tensor, path: Path, value_range: tuple[float, float]) -> None:
    """Write one image (C, H, W) in ``value_range`` as an 8-bit PNG, atomically."""
    lo, hi = value_range
    arr = ((x.float().clamp(lo, hi) - lo) / (hi - lo) * 255).round().to(torch.uint8).cpu().numpy()
    img = Image.fromarray(arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0))
    atomic_write(path, lambda tmp: img.save(tmp, format="PNG"))


def translate_folder(source: str | Path, input_dir: str | Path, out: str | Path, size: int | None = None,
                     overwrite: bool = False, train_mode: bool = False, seed: int = 0, device: str = "cpu",
                     import_options: dict | None = None, label: str | int | None = None) -> TranslateResult:
    """Translate every image under ``input_dir`` into ``out`` (one PNG each). ``train_mode``: run as pix2pix's
    test.py does without ``--eval`` (batch norm on each image's own statistics, dropout active; seeded).
    ``label``: the mapping of a fused translator (an index or a teacher's name)."""
    g, cfg = open_any_translator(source, device, import_options, train_mode=train_mode, label=label)
    size = size or cfg.resolution
    check_size(size, cfg, g)
    root, out = Path(input_dir), Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; give a directory")
    files = list_image_files(root)
    dests = destinations(files, out, overwrite)
    result = TranslateResult()
    batch = 1 if train_mode else BATCH
    if isinstance(g, torch.nn.Module):  # an exported file's runtime has no training mode (refused above)
        g.train(train_mode)
    torch.manual_seed(seed)
    pending: list[tuple[torch.Tensor, Path]] = []
    for i, (rel, dest) in enumerate(zip(files, dests)):
        try:
            pending.append((read_image(root / rel, cfg.input_channels, size), dest))
        except READ_ERRORS as e:
            result.skipped.append(f"{rel}: {first_line(e)}")
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
