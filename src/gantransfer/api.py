"""The Python API behind every command."""
from __future__ import annotations

from pathlib import Path

import torch

from gantransfer.errors import ConfigError
from gantransfer.models.registry import GeneratorConfig
from gantransfer.models.sampling import generate, sample_classes
from gantransfer.models.store import load_generator
from gantransfer.report.grid import save_samples


def load(path: str | Path, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, GeneratorConfig]:
    """Load a generator directory (or a run directory's generator) without pickle: (module in eval mode, config)."""
    return load_generator(path, device)


def class_labels(cfg: GeneratorConfig, n: int, classes: list[int] | None) -> torch.Tensor | None:
    """Labels cycling through ``classes`` (default: the trained ones); None for unconditional generators."""
    if cfg.num_classes == 0:
        if classes:
            raise ConfigError("--classes was given but this generator is unconditional")
        return None
    classes = classes or sample_classes(cfg)
    bad = [c for c in classes if not 0 <= c < cfg.num_classes]
    if bad:
        raise ConfigError(f"classes {bad} are out of range: this generator has classes 0..{cfg.num_classes - 1} "
                          f"({', '.join(cfg.class_names)})")
    return torch.tensor(classes).repeat((n + len(classes) - 1) // len(classes))[:n]


def open_generator(path: str | Path):
    """A generator ready for sampling and its config: an exported file (.onnx, TorchScript) run by its runtime,
    or a directory's module prepared for inference: batch norm folded, and channels-last or transposed
    convolutions rewritten where that is faster here (each exact within 1e-5)."""
    from gantransfer.deploy.runtime import is_exported, open_exported
    if is_exported(path):
        g = open_exported(path)
        return g, g.config
    from gantransfer.deploy.inference import fastest_for_inference
    module, cfg = load(path)
    return fastest_for_inference(module, cfg)[0], cfg


def sample_grid(path: str | Path, out: str | Path, n: int = 64, seed: int = 0,
                classes: list[int] | None = None) -> Path:
    """Write a PNG grid (images) or scatter plot (points) of ``n`` samples of a generator (a directory or an
    exported file)."""
    if n < 1:
        raise ConfigError(f"--n must be at least 1, got {n}")
    g, cfg = open_generator(path)
    from gantransfer.budget import require, sample_bytes
    require(sample_bytes(cfg, n, copies=3), f"sample --n {n}")  # the samples, their grid and the PNG buffer
    labels = class_labels(cfg, n, classes)
    x, _ = generate(g, cfg, n, seed=seed, labels=labels)
    nrow = len(classes or sample_classes(cfg)) if cfg.num_classes else None  # one column per class
    return save_samples(x, out, nrow=nrow)


def bench(path: str | Path, against: str | Path | None = None, repeats: int = 20,
          threads: int | None = None) -> dict:
    """Params, MACs, latency and throughput of a generator, and ratios against ``against`` measured alike."""
    from gantransfer.deploy.bench import compare, measure
    if threads:
        torch.set_num_threads(threads)
    from gantransfer.models.sampling import probe_finite
    g, cfg = load(path)
    probe_finite(g, cfg, f"generator {path}")  # a timing of a generator of NaN images is no figure
    result = {"generator": {"path": str(path), **measure(g, cfg, repeats)}}
    if against is not None:
        rg, rcfg = load(against)
        probe_finite(rg, rcfg, f"generator {against}")
        result["reference"] = {"path": str(against), **measure(rg, rcfg, repeats)}
        result["ratios"] = compare({k: v for k, v in result["generator"].items() if k != "path"},
                                   {k: v for k, v in result["reference"].items() if k != "path"})
    result["threads"] = {"torch": torch.get_num_threads()}
    return result


def export(path: str | Path, format: str, out: str | Path, int8: bool = False, calibration: int | None = None,
           overwrite: bool = False, fid_n: int | None = None) -> dict:
    """Export a generator directory to ONNX (fp32, or int8 with ``calibration`` latents) or TorchScript, checked
    for parity before it is written; returns the export's report."""
    from gantransfer.deploy.export import export_generator
    return export_generator(path, format, out, int8=int8, calibration=calibration, overwrite=overwrite, fid_n=fid_n)


def bench_backends(paths: list[str | Path], against: str | Path | None = None, backends: list[str] | None = None,
                   batches: list[int] | None = None, threads: list[int] | None = None, repeats: int = 10,
                   rounds: int = 3) -> dict:
    """Latency, throughput, memory and achieved GFLOP/s per backend, batch and thread count, as ratios against
    ``against`` (the teacher) in eager mode, measured in the same run."""
    from gantransfer.deploy.grid import bench_grid
    return bench_grid([str(p) for p in paths], None if against is None else str(against), backends, batches,
                      threads, repeats, rounds)
