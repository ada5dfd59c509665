"""Builders of the structure matching terms (``ssim``, ``gram``, ``tv``; registered in ``term_registry``), for
any student matched to a teacher's images: ``build(weight, student, perceptual) -> (LossTerm | None, providers)``."""
from __future__ import annotations

from typing import Callable

import torch

from gantransfer.losses.structure import GramLoss, SSIMLoss, TotalVariation


def ssim_term(weight: float, student: torch.nn.Module, perceptual: Callable[[], Callable] | None):
    """1 - SSIM between student and teacher images."""
    return SSIMLoss(weight), {}


def gram_term(weight: float, student: torch.nn.Module, perceptual: Callable[[], Callable] | None):
    """Gram (style) matrices of the frozen perceptual network's maps (none without a network)."""
    if perceptual is None:
        return None, {}
    feats = perceptual()
    return GramLoss(feats, weight), {"teacher_features": lambda ctx: [f.detach() for f in feats(ctx["teacher"])]}


def tv_term(weight: float, student: torch.nn.Module, perceptual: Callable[[], Callable] | None):
    """Total variation of the student's image."""
    return TotalVariation(weight), {}
