"""Parity of an exported generator against its PyTorch source, at batch 1 and 64 on the same latents."""
from __future__ import annotations

import math
from typing import Callable

import torch

from gantransfer.models.config import GeneratorConfig
from gantransfer.models.sampling import draw_inputs

PARITY_LATENTS = 256
PARITY_SEED = 20240619        # latents of the parity check (apart from training and evaluation seeds)
FP32_TOLERANCE = 1e-4         # max abs error on the [-1, 1] scale
BATCHES = (1, 64)

Runner = Callable[[torch.Tensor, "torch.Tensor | None"], torch.Tensor]


def parity_inputs(cfg: GeneratorConfig, n: int = PARITY_LATENTS) -> tuple[torch.Tensor, torch.Tensor | None]:
    return draw_inputs(cfg, n, torch.Generator().manual_seed(PARITY_SEED))


@torch.inference_mode()
def outputs(run: Runner, z: torch.Tensor, y: torch.Tensor | None, batch: int) -> torch.Tensor:
    """``run`` over ``z`` (and ``y``) in batches of ``batch``, concatenated (float32, CPU)."""
    parts = [run(z[i:i + batch], None if y is None else y[i:i + batch]).float().cpu()
             for i in range(0, len(z), batch)]
    return torch.cat(parts)


def scale(cfg: GeneratorConfig) -> float:
    """Factor taking differences in the generator's value range to the [-1, 1] scale."""
    lo, hi = cfg.data_range
    return 2.0 / (hi - lo)


def check_parity(reference: Runner, candidate: Runner, cfg: GeneratorConfig) -> dict[str, float]:
    """Max abs error (on the [-1, 1] scale) of ``candidate`` against ``reference`` over the parity latents, at
    each of ``BATCHES``; the reference runs at batch 64."""
    z, y = parity_inputs(cfg)
    want = outputs(reference, z, y, 64)
    result = {}
    for b in BATCHES:
        got = outputs(candidate, z, y, b)
        if got.shape != want.shape:
            raise ValueError(f"the export returns shape {tuple(got.shape)} at batch {b}, expected {tuple(want.shape)}")
        err = (got - want).abs().max().item() * scale(cfg)
        result[f"max_abs_error_batch{b}"] = err if math.isfinite(err) else float("inf")
    return result


def psnr(candidate: torch.Tensor, reference: torch.Tensor, cfg: GeneratorConfig) -> float:
    """PSNR (dB) of ``candidate`` against ``reference`` on the [-1, 1] scale (peak-to-peak 2)."""
    mse = ((candidate - reference).double() * scale(cfg)).pow(2).mean().item()
    return float("inf") if mse == 0 else 10 * math.log10(4.0 / mse)
