"""``gantransfer adapt``: a generator for a new domain from a few images, transferred from pretrained sources.

Setup only; the runner and the engine train, ``metrics/held_out.py`` holds the protocol. Methods: ``finetune``
(G and D from the source), ``freezed`` (the first K discriminator blocks frozen), ``l2sp`` (fine-tune with an L2
pull towards the source weights), ``minegan`` (a miner per source steers it: stage one trains the miners alone,
stage two miners and generators together; several sources get a learned selector) and ``scratch`` (the source's
architecture, freshly initialised: the baseline). DiffAugment combines with each.
"""
from __future__ import annotations

import copy
import dataclasses
import warnings
from pathlib import Path

import torch

from gantransfer.config import AdaptConfig
from gantransfer.devices import resolve_device
from gantransfer.engine.loop import Phase
from gantransfer.engine.optim import adam, discriminator_adam, generator_adam
from gantransfer.errors import ConfigError
from gantransfer.losses.augment import diff_augment
from gantransfer.losses.regularizers import L2SP
from gantransfer.metrics.classifier import ships
from gantransfer.data.splits import target_splits
from gantransfer.metrics.held_out import BestStep, HeldOutProtocol, final_evaluation
from gantransfer.models.miner import MinerOptions
from gantransfer.models.config import GeneratorConfig, build_discriminator, build_generator, discriminator_config_for
from gantransfer.tasks.gan import gan_phases
from gantransfer.tasks.runner import RunPlan, execute
from gantransfer.tasks.samplers import RealDataSampler
from gantransfer.teachers import Teacher, load_teacher

FREEZED_DEFAULT = 2


def sources_of(cfg: AdaptConfig, device: torch.device, loaded: list[Teacher] | None = None) -> list[Teacher]:
    """The sources of ``cfg`` (``loaded`` when already read), checked to fit its method."""
    sources = loaded or [load_teacher(p, device) for p in cfg.sources]
    for p, s in zip(cfg.sources, sources):
        if s.config.kind != "image":
            raise ConfigError(f"source {p} {s.config.what_it_makes}; adapt works on noise-to-image generators")
    if cfg.method == "minegan" and any(s.config.num_classes for s in sources):
        raise ConfigError("minegan steers unconditional sources; this source is class-conditional")
    if cfg.method == "minegan" and cfg.miner_space == "w":
        flat = [p for p, s in zip(cfg.sources, sources) if not s.capabilities.mapping_network]
        if flat:
            raise ConfigError(f"--miner-space w steers W after a source's mapping network, but {', '.join(flat)} "
                              "has none (not a stylegan2 generator); use --miner-space z")
    shapes = {(s.config.resolution, s.config.channels) for s in sources}
    if len(shapes) > 1:
        raise ConfigError(f"minegan sources must make images of one shape; got {sorted(shapes)}")
    return sources


def adapt_models(cfg: AdaptConfig, sources: list[Teacher]) -> tuple[torch.nn.Module, GeneratorConfig, torch.nn.Module]:
    """The trainable generator, its config and the discriminator, as the method says."""
    src = sources[0]
    scfg = dataclasses.replace(src.config, num_classes=0 if cfg.method == "minegan" else src.config.num_classes,
                               dataset=cfg.data, trained_classes=None, fusion=None, data_classes=None,
                               label_weights=None, latent_space=None, loss_networks=[],
                               meta={"sources": [s.source for s in sources], "method": cfg.method})
    if cfg.method == "scratch":
        g = build_generator(scfg)
    elif cfg.method == "minegan":
        latent = max(s.config.latent_dim for s in sources) + (1 if len(sources) > 1 else 0)
        scfg = dataclasses.replace(scfg, arch="minegan", latent_dim=latent,
                                   options=MinerOptions(sources=[s.config.to_dict() for s in sources],
                                                        space=cfg.miner_space))
        g = build_generator(scfg)
        for gen, s in zip(g.generators, sources):
            gen.load_state_dict(s.module.state_dict())
    else:
        g = copy.deepcopy(src.module)
    g = g.train().requires_grad_(True)
    if src.discriminator is not None and cfg.method != "scratch":
        d = copy.deepcopy(src.discriminator)
    else:
        if cfg.method != "scratch":
            warnings.warn(f"source {src.source} has no discriminator saved beside it; a fresh one is trained")
        d = build_discriminator(src.config)
    return g, scfg, d.train().requires_grad_(True)


def generator_param_groups(g: torch.nn.Module, cfg: AdaptConfig, mined_only: bool = False) -> list[dict]:
    """Optimizer groups for G: its parameters at ``--lr`` (only the miners' with ``mined_only``), and a learned
    selector's logits at ``--selector-lr`` (at ``--lr`` they would move too little to choose a source)."""
    rest = [p for n, p in g.named_parameters() if n != "selector" and not (mined_only and n.startswith("generators."))]
    groups = [{"params": rest}]
    if isinstance(getattr(g, "selector", None), torch.nn.Parameter):
        groups.append({"params": [g.selector], "lr": cfg.selector_lr})
    return groups


