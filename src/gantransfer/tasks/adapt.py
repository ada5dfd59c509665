"""``gantransfer adapt``: a generator for a new domain from a few images, transferred from pretrained sources.

Setup only; the one engine trains. Methods: ``finetune`` (G and D from the source), ``freezed`` (the first K
discriminator blocks frozen), ``l2sp`` (fine-tune with an L2 pull towards the source weights), ``minegan`` (a
miner per source steers it: stage one trains the miners alone, stage two miners and generators together; several
sources get a learned selector) and ``scratch`` (the source's architecture, freshly initialised: the baseline).
DiffAugment combines with each. A held-out split picks the best step; the test split is used only at the end.
"""
from __future__ import annotations

import copy
import dataclasses
import warnings
from pathlib import Path

import torch

from gantransfer.config import AdaptConfig
from gantransfer.data import load_dataset
from gantransfer.data.base import Dataset
from gantransfer.data.transforms import seeded_subset
from gantransfer.engine.loop import Engine, EngineConfig, Phase, resolve_device
from gantransfer.errors import ConfigError, DataError
from gantransfer.io import write_json
from gantransfer.losses.augment import diff_augment
from gantransfer.losses.regularizers import L2SP
from gantransfer.models.registry import GeneratorConfig, build_discriminator, build_generator
from gantransfer.models.store import save_generator
from gantransfer.tasks.gan import gan_phases
from gantransfer.tasks.rundir import prepare_run_dir, write_run_config
from gantransfer.tasks.samplers import RealDataSampler
from gantransfer.tasks.train import gan_training_task
from gantransfer.teachers import Teacher, load_teacher

FREEZED_DEFAULT = 2
HELD_OUT_SEED = 7  # picks the held-out images (and the memorisation check's real images); fixed across runs


def target_splits(cfg: AdaptConfig, resolution: int, channels: int) -> tuple[Dataset, Dataset | None, Dataset | None]:
    """(the few training images, held-out training-split images outside them, the test split), converted to the
    source's resolution and channels (with a warning when that changes them)."""
    full = load_dataset(cfg.data, "train", classes=cfg.classes, data_dir=cfg.data_dir)
    if full.kind != "image":
        raise DataError(f"--data {cfg.data} holds 2-D points; adapt works on images")
    if full.sample_shape != (channels, resolution, resolution):
        warnings.warn(f"target images are {full.sample_shape[0]}x{full.sample_shape[1]}x{full.sample_shape[2]}; "
                      f"converted to the source's {channels}x{resolution}x{resolution}")
        full = load_dataset(cfg.data, "train", classes=cfg.classes, data_dir=cfg.data_dir, resolution=resolution,
                            channels=channels)
    keep = seeded_subset(len(full), cfg.limit, cfg.seed) if cfg.limit else torch.arange(len(full))
    chosen = torch.zeros(len(full), dtype=torch.bool)
    chosen[keep] = True
    pick = lambda mask: dataclasses.replace(full, x=full.x[mask], y=full.y[mask])  # noqa: E731
    train = pick(chosen)
    rest = (~chosen).nonzero().flatten()  # a seeded subset, not the first ones: files may be sorted by class
    rest = rest[seeded_subset(len(rest), cfg.held_out, HELD_OUT_SEED)] if cfg.held_out > 0 and len(rest) else rest[:0]
    held = pick(rest) if len(rest) >= 10 else None
    try:
        test = load_dataset(cfg.data, "test", classes=cfg.classes, data_dir=cfg.data_dir, resolution=resolution,
                            channels=channels)
    except DataError:
        test = None
    return train, held, test if test is not None and len(test) >= 10 else None


def sources_of(cfg: AdaptConfig, device: torch.device) -> list[Teacher]:
    sources = [load_teacher(p, device) for p in cfg.sources]
    for p, s in zip(cfg.sources, sources):
        if s.config.kind != "image":
            raise ConfigError(f"source {p} makes 2-D points; adapt works on image generators")
    if cfg.method == "minegan" and any(s.config.num_classes for s in sources):
        raise ConfigError("minegan steers unconditional sources; this source is class-conditional")
    shapes = {(s.config.resolution, s.config.channels) for s in sources}
    if len(shapes) > 1:
        raise ConfigError(f"minegan sources must make images of one shape; got {sorted(shapes)}")
    return sources


