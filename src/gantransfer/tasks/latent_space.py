"""Distillation from teachers with a mapping network (StyleGAN2): in W space or in Z space.

``w``: the student reuses the teacher's mapping network, copied and frozen (the original study's setting), and
its synthesis network is matched on the teacher's W (truncated towards the mean W by ``psi``); the student is a
whole generator (z -> W -> images) that samples at the same psi. ``z``: the student maps z itself (its own
mapping network, or a DCGAN's input layer). Either way a StyleGAN2 student gets the teacher's noise images on
every step (and its stored noise buffers), so that the per-layer noise, which no student can predict, drops out
of the matching error.
"""
from __future__ import annotations

import copy
import dataclasses
from typing import Callable

import torch

from gantransfer.errors import ConfigError
from gantransfer.models.config import GeneratorConfig

LATENT_SPACES = ("auto", "w", "z")


def has_mapping(cfg: GeneratorConfig) -> bool:
    """Whether generators of ``cfg``'s family have ``mapping`` and ``synthesis`` (StyleGAN2)."""
    return cfg.family.capabilities.mapping_network


def resolve_latent_space(space: str, teacher, scfg: GeneratorConfig) -> str:
    """``w`` or ``z`` for teacher and student config; ``auto`` is ``w`` exactly when both have a mapping network
    and the teacher is white-box. ConfigError when ``w`` cannot be done."""
    if space not in LATENT_SPACES:
        raise ConfigError(f"--latent-space must be one of {', '.join(LATENT_SPACES)}, got {space!r}")
    teacher_maps = teacher.capabilities.mapping_network
    if space == "auto":
        return "w" if teacher_maps and has_mapping(scfg) else "z"
    if space == "w":
        if not teacher_maps:
            why = ("is used black-box (its layers cannot be read)" if not teacher.white_box else
                   f"is a {teacher.config.arch} generator, without one" if teacher.native else
                   "is not of a gantransfer family, so none can be found")
            raise ConfigError(f"--latent-space w reuses the teacher's mapping network, but teacher {teacher.source} "
                              f"{why}; use --latent-space z")
        if not has_mapping(scfg):
            raise ConfigError(f"--latent-space w needs a student with a synthesis network that takes W (stylegan2); "
                              f"a {scfg.arch} student maps z itself: use --latent-space z")
    return space


def student_options_for(teacher_cfg: GeneratorConfig, scfg: GeneratorConfig, space: str, psi: float,
                        given: dict | None) -> GeneratorConfig:
    """A StyleGAN2 student of a StyleGAN2 teacher: the channel cap scaled with the width (so that ``--width``
    t/k gives k times fewer channels at every resolution, not only above the cap) unless ``--student-options``
    sets it; in W space the teacher's psi as the student's own."""
    if scfg.arch != "stylegan2" or teacher_cfg.arch != "stylegan2":
        return scfg
    o = scfg.options
    if "channel_max" not in (given or {}) and teacher_cfg.width > 0:
        o = dataclasses.replace(o, channel_max=max(1, round(o.channel_max * scfg.width / teacher_cfg.width)))
    if space == "w":
        o = dataclasses.replace(o, truncation_psi=psi)
        for name in ("w_dim", "mapping_layers", "mapping_lr_mul"):
            if getattr(o, name) != getattr(teacher_cfg.options, name):
                raise ConfigError(f"--latent-space w: the student reuses the teacher's mapping network, so its "
                                  f"{name} must be the teacher's ({getattr(teacher_cfg.options, name)}); drop it "
                                  "from --student-options")
    return dataclasses.replace(scfg, options=o)


def truncated(teacher, psi: float):
    """The teacher sampling at ``psi`` when called without one: a shallow copy of its module (the same layers and
    weights, no second teacher in memory) whose own ``truncation_psi`` is ``psi``; the caller's is left alone."""
    if psi == 1.0:
        return teacher
    module = copy.copy(teacher.module)
    module.truncation_psi = psi
    return dataclasses.replace(teacher, module=module)


def tie_to_teacher(student: torch.nn.Module, teacher, scfg: GeneratorConfig, space: str) -> None:
    """A StyleGAN2 student takes the teacher's stored noise buffers (same resolutions); in W space also its
    mapping network (weights and mean W), frozen."""
    t = teacher.module
    if not (scfg.family.capabilities.noise_inputs and teacher.capabilities.noise_inputs):
        return
    with torch.no_grad():
        for mine, theirs in zip(student.synthesis.noise_layers(), t.synthesis.noise_layers()):
            mine.noise_const.copy_(theirs.noise_const)
    if space == "w":
        student.mapping.load_state_dict(t.mapping.state_dict())
        student.mapping.requires_grad_(False)
        student.mapping.track_w_avg = False


def student_providers(student: torch.nn.Module, scfg: GeneratorConfig, space: str, with_features: bool
                      ) -> dict[str, Callable]:
    """Providers of ``student`` (and ``student_features``) images on the step's inputs: the teacher's W and noise
    in W space, z (and the teacher's noise, for a StyleGAN2 student) in Z space."""
    styled = scfg.family.capabilities.noise_inputs

    def run(ctx):
        feats: list[torch.Tensor] | None = [] if with_features else None
        if space == "w":
            img = student.synthesis(ctx["ws"], features=feats, noise=ctx["noise"])
        elif styled:
            ws = student.mapping(ctx["z"], ctx.batch.get("labels"))
            img = student.synthesis(ws, features=feats, noise=ctx["noise"])
        elif with_features:
            img, feats = student.forward_features(ctx["z"], ctx.batch.get("labels"))
        else:
            img = student(ctx["z"], ctx.batch.get("labels"))
        return img, feats

    providers: dict[str, Callable] = {"student_pair": run, "student": lambda ctx: ctx["student_pair"][0]}
    if with_features:
        providers["student_features"] = lambda ctx: ctx["student_pair"][1]
    return providers


def check_psi(psi: float) -> None:
    """ConfigError unless psi lies in (0, 1]."""
    if not 0 < psi <= 1 or psi != psi:
        raise ConfigError(f"--truncation-psi must be in (0, 1] (1: no truncation; 0 would collapse every sample "
                          f"to the mean W), got {psi}")
