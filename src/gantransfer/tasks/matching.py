"""What every student-from-teachers task shares (distill, fuse): the matching loss terms on the same inputs,
the perceptual feature network, and the phases (matching only, or matching plus an adversarial term)."""
from __future__ import annotations

from typing import Callable

import torch

from gantransfer.engine.loop import Phase
from gantransfer.errors import ConfigError
from gantransfer.losses.base import LossTerm
from gantransfer.losses.distillation import (PerceptualLoss, PixelLoss, feature_maps_of_classifier,
                                             feature_maps_of_discriminator, feature_maps_of_module)
from gantransfer.tasks.gan import gan_phases


def perceptual_features(choice: str, dataset: str, discriminator: torch.nn.Module | None,
                        device: torch.device) -> Callable[[torch.Tensor], list[torch.Tensor]]:
    """The frozen feature network of the perceptual term: the protocol classifier of ``dataset``, the teacher's
    ``discriminator``, or a user's module from an entry point (``pkg.module:factory``)."""
    from gantransfer.metrics.classifier import classifier_dir, load_classifier
    if ":" in choice:
        from gantransfer.teachers import import_entry_point
        module = import_entry_point(choice, "--perceptual-net")
        if not isinstance(module, torch.nn.Module):
            raise ConfigError(f"--perceptual-net {choice} must return an nn.Module, got {type(module).__name__}")
        return feature_maps_of_module(module.to(device).eval().requires_grad_(False))
    has_classifier = bool(dataset) and (classifier_dir(dataset) / "config.json").is_file()
    if choice == "auto":
        choice = "classifier" if has_classifier or discriminator is None else "discriminator"
    if choice == "classifier":
        if not has_classifier:
            raise ConfigError(f"no protocol classifier for data set {dataset!r}: pass --teacher-data "
                              "NAME, --perceptual-net discriminator or pkg.module:factory, or drop perceptual= from "
                              "--terms")
        return feature_maps_of_classifier(load_classifier(dataset, device))
    if discriminator is None:
        raise ConfigError("the teacher has no discriminator (black-box, or none saved beside it); "
                          "use --perceptual-net classifier")
    return feature_maps_of_discriminator(discriminator)


def matching_terms(weights: dict[str, float], student: torch.nn.Module,
                   perceptual: Callable[[], Callable] | None) -> tuple[list[LossTerm], dict]:
    """Pixel (L1, L2) and perceptual terms between ``student`` and ``teacher`` images on the batch's inputs.
    ``perceptual`` builds the feature network, only when the perceptual term is asked for."""
    terms: list[LossTerm] = []
    providers: dict = {"student": lambda ctx: student(ctx["z"], ctx.batch.get("labels"))}
    if weights.get("pixel", 0) > 0:
        terms.append(PixelLoss(weights["pixel"]))
    if weights.get("pixel_l2", 0) > 0:
        terms.append(PixelLoss(weights["pixel_l2"], p=2))
    if weights.get("perceptual", 0) > 0 and perceptual is not None:
        feats = perceptual()
        terms.append(PerceptualLoss(feats, weights["perceptual"]))
        providers["teacher_features"] = lambda ctx: [f.detach() for f in feats(ctx["teacher"])]
    return terms, providers


def student_phases(student: torch.nn.Module, s_opt: torch.optim.Optimizer, terms: list[LossTerm], providers: dict,
                   adv_weight: float = 0.0, d: torch.nn.Module | None = None,
                   d_opt: torch.optim.Optimizer | None = None) -> list[Phase]:
    """One G phase on the matching terms, or, with a discriminator, a hinge D phase (teacher images as "real")
    and a G phase on the adversarial term plus the matching terms."""
    if adv_weight > 0 and d is not None and d_opt is not None:
        return gan_phases(student, d, s_opt, d_opt, "hinge", extra_g_terms=terms,
                          extra_providers={**providers, "fake": lambda ctx: ctx["student"]}, adv_weight=adv_weight)
    return [Phase("G", s_opt, terms, providers)]