def adapt_models(cfg: AdaptConfig, sources: list[Teacher]) -> tuple[torch.nn.Module, GeneratorConfig, torch.nn.Module]:
    """The trainable generator, its config and the discriminator, as the method says."""
    src = sources[0]
    scfg = dataclasses.replace(src.config, num_classes=0 if cfg.method == "minegan" else src.config.num_classes,
                               dataset=cfg.data, meta={"sources": [s.source for s in sources], "method": cfg.method})
    if cfg.method == "scratch":
        g = build_generator(scfg)
    elif cfg.method == "minegan":
        latent = max(s.config.latent_dim for s in sources) + (1 if len(sources) > 1 else 0)
        scfg = dataclasses.replace(scfg, latent_dim=latent, sources=[s.config.to_dict() for s in sources])
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
        d = build_discriminator(dataclasses.replace(src.config, sources=[]))
    return g, scfg, d.train().requires_grad_(True)


def generator_param_groups(g: torch.nn.Module, cfg: AdaptConfig, mined_only: bool = False) -> list[dict]:
    """Optimizer groups for G: its parameters at ``--lr`` (only the miners' with ``mined_only``), and a learned
    selector's logits at ``--selector-lr`` (at ``--lr`` they would move too little to choose a source)."""
    rest = [p for n, p in g.named_parameters() if n != "selector" and not (mined_only and n.startswith("generators."))]
    groups = [{"params": rest}]
    if isinstance(getattr(g, "selector", None), torch.nn.Parameter):
        groups.append({"params": [g.selector], "lr": cfg.selector_lr})
    return groups


def discriminator_params(cfg: AdaptConfig, d: torch.nn.Module) -> list[torch.nn.Parameter]:
    """The discriminator's trained parameters: all, or all but the first ``freeze_d`` blocks."""
    k = cfg.freeze_d if cfg.freeze_d is not None else (FREEZED_DEFAULT if cfg.method == "freezed" else 0)
    blocks = getattr(d, "blocks", None)
    if k and blocks is None:
        raise ConfigError("--freeze-d needs a DCGAN discriminator (blocks)")
    if k and k > len(blocks):
        raise ConfigError(f"--freeze-d {k}: the discriminator has {len(blocks)} blocks (and a head, always "
                          f"trained); freeze at most {len(blocks)}")
    frozen = {id(p) for b in list(blocks or [])[:k] for p in b.parameters()}
    return [p for p in d.parameters() if id(p) not in frozen]


