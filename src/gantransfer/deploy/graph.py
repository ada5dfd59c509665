"""The traced form of a generator: named inputs ``z`` (and ``label`` when conditional), output ``image``."""
from __future__ import annotations

import torch
from torch import nn

from gantransfer.models.config import GeneratorConfig
from gantransfer.models.sampling import draw_inputs
from gantransfer.deploy.metadata import INPUT_LABEL, INPUT_Z, NOISE_PREFIX


class ExportModule(nn.Module):
    """``forward(z)`` or ``forward(z, label)``: the generator with the signature an export has."""

    def __init__(self, module: nn.Module, conditional: bool) -> None:
        super().__init__()
        self.module, self.conditional = module, conditional
        # a generator with noise layers traced without noise inputs (TorchScript) uses its stored noise
        self.kwargs = {"noise_mode": "const"} if noise_inputs(module) else {}

    def forward(self, z: torch.Tensor, label: torch.Tensor | None = None) -> torch.Tensor:
        if self.kwargs:
            return self.module(z, label, **self.kwargs)
        return self.module(z, label) if self.conditional else self.module(z)


class NoiseInputExportModule(ExportModule):
    """A generator with noise inputs (StyleGAN2): ``forward(z, [label,] noise_0, ..., noise_k)``, each noise
    (N, 1, R, R) added where the generator would draw its own."""

    def forward(self, z: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
        label, noise = (rest[0], list(rest[1:])) if self.conditional else (None, list(rest))
        return self.module(z, label, noise=noise)


def noise_inputs(module: nn.Module) -> list[torch.Tensor]:
    """The stored noise buffers (1, 1, R, R) of a generator with noise inputs; empty for the other families."""
    const = getattr(module, "const_noise", None)
    return list(const()) if callable(const) else []


def export_module(module: nn.Module, cfg: GeneratorConfig) -> ExportModule:
    """The module an ONNX export traces: noise as inputs where the generator has noise layers."""
    wrapper = NoiseInputExportModule if noise_inputs(module) else ExportModule
    return wrapper(module, bool(cfg.num_classes)).eval()


def example_inputs(cfg: GeneratorConfig, n: int = 2, module: nn.Module | None = None) -> tuple[torch.Tensor, ...]:
    """Seeded example inputs for tracing (batch ``n``), the stored noise repeated to the batch when ``module``
    has noise inputs."""
    z, y = draw_inputs(cfg, n, torch.Generator().manual_seed(0))
    noise = [t.expand(n, -1, -1, -1).contiguous() for t in noise_inputs(module)] if module is not None else []
    return ((z,) if y is None else (z, y)) + tuple(noise)


def input_names(cfg: GeneratorConfig, module: nn.Module | None = None) -> list[str]:
    names = [INPUT_Z, INPUT_LABEL] if cfg.num_classes else [INPUT_Z]
    return names + [f"{NOISE_PREFIX}{i}" for i in range(len(noise_inputs(module)) if module is not None else 0)]
