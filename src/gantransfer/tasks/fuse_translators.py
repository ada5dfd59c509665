"""``gantransfer fuse`` of image-to-image translators: one student translator conditioned on a label (which
teacher's mapping to apply), matched to every teacher on the input-domain images of ``--data``.

Setup only, as ``fuse.py`` for noise teachers: the teachers must take the same input kind (``input_kind``); the
student is a translator of the first teacher's family (or ``--student-arch``) at ``--width`` with one label per
teacher (conditional normalisation, ``models/translator_blocks.py``); the matching terms are distillation's
(``translator_terms``, ``matching_terms``; ``adversarial`` with a conditional patch discriminator that also sees the
label); ``FusedInputSampler`` gives every teacher an equal share of each batch; the runner and the engine do the
rest, and ``metrics/translator_fusion.py`` the per-teacher evaluation on held-out inputs.
"""
from __future__ import annotations

import dataclasses
import math
import warnings
from pathlib import Path

import torch

from gantransfer.config import FuseConfig
from gantransfer.data.translator_inputs import InputImages, load_inputs
from gantransfer.engine.loop import Phase
from gantransfer.engine.optim import discriminator_adam, generator_adam
from gantransfer.errors import ConfigError
from gantransfer.grid import save_image_grid
from gantransfer.image_space import convert_images
from gantransfer.losses.distillation import TeacherPixelGap
from gantransfer.models.config import FusionRecord, GeneratorConfig, build_generator
from gantransfer.models.translator_patchgan import PatchDiscriminator
from gantransfer.tasks.default_terms import translator_terms
from gantransfer.tasks.distill_translator import perceptual_features, translator_student
from gantransfer.tasks.gan import gan_phases
from gantransfer.tasks.matching import PerceptualNetwork, loss_network_names, matching_terms
from gantransfer.tasks.runner import RunPlan, execute
from gantransfer.tasks.translator_sampler import FusedInputSampler, label_planes
from gantransfer.teacher_set import teacher_name
from gantransfer.teachers import Teacher

PREVIEW = 8  # inputs shown per teacher in the sample grids


def unique_names(teachers: list[Teacher]) -> list[str]:
    """The teachers' short names (``teacher_name``), numbered when two coincide."""
    names = [teacher_name(t) for t in teachers]
    return names if len(set(names)) == len(names) else [f"{n}#{i}" for i, n in enumerate(names)]


def input_kind(teachers: list[Teacher], names: list[str], size: int = 0) -> int:
    """The image side every teacher is run at (``size``, else their common trained one); ConfigError naming what
    differs between them: input channels, value range or the sizes they can take."""
    differs = []
    cfgs = [t.config for t in teachers]

    def listed(values: list) -> str:
        return ", ".join(f"{n}: {v}" for n, v in zip(names, values))
    if len({c.input_channels for c in cfgs}) > 1:
        differs.append(f"input channels ({listed([c.input_channels for c in cfgs])})")
    if len({tuple(c.data_range) for c in cfgs}) > 1:
        differs.append(f"value range ({listed([list(c.data_range) for c in cfgs])})")
    multiples = [int(getattr(t.module, "multiple", 1)) for t in teachers]
    lcm = math.lcm(*multiples)
    if not size and len({c.resolution for c in cfgs}) > 1:
        differs.append(f"sizes (trained at {listed([c.resolution for c in cfgs])}): give --input-size S, a "
                       f"multiple of {lcm} that all of them take")
    size = size or cfgs[0].resolution
    unfit = [f"{n} takes sides that are multiples of {m}" for n, m in zip(names, multiples) if size % m]
    if unfit and not differs:
        differs.append(f"sizes (at {size}: {'; '.join(unfit)}): give --input-size S, a multiple of {lcm}")
    if differs:
        raise ConfigError("fuse needs translators of one input kind; these differ in " + "; ".join(differs))
    return size


