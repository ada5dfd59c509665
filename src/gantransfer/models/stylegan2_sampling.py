"""``gantransfer sample --truncation-psi P --noise-mode M``: sample grids of generators with a mapping network."""
from __future__ import annotations

from pathlib import Path

from gantransfer.errors import ConfigError
from gantransfer.models.stylegan2 import check_noise_mode


def styled_sample_grid(path: str | Path, out: str | Path, n: int = 64, seed: int = 0,
                       classes: list[int] | None = None, truncation_psi: float = 1.0,
                       noise_mode: str = "random") -> Path:
    """A PNG grid of ``n`` samples with truncation towards the mean W and the given noise mode."""
    from gantransfer.api import class_labels, load
    from gantransfer.models.sampling import generate, sample_classes
    from gantransfer.report.grid import save_samples
    check_noise_mode(noise_mode)
    if n < 1:
        raise ConfigError(f"--n must be at least 1, got {n}")
    if not 0 <= truncation_psi <= 1 or truncation_psi != truncation_psi:
        raise ConfigError(f"--truncation-psi must be in [0, 1], got {truncation_psi}")
    g, cfg = load(path)
    if not cfg.family.capabilities.mapping_network:
        raise ConfigError(f"--truncation-psi and --noise-mode apply to generators with a mapping network "
                          f"(stylegan2); {path} is a {cfg.arch} generator")
    labels = class_labels(cfg, n, classes)
    x, _ = generate(g, cfg, n, seed=seed, labels=labels, truncation_psi=truncation_psi, noise_mode=noise_mode)
    nrow = len(classes or sample_classes(cfg)) if cfg.num_classes else None
    return save_samples(x, out, nrow=nrow)