def discriminator_params(cfg: AdaptConfig, d: torch.nn.Module, source: Teacher) -> list[torch.nn.Parameter]:
    """The discriminator's trained parameters: all, or all but the first ``freeze_d`` blocks."""
    k = cfg.freeze_d if cfg.freeze_d is not None else (FREEZED_DEFAULT if cfg.method == "freezed" else 0)
    if k and not source.config.family.capabilities.discriminator_blocks:
        raise ConfigError(f"--freeze-d needs a discriminator made of blocks; {source.config.arch} has none")
    blocks = list(d.blocks) if k else []
    if k > len(blocks):
        raise ConfigError(f"--freeze-d {k}: the discriminator has {len(blocks)} blocks (and a head, always "
                          f"trained); freeze at most {len(blocks)}")
    frozen = {id(p) for b in blocks[:k] for p in b.parameters()}
    return [p for p in d.parameters() if id(p) not in frozen]


def discriminator_config_of(cfg: AdaptConfig, source: Teacher):
    """The config of the discriminator that adapt trains: the source's own (when it is reused), else a fresh one."""
    if cfg.method != "scratch" and source.discriminator_config is not None:
        return source.discriminator_config
    return discriminator_config_for(source.config)


def adapt(config: AdaptConfig, resume: bool = False, overwrite: bool = False) -> Path:
    """Adapt ``config.sources`` to the target images; returns the run directory."""
    cfg = config
    cfg.validate()
    device = resolve_device(cfg.device)
    loaded = [load_teacher(p, device) for p in cfg.sources]
    if any(s.config.is_translator for s in loaded):  # paired examples, not images alone: its own setup
        if len(loaded) > 1:
            raise ConfigError("adapt takes one translator source (--teacher T or --source T); several sources are for "
                              "--method minegan with noise generators")
        from gantransfer.tasks.adapt_translator import adapt_translator
        return adapt_translator(cfg, loaded[0], device, resume, overwrite)
    sources = sources_of(cfg, device, loaded)
    src = sources[0].config
    train_set, held, test = target_splits(cfg, src.resolution, src.channels)
    if cfg.batch_size > len(train_set):
        warnings.warn(f"batch size {cfg.batch_size} is larger than the {len(train_set)} target images; "
                      f"using batches of {len(train_set)}")
    resolved = dataclasses.asdict(cfg)
    torch.manual_seed(cfg.seed)
    g, gcfg, d = adapt_models(cfg, sources)
    g_opt = generator_adam(generator_param_groups(g, cfg), cfg)
    d_opt = discriminator_adam(discriminator_params(cfg, d, sources[0]), cfg)
    extra_g, extra_d = [], []
    if cfg.method == "l2sp" and cfg.l2sp > 0:
        extra_g, extra_d = [L2SP(g, cfg.l2sp)], [L2SP(d, cfg.l2sp)]
    phases = gan_phases(g, d, g_opt, d_opt, cfg.adversarial_loss, cfg.r1, extra_g_terms=extra_g,
                        augment=diff_augment(cfg.diffaugment), extra_d_terms=extra_d)
    optimizers = {"G": g_opt, "D": d_opt}
    if cfg.method == "minegan":  # stage one: the miners (and selector) alone; stage two: everything
        stage_one = cfg.miner_steps if cfg.miner_steps is not None else cfg.steps // 4
        m_opt = adam(generator_param_groups(g, cfg, mined_only=True), cfg.lr, cfg)
        optimizers["M"] = m_opt
        g_phase = phases[1]
        phases = [phases[0], Phase("G", m_opt, g_phase.terms, g_phase.providers, until=stage_one),
                  Phase("G", g_opt, g_phase.terms, g_phase.providers, start=stage_one)]
    shipped = ships(cfg.data)
    protocol = HeldOutProtocol(cfg.data, device) if cfg.eval_every and held is not None and shipped else None
    if cfg.eval_every and protocol is None:
        warnings.warn("no held-out protocol (no shipped classifier for this data set, or too few held-out images); "
                      "the last step is kept, not the best (eval.json ends with data_relative: figures against target "
                      "images the run never trained on)")
    best = BestStep(protocol, held, gcfg, cfg.eval_n, device) if protocol is not None else None
    settings = cfg if protocol is not None else dataclasses.replace(cfg, eval_every=0)
    plan = RunPlan(command="adapt", settings=settings, resolved=resolved, generator=gcfg, modules={"G": g, "D": d},
                   optimizers=optimizers, phases=phases,
                   sampler=RealDataSampler(train_set, cfg.batch_size, gcfg.latent_dim, cfg.seed, gcfg.num_classes > 0),
                   discriminator=discriminator_config_of(cfg, sources[0]), evaluate=best,
                   final=lambda run: final_evaluation(run, cfg.data, cfg.classes, cfg.eval_n, train_set, test, device,
                                                      best, held, sources[0]),
                   run_info={"train_samples": len(train_set)})
    return execute(plan, cfg.out, resume, overwrite)
