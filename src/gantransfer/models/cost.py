"""What a generator costs: its parameters and the multiply-accumulates of one sample."""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from gantransfer.models.config import GeneratorConfig
from gantransfer.models.sampling import draw_inputs


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _inputs_on_device(g: nn.Module, cfg: GeneratorConfig, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Seeded latents (and labels) on the device of ``g``'s parameters."""
    device = next(g.parameters(), torch.empty(0)).device
    z, y = draw_inputs(cfg, n, torch.Generator().manual_seed(0))
    return z.to(device), None if y is None else y.to(device)


def count_macs(g: nn.Module, cfg: GeneratorConfig) -> int:
    """Multiply-accumulates of one sample, counted by torch's FlopCounterMode (FLOPs / 2)."""
    z, y = _inputs_on_device(g, cfg, 1)
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        g(z, y)
    return counter.get_total_flops() // 2
