"""The Python API behind every command."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from gantransfer.errors import ConfigError
from gantransfer.models.config import GeneratorConfig
from gantransfer.models.sampling import generate, sample_classes
from gantransfer.models.store import load_generator
from gantransfer.grid import save_samples


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
    from gantransfer.deploy.opener import open_generator as opener
    return opener(path, for_inference=True)


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


def styled_sample_grid(path: str | Path, out: str | Path, n: int = 64, seed: int = 0,
                       classes: list[int] | None = None, truncation_psi: float = 1.0,
                       noise_mode: str = "random") -> Path:
    """A PNG grid of ``n`` samples with truncation towards the mean W and the given noise mode."""
    from gantransfer.models.stylegan2 import check_noise_mode
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
        if rcfg.is_translator != cfg.is_translator:
            raise ConfigError(f"{path} and {against} are not of one kind (an image-to-image translator and a "
                              "noise-to-image generator); compare translators with translators")
        probe_finite(rg, rcfg, f"generator {against}")
        result["reference"] = {"path": str(against), **measure(rg, rcfg, repeats)}
        result["ratios"] = compare({k: v for k, v in result["generator"].items() if k != "path"},
                                   {k: v for k, v in result["reference"].items() if k != "path"})
    result["threads"] = {"torch": torch.get_num_threads()}
    return result


def export(path: str | Path, format: str, out: str | Path, int8: bool = False, calibration: int | None = None,
           overwrite: bool = False, fid_n: int | None = None, with_example: bool = False) -> dict:
    """Export a generator directory to ONNX (fp32, or int8 with ``calibration`` latents) or TorchScript, checked
    for parity before it is written, with a model card beside it (and, ``with_example``, a standalone sampling
    script); returns the export's report."""
    from gantransfer.deploy.export import export_generator
    from gantransfer.deploy.handoff import check_example, write_handoff
    check_example(out, format, with_example, overwrite)
    if with_example:
        from gantransfer.models.store import load_config
        if load_config(path).is_translator:
            raise ConfigError("--with-example writes a noise sampler; a translator's ONNX file is run as its card "
                              "says (input `input`, output `image`): drop --with-example")
    report = export_generator(path, format, out, int8=int8, calibration=calibration, overwrite=overwrite,
                              fid_n=fid_n, judge=protocol_judge)
    report["written"] = write_handoff(path, out, format, with_example)
    return report


def protocol_judge(g: Any, cfg: GeneratorConfig, n: int, what: str) -> dict[str, Any]:
    """``evaluate_generator`` on ``cfg``'s data set and evaluation classes: how export judges an int8 file."""
    from gantransfer.metrics.evaluate import evaluate_generator
    return evaluate_generator(g, cfg, cfg.dataset, n, classes=cfg.evaluation_classes, desc=what)


def import_generator(file: str | Path, out: str | Path, dataset: str = "", options: dict | None = None) -> Path:
    """Convert a foreign checkpoint into a generator directory (``out/generator``, with its model card);
    ``options``: keyword options of the importer that reads it (pix2pix/CycleGAN: arch, norm, dropout)."""
    from gantransfer.card import write_card
    from gantransfer.models.importers import import_checkpoint
    dest = import_checkpoint(file, out, dataset, options)
    write_card(dest / "generator")
    return dest


def bench_backends(paths: list[str | Path], against: str | Path | None = None, backends: list[str] | None = None,
                   batches: list[int] | None = None, threads: list[int] | None = None, repeats: int = 10,
                   rounds: int = 3) -> dict:
    """Latency, throughput, memory and achieved GFLOP/s per backend, batch and thread count, as ratios against
    ``against`` (the teacher) in eager mode, measured in the same run."""
    from gantransfer.deploy.grid import bench_grid
    return bench_grid([str(p) for p in paths], None if against is None else str(against), backends, batches,
                      threads, repeats, rounds)
