"""Parity of an exported generator against its PyTorch source, at batch 1 and 64 on the same latents.

Up to 64x64 px the check covers ``PARITY_LATENTS`` latents; bigger images get fewer (the same number of output
pixels, at least ``MIN_PARITY_LATENTS``), and the batch is capped at that count: a 1024 px StyleGAN2 is checked
on 2 latents at batch 1 and 2, not on 256 at batch 64 (768 passes, and a batch-64 pass needs tens of GiB there).
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from gantransfer.models.config import GeneratorConfig
from gantransfer.models.sampling import draw_inputs

PARITY_LATENTS = 256
PARITY_IMAGES = 8             # translators: random input images instead (each costs as much as a big batch)
PARITY_SEED = 20240619        # latents of the parity check (apart from training and evaluation seeds)
FP32_TOLERANCE = 1e-4         # max abs error on the [-1, 1] scale
BATCHES = (1, 64)
PARITY_PIXELS = PARITY_LATENTS * 64 * 64  # latents x output pixels of the full check (256 latents up to 64 px)
MIN_PARITY_LATENTS = 2                    # so that a batch above 1 is always checked

Runner = Callable[[torch.Tensor, "torch.Tensor | None"], torch.Tensor]


def parity_count(cfg: GeneratorConfig) -> int:
    """Latents of the parity check of ``cfg``: ``PARITY_LATENTS`` up to 64x64 px, then ``PARITY_PIXELS`` output
    pixels' worth (at least ``MIN_PARITY_LATENTS``); translators at most ``PARITY_IMAGES`` input images."""
    pixels = cfg.resolution ** 2 if cfg.kind in ("image", "translator") else 1
    n = max(MIN_PARITY_LATENTS, min(PARITY_LATENTS, PARITY_PIXELS // max(1, pixels)))
    return min(n, PARITY_IMAGES) if cfg.is_translator else n


def parity_batches(cfg: GeneratorConfig) -> tuple[int, ...]:
    """The batch sizes checked: ``BATCHES``, each capped at ``parity_count(cfg)``."""
    return tuple(min(b, parity_count(cfg)) for b in BATCHES)


def parity_inputs(cfg: GeneratorConfig, n: int | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The parity latents (and labels): ``n`` of them, by default ``parity_count(cfg)``."""
    return draw_inputs(cfg, parity_count(cfg) if n is None else n, torch.Generator().manual_seed(PARITY_SEED))


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
    each of ``parity_batches(cfg)``; the reference runs at the largest."""
    z, y = parity_inputs(cfg)
    batches = parity_batches(cfg)
    want = outputs(reference, z, y, batches[-1])
    result = {}
    for b in batches:
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
