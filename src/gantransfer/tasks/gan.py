"""The two phases of adversarial training (D then G), shared by every task that trains against real data."""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from gantransfer.engine.loop import Phase
from gantransfer.losses.adversarial import R1Penalty, adversarial_terms
from gantransfer.engine.terms import LossTerm, StepContext


def gan_phases(g: nn.Module, d: nn.Module, g_opt: torch.optim.Optimizer, d_opt: torch.optim.Optimizer,
               loss: str = "nonsaturating", r1: float = 0.0, extra_g_terms: list[LossTerm] | None = None,
               extra_providers: dict | None = None, adv_weight: float = 1.0,
               augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
               extra_d_terms: list[LossTerm] | None = None) -> list[Phase]:
    """Discriminator phase (adversarial [+ R1] [+ extra terms]) and generator phase (adversarial [+ extra terms]).

    ``real`` comes from the sampler (real images, or a teacher's samples when distilling). ``augment``
    (differentiable, e.g. DiffAugment) is applied to real and fake images before D in both phases."""
    g_adv, d_adv = adversarial_terms(loss)
    g_adv.weight = adv_weight
    aug = augment or (lambda x: x)

    def fake(ctx: StepContext) -> torch.Tensor:
        return g(ctx["z"], ctx.batch.get("labels"))

    def fake_logits(ctx: StepContext) -> torch.Tensor:
        return d(aug(ctx["fake"]), ctx.batch.get("labels"))

    def real_for_r1(ctx: StepContext) -> torch.Tensor:
        return ctx["real"].detach().requires_grad_(r1 > 0)

    def real_logits(ctx: StepContext) -> torch.Tensor:
        return d(aug(ctx["real_for_r1"]), ctx.batch.get("labels"))

    d_terms: list[LossTerm] = [d_adv, *(extra_d_terms or [])]
    if r1 > 0:
        d_terms.append(R1Penalty(weight=r1 / 2))
    providers = {"fake": fake, "fake_logits": fake_logits, "real_for_r1": real_for_r1, "real_logits": real_logits,
                 **(extra_providers or {})}
    return [Phase("D", d_opt, d_terms, providers), Phase("G", g_opt, [g_adv, *(extra_g_terms or [])], providers)]
