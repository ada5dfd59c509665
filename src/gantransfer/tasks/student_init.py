"""A distilled student's initial weights: ``--init prune`` (the teacher's most important channels per layer,
``models/prune.py`` and ``models/importance.py``) or ``random`` (the family's own initialisation); ``auto``
prunes whenever it can (a student of the white-box teacher's family, no wider than it) and says so."""
from __future__ import annotations

import sys

import torch
from torch import nn

from gantransfer.errors import ConfigError
from gantransfer.models.config import GeneratorConfig
from gantransfer.models.importance import channel_scores
from gantransfer.models.prune import copy_kept, group_sizes, groups_of, kept_fraction, top_channels
from gantransfer.models.sampling import draw_inputs

PRUNE_SAMPLES = 256  # teacher samples the activation-based criteria look at (up to 64 px; see prune_samples)
PRUNE_INPUTS = 64    # translators: training input images the activation-based criteria look at
PRUNE_CHUNK = 64     # of them rendered at once


def prune_samples(cfg: GeneratorConfig) -> tuple[int, int]:
    """(teacher samples or translator inputs, how many per forward pass) of the activation-based criteria for a
    teacher of ``cfg``: 256 samples (64 inputs) in chunks of 64 up to 64 px; above, both scaled by
    (64 / resolution)^2 (at least 16, one per chunk), so that a 256 or 1024 px teacher is not run on 64 images at
    once (minutes of CPU and several GiB before the first step); every sample still gives the mean over
    resolution^2 positions per channel."""
    n = PRUNE_INPUTS if cfg.is_translator else PRUNE_SAMPLES
    if cfg.resolution <= 64:
        return n, PRUNE_CHUNK
    scale = (64 / cfg.resolution) ** 2
    return max(16, int(n * scale)), max(1, int(PRUNE_CHUNK * scale))


def why_not_prunable(teacher, scfg: GeneratorConfig) -> str | None:
    """Why a student of ``scfg`` cannot start from a pruned ``teacher`` (None: it can)."""
    if scfg.arch != teacher.config.arch:
        return (f"--init prune needs a student of the teacher's family ({teacher.config.arch}), got {scfg.arch}; "
                "drop --student-arch or pass --init random")
    if not (teacher.white_box and teacher.native):
        return "--init prune needs a white-box teacher built by a gantransfer family; pass --init random"
    if scfg.family.channel_groups is None:
        return f"{scfg.arch} generators cannot be pruned (no channel groups declared); pass --init random"
    return None


def prune_from_teacher(student: nn.Module, teacher_module: nn.Module, tcfg: GeneratorConfig, scfg: GeneratorConfig,
                       criterion: str, svs: bool, seed: int, by_importance: bool = False,
                       inputs: torch.Tensor | None = None) -> dict:
    """Load ``student`` with ``teacher_module``'s most important channels by ``criterion``; the record of what
    was kept. The teacher's samples come from their own generator, so the global random stream is untouched.
    ``by_importance``: the kept channels ordered most important first (an elastic student's), else in the
    teacher's order. ``inputs``: a translator's input images for the activation-based criteria (the first
    ``PRUNE_INPUTS``; default: random images in its value range)."""
    t_groups, s_groups = groups_of(tcfg.family, teacher_module), groups_of(scfg.family, student)
    n, chunk = prune_samples(tcfg)
    if inputs is not None:
        z, labels = inputs[:n], None
    else:
        z, labels = draw_inputs(tcfg, n, torch.Generator().manual_seed(seed))
    device = next(teacher_module.parameters()).device
    scores = channel_scores(criterion, teacher_module, t_groups, z.to(device),
                            None if labels is None else labels.to(device), chunk)
    keep = top_channels(scores, group_sizes(student, s_groups), by_importance)
    copy_kept(teacher_module, student, t_groups, keep, svs)
    return {"init": "prune", "criterion": criterion, "svs": svs,
            "kept": kept_fraction(keep, group_sizes(teacher_module, t_groups))}


def initialise_student(student: nn.Module, scfg: GeneratorConfig, teacher, init: str, criterion: str, svs: bool,
                       seed: int, by_importance: bool = False, inputs: torch.Tensor | None = None) -> dict:
    """Apply ``init`` (auto | prune | random) to a freshly built ``student``; returns the record for run.json
    (``inputs``: a translator's training input images, see ``prune_from_teacher``)."""
    if init == "random":
        return {"init": "random"}
    reason = why_not_prunable(teacher, scfg)
    if reason is None:
        try:
            record = prune_from_teacher(student, teacher.module, teacher.config, scfg, criterion, svs, seed,
                                        by_importance, inputs)
        except ConfigError as e:
            reason = str(e)
        else:
            print(f"gantransfer distill: student initialised from the teacher's channels ({criterion}"
                  f"{', svs' if svs else ''}): {', '.join(f'{k} {v}' for k, v in record['kept'].items())}")
            return record
    if init == "prune":
        raise ConfigError(reason)
    print(f"gantransfer distill: --init auto -> random ({reason.split(';')[0]})", file=sys.stderr)
    return {"init": "random", "auto_reason": reason}
