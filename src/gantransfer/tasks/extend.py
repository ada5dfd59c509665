"""``gantransfer extend``: a generator learns new classes (or a new modality) from a base, without forgetting.

Setup only; the runner and the engine train, ``metrics/forgetting.py`` measures. The base's label space grows
(``tasks/extend_labels.py``, ``models/growth.py``: old rows kept, new ones from the old ones' mean plus noise;
an unconditional base becomes conditional on old-vs-new), and so does its discriminator. Methods, all with the
same budget (``--steps``, ``--batch-size``):

- ``replay`` (default, data-free): a frozen copy of the base makes targets for the old labels on the same
  latents, matched with distillation's terms (pixel, perceptual, hidden features), while an adversarial term
  learns the new data; the base's images are the real side of the discriminator for old labels (real ones with
  ``--old-data``);
- ``finetune``: the new data alone (the naive baseline, which forgets);
- ``joint``: the real data of every label so far (the upper bound; needs ``--old-data``);
- ``ewc``: the new data alone, with elastic weight consolidation towards the base (``losses/anchoring.py``).
"""
from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Any

import torch

from gantransfer.config import ExtendConfig
from gantransfer.data import load_dataset
from gantransfer.data.base import Dataset
from gantransfer.devices import resolve_device
from gantransfer.engine.optim import discriminator_adam, generator_adam
from gantransfer.errors import ConfigError, DataError
from gantransfer.image_space import default_resolution
from gantransfer.io import read_json
from gantransfer.losses.anchoring import EWC, fisher_diagonal
from gantransfer.losses.replay import FeatureAlignment
from gantransfer.models.growth import grow_into
from gantransfer.models.config import DiscriminatorConfig, build_discriminator, build_generator
from gantransfer.tasks.extend_labels import LabelPlan, base_origins, plan_labels
from gantransfer.tasks.extend_sampler import ExtendSampler
from gantransfer.tasks.gan import gan_phases
from gantransfer.tasks.matching import matching_terms, resolve_perceptual
from gantransfer.tasks.runner import RunPlan, execute
from gantransfer.tasks.samplers import RealDataSampler
from gantransfer.teachers import Teacher, load_teacher


def check_paths(base: str, out: str) -> None:
    """The run may not write into the base, nor the base lie inside the run (``--overwrite`` would remove it)."""
    b, o = Path(base).resolve(), Path(out).resolve()
    if b == o or o in b.parents or b in o.parents:
        raise ConfigError(f"--out {out} and --base {base} overlap; the base is never written to. Choose another --out")


def load_base(cfg: ExtendConfig, device: torch.device) -> Teacher:
    """The base generator (frozen), refused when it cannot take labels."""
    base = load_teacher(cfg.base, device)
    bcfg = base.config
    if bcfg.kind != "image":
        raise ConfigError(f"base {cfg.base} makes 2-D points; extend works on image generators")
    if not bcfg.family.capabilities.labels:
        raise ConfigError(f"base {cfg.base} is a {bcfg.arch} generator, a family without labels; extend grows a "
                          "label space (dcgan, stylegan2)")
    if bcfg.num_classes == 0 and bcfg.arch != "dcgan":
        raise ConfigError(f"base {cfg.base} is an unconditional {bcfg.arch} generator; converting it to a "
                          "conditional one is built for dcgan only. Extend a class-conditional base instead")
    if bcfg.num_classes == 0 and getattr(bcfg.options, "mixture", None):
        raise ConfigError(f"base {cfg.base} is a fused unconditional student (a mixture of teachers); extend a "
                          "conditional generator instead")
    if bcfg.fusion is not None and bcfg.num_classes:
        warnings.warn(f"base {cfg.base} is a fused student: its labels are kept as they are ({bcfg.class_names})")
    return base


def load_new_data(cfg: ExtendConfig, resolution: int, channels: int) -> Dataset:
    """The new images at the base's resolution and channels (converted, with a warning saying so)."""
    native = load_dataset(cfg.data, "test", classes=cfg.classes, data_dir=cfg.data_dir)
    if native.kind != "image":
        raise DataError(f"{cfg.data} holds 2-D points; the base makes images")
    size = native.meta.get("native_resolution") or native.x.shape[-1]
    if default_resolution(size) != resolution or native.x.shape[1] != channels:
        warnings.warn(f"the new data ({cfg.data}: {native.x.shape[1]} channel(s), {size}x{size}) is converted to "
                      f"the base's {channels} channel(s) at {resolution}x{resolution}")
    data = load_dataset(cfg.data, "train", classes=cfg.classes, limit=cfg.limit, seed=cfg.seed,
                        resolution=resolution, channels=channels, data_dir=cfg.data_dir)
    if len(data) < 2:
        raise DataError(f"{cfg.data} has {len(data)} image(s) after --classes/--limit; at least 2 are needed")
    return data


