"""Opening a translator for `translate` and `eval --input`: an exported ONNX or TorchScript file (an int8 export
included) run by its runtime, or what ``models.translators.open_translator`` opens (a directory or a
pix2pix/CycleGAN ``.pth`` file)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from gantransfer.deploy.runtime import is_exported, open_exported
from gantransfer.errors import ConfigError
from gantransfer.models.config import GeneratorConfig
from gantransfer.models.translators import input_multiple, open_translator


def open_any_translator(source: str | Path, device: str | torch.device = "cpu", import_options: dict | None = None,
                        flag: str = "", fits: str = "sample {} --out FILE", train_mode: bool = False,
                        label: str | int | None = None) -> tuple[Any, GeneratorConfig]:
    """(translator, config) of ``source``; an exported file's runtime carries ``multiple`` (the side its
    downsampling needs) like the families' modules. ConfigError for a noise generator (naming ``fits``, the
    command that fits it), and for an exported file asked for the importer's options or ``train_mode``.
    ``label``: the mapping of a fused translator (a generator directory only)."""
    if not is_exported(source):
        return open_translator(source, device, import_options, flag, fits, label)
    if import_options:
        raise ConfigError(f"--arch/--norm/--dropout apply to a pix2pix/CycleGAN .pth file, not to the exported file "
                          f"{source}; drop them")
    if train_mode:
        raise ConfigError(f"--train-mode runs batch norm and dropout as in training, which an exported file "
                          f"({source}) no longer has; give the generator directory or .pth file")
    g = open_exported(source)
    cfg = g.config
    if not cfg.is_translator:
        raise ConfigError(f"{flag + ' ' if flag else ''}{source} is an exported noise-to-image generator "
                          f"({cfg.arch}), not an image-to-image translator; use `gantransfer {fits.format(source)}`")
    if label is not None or cfg.num_classes:
        raise ConfigError(f"{source} is an exported file: pick a mapping of a fused translator with --label on its "
                          "generator directory" if cfg.num_classes else f"--label: {source} applies a single "
                          "mapping; drop --label")
    g.multiple = input_multiple(cfg)
    return g, cfg
