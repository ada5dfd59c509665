"""Drawing samples from a generator: latents, labels, batching, batch-norm recalibration."""
from __future__ import annotations

import copy

import torch
from torch import nn

from gantransfer.models.config import GeneratorConfig


def sample_classes(cfg: GeneratorConfig) -> list[int]:
    """The classes a conditional generator was trained on (all of them unless recorded otherwise)."""
    return list(cfg.trained_classes or range(cfg.num_classes))


def truncated_normal(n: int, dim: int, generator: torch.Generator, truncation: float = 0.0) -> torch.Tensor:
    """N(0, I) latents; with ``truncation`` > 0, every component beyond +-truncation is redrawn until inside
    (the truncation trick: fewer, more typical samples)."""
    z = torch.randn(n, dim, generator=generator)
    if truncation > 0:
        outside = z.abs() > truncation
        while outside.any():
            z[outside] = torch.randn(int(outside.sum()), generator=generator)
            outside = z.abs() > truncation
    return z


def draw_inputs(cfg: GeneratorConfig, n: int, generator: torch.Generator,
                labels: torch.Tensor | None = None, truncation: float = 0.0) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Latents N(0, I) (truncated when asked) and, for conditional generators, labels uniform over the trained
    classes (or drawn by ``cfg.label_weights``, indexed by label, when recorded)."""
    z = truncated_normal(n, cfg.latent_dim, generator, truncation)
    if cfg.num_classes == 0:
        return z, None
    if labels is None:
        classes = torch.tensor(sample_classes(cfg))
        weights = cfg.label_weights  # fused students: each teacher's share
        if weights:
            labels = torch.multinomial(torch.tensor(weights, dtype=torch.float64), n, replacement=True,
                                       generator=generator)
        else:
            labels = classes[torch.randint(len(classes), (n,), generator=generator)]
    return z, labels


@torch.inference_mode()
def generate(g: nn.Module, cfg: GeneratorConfig, n: int, seed: int = 0, batch_size: int = 500,
             labels: torch.Tensor | None = None, device: str | torch.device = "cpu", truncation_psi: float = 1.0,
             noise_mode: str = "random") -> tuple[torch.Tensor, torch.Tensor | None]:
    """``n`` samples (on CPU, float32) and their labels; deterministic for a given seed. ``truncation_psi`` and
    ``noise_mode`` reach generators with a mapping network (StyleGAN2) only when not the defaults."""
    styled = {} if (truncation_psi, noise_mode) == (1.0, "random") else {"truncation_psi": truncation_psi,
                                                                         "noise_mode": noise_mode}
    rng = torch.Generator().manual_seed(seed)
    z, y = draw_inputs(cfg, n, rng, labels)
    out = []
    for i in range(0, n, batch_size):
        zi = z[i:i + batch_size].to(device)
        yi = None if y is None else y[i:i + batch_size].to(device)
        out.append(g(zi, yi, **styled).float().cpu())
    return torch.cat(out) if out else torch.empty(0, *cfg.sample_shape), y


@torch.no_grad()
def recalibrate_batchnorm(g: nn.Module, cfg: GeneratorConfig, batches: int = 16, batch_size: int = 256,
                          seed: int = 0) -> nn.Module:
    """Re-estimate batch-norm running statistics of ``g`` (in place) as a cumulative mean over fresh latents.

    Needed after averaging weights (EMA): statistics copied from the live generator do not match them.
    """
    norms = [m for m in g.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return g
    device = next(g.parameters()).device
    was_training = g.training
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    g.train()
    rng = torch.Generator().manual_seed(seed)
    for _ in range(batches):
        z, y = draw_inputs(cfg, batch_size, rng)
        g(z.to(device), None if y is None else y.to(device))
    for m, mom in zip(norms, saved):
        m.momentum = mom
    g.train(was_training)
    return g


class RecalibratedSnapshot:
    """A copy of a (moving-average) generator with recalibrated batch norm, made once per step and shared by
    everything that step writes (exported weights, sample grid, evaluation)."""

    def __init__(self, source, cfg: GeneratorConfig, seed: int = 0) -> None:
        self._source, self.cfg, self.seed = source, cfg, seed  # source: a callable returning the live module
        self._step: int | None = None
        self._copy: nn.Module | None = None

    def at(self, step: int) -> nn.Module:
        if step != self._step:
            self._copy = recalibrate_batchnorm(copy.deepcopy(self._source()), self.cfg, seed=self.seed).eval()
            self._step = step
        return self._copy
