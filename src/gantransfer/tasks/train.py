"""``gantransfer train``: a GAN from scratch on a data set, on the one engine."""
from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import torch

from gantransfer.config import TrainConfig
from gantransfer.data import load_dataset
from gantransfer.data.base import Dataset
from gantransfer.engine.loop import Engine, EngineConfig, TrainingTask
from gantransfer.errors import ConfigError, DataError
from gantransfer.models.registry import GeneratorConfig, build_discriminator, build_generator
from gantransfer.models.sampling import RecalibratedSnapshot, draw_inputs
from gantransfer.models.store import save_generator, save_module
from gantransfer.report.grid import save_samples
from gantransfer.tasks.gan import gan_phases
from gantransfer.tasks.rundir import prepare_run_dir, write_run_config
from gantransfer.tasks.samplers import RealDataSampler


def resolve_train_config(cfg: TrainConfig) -> TrainConfig:
    """Fill the defaults that depend on the data kind (images or 2-D points)."""
    points = cfg.data in ("ring8", "grid25")
    # points: R1, a 2-D latent and a fast learning rate cover all 8 ring modes in 600 steps; conditional images:
    # without R1 and a half-width discriminator the DCGAN collapsed within classes (docs/results.md)
    regularised = points or cfg.conditional
    defaults = {"arch": "mlp" if points else "dcgan", "latent_dim": 2 if points else 100,
                "lr": 3e-3 if points else 2e-4, "batch_size": 256 if points else 64,
                "r1": 1.0 if regularised else 0.0, "betas": [0.0, 0.9] if points else [0.5, 0.999],
                "d_width": cfg.width / 2 if cfg.conditional and not points else None}
    out = dataclasses.replace(cfg, **{k: v for k, v in defaults.items() if getattr(cfg, k) is None})
    if points and out.arch != "mlp":
        raise ConfigError(f"data set {cfg.data} holds 2-D points: use --arch mlp (or leave --arch out)")
    if not points and out.arch == "mlp":
        raise ConfigError(f"data set {cfg.data} holds images: use --arch dcgan (or leave --arch out)")
    return out


def generator_config_for(cfg: TrainConfig, data) -> GeneratorConfig:
    """The generator architecture that fits data set ``data`` under ``cfg``."""
    classes = sorted(set(data.y.tolist()))
    gcfg = GeneratorConfig(
        arch=cfg.arch, latent_dim=cfg.latent_dim,
        resolution=0 if data.kind == "points" else data.sample_shape[-1],
        channels=data.sample_shape[0], width=cfg.width,
        num_classes=data.num_classes if cfg.conditional else 0, class_names=list(data.class_names),
        dataset=cfg.data, meta={"classes": classes, "data_dir": cfg.data_dir})
    try:
        gcfg.validate()
    except ValueError as e:
        raise ConfigError(str(e)) from None
    return gcfg


def gan_training_task(gcfg: GeneratorConfig, dcfg: dict, modules: dict, optimizers: dict, phases: list,
                      sampler, resolved: dict, seed: int, evaluate=None) -> TrainingTask:
    """A generator/discriminator task with an EMA generator: export (generator/ and discriminator/ at every
    checkpoint), preview grids, and ``evaluate(snapshot, step)`` on the recalibrated EMA when given."""
    preview_inputs = draw_inputs(gcfg, 64, torch.Generator().manual_seed(1234))
    snapshot = RecalibratedSnapshot(lambda: modules["G_ema"], gcfg, seed=seed)

    def export(run_dir: Path, step: int) -> None:
        meta = {**gcfg.meta, "train_steps": step, "train_config": resolved}
        save_generator(snapshot.at(step), dataclasses.replace(gcfg, meta=meta), run_dir / "generator")
        save_module(modules["D"], dcfg, run_dir / "discriminator")

    def preview(run_dir: Path, step: int) -> None:
        g_ema = snapshot.at(step)
        device = next(g_ema.parameters()).device
        z, y = preview_inputs
        with torch.inference_mode():
            x = g_ema(z.to(device), None if y is None else y.to(device))
        save_samples(x, run_dir / "samples" / f"step-{step:07d}.png", nrow=8, title=f"step {step}")

    return TrainingTask(modules=modules, optimizers=optimizers, phases=phases, sampler=sampler,
                        ema=("G", "G_ema"), export=export, preview=preview,
                        evaluate=(lambda step: evaluate(snapshot, step)) if evaluate else None)


def train(config: TrainConfig, resume: bool = False, dataset: Dataset | None = None,
          extra_meta: dict | None = None) -> Path:
    """Train a GAN as ``config`` says; returns the run directory (its ``generator/`` is the result).

    ``dataset`` replaces loading ``config.data`` (which then only names the evaluation protocol), and
    ``extra_meta`` is recorded in the generator's config (the brute-force fusion baseline uses both)."""
    cfg = resolve_train_config(config)
    resolved = dataclasses.asdict(cfg)
    run = prepare_run_dir(cfg.out, resolved, resume)
    data = dataset if dataset is not None else load_dataset(
        cfg.data, "train", classes=cfg.classes, limit=cfg.limit, seed=cfg.seed, resolution=cfg.resolution,
        channels=cfg.channels, data_dir=cfg.data_dir)
    if len(data) < 2:
        raise DataError(f"data set {cfg.data} has {len(data)} sample(s) after --classes/--limit; at least 2 are needed")
    if cfg.batch_size > len(data):
        warnings.warn(f"batch size {cfg.batch_size} is larger than the {len(data)} training samples; "
                      f"using batches of {len(data)}")
    gcfg = generator_config_for(cfg, data)
    gcfg.meta.update(extra_meta or {})
    if cfg.eval_every and data.kind == "image":
        from gantransfer.metrics.classifier import load_classifier
        load_classifier(cfg.data)  # fail now, not mid-run, when the data set has no evaluation protocol
    torch.manual_seed(cfg.seed)
    g = build_generator(gcfg)
    d = build_discriminator(gcfg, cfg.d_width)
    betas = tuple(cfg.betas)
    g_opt = torch.optim.Adam(g.parameters(), lr=cfg.lr, betas=betas)
    d_opt = torch.optim.Adam(d.parameters(), lr=cfg.lr, betas=betas)
    sampler = RealDataSampler(data, cfg.batch_size, gcfg.latent_dim, cfg.seed, cfg.conditional)
    dcfg = {"kind": "discriminator", "width": cfg.d_width or cfg.width, "generator": gcfg.to_dict()}

    def periodic_eval(snapshot: RecalibratedSnapshot, step: int) -> dict[str, float]:
        from gantransfer.metrics.evaluate import evaluate_generator
        g_ema = snapshot.at(step)
        res = evaluate_generator(g_ema, gcfg, cfg.data, cfg.eval_n, seed=0,
                                 classes=gcfg.meta.get("data_classes") or gcfg.meta["classes"],
                                 device=next(g_ema.parameters()).device)
        return {f"eval/{k}": v for k, v in res["metrics"].items()}

    task = gan_training_task(gcfg, dcfg, {"G": g, "D": d}, {"G": g_opt, "D": d_opt},
                             gan_phases(g, d, g_opt, d_opt, cfg.loss, cfg.r1), sampler, resolved, cfg.seed,
                             periodic_eval if cfg.eval_every else None)
    engine = Engine(task, EngineConfig.from_task_config(cfg), run)
    write_run_config(run, "train", resolved, {"generator": gcfg.to_dict(), "train_samples": len(data)})
    engine.fit(resume=resume)
    return run

