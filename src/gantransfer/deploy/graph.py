"""The traced form of a generator: named inputs ``z`` (and ``label`` when conditional), output ``image``."""
from __future__ import annotations

import torch
from torch import nn

from gantransfer.models.registry import GeneratorConfig
from gantransfer.models.sampling import draw_inputs
from gantransfer.deploy.metadata import INPUT_LABEL, INPUT_Z


class ExportModule(nn.Module):
    """``forward(z)`` or ``forward(z, label)``: the generator with the signature an export has."""

    def __init__(self, module: nn.Module, conditional: bool) -> None:
        super().__init__()
        self.module, self.conditional = module, conditional

    def forward(self, z: torch.Tensor, label: torch.Tensor | None = None) -> torch.Tensor:
        return self.module(z, label) if self.conditional else self.module(z)


def example_inputs(cfg: GeneratorConfig, n: int = 2) -> tuple[torch.Tensor, ...]:
    """Seeded example inputs for tracing (batch ``n``)."""
    z, y = draw_inputs(cfg, n, torch.Generator().manual_seed(0))
    return (z,) if y is None else (z, y)


def input_names(cfg: GeneratorConfig) -> list[str]:
    return [INPUT_Z, INPUT_LABEL] if cfg.num_classes else [INPUT_Z]