def adapt(config: AdaptConfig, resume: bool = False) -> Path:
    """Adapt ``config.sources`` to the target images; returns the run directory."""
    cfg = config
    cfg.validate()
    device = resolve_device(cfg.device)
    sources = sources_of(cfg, device)
    src = sources[0].config
    train_set, held, test = target_splits(cfg, src.resolution, src.channels)
    if cfg.batch_size > len(train_set):
        warnings.warn(f"batch size {cfg.batch_size} is larger than the {len(train_set)} target images; "
                      f"using batches of {len(train_set)}")
    resolved = dataclasses.asdict(cfg)
    torch.manual_seed(cfg.seed)
    g, gcfg, d = adapt_models(cfg, sources)
    g_opt = torch.optim.Adam(generator_param_groups(g, cfg), lr=cfg.lr, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(discriminator_params(cfg, d), lr=cfg.lr, betas=(0.5, 0.999))
    run = prepare_run_dir(cfg.out, resolved, resume)  # only once the setup is known to work
    extra_g, extra_d = [], []
    if cfg.method == "l2sp" and cfg.l2sp > 0:
        extra_g, extra_d = [L2SP(g, cfg.l2sp)], [L2SP(d, cfg.l2sp)]
    phases = gan_phases(g, d, g_opt, d_opt, cfg.loss, cfg.r1, extra_g_terms=extra_g,
                        augment=diff_augment(cfg.diffaugment), extra_d_terms=extra_d)
    optimizers = {"G": g_opt, "D": d_opt}
    if cfg.method == "minegan":  # stage one: the miners (and selector) alone; stage two: everything
        stage_one = cfg.miner_steps if cfg.miner_steps is not None else cfg.steps // 4
        m_opt = torch.optim.Adam(generator_param_groups(g, cfg, mined_only=True), lr=cfg.lr, betas=(0.5, 0.999))
        optimizers["M"] = m_opt
        g_phase = phases[1]
        phases = [phases[0], Phase("G", m_opt, g_phase.terms, g_phase.providers, until=stage_one),
                  Phase("G", g_opt, g_phase.terms, g_phase.providers, start=stage_one)]
    sampler = RealDataSampler(train_set, cfg.batch_size, gcfg.latent_dim, cfg.seed, gcfg.num_classes > 0)
    dcfg = {"kind": "discriminator", "width": src.width, "generator": dataclasses.replace(src, sources=[]).to_dict()}
    best = {"fid": float("inf"), "step": None}

    def held_out_eval(snapshot, step: int) -> dict[str, float]:
        from gantransfer.metrics.evaluate import image_metrics
        from gantransfer.metrics.fid import gaussian_stats
        from gantransfer.models.sampling import generate
        s = snapshot.at(step)
        x, _ = generate(s, gcfg, cfg.eval_n, seed=0, device=device)
        feats = protocol.features(held)
        mu, sigma = gaussian_stats(feats)
        res = image_metrics(x, protocol.classifier, {"features": feats, "labels": held.y, "mu": mu, "sigma": sigma},
                            [], f"{protocol.classifier.cfg.protocol}/held-out", 0)["metrics"]
        fid = next(v for k, v in res.items() if k.startswith("fid/"))
        if fid < best["fid"]:
            best.update(fid=fid, step=step)
            save_generator(s, dataclasses.replace(gcfg, meta={**gcfg.meta, "train_steps": step, "held_out_fid": fid}),
                           run / "best" / "generator")
        logged = {"eval/held_out_fid": fid, "eval/best_step": float(best["step"])}
        if hasattr(s, "selector"):  # several sources: the selector's choice in the evaluated generator
            logged.update({f"eval/source_p@{i}": float(p) for i, p in enumerate(s.source_probabilities())})
        return logged

    protocol = HeldOutProtocol(cfg.data, device) if cfg.eval_every and held is not None else None
    if cfg.eval_every and protocol is None:
        warnings.warn("no held-out protocol (no shipped classifier for this data set, or too few held-out images); "
                      "the last step is kept, not the best")
    task = gan_training_task(gcfg, dcfg, {"G": g, "D": d}, optimizers, phases, sampler, resolved, cfg.seed,
                             held_out_eval if protocol is not None else None)
    engine_cfg = EngineConfig.from_task_config(cfg)
    engine_cfg.eval_every = cfg.eval_every if protocol is not None else 0
    engine = Engine(task, engine_cfg, run)
    write_run_config(run, "adapt", resolved, {"generator": gcfg.to_dict(), "train_samples": len(train_set)})
    engine.fit(resume=resume)
    write_json(run / "eval.json", final_evaluation(run, cfg, train_set, test, device, best))
    return run


class HeldOutProtocol:
    """The shipped classifier of the target data set, for held-out FIDs (features cached per data set)."""

    def __init__(self, dataset: str, device: torch.device) -> None:
        from gantransfer.metrics.classifier import load_classifier
        self.classifier = load_classifier(dataset, device)
        self._cache: dict[int, torch.Tensor] = {}

    def features(self, data: Dataset) -> torch.Tensor:
        from gantransfer.metrics.classifier import extract
        if id(data) not in self._cache:
            self._cache[id(data)] = extract(self.classifier, data.as_float())[0]
        return self._cache[id(data)]


def final_evaluation(run: Path, cfg: AdaptConfig, train_set: Dataset, test: Dataset | None, device: torch.device,
                     best: dict) -> dict:
    """Against the test split: the protocol's metrics and the memorisation check, for the kept generator (the best
    held-out step when there was one, else the last)."""
    from gantransfer.metrics.memorisation import memorisation
    from gantransfer.models.sampling import generate
    from gantransfer.models.store import load_generator
    kept = run / "best" if best["step"] is not None else run
    gen, kcfg = load_generator(kept, device)
    last_step = int(load_generator(run, device)[1].meta.get("train_steps", 0))
    result: dict = {"kept": str(kept / "generator"), "best_step": best["step"], "best_held_out_fid": best["fid"]
                    if best["step"] is not None else None, "last_step": last_step,
                    "went_past_best": best["step"] is not None and last_step > best["step"],
                    "train_images": len(train_set)}
    if isinstance(gen, torch.nn.Module) and hasattr(gen, "source_probabilities"):
        result["source_probabilities"] = gen.source_probabilities().tolist()
    if test is None:
        return result
    x, _ = generate(gen, kcfg, cfg.eval_n, seed=1, device=device)
    real = test.as_float()[seeded_subset(len(test), cfg.eval_n, HELD_OUT_SEED)]  # a mix of classes, as above
    result["memorisation"] = memorisation(x, train_set.as_float(), real)
    from gantransfer.metrics.classifier import classifier_dir
    if (classifier_dir(cfg.data) / "config.json").is_file():
        from gantransfer.metrics.evaluate import evaluate_generator
        res = evaluate_generator(gen, kcfg, cfg.data, cfg.eval_n, seed=1, classes=cfg.classes, device=device)
        result["test"] = res["metrics"]
    return result