def refuse_noise_settings(cfg: FuseConfig) -> None:
    """The fusion settings that only noise teachers take, refused by name."""
    given = [flag for flag, on in (("--unconditional", cfg.unconditional), ("--labels merge", cfg.labels != "teacher"),
                                   ("--weights", cfg.weights is not None), ("--latent-dim", cfg.latent_dim),
                                   ("--resolution", cfg.resolution), ("--channels", cfg.channels)) if on]
    if given:
        raise ConfigError(f"{', '.join(given)}: not for translator teachers (one label per teacher, every teacher an "
                          "equal share of each batch; the size is --input-size): drop it")


def fused_config(cfg: FuseConfig, teachers: list[Teacher], names: list[str], size: int) -> GeneratorConfig:
    """The student: a translator with one label per teacher, their largest output channel count, at ``size``."""
    channels = max(t.config.channels for t in teachers)
    record = FusionRecord(mode="teacher", teachers=[t.source for t in teachers], teacher_names=list(names),
                          weights=[1 / len(teachers)] * len(teachers),
                          label_map=[{"0": k} for k in range(len(teachers))])
    datasets = {t.config.dataset for t in teachers}
    first = dataclasses.replace(teachers[0], config=dataclasses.replace(teachers[0].config, resolution=size))
    scfg = translator_student(first, cfg.student_arch, cfg.width, None, num_classes=len(teachers),
                              class_names=list(names), channels=channels, fusion=record,
                              dataset=datasets.pop() if len(datasets) == 1 else "")
    scfg.meta = {"teachers": [t.source for t in teachers]}
    return scfg


def fusion_inputs(cfg: FuseConfig, teachers: list[Teacher], size: int) -> InputImages:
    """The input images of ``--data`` (or the data set every teacher records) and the held-out ones."""
    datasets = {t.config.dataset for t in teachers}
    source = cfg.data or (datasets.pop() if len(datasets) == 1 and "" not in datasets else "")
    if not source:
        raise ConfigError("fusing translators needs their input images: --data DIR (a folder) or a built-in data set "
                          "name")
    return load_inputs(source, teachers[0].config.input_channels, size, cfg.eval_n, cfg.input_limit,
                       flag="--data" if cfg.data else "the teachers' data set")


