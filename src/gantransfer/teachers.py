"""The Teacher interface: a generator to learn from, white-box (layers readable) or black-box (samples only)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from gantransfer.io import read_json, read_tensors
from gantransfer.models.registry import GeneratorConfig, build_discriminator
from gantransfer.models.store import CONFIG_NAME, WEIGHTS_NAME, load_generator, resolve_generator_dir


@dataclass
class Teacher:
    """A frozen generator and what is known of it."""

    module: nn.Module
    config: GeneratorConfig
    white_box: bool = True
    discriminator: nn.Module | None = None
    source: str = ""

    @torch.no_grad()
    def __call__(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.module(z, labels)


def load_discriminator(run_dir: Path, gcfg: GeneratorConfig) -> nn.Module | None:
    """The discriminator saved beside a generator by `gantransfer train`, if any (frozen, eval mode)."""
    d_dir = run_dir / "discriminator"
    if not (d_dir / CONFIG_NAME).is_file():
        return None
    raw = read_json(d_dir / CONFIG_NAME, "discriminator config")
    d = build_discriminator(gcfg, float(raw.get("width", gcfg.width)))
    d.load_state_dict(read_tensors(d_dir / WEIGHTS_NAME, "discriminator weights"))
    return d.eval().requires_grad_(False)


def load_teacher(path: str | Path, device: str | torch.device = "cpu") -> Teacher:
    """A gantransfer generator (or run) directory as a white-box teacher, with its discriminator when saved."""
    g, cfg = load_generator(path, device)
    g.requires_grad_(False)
    gen_dir = resolve_generator_dir(path)
    d = load_discriminator(gen_dir.parent, cfg)
    return Teacher(g, cfg, True, None if d is None else d.to(device), str(path))
