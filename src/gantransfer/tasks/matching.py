"""What every student-from-teachers task shares (distill, fuse): the matching loss terms on the same inputs,
the perceptual feature network, and the phases (matching only, or matching plus an adversarial term)."""
from __future__ import annotations

from typing import Callable

import torch

from gantransfer.engine.loop import Phase
from gantransfer.errors import ConfigError
from gantransfer.engine.terms import LossTerm
from gantransfer.losses.distillation import (PerceptualLoss, PixelLoss, feature_maps_of_classifier,
                                             feature_maps_of_discriminator, feature_maps_of_module)
from gantransfer.registry import resolve
from gantransfer.tasks.gan import gan_phases
from gantransfer.term_registry import TERMS


def perceptual_choice(choice: str, dataset: str, discriminator: torch.nn.Module | None) -> str:
    """What ``--perceptual-net`` ``choice`` resolves to: perceptual (the data set's shipped perceptual network,
    which no protocol uses), classifier (the protocol classifier), discriminator, or an entry point. ``auto``:
    the perceptual network when ``dataset`` ships one, else the classifier when it ships one or there is no
    discriminator, else the discriminator."""
    from gantransfer.metrics.classifier import classifier_dir
    if choice != "auto":
        return choice
    if dataset and (classifier_dir(dataset, "perceptual") / "config.json").is_file():
        return "perceptual"
    has_classifier = bool(dataset) and (classifier_dir(dataset) / "config.json").is_file()
    return "classifier" if has_classifier or discriminator is None else "discriminator"


def perceptual_network_name(choice: str, dataset: str, discriminator: torch.nn.Module | None) -> str:
    """The name a run records for its perceptual network: a shipped network's protocol-style name (e.g.
    ``fashion-mnist-perceptual-v1``, or ``fashion-mnist-classifier-v1``, which is also a protocol's),
    ``teacher-discriminator``, or ``entry-point:pkg.module:factory``."""
    resolved = perceptual_choice(choice, dataset, discriminator)
    if ":" in resolved:
        return f"entry-point:{resolved}"
    if resolved in ("perceptual", "classifier") and dataset:
        from gantransfer.io import read_json
        from gantransfer.metrics.classifier import classifier_dir
        p = classifier_dir(dataset, resolved) / "config.json"
        if p.is_file():
            return f"{dataset}-{resolved}-v{read_json(p, 'network config').get('version', 1)}"
    return "teacher-discriminator" if resolved == "discriminator" else resolved


def loss_network_names(weights: dict[str, float], choice: str, dataset: str,
                       discriminator: torch.nn.Module | None) -> list[str]:
    """The frozen networks the matching terms of ``weights`` use, by name (recorded in the student's meta as
    ``loss_networks``, so that evaluation marks a protocol whose network is among them)."""
    uses = any(weights.get(t.name, 0) > 0 for t in TERMS if t.uses_perceptual_network)
    return [perceptual_network_name(choice, dataset, discriminator)] if uses else []


def perceptual_features(choice: str, dataset: str, discriminator: torch.nn.Module | None,
                        device: torch.device) -> Callable[[torch.Tensor], list[torch.Tensor]]:
    """The frozen feature network of the perceptual term (see ``perceptual_choice``): the data set's perceptual
    network, its protocol classifier, the teacher's ``discriminator``, or a user's module from an entry point
    (``pkg.module:factory``)."""
    from gantransfer.metrics.classifier import classifier_dir, load_classifier
    if ":" in choice:
        from gantransfer.teachers import import_entry_point
        module = import_entry_point(choice, "--perceptual-net")
        if not isinstance(module, torch.nn.Module):
            raise ConfigError(f"--perceptual-net {choice} must return an nn.Module, got {type(module).__name__}")
        return feature_maps_of_module(module.to(device).eval().requires_grad_(False))
    choice = perceptual_choice(choice, dataset, discriminator)
    if choice in ("classifier", "perceptual"):
        if not (bool(dataset) and (classifier_dir(dataset, choice) / "config.json").is_file()):
            what = "protocol classifier" if choice == "classifier" else "perceptual network"
            raise ConfigError(f"no {what} for data set {dataset!r}: pass --teacher-data "
                              "NAME, --perceptual-net discriminator or pkg.module:factory, or drop perceptual= from "
                              "--terms")
        return feature_maps_of_classifier(load_classifier(dataset, device, role=choice))
    if discriminator is None:
        raise ConfigError("the teacher has no discriminator (black-box, or none saved beside it); "
                          "use --perceptual-net perceptual or classifier")
    return feature_maps_of_discriminator(discriminator)


