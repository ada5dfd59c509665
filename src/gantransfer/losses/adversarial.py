"""Adversarial loss terms (non-saturating, hinge, least squares) and the R1 gradient penalty.

Terms read ``fake_logits`` / ``real_logits`` from the step context; R1 also reads ``real_for_r1``, the real
batch with ``requires_grad`` from which ``real_logits`` were computed.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from gantransfer.engine.terms import LossTerm, StepContext


class GeneratorNonSaturating(LossTerm):
    """softplus(-D(G(z))): the generator side of the non-saturating loss."""
    name = "adv"

    def compute(self, ctx: StepContext) -> torch.Tensor:
        return F.softplus(-ctx["fake_logits"]).mean()


class DiscriminatorNonSaturating(LossTerm):
    """softplus(D(fake)) + softplus(-D(real))."""
    name = "adv"

    def compute(self, ctx: StepContext) -> torch.Tensor:
        return F.softplus(ctx["fake_logits"]).mean() + F.softplus(-ctx["real_logits"]).mean()


class GeneratorHinge(LossTerm):
    """-D(G(z)): the generator side of the hinge loss."""
    name = "adv"

    def compute(self, ctx: StepContext) -> torch.Tensor:
        return -ctx["fake_logits"].mean()


class DiscriminatorHinge(LossTerm):
    """relu(1 + D(fake)) + relu(1 - D(real))."""
    name = "adv"

    def compute(self, ctx: StepContext) -> torch.Tensor:
        return F.relu(1 + ctx["fake_logits"]).mean() + F.relu(1 - ctx["real_logits"]).mean()


class R1Penalty(LossTerm):
    """gamma/2 * E ||grad_x D(x)||^2 on real samples (Mescheder et al. 2018); weight is gamma/2."""
    name = "r1"

    def compute(self, ctx: StepContext) -> torch.Tensor:
        real, logits = ctx["real_for_r1"], ctx["real_logits"]
        (grad,) = torch.autograd.grad(logits.sum(), real, create_graph=True)
        return grad.pow(2).flatten(1).sum(1).mean()


def adversarial_terms(kind: str) -> tuple[LossTerm, LossTerm]:
    """(generator term, discriminator term) for ``kind`` in {"nonsaturating", "hinge", "lsgan"}."""
    if kind == "nonsaturating":
        return GeneratorNonSaturating(), DiscriminatorNonSaturating()
    if kind == "hinge":
        return GeneratorHinge(), DiscriminatorHinge()
    if kind == "lsgan":
        from gantransfer.losses.translation import LeastSquaresDiscriminator, LeastSquaresGenerator
        return LeastSquaresGenerator(), LeastSquaresDiscriminator()
    raise ValueError(f"unknown adversarial loss {kind!r}; choose nonsaturating, hinge or lsgan")
