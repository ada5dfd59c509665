"""Opening a translator for use: a gantransfer directory or a pix2pix/CycleGAN ``.pth`` file, checked to be an
image-to-image translator (a noise generator is refused with the command that fits it); for a label-conditional
translator (a fused one), the one mapping chosen by ``--label`` (an index or a teacher's name)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from gantransfer.errors import ConfigError
from gantransfer.models.config import GeneratorConfig


class OneMapping(torch.nn.Module):
    """One mapping of a label-conditional translator as a plain one: ``g(x)`` is ``inner(x, label)``."""

    def __init__(self, inner: torch.nn.Module, label: int) -> None:
        super().__init__()
        self.inner, self.label = inner, label
        self.multiple = int(getattr(inner, "multiple", 1))

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if labels is not None:
            raise ValueError(f"this is mapping {self.label} of a fused translator: call it as g(x)")
        return self.inner(x, torch.full((len(x),), self.label, dtype=torch.long, device=x.device))


def label_index(label: str | int, cfg: GeneratorConfig, source: str | Path) -> int:
    """The index of ``label`` (an index, or one of the translator's label names: its teachers' names)."""
    names = list(cfg.class_names)
    if isinstance(label, int) or str(label).isdigit():
        k = int(label)
        if not 0 <= k < cfg.num_classes:
            raise ConfigError(f"--label {label}: {source} has labels 0..{cfg.num_classes - 1} ({', '.join(names)})")
        return k
    if label not in names:
        raise ConfigError(f"--label {label!r} is not a label of {source}; choose an index 0..{cfg.num_classes - 1} "
                          f"or one of {', '.join(names)}")
    return names.index(label)


def pick_mapping(g: torch.nn.Module, cfg: GeneratorConfig, label: str | int | None, source: str | Path
                 ) -> tuple[torch.nn.Module, GeneratorConfig]:
    """The translator itself when it applies one mapping, else its mapping ``label`` (``OneMapping``) and a
    config without labels; ConfigError when a label is missing or is given to a plain translator."""
    if not cfg.num_classes:
        if label is not None:
            raise ConfigError(f"--label {label}: {source} applies a single mapping; drop --label")
        return g, cfg
    if label is None:
        raise ConfigError(f"{source} is a fused translator of {cfg.num_classes} mappings "
                          f"({', '.join(cfg.class_names)}); choose one with --label K or --label NAME")
    k = label_index(label, cfg, source)
    one = dataclasses.replace(cfg, num_classes=0, class_names=[], meta={**cfg.meta, "label": k})
    return OneMapping(g, k).eval(), one


def open_translator(source: str | Path, device: str | torch.device = "cpu", import_options: dict | None = None,
                    flag: str = "", fits: str = "sample {} --out FILE", label: str | int | None = None
                    ) -> tuple[torch.nn.Module, GeneratorConfig]:
    """A translator (eval mode) from a generator or run directory, or a pix2pix/CycleGAN ``.pth`` file imported on
    the fly (``import_options``: the importer's arch/norm/dropout); ConfigError for a noise-to-image generator,
    naming the command that fits it (``fits``, with ``{}`` for the generator; a file is imported first).
    A fused translator is opened at its mapping ``label`` (``pick_mapping``)."""
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
    return pick_mapping(g.to(device).eval(), cfg, label, source)


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