def fixed_perceptual(choice: str, dataset: str, discriminator: torch.nn.Module | None) -> bool:
    """Whether the perceptual network of ``choice`` maps an image to the same features at every step, so that its
    maps of a bank entry's teacher image may be cached: the shipped perceptual network and protocol classifier
    (loaded frozen), the teacher's discriminator when it is frozen (eval mode, no trainable parameter); a user's
    entry-point module is not assumed to be."""
    if ":" in choice:
        return False
    resolved = perceptual_choice(choice, dataset, discriminator)
    if resolved in ("perceptual", "classifier"):
        return True
    return discriminator is not None and frozen(discriminator)


def frozen(module: torch.nn.Module) -> bool:
    """Every submodule in eval mode and no parameter trainable."""
    return not any(m.training for m in module.modules()) and not any(p.requires_grad for p in module.parameters())


def matching_terms(weights: dict[str, float], student: torch.nn.Module,
                   perceptual: Callable[[], Callable] | None) -> tuple[list[LossTerm], dict]:
    """The registered matching terms of ``weights`` (``term_registry``, in registration order: pixel, pixel_l2,
    perceptual, then any registered since) between ``student`` and ``teacher`` images on the batch's inputs.
    ``perceptual`` builds the feature network, only when a term asks for it. Terms their task wires itself
    (adversarial, feature) are left to it."""
    terms: list[LossTerm] = []
    providers: dict = {"student": lambda ctx: student(ctx["z"], ctx.batch.get("labels"))}
    for spec in TERMS:
        if spec.build is None or not weights.get(spec.name, 0) > 0:
            continue
        built, extra = resolve(spec.build)(weights[spec.name], student, perceptual)
        if built is not None:
            terms.append(built)
            providers.update(extra)
    return terms, providers


def pixel_term(weight: float, student: torch.nn.Module, perceptual: Callable[[], Callable] | None):
    """L1 between student and teacher images."""
    return PixelLoss(weight), {}


def pixel_l2_term(weight: float, student: torch.nn.Module, perceptual: Callable[[], Callable] | None):
    """L2 between student and teacher images."""
    return PixelLoss(weight, p=2), {}


def perceptual_term(weight: float, student: torch.nn.Module, perceptual: Callable[[], Callable] | None):
    """L1 between the frozen network's features of student and teacher images (none without a network)."""
    if perceptual is None:
        return None, {}
    feats = perceptual()
    return PerceptualLoss(feats, weight), {"teacher_features": lambda ctx: [f.detach() for f in feats(ctx["teacher"])]}


def student_phases(student: torch.nn.Module, s_opt: torch.optim.Optimizer, terms: list[LossTerm], providers: dict,
                   adv_weight: float = 0.0, d: torch.nn.Module | None = None,
                   d_opt: torch.optim.Optimizer | None = None) -> list[Phase]:
    """One G phase on the matching terms, or, with a discriminator, a hinge D phase (teacher images as "real")
    and a G phase on the adversarial term plus the matching terms."""
    if adv_weight > 0 and d is not None and d_opt is not None:
        return gan_phases(student, d, s_opt, d_opt, "hinge", extra_g_terms=terms,
                          extra_providers={**providers, "fake": lambda ctx: ctx["student"]}, adv_weight=adv_weight)
    return [Phase("G", s_opt, terms, providers)]