def relabelled(data: Dataset, mapping: dict[int, int]) -> Dataset:
    """``data`` with its class ids replaced by the generator's label ids."""
    lut = torch.full((max(mapping) + 1,), -1, dtype=torch.long)
    for c, label in mapping.items():
        lut[c] = label
    return dataclasses.replace(data, y=lut[data.y])


def old_real_data(cfg: ExtendConfig, plan: LabelPlan, resolution: int, channels: int) -> Dataset | None:
    """The old labels' real images from ``--old-data``, labelled with their label ids; every old label must be
    covered."""
    if not cfg.old_data:
        return None
    olds = [plan.origin(k) for k in plan.old_labels]
    missing = [o for o in olds if o.dataset not in cfg.old_data]
    if missing:
        raise ConfigError("--old-data has no data for old label(s) " + ", ".join(
            f"{o.label} {o.name!r} (from {o.dataset})" for o in missing) + f"; add {sorted({o.dataset for o in missing})} "
            "to --old-data")
    xs, ys = [], []
    for name in dict.fromkeys(o.dataset for o in olds):
        mine = [o for o in olds if o.dataset == name]
        classes = None if any(o.classes is None for o in mine) else sorted({c for o in mine for c in o.classes})
        data = load_dataset(name, "train", classes=classes, resolution=resolution, channels=channels,
                            data_dir=cfg.data_dir)
        if len(mine) == 1 and mine[0].classes is None:
            y = torch.full_like(data.y, mine[0].label)
        else:
            y = relabelled(data, {c: o.label for o in mine for c in o.classes}).y
        xs.append(data.x), ys.append(y)
    return Dataset("old-data", torch.cat(xs), torch.cat(ys), [], meta={"sets": list(cfg.old_data)})


def grown_discriminator(base: Teacher, plan: LabelPlan, seed: int) -> tuple[torch.nn.Module, DiscriminatorConfig]:
    """The base's discriminator with its label space grown, or a fresh one when none is saved beside it."""
    gcfg = plan.config
    if base.discriminator is not None and base.discriminator_config is not None:
        dcfg = dataclasses.replace(base.discriminator_config, num_classes=gcfg.num_classes)
        d = build_discriminator(dcfg)
        grow_into(d, base.discriminator.state_dict(), gcfg.num_classes, [] if plan.converted else plan.old_labels,
                  plan.new_labels, seed)
        return d, dcfg
    warnings.warn(f"base {base.source} has no discriminator saved beside it; a fresh one is trained")
    dcfg = DiscriminatorConfig(arch=gcfg.arch, resolution=gcfg.resolution, channels=gcfg.channels,
                               width=gcfg.width / 2, num_classes=gcfg.num_classes)
    return build_discriminator(dcfg), dcfg


def base_measures(cfg: ExtendConfig, base: Teacher, device: torch.device) -> dict[str, Any]:
    """The base's per-label measures: from its own eval.json when it is an extend run measured alike, else now."""
    from gantransfer.metrics.forgetting import label_measures
    recorded = Path(cfg.base) / "eval.json"
    if recorded.is_file():
        ev = read_json(recorded, "evaluation")
        if isinstance(ev, dict) and ev.get("eval_n") == cfg.eval_n and ev.get("seed") == cfg.seed and "labels" in ev \
                and all("protocols" in m for m in ev["labels"].values() if m.get("protocol")):  # every protocol
            return ev["labels"]
    origins, converted = base_origins(base.config)
    module = base.module
    if converted:  # the unconditional base ignores the label
        class _Ignore(torch.nn.Module):
            def forward(self, z, labels=None):
                return module(z, None)
        module = _Ignore()
    return label_measures(module, base.config, origins, cfg.eval_n, cfg.seed, device)


