"""``gantransfer fuse``: several teacher generators become one student of their combined distribution, data-free.

Setup only. The teacher set (``teacher_set.py``) works out the student and its labels: the teacher id (default),
the union of the teachers' class names (``--labels merge``), or none (``--unconditional``: the student picks the
teacher from its last latent coordinate). ``FusionSampler`` draws every teacher's share of every batch; the
matching terms and phases are distillation's; the runner and the engine do the rest.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from gantransfer.config import FuseConfig
from gantransfer.devices import resolve_device
from gantransfer.engine.optim import discriminator_adam, generator_adam
from gantransfer.losses.distillation import TeacherPixelGap
from gantransfer.models.config import build_discriminator, build_generator
from gantransfer.grid import save_image_grid
from gantransfer.tasks.default_terms import fuse_terms
from gantransfer.tasks.matching import loss_network_names, matching_terms, resolve_perceptual, student_phases
from gantransfer.tasks.runner import RunPlan, execute
from gantransfer.tasks.samplers import FusionSampler
from gantransfer.errors import ConfigError
from gantransfer.teacher_set import TeacherSet, make_teacher_set
from gantransfer.teachers import Teacher, load_teacher

D_MIN_WIDTH = 0.25  # the student's discriminator is never narrower than this


def fusion_mode(cfg: FuseConfig) -> str:
    """teacher | merge | unconditional, from the config's flags."""
    return "unconditional" if cfg.unconditional else cfg.labels


def one_kind(teachers: list[Teacher]) -> str:
    """What every teacher is (translator, image, points); ConfigError naming them when translators and noise
    generators are mixed, with the command that fits each."""
    translators = [t.source for t in teachers if t.config.is_translator]
    others = [t.source for t in teachers if not t.config.is_translator]
    if translators and others:
        raise ConfigError(f"fuse takes teachers of one kind: {', '.join(translators)} "
                          f"{'is an image-to-image translator' if len(translators) == 1 else 'are translators'}, "
                          f"{', '.join(others)} {'makes' if len(others) == 1 else 'make'} images from latents. Fuse "
                          "translators together (gantransfer fuse --teacher T1 --teacher T2 --data INPUTS) and noise "
                          "generators together (without --data); one translator alone is compressed with "
                          "`gantransfer distill --teacher T --data INPUTS`")
    return "translator" if translators else teachers[0].config.kind


def fuse(config: FuseConfig, resume: bool = False, overwrite: bool = False) -> Path:
    """Fuse ``config.teachers`` into one student; returns the run directory."""
    cfg = config
    cfg.validate()
    device = resolve_device(cfg.device)
    teachers = [load_teacher(p, device) for p in cfg.teachers]
    if one_kind(teachers) == "translator":  # input images, not latents: its own setup, the same runner
        from gantransfer.tasks.fuse_translators import fuse_translators
        return fuse_translators(cfg, teachers, device, resume, overwrite)
    given = [flag for flag, v in (("--data", cfg.data), ("--input-size", cfg.input_size),
                                  ("--input-limit", cfg.input_limit)) if v]
    if given:
        raise ConfigError(f"{', '.join(given)} apply to translator teachers; these teachers make images from "
                          "latents (fusion is data-free): drop them")
    tset = make_teacher_set(teachers, weights=cfg.weights, mode=fusion_mode(cfg),
                            latent_dim=cfg.latent_dim, resolution=cfg.resolution, channels=cfg.channels,
                            dataset=cfg.teacher_data, width=cfg.width, conditioning=cfg.conditioning,
                            arch=cfg.student_arch or "dcgan")
    scfg = tset.student
    choice = fuse_terms(cfg.terms, cfg.perceptual_net, scfg.dataset, cfg.term_weights)
    choice.announce("fuse")
    weights = choice.weights
    network = resolve_perceptual(cfg.perceptual_net, scfg.dataset, None)
    scfg.loss_networks = loss_network_names(weights, network)
    resolved = {**dataclasses.asdict(cfg), "terms": choice.terms, "student_arch": scfg.arch}
    torch.manual_seed(cfg.seed)
    student = build_generator(scfg)
    terms, providers = matching_terms(weights, student, lambda: network.features(None, device))
    terms += [TeacherPixelGap(k, name) for k, name in enumerate(tset.names)]
    s_opt = generator_adam(student.parameters(), cfg)
    modules: dict[str, torch.nn.Module] = {"G": student}
    optimizers: dict[str, torch.optim.Optimizer] = {"G": s_opt}
    d = d_opt = None
    if weights.get("adversarial", 0) > 0:
        d = build_discriminator(scfg, max(cfg.width, D_MIN_WIDTH))
        d_opt = discriminator_adam(d.parameters(), cfg)
        modules["D"], optimizers["D"] = d, d_opt

    def final(run: Path) -> dict | None:
        from gantransfer.metrics.fusion import evaluate_fusion
        if not cfg.eval_n:
            return None
        from gantransfer.metrics.teacher_relative import fusion_end_of_run
        return {**evaluate_fusion(run, cfg.teachers, cfg.eval_n, device=device),
                "teacher_relative": fusion_end_of_run(run, tset, cfg.eval_n, device)}

    plan = RunPlan(command="fuse", settings=cfg, resolved=resolved, generator=scfg, modules=modules,
                   optimizers=optimizers,
                   phases=student_phases(student, s_opt, terms, providers, weights.get("adversarial", 0), d, d_opt),
                   sampler=FusionSampler(tset, cfg.batch_size), config_key="fuse_config",
                   preview=per_teacher_preview(tset, device), final=final, run_info={"teachers": tset.names,
                                                                              "terms_chosen": choice.record()})
    return execute(plan, cfg.out, resume, overwrite)


def per_teacher_preview(tset: TeacherSet, device: torch.device):
    """A grid with two rows per teacher: its images, then the student's on the same inputs."""
    rng = torch.Generator().manual_seed(1234)
    inputs = [tset.draw(k, 8, rng, device) for k in range(len(tset.teachers))]

    def preview(s: torch.nn.Module, run: Path, step: int) -> None:
        rows = []
        with torch.inference_mode():
            for z, y, x in inputs:
                rows += [x.cpu(), s(z, y).cpu()]
        save_image_grid(torch.cat(rows), run / "samples" / f"step-{step:07d}.png", nrow=8)
    return preview
