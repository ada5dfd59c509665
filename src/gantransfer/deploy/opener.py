"""The one generator opener: a generator or run directory, or an exported file of any registered format, as a
generator under the Generator contract and its config. ``api`` (sample, bench) and ``metrics`` (eval) both open
generators here."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from gantransfer.deploy.runtime import is_exported, open_exported
from gantransfer.models.config import GeneratorConfig
from gantransfer.models.store import load_generator


def open_generator(path: str | Path, device: str | torch.device = "cpu",
                   for_inference: bool = False) -> tuple[Any, GeneratorConfig]:
    """(generator, config) of ``path``: an exported file run by its format's runtime (deploy/formats.py), or a
    directory's module on ``device`` in eval mode; with ``for_inference``, batch norm folded and channels-last or
    transposed convolutions rewritten where that is faster here (each exact within 1e-5, not bit for bit: the
    evaluation opens the module as trained)."""
    if is_exported(path):
        g = open_exported(path)
        return g, g.config
    module, cfg = load_generator(path, device)
    if for_inference:
        from gantransfer.deploy.inference import fastest_for_inference
        return fastest_for_inference(module, cfg)[0], cfg
    return module, cfg
