"""What every student-from-teachers task shares (distill, fuse): the matching loss terms on the same inputs,
the perceptual feature network, and the phases (matching only, or matching plus an adversarial term)."""
from __future__ import annotations

from dataclasses import dataclass
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


def resolve_perceptual(choice: str, dataset: str, discriminator: torch.nn.Module | None) -> PerceptualNetwork:
    """``--perceptual-net`` ``choice`` resolved once for a run (the disk read once): perceptual (the data set's
    shipped perceptual network, which no protocol uses), classifier (the protocol classifier), discriminator, or
    an entry point ``pkg.module:factory``. ``auto``: the perceptual network when ``dataset`` ships one, else the
    classifier when it ships one or there is no discriminator, else the discriminator."""
    from gantransfer.metrics.classifier import classifier_dir, ships
    if ":" in choice:
        return PerceptualNetwork("entry-point", dataset, f"entry-point:{choice}", spec=choice)
    kind = choice
    if choice == "auto":
        kind = "perceptual" if ships(dataset, "perceptual") else \
            "classifier" if ships(dataset) or discriminator is None else "discriminator"
    if kind in ("perceptual", "classifier"):
        if not ships(dataset, kind):
            return PerceptualNetwork(kind, dataset, kind, shipped=False)
        from gantransfer.io import read_json
        version = read_json(classifier_dir(dataset, kind) / "config.json", "network config").get("version", 1)
        return PerceptualNetwork(kind, dataset, f"{dataset}-{kind}-v{version}", shipped=True)
    return PerceptualNetwork(kind, dataset, "teacher-discriminator" if kind == "discriminator" else kind)


@dataclass(frozen=True)
class PerceptualNetwork:
    """The perceptual term's frozen feature network, resolved once (``resolve_perceptual``)."""

    kind: str             # perceptual | classifier | discriminator | entry-point
    dataset: str
    name: str             # what the run records: e.g. fashion-mnist-perceptual-v1, teacher-discriminator
    spec: str = ""        # the entry point, for kind entry-point
    shipped: bool = True  # perceptual/classifier: the data set ships it

    def features(self, discriminator: torch.nn.Module | None,
                 device: torch.device) -> Callable[[torch.Tensor], list[torch.Tensor]]:
        """The feature function: the shipped network, the teacher's ``discriminator``, or the user's module."""
        if self.kind == "entry-point":
            from gantransfer.teachers import import_entry_point
            module = import_entry_point(self.spec, "--perceptual-net")
            if not isinstance(module, torch.nn.Module):
                raise ConfigError(f"--perceptual-net {self.spec} must return an nn.Module, got {type(module).__name__}")
            return feature_maps_of_module(module.to(device).eval().requires_grad_(False))
        if self.kind in ("classifier", "perceptual"):
            if not self.shipped:
                what = "protocol classifier" if self.kind == "classifier" else "perceptual network"
                raise ConfigError(f"no {what} for data set {self.dataset!r}: pass --teacher-data "
                                  "NAME, --perceptual-net discriminator or pkg.module:factory, or drop perceptual= "
                                  "from --terms")
            from gantransfer.metrics.classifier import load_classifier
            return feature_maps_of_classifier(load_classifier(self.dataset, device, role=self.kind))
        if discriminator is None:
            raise ConfigError("the teacher has no discriminator (black-box, or none saved beside it); "
                              "use --perceptual-net perceptual or classifier")
        return feature_maps_of_discriminator(discriminator)

    def fixed(self, discriminator: torch.nn.Module | None) -> bool:
        """Whether the network maps an image to the same features at every step, so that its maps of a bank
        entry's teacher image may be cached: the shipped perceptual network and protocol classifier (loaded
        frozen), the teacher's discriminator when it is frozen (eval mode, no trainable parameter); a user's
        entry-point module is not assumed to be."""
        if self.kind == "entry-point":
            return False
        if self.kind in ("perceptual", "classifier"):
            return True
        return discriminator is not None and frozen(discriminator)


def loss_network_names(weights: dict[str, float], network: PerceptualNetwork) -> list[str]:
    """The frozen networks the matching terms of ``weights`` use, by name (recorded with the student, so that
    evaluation marks a protocol whose network is among them)."""
    uses = any(weights.get(t.name, 0) > 0 for t in TERMS if t.uses_perceptual_network)
    return [network.name] if uses else []


def perceptual_features(choice: str, dataset: str, discriminator: torch.nn.Module | None,
                        device: torch.device) -> Callable[[torch.Tensor], list[torch.Tensor]]:
    """``resolve_perceptual(choice, ...).features(discriminator, device)``, for callers with a bare choice."""
    return resolve_perceptual(choice, dataset, discriminator).features(discriminator, device)


def fixed_perceptual(choice: str, dataset: str, discriminator: torch.nn.Module | None) -> bool:
    """``resolve_perceptual(choice, ...).fixed(discriminator)``, for callers with a bare choice."""
    return resolve_perceptual(choice, dataset, discriminator).fixed(discriminator)


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