def fuse_translators(cfg: FuseConfig, teachers: list[Teacher], device: torch.device, resume: bool = False,
                     overwrite: bool = False) -> Path:
    """Fuse translator ``teachers`` into one label-conditional student; returns the run directory."""
    refuse_noise_settings(cfg)
    labelled = [t.source for t in teachers if t.config.num_classes]
    if labelled:
        raise ConfigError(f"{', '.join(labelled)} already applies several mappings (a fused translator); fuse its "
                          "teachers instead")
    names = unique_names(teachers)
    size = input_kind(teachers, names, cfg.input_size)
    scfg = fused_config(cfg, teachers, names, size)
    images = fusion_inputs(cfg, teachers, size)
    if len(images.train) < cfg.batch_size:
        warnings.warn(f"only {len(images.train)} training input image(s) for --batch-size {cfg.batch_size}: each "
                      "batch draws with replacement")
    choice = translator_terms(cfg.terms, cfg.perceptual_net, teachers[0], False, cfg.term_weights)
    choice.announce("fuse")
    weights = choice.weights
    net_name, net = perceptual_features(choice.perceptual_net, cfg.teacher_data or scfg.dataset, scfg.channels,
                                        device)
    scfg.loss_networks = loss_network_names(weights, PerceptualNetwork("translator", "", net_name))
    torch.manual_seed(cfg.seed)
    student = build_generator(scfg).to(device)
    k = len(teachers)
    terms, providers = matching_terms(weights, student, net)
    providers["student"] = lambda ctx: student(ctx["input"], ctx["teacher_ids"])
    terms += [TeacherPixelGap(j, name) for j, name in enumerate(names)]
    s_opt = generator_adam(student.parameters(), cfg)
    modules: dict[str, torch.nn.Module] = {"G": student}
    optimizers: dict[str, torch.optim.Optimizer] = {"G": s_opt}
    adv = weights.get("adversarial", 0)
    if adv > 0:  # conditional: input, output and the label's one-hot planes on channels
        d = PatchDiscriminator(scfg.input_channels + scfg.channels + k).to(device)
        d_opt = discriminator_adam(d.parameters(), cfg)
        modules["D"], optimizers["D"] = d, d_opt
        providers["fake"] = lambda ctx: torch.cat([ctx["input"], ctx["student"],
                                                   label_planes(ctx["teacher_ids"], k, ctx["input"])], 1)
        phases = gan_phases(student, d, s_opt, d_opt, "hinge", extra_g_terms=terms, extra_providers=providers,
                            adv_weight=adv)
    else:
        phases = [Phase("G", s_opt, terms, providers)]
    preview_x = (images.held_out if len(images.held_out) else images.train)[:PREVIEW]

    def final(run: Path) -> dict | None:
        from gantransfer.metrics.translator_fusion import evaluate_fused_translator
        save_per_teacher_rows(run, teachers, preview_x, scfg, device)
        if not cfg.eval_n or not len(images.held_out):
            return None
        return evaluate_fused_translator(run, teachers, names, images.held_out, device)

    resolved = {**dataclasses.asdict(cfg), "terms": choice.terms, "perceptual_net": choice.perceptual_net,
                "student_arch": scfg.arch, "input_size": size}
    plan = RunPlan(command="fuse", settings=cfg, resolved=resolved, generator=scfg, modules=modules,
                   optimizers=optimizers, phases=phases,
                   sampler=FusedInputSampler(teachers, images.train, cfg.batch_size, scfg.channels, adv > 0),
                   config_key="fuse_config", preview=per_teacher_preview(teachers, preview_x, scfg, device),
                   final=final,
                   run_info={"teachers": names, "translator": True, "inputs": images.record(),
                             "perceptual_network": net_name if "perceptual" in weights or "gram" in weights else None,
                             "terms_chosen": choice.record()})
    return execute(plan, cfg.out, resume, overwrite)


def per_teacher_rows(teachers: list[Teacher], student: torch.nn.Module, x: torch.Tensor, channels: int,
                     device: torch.device) -> torch.Tensor:
    """Rows: the inputs, then per teacher its outputs and the student's mapping for it, on images ``x``."""
    rows = [convert_images(x.float(), x.shape[-1], channels)]
    with torch.inference_mode():
        for j, t in enumerate(teachers):
            xd = x.to(device)
            rows.append(convert_images(t.module(xd).float(), x.shape[-1], channels).cpu())
            rows.append(student(xd, torch.full((len(x),), j, dtype=torch.long, device=device)).float().cpu())
    return torch.cat(rows)


def save_per_teacher_rows(run: Path, teachers: list[Teacher], x: torch.Tensor, scfg: GeneratorConfig,
                          device: torch.device) -> None:
    """The report's grid (``report/per_teacher.png``) of the final student: inputs, then teacher / student rows."""
    from gantransfer.models.store import load_generator
    student, _ = load_generator(run, device)
    save_image_grid(per_teacher_rows(teachers, student, x, scfg.channels, device), run / "report" / "per_teacher.png",
                    nrow=len(x))


def per_teacher_preview(teachers: list[Teacher], x: torch.Tensor, scfg: GeneratorConfig, device: torch.device):
    """The run's sample grid: inputs, then two rows per teacher (its outputs, the student's) on fixed inputs."""
    def preview(s: torch.nn.Module, run: Path, step: int) -> None:
        grid = per_teacher_rows(teachers, s, x, scfg.channels, device)
        save_image_grid(grid, run / "samples" / f"step-{step:07d}.png", nrow=len(x))
    return preview
