"""Opening a translator for use: a gantransfer directory or a pix2pix/CycleGAN ``.pth`` file, checked to be an
image-to-image translator (a noise generator is refused with the command that fits it)."""
from __future__ import annotations

from pathlib import Path

import torch

from gantransfer.errors import ConfigError
from gantransfer.models.config import GeneratorConfig


def open_translator(source: str | Path, device: str | torch.device = "cpu", import_options: dict | None = None,
                    flag: str = "", fits: str = "sample {} --out FILE") -> tuple[torch.nn.Module, GeneratorConfig]:
    """A translator (eval mode) from a generator or run directory, or a pix2pix/CycleGAN ``.pth`` file imported on
    the fly (``import_options``: the importer's arch/norm/dropout); ConfigError for a noise-to-image generator,
    naming the command that fits it (``fits``, with ``{}`` for the generator; a file is imported first)."""
    p = Path(source)
    if p.is_file():
        from gantransfer.models.importers import import_file
        imported = import_file(p, options=import_options)
        g, cfg = imported.generator, imported.config
    else:
        if import_options:
            raise ConfigError("--arch/--norm/--dropout apply to a pix2pix/CycleGAN .pth file, not to a directory")
        from gantransfer.models.store import load_generator
        g, cfg = load_generator(p, device)
    if not cfg.is_translator:
        use = (f"`gantransfer import {source} --out DIR`, then `gantransfer {fits.format('DIR')}`" if p.is_file()
               else f"`gantransfer {fits.format(source)}`")
        raise ConfigError(f"{flag + ' ' if flag else ''}{source} is a noise-to-image generator ({cfg.arch}), not an "
                          f"image-to-image translator; use {use}")
    return g.to(device).eval(), cfg


def input_multiple(cfg: GeneratorConfig) -> int:
    """The number a translator of ``cfg`` needs both input sides to be a multiple of (its family's module, built on
    the meta device: no weights are allocated)."""
    from gantransfer.models.config import build_generator
    with torch.device("meta"):
        return int(getattr(build_generator(cfg), "multiple", 1))


def check_size(size: int, cfg: GeneratorConfig, module: torch.nn.Module, flag: str = "--size") -> None:
    """ConfigError unless ``size`` (given as ``flag``) is a side the translator takes (a multiple of its
    downsampling factor)."""
    from gantransfer.models.translator_blocks import MAX_INPUT_SIDE, nearest_sizes
    multiple = int(getattr(module, "multiple", 1))
    if not 1 <= size <= MAX_INPUT_SIDE:
        raise ConfigError(f"{flag} must be between 1 and {MAX_INPUT_SIDE}, got {size}")
    if size % multiple:
        raise ConfigError(f"{flag} {size} does not fit this {cfg.arch} translator: the side must be a multiple of "
                          f"{multiple}; nearest valid: {nearest_sizes(size, multiple)}")
