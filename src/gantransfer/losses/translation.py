"""Loss terms of translator training (pix2pix, CycleGAN): L1 between two tensors of the step (reconstruction to
the ground truth, cycle consistency, identity) and the least-squares adversarial terms (LSGAN, Mao et al. 2017)
on named logits, so that one phase can hold the terms of two discriminators."""
from __future__ import annotations

import torch

from gantransfer.engine.terms import LossTerm, StepContext


class L1Between(LossTerm):
    """mean |ctx[a] - ctx[b]|, under its own name (``l1``, ``cycle_A``, ``idt_B`` ...)."""

    def __init__(self, name: str, a: str, b: str, weight: float = 1.0) -> None:
        super().__init__(weight)
        self.name, self.a, self.b = name, a, b

    def compute(self, ctx: StepContext) -> torch.Tensor:
        return (ctx[self.a].float() - ctx[self.b].float()).abs().mean()


class LeastSquaresGenerator(LossTerm):
    """mean (D(fake) - 1)^2 on ``ctx[logits]``: the generator side of LSGAN."""

    def __init__(self, name: str = "adv", logits: str = "fake_logits", weight: float = 1.0) -> None:
        super().__init__(weight)
        self.name, self.logits = name, logits

    def compute(self, ctx: StepContext) -> torch.Tensor:
        return (ctx[self.logits].float() - 1).pow(2).mean()


class LeastSquaresDiscriminator(LossTerm):
    """(mean (D(real) - 1)^2 + mean D(fake)^2) / 2: the discriminator side of LSGAN (halved, as CycleGAN does)."""

    def __init__(self, name: str = "adv", real: str = "real_logits", fake: str = "fake_logits",
                 weight: float = 1.0) -> None:
        super().__init__(weight)
        self.name, self.real, self.fake = name, real, fake

    def compute(self, ctx: StepContext) -> torch.Tensor:
        return 0.5 * ((ctx[self.real].float() - 1).pow(2).mean() + ctx[self.fake].float().pow(2).mean())