def extend(config: ExtendConfig, resume: bool = False, overwrite: bool = False) -> Path:
    """Extend ``config.base`` with the new data in ``config.data``; returns the run directory."""
    cfg = config
    cfg.validate()
    check_paths(cfg.base, cfg.out)
    weights = cfg.term_weights
    device = resolve_device(cfg.device)
    base = load_base(cfg, device)
    bcfg = base.config
    data = load_new_data(cfg, bcfg.resolution, bcfg.channels)
    step_info = {"data": cfg.data, "classes": cfg.classes, "as_class": cfg.as_class, "method": cfg.method,
                 "steps": cfg.steps}
    plan = plan_labels(bcfg, cfg.base, cfg.data, data, cfg.as_class, step_info)
    step_info["labels"] = plan.new_labels
    for note in plan.notes:
        warnings.warn(note)
    gcfg = plan.config
    try:
        gcfg.validate()
    except ValueError as e:
        raise ConfigError(str(e)) from None
    old_data = old_real_data(cfg, plan, bcfg.resolution, bcfg.channels) if cfg.method in ("replay", "joint") \
        else None
    resolved = dataclasses.asdict(cfg)
    torch.manual_seed(cfg.seed)
    g = build_generator(gcfg)
    grown = grow_into(g, base.module.state_dict(), gcfg.num_classes, [] if plan.converted else plan.old_labels,
                      plan.new_labels, cfg.seed)
    g = g.to(device).train()
    d, dcfg = grown_discriminator(base, plan, cfg.seed)
    d = d.to(device).train().requires_grad_(True)
    g_opt, d_opt = generator_adam(g.parameters(), cfg), discriminator_adam(d.parameters(), cfg)

    batch = cfg.batch_size or 64
    share = cfg.old_share or len(plan.old_labels) / (len(plan.old_labels) + len(plan.new_labels))
    n_old = min(max(1, round(batch * share)), batch - 1) if cfg.method in ("replay", "joint") else 0
    new_sampler = RealDataSampler(relabelled(data, plan.new_map), batch - n_old, gcfg.latent_dim, cfg.seed, True)
    old_sampler = None if old_data is None else RealDataSampler(old_data, n_old, gcfg.latent_dim, cfg.seed + 1, True)
    terms, providers, with_features, notes = [], {}, False, list(plan.notes)
    if cfg.method == "replay":
        with_features = weights.get("feature", 0) > 0
        if with_features and not base.capabilities.feature_taps:
            raise ConfigError(f"the feature term needs a base whose family exposes its hidden layers; {bcfg.arch} "
                              "does not. Drop feature= from --terms")
        net = cfg.perceptual_net
        if weights.get("perceptual", 0) > 0 and net == "discriminator" and base.discriminator is None:
            net = "classifier"
        if weights.get("perceptual", 0) > 0 and net == "classifier":
            notes.append(f"the perceptual term uses the {bcfg.dataset} protocol classifier, which also grades the "
                         "old labels: their accuracy and FID are measured with a network a loss used")
        network = resolve_perceptual(net, bcfg.dataset, base.discriminator)
        terms, providers = matching_terms(weights, g, lambda: network.features(base.discriminator, device))
        providers["student"] = lambda ctx: ctx["fake"][:len(ctx["teacher"])]  # the old labels' rows come first
        if with_features:
            terms.append(FeatureAlignment(weights["feature"]))
            providers["fake_pair"] = lambda ctx: g.forward_features(ctx["z"], ctx["labels"])
            providers["fake"] = lambda ctx: ctx["fake_pair"][0]
            providers["student_features"] = lambda ctx: [f[:len(ctx["teacher"])] for f in ctx["fake_pair"][1]]
    elif cfg.method == "ewc" and cfg.ewc > 0:
        old = torch.tensor(plan.old_labels)

        def draw(rng: torch.Generator, k: int) -> tuple[torch.Tensor, torch.Tensor]:
            z = torch.randn(k, gcfg.latent_dim, generator=rng).to(device)
            return z, old[torch.randint(len(old), (k,), generator=rng)].to(device)
        terms = [EWC(g, fisher_diagonal(g, draw, cfg.fisher_n, batch, cfg.seed), cfg.ewc)]
    base_for_sampler = base if cfg.method == "replay" else None
    sampler = ExtendSampler(new_sampler, n_old, plan.old_labels, base_for_sampler, bcfg.num_classes > 0,
                            old_sampler, with_features, gcfg.latent_dim)
    phases = gan_phases(g, d, g_opt, d_opt, cfg.adversarial_loss, cfg.r1, extra_g_terms=terms,
                        extra_providers=providers)

    def final(run: Path) -> dict[str, Any] | None:
        if not cfg.eval_n:
            return None
        from gantransfer.metrics.forgetting import label_measures, write_report
        from gantransfer.models.store import load_generator
        g_out, out_cfg = load_generator(run / "generator", device)
        before = base_measures(cfg, base, device)
        after = label_measures(g_out, out_cfg, out_cfg.extension.labels, cfg.eval_n, cfg.seed, device)
        k = len(out_cfg.extension.steps)
        history = [{"step": k - 1, "labels": before}, {"step": k, "labels": after}]
        table = write_report(history, run / "report", f"extend {cfg.method}: {cfg.base} + {cfg.data}")
        return {"method": cfg.method, "eval_n": cfg.eval_n, "seed": cfg.seed, "labels": after, "base": before,
                "summary": table["summary"][-1], "notes": notes}

    plan_out = RunPlan(command="extend", settings=cfg, resolved=resolved, generator=gcfg,
                       modules={"G": g, "D": d}, optimizers={"G": g_opt, "D": d_opt}, phases=phases, sampler=sampler,
                       config_key="extend_config", discriminator=dcfg, final=final,
                       run_info={"base": cfg.base, "old_labels": plan.old_labels, "new_labels": plan.new_labels,
                                 "converted": plan.converted, "old_per_batch": n_old, "grown_weights": grown,
                                 "notes": notes, "train_samples": len(data)})
    return execute(plan_out, cfg.out, resume, overwrite)
