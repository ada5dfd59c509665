"""Drawing samples from a generator: latents, labels, batching, batch-norm recalibration."""
from __future__ import annotations

import copy

import torch
from torch import nn

from gantransfer.errors import CheckpointError
from gantransfer.models.config import GeneratorConfig

PROBE = 8  # latents of the probe call that checks a generator's outputs before it is used


def check_finite(x: torch.Tensor, what: str = "the generator") -> torch.Tensor:
    """``x`` when every value is finite; CheckpointError otherwise (finite weights can still make NaN images, e.g. a
    negative batch-norm variance), so that no grid, score or file is made of NaN."""
    if not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x.reshape(len(x), -1))).any(1).sum()) if x.dim() else 1
        raise CheckpointError(f"{what} produces NaN or infinite values ({bad} of {len(x) if x.dim() else 1} samples); "
                              "its weights or statistics are broken. Restore it from a good checkpoint or retrain it")
    return x


@torch.inference_mode()
def probe_finite(g, cfg: GeneratorConfig, what: str = "the generator", device: str | torch.device = "cpu") -> None:
    """One call on ``PROBE`` fixed latents (labels: the trained classes): CheckpointError on a non-finite output."""
    z, y = draw_inputs(cfg, PROBE, torch.Generator().manual_seed(0))
    check_finite(g(z.to(device), None if y is None else y.to(device)).float(), what)


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
    classes (or drawn by ``cfg.label_weights``, indexed by label, when recorded). Translators: images uniform in
    their value range (N, *cfg.input_shape), for parity checks, calibration and timing, never for sampling."""
    if cfg.is_translator:  # a label-conditional translator: labels uniform over its mappings
        lo, hi = cfg.data_range
        x = lo + (hi - lo) * torch.rand(n, *cfg.input_shape, generator=generator)
        if cfg.num_classes and labels is None:
            labels = torch.randint(cfg.num_classes, (n,), generator=generator)
        return x, labels if cfg.num_classes else None
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
    if cfg.is_translator:
        from gantransfer.errors import ConfigError
        raise ConfigError(f"this is an image-to-image translator ({cfg.arch}): it needs input images, not latents. "
                          "Use `gantransfer translate GENERATOR --input DIR --out DIR`")
    styled = {} if (truncation_psi, noise_mode) == (1.0, "random") else {"truncation_psi": truncation_psi,
                                                                         "noise_mode": noise_mode}
    rng = torch.Generator().manual_seed(seed)
    z, y = draw_inputs(cfg, n, rng, labels)
    out = []
    for i in range(0, n, batch_size):
        zi = z[i:i + batch_size].to(device)
        yi = None if y is None else y[i:i + batch_size].to(device)
        out.append(check_finite(g(zi, yi, **styled).float().cpu()))
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
    everything that step writes (exported weights, sample grid, evaluation). A translator keeps the running
    statistics the engine copied from the live network, which saw the run's real input images: recalibrating on
    ``draw_inputs``' uniform noise images would give its batch norm the statistics of noise."""

    def __init__(self, source, cfg: GeneratorConfig, seed: int = 0) -> None:
        self._source, self.cfg, self.seed = source, cfg, seed  # source: a callable returning the live module
        self._step: int | None = None
        self._copy: nn.Module | None = None

    def at(self, step: int) -> nn.Module:
        if step != self._step:
            g = copy.deepcopy(self._source())
            self._copy = (g if self.cfg.is_translator else recalibrate_batchnorm(g, self.cfg, seed=self.seed)).eval()
            self._step = step
        return self._copy
