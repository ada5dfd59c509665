"""``gantransfer train``: a GAN from scratch on a data set (setup only; the runner and the engine do the rest).
``--task`` picks the setup from the registry (``task_registry.TRAIN_TASKS``): ``gan`` is here, the translators'
in ``pix2pix.py`` and ``cyclegan.py``."""
from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import torch

from gantransfer.config import TrainConfig, train_task
from gantransfer.data import load_dataset
from gantransfer.data.base import Dataset
from gantransfer.engine.optim import discriminator_adam, generator_adam
from gantransfer.errors import ConfigError, DataError
from gantransfer.losses.lazy import regularisation_for
from gantransfer.models.family import family
from gantransfer.registry import resolve
from gantransfer.models.config import (FusionRecord, GeneratorConfig, build_discriminator, build_generator,
                                         discriminator_config_for)
from gantransfer.tasks.gan import gan_phases
from gantransfer.tasks.runner import RunPlan, execute
from gantransfer.tasks.samplers import RealDataSampler


def resolve_train_config(cfg: TrainConfig) -> TrainConfig:
    """Fill the defaults that depend on ``--task`` and the data (the task's own ``resolve``)."""
    try:
        spec = train_task(cfg.task)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    return resolve(spec.resolve)(cfg)


def resolve_gan_config(cfg: TrainConfig) -> TrainConfig:
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
    kind = family(out.arch).kind
    if points and kind != "points":
        raise ConfigError(f"data set {cfg.data} holds 2-D points: use --arch mlp (or leave --arch out)")
    if not points and kind == "points":
        raise ConfigError(f"data set {cfg.data} holds images: use an image family such as --arch dcgan "
                          "(or leave --arch out)")
    return out


def generator_config_for(cfg: TrainConfig, data: Dataset) -> GeneratorConfig:
    """The generator architecture that fits data set ``data`` under ``cfg``."""
    gcfg = GeneratorConfig(
        arch=cfg.arch, latent_dim=cfg.latent_dim,
        resolution=0 if data.kind == "points" else data.sample_shape[-1],
        channels=data.sample_shape[0], width=cfg.width,
        num_classes=data.num_classes if cfg.conditional else 0, class_names=list(data.class_names),
        dataset=cfg.data, trained_classes=sorted(set(data.y.tolist())), options=cfg.arch_options,
        meta={"data_dir": cfg.data_dir})
    try:
        gcfg.validate()
    except ValueError as e:
        raise ConfigError(str(e)) from None
    return gcfg


def train(config: TrainConfig, resume: bool = False, dataset: Dataset | None = None,
          fusion: FusionRecord | None = None, data_classes: list[int] | None = None, command: str = "train",
          overwrite: bool = False) -> Path:
    """Train what ``config.task`` names (a registered ``TrainTask``); returns the run directory (its
    ``generator/`` is the result). ``dataset``, ``fusion`` and ``data_classes`` are for ``--task gan``."""
    try:
        spec = train_task(config.task)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    given = {k: v for k, v in (("dataset", dataset), ("fusion", fusion), ("data_classes", data_classes))
             if v is not None}
    return resolve(spec.run)(config, resume=resume, command=command, overwrite=overwrite, **given)


def train_gan(config: TrainConfig, resume: bool = False, dataset: Dataset | None = None,
              fusion: FusionRecord | None = None, data_classes: list[int] | None = None, command: str = "train",
              overwrite: bool = False) -> Path:
    """Train a GAN as ``config`` says; returns the run directory (its ``generator/`` is the result).

    ``dataset`` replaces loading ``config.data`` (which then only names the evaluation protocol); ``fusion`` and
    ``data_classes`` are recorded in the generator's config (the brute-force fusion baseline uses all three)."""
    cfg = resolve_train_config(config)
    cfg.validate()
    resolved = dataclasses.asdict(cfg)
    data = dataset if dataset is not None else load_dataset(
        cfg.data, "train", classes=cfg.classes, limit=cfg.limit, seed=cfg.seed, resolution=cfg.resolution,
        channels=cfg.channels, data_dir=cfg.data_dir)
    if len(data) < 2:
        raise DataError(f"data set {cfg.data} has {len(data)} sample(s) after --classes/--limit; at least 2 are needed")
    if cfg.batch_size > len(data):
        warnings.warn(f"batch size {cfg.batch_size} is larger than the {len(data)} training samples; "
                      f"using batches of {len(data)}")
    gcfg = generator_config_for(cfg, data)
    if fusion is not None:
        gcfg = dataclasses.replace(gcfg, fusion=fusion, data_classes=data_classes,
                                   label_weights=fusion.weights if gcfg.num_classes else None)
    if cfg.eval_every and data.kind == "image":
        from gantransfer.metrics.classifier import load_classifier
        load_classifier(cfg.data)  # fail now, not mid-run, when the data set has no evaluation protocol
    torch.manual_seed(cfg.seed)
    g = build_generator(gcfg)
    dcfg = discriminator_config_for(gcfg, cfg.d_width)
    if cfg.d_arch_options:  # the user's over those read off the generator's
        dcfg = dataclasses.replace(dcfg, options={**dcfg.options, **cfg.d_arch_options})
    d = build_discriminator(dcfg)
    g_opt, d_opt = generator_adam(g.parameters(), cfg), discriminator_adam(d.parameters(), cfg)

    def periodic_eval(g_ema: torch.nn.Module, step: int, run: Path) -> dict[str, float]:
        from gantransfer.metrics.evaluate import evaluate_generator
        res = evaluate_generator(g_ema, gcfg, cfg.data, cfg.eval_n, seed=0,
                                 classes=gcfg.data_classes or gcfg.trained_classes,
                                 device=next(g_ema.parameters()).device)
        return {f"eval/{k}": v for k, v in res["metrics"].items()}

    def final(run: Path) -> dict:
        """The exported generator under every protocol of the data set (eval.json), with --eval-every."""
        from gantransfer.devices import resolve_device
        from gantransfer.metrics.evaluate import evaluate_generator
        from gantransfer.models.store import load_generator
        device = resolve_device(cfg.device)
        g_out, out_cfg = load_generator(run, device)
        return evaluate_generator(g_out, out_cfg, cfg.data, cfg.eval_n, seed=0,
                                  classes=out_cfg.data_classes or out_cfg.trained_classes, device=device)

    reg = regularisation_for(gcfg, g, d, g_opt, d_opt, cfg.r1)  # families with lazy regularisation (stylegan2)
    phases = gan_phases(g, d, g_opt, d_opt, cfg.adversarial_loss, 0.0 if reg else cfg.r1,
                        extra_providers=reg.providers if reg else None) + (reg.phases if reg else [])
    plan = RunPlan(command=command, settings=cfg, resolved=resolved, generator=gcfg,
                   modules={"G": g, "D": d, **(reg.modules if reg else {})}, optimizers={"G": g_opt, "D": d_opt},
                   phases=phases,
                   sampler=RealDataSampler(data, cfg.batch_size, gcfg.latent_dim, cfg.seed, cfg.conditional),
                   discriminator=dcfg, evaluate=periodic_eval if cfg.eval_every else None,
                   final=final if cfg.eval_every else None,
                   run_info={"train_samples": len(data)})
    return execute(plan, cfg.out, resume, overwrite)
