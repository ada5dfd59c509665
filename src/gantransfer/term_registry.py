"""Matching terms: the names ``--terms`` accepts (``pixel=1,perceptual=1``) and how each term is built for a
student matched to its teacher(s) on the same inputs (distill, fuse, extend's replay).

A term's ``build(weight, student, perceptual)`` returns ``(LossTerm or None, providers)``: the term and any tensors
it needs computed per step (``perceptual`` builds the frozen feature network on first call, or is None when the
task has none). ``build=None`` marks a term its task wires itself (``adversarial``: a discriminator phase;
``feature``: adapters on the student's feature taps). Terms are built in registration order.
Torch-free: the built-in builders are named as ``"gantransfer.tasks.matching:..."`` and imported when used.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from gantransfer.errors import ConfigError
from gantransfer.registry import Registry


@dataclass(frozen=True)
class MatchingTerm:
    """A term of ``--terms``."""

    name: str
    build: str | Callable[..., Any] | None   # (weight, student, perceptual) -> (LossTerm | None, providers)
    description: str = ""
    uses_perceptual_network: bool = False     # its weight > 0 means the run records the perceptual network


TERMS: Registry[MatchingTerm] = Registry("loss term")


def register_term(term: MatchingTerm) -> MatchingTerm:
    """Add ``term`` to ``--terms`` (a later registration of the same name replaces it)."""
    return TERMS.register(term)


def term(name: str) -> MatchingTerm:
    """The registered term ``name``; ValueError listing the known ones otherwise."""
    return TERMS.get(name)


def term_names() -> list[str]:
    """Every term ``--terms`` accepts, in the order they are built."""
    return TERMS.names()


def parse_term_weights(text: str) -> dict[str, float]:
    """``pixel=1,perceptual=1,adversarial=0.1`` -> {name: weight}; unknown names and bad numbers are errors."""
    weights: dict[str, float] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        name, _, value = item.partition("=")
        if name not in TERMS:
            raise ConfigError(f"unknown loss term {name!r}; known terms: {', '.join(term_names())}")
        try:
            weights[name] = float(value) if value else 1.0
        except ValueError:
            raise ConfigError(f"loss weight of {name!r} must be a number, got {value!r}") from None
        if not weights[name] >= 0 or weights[name] == float("inf"):
            raise ConfigError(f"loss weight of {name!r} must be a finite number >= 0, got {weights[name]}")
    if not any(weights.values()):
        raise ConfigError("--terms needs at least one term with a positive weight, e.g. pixel=1,perceptual=1")
    return weights


register_term(MatchingTerm("pixel", "gantransfer.tasks.matching:pixel_term", "L1 between student and teacher images"))
register_term(MatchingTerm("pixel_l2", "gantransfer.tasks.matching:pixel_l2_term",
                           "L2 between student and teacher images"))
register_term(MatchingTerm("perceptual", "gantransfer.tasks.matching:perceptual_term",
                           "L1 between the features of a frozen network (--perceptual-net)",
                           uses_perceptual_network=True))
register_term(MatchingTerm("adversarial", None, "a hinge discriminator on teacher (real) and student images"))
register_term(MatchingTerm("feature", None, "the student's hidden layers matched to the teacher's"))
register_term(MatchingTerm("ssim", "gantransfer.tasks.structure_terms:ssim_term",
                           "1 - SSIM between student and teacher images"))
register_term(MatchingTerm("gram", "gantransfer.tasks.structure_terms:gram_term",
                           "Gram (style) matrices of the perceptual network's maps of student and teacher images",
                           uses_perceptual_network=True))
register_term(MatchingTerm("tv", "gantransfer.tasks.structure_terms:tv_term",
                           "total variation of the student's image (smoothness)"))
register_term(MatchingTerm("latent_direction", "gantransfer.tasks.direction_term:latent_direction_term",
                           "StyleKD's latent-direction term: the student's image change between W and a step "
                           "towards another mapped latent points as the teacher's (W-space students)"))
