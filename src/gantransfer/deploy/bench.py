"""Parameters, MACs, CPU latency and throughput of generators, as ratios against a reference in one run."""
from __future__ import annotations

import statistics
import time
from typing import Any

import torch
from torch import nn

from gantransfer.models.config import GeneratorConfig
from gantransfer.models.cost import _inputs_on_device, count_macs, count_params


@torch.inference_mode()
def time_batch(g: nn.Module, cfg: GeneratorConfig, batch: int, repeats: int, warmup: int = 2) -> float:
    """Median seconds of one forward pass at ``batch``."""
    z, y = _inputs_on_device(g, cfg, batch)
    for _ in range(warmup):
        g(z, y)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        g(z, y)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


THROUGHPUT_BATCH = 256
TRANSLATOR_THROUGHPUT_BATCH = 8  # translators: at most this many images per throughput call (each costs a big batch)
THROUGHPUT_PIXELS = THROUGHPUT_BATCH * 64 * 64  # output pixels of the throughput batch: 256 samples up to 64 px


def throughput_batch_for(cfg: GeneratorConfig) -> int:
    """The default throughput batch: 256 up to 64x64 px, then ``THROUGHPUT_PIXELS`` worth (16 at 256 px, 1 at
    1024 px: a batch of 256 config-f StyleGAN2 images would need far more memory than a CPU machine has);
    translators at most ``TRANSLATOR_THROUGHPUT_BATCH``."""
    pixels = cfg.resolution ** 2 if cfg.kind in ("image", "translator") else 1
    batch = max(1, min(THROUGHPUT_BATCH, THROUGHPUT_PIXELS // max(1, pixels)))
    return min(batch, TRANSLATOR_THROUGHPUT_BATCH) if cfg.is_translator else batch


def measure(g: nn.Module, cfg: GeneratorConfig, repeats: int = 20, throughput_batch: int | None = None
            ) -> dict[str, Any]:
    """Params, MACs per sample, latency at batch 1 (ms) and throughput at ``throughput_batch`` (samples/s;
    default ``throughput_batch_for(cfg)``)."""
    throughput_batch = throughput_batch_for(cfg) if throughput_batch is None else throughput_batch
    g = g.eval()
    latency = time_batch(g, cfg, 1, repeats)
    big = time_batch(g, cfg, throughput_batch, max(3, repeats // 4))
    return {"params": count_params(g), "macs": count_macs(g, cfg), "latency_ms_batch1": latency * 1e3,
            f"throughput_per_s_batch{throughput_batch}": throughput_batch / big}


def compare(candidate: dict[str, Any], reference: dict[str, Any]) -> dict[str, float]:
    """reference / candidate for costs (params, MACs, latency) and candidate / reference for throughput:
    every ratio above 1 means the candidate is better by that factor."""
    out = {}
    for k, v in candidate.items():
        if k.startswith("throughput"):
            out[f"{k}_speedup"] = v / reference[k]
        else:
            out[f"{k}_reduction"] = reference[k] / v
    return out
