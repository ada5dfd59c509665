"""Eager inference made cheap: no autograd, batch norm folded into the convolution before it, channels-last
where it pays. Generic over families: folding walks every ``nn.Sequential``, and a folded copy is kept only
when it reproduces the original (a family that adds something between a convolution and its batch norm, such
as DCGAN's ``affine`` per-label constant, keeps its unfolded module)."""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from gantransfer.models.config import GeneratorConfig
from gantransfer.models.sampling import draw_inputs

CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
FOLD_TOLERANCE = 1e-5  # max abs difference (on the [-1, 1] scale) a folded copy may show against the original


def _foldable(module: nn.Module) -> list[tuple[nn.Sequential, str, str]]:
    """(sequential, convolution name, norm name) of every convolution directly followed by a tracked batch norm."""
    pairs = []
    for seq in [m for m in module.modules() if isinstance(m, nn.Sequential)]:
        names = list(seq._modules)
        for a, b in zip(names, names[1:]):
            conv, norm = seq._modules[a], seq._modules[b]
            if isinstance(conv, CONVS) and isinstance(norm, NORMS) and norm.track_running_stats:
                pairs.append((seq, a, b))
    return pairs


def fold_batchnorm(module: nn.Module) -> tuple[nn.Module, int]:
    """A copy of ``module`` (eval mode) with every convolution directly followed by a batch norm inside an
    ``nn.Sequential`` replaced by one convolution, the norm by ``nn.Identity``; and the number folded. With
    nothing to fold, ``module`` itself (no copy: a 30M-parameter StyleGAN2 has no batch norm)."""
    if not _foldable(module):
        return module, 0
    folded = copy.deepcopy(module).eval()
    pairs = _foldable(folded)
    for seq, a, b in pairs:
        conv, norm = seq._modules[a], seq._modules[b]
        seq._modules[a] = fuse_conv_bn_eval(conv, norm, transpose=isinstance(conv, nn.modules.conv._ConvTransposeNd))
        seq._modules[b] = nn.Identity()
    return folded, len(pairs)


def max_abs_difference(a: nn.Module, b: nn.Module, cfg: GeneratorConfig, n: int = 64, seed: int = 0) -> float:
    """Max abs difference of two generators' outputs on ``n`` seeded latents (translators: at most 4 images),
    on the [-1, 1] scale."""
    n = min(n, 4) if cfg.is_translator else n
    z, y = draw_inputs(cfg, n, torch.Generator().manual_seed(seed))
    with torch.inference_mode():
        d = (a(z, y).float() - b(z, y).float()).abs().max().item()
    lo, hi = cfg.data_range
    return d * 2.0 / (hi - lo)


@dataclass
class InferencePlan:
    """What ``prepare_for_inference`` did to a generator."""

    folded: int = 0             # conv + batch norm pairs folded
    fold_rejected: bool = False  # folding changed the output (the unfolded module was kept)
    channels_last: bool = False
    rewritten: int = 0          # transposed convolutions rewritten as convolutions
    difference: float = 0.0     # max abs difference of the returned module against the original


class ChannelsLast(nn.Module):
    """Runs a generator with channels-last weights and returns a contiguous (NCHW) tensor."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module.to(memory_format=torch.channels_last)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.module(z, labels).contiguous()


def prepare_for_inference(module: nn.Module, cfg: GeneratorConfig, fold: bool = True,
                          channels_last: bool = False, as_convolutions: bool = False
                          ) -> tuple[nn.Module, InferencePlan]:
    """A frozen eval-mode copy of ``module`` for inference (call it under ``torch.inference_mode``): batch norm
    folded when that reproduces the original within ``FOLD_TOLERANCE``; optionally transposed convolutions
    rewritten as convolutions + pixel shuffle (``int8_layout.int8_friendly``, exact) and channels-last (images)."""
    plan = InferencePlan()
    original = module.eval()
    out = copy.deepcopy(original)
    if fold:
        folded, count = fold_batchnorm(original)
        if count:
            if max_abs_difference(original, folded, cfg) <= FOLD_TOLERANCE:
                out, plan.folded = folded, count
            else:
                plan.fold_rejected = True
    if as_convolutions:
        from gantransfer.deploy.int8_layout import int8_friendly
        out, plan.rewritten = int8_friendly(out, cfg, min_channels=1)
    if channels_last and cfg.kind == "image":
        out, plan.channels_last = ChannelsLast(out), True
    out = out.eval().requires_grad_(False)
    changed = plan.folded or plan.rewritten or plan.channels_last
    plan.difference = max_abs_difference(original, out, cfg) if changed else 0.0  # an unchanged copy: exact
    return out, plan


VARIANTS = {"folded": {}, "channels-last": {"channels_last": True}, "convolutions": {"as_convolutions": True},
            "convolutions, channels-last": {"as_convolutions": True, "channels_last": True}}


def fastest_for_inference(module: nn.Module, cfg: GeneratorConfig, batch: int = 64, calls: int = 3
                          ) -> tuple[nn.Module, InferencePlan, str]:
    """The fastest of ``VARIANTS`` of ``prepare_for_inference`` on this machine, timed at ``batch`` (median of
    ``calls`` after one warm-up); every variant computes the original within ``FOLD_TOLERANCE``. Which one
    pays differs by model (benchmarks/results/deploy.json: channels-last for the teacher, the convolution
    rewrite for the small students)."""
    import statistics
    import time
    z, y = draw_inputs(cfg, min(batch, 4) if cfg.is_translator else batch, torch.Generator().manual_seed(0))
    best = None
    for name, options in VARIANTS.items():
        if cfg.kind != "image" and options:
            continue
        candidate, plan = prepare_for_inference(module, cfg, **options)
        if plan.difference > FOLD_TOLERANCE:
            continue
        times = []
        with torch.inference_mode():
            candidate(z, y)
            for _ in range(calls):
                t0 = time.perf_counter()
                candidate(z, y)
                times.append(time.perf_counter() - t0)
        seconds = statistics.median(times)
        if best is None or seconds < best[0]:
            best = (seconds, candidate, plan, name)
    return best[1], best[2], best[3]
