"""StyleGAN2's training extras on the one engine: style mixing in the adversarial phases, lazy R1 (every
``r1_every`` steps, weight x ``r1_every``) and path-length regularisation (every ``pl_every`` steps), with the
optimizers' lazy-regularisation correction of learning rate and betas."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from gantransfer.engine.loop import Phase
from gantransfer.losses.adversarial import R1Penalty
from gantransfer.engine.terms import StepContext
from gantransfer.losses.lazy import Regularisation
from gantransfer.losses.path_length import PathLengthPenalty, PathLengthState


def regularisation(gcfg: Any, g: nn.Module, d: nn.Module, g_opt: torch.optim.Optimizer,
                   d_opt: torch.optim.Optimizer, r1: float) -> Regularisation:
    """Phases ``D_reg`` (R1) and ``G_reg`` (path length) and the style-mixing ``fake`` provider."""
    o = gcfg.options

    def fake(ctx: StepContext) -> torch.Tensor:
        z = ctx["z"]
        ws = g.mixed_ws(z, torch.randn_like(z), ctx.batch.get("labels"), o.style_mixing)
        return g.synthesis(ws)

    def real_for_r1(ctx: StepContext) -> torch.Tensor:
        return ctx["real"].detach().requires_grad_(True)

    def real_logits(ctx: StepContext) -> torch.Tensor:
        return d(ctx["real_for_r1"], ctx.batch.get("labels"))

    phases, modules = [], {}
    if r1 > 0:
        phases.append(Phase("D_reg", d_opt, [R1Penalty(weight=r1 / 2 * o.r1_every)],
                            {"real_for_r1": real_for_r1, "real_logits": real_logits}, every=o.r1_every))
    if o.pl_weight > 0:
        state = PathLengthState()
        modules["PL"] = state
        phases.append(Phase("G_reg", g_opt, [PathLengthPenalty(g, state, o.pl_weight * o.pl_every,
                                                               o.pl_batch_shrink, o.pl_decay)], {}, every=o.pl_every))
    if r1 > 0:
        lazy_adam_correction(d_opt, o.r1_every)
    if o.pl_weight > 0:
        lazy_adam_correction(g_opt, o.pl_every)
    return Regularisation(phases=phases, providers={"fake": fake}, modules=modules)


def lazy_adam_correction(opt: torch.optim.Optimizer, every: int) -> None:
    """StyleGAN2's lazy-regularisation correction of an optimizer whose extra phase runs every ``every`` steps:
    it takes (every + 1) updates per ``every`` steps, so its learning rate is scaled by c = every / (every + 1)
    and its Adam betas raised to the power c (Karras et al. 2020, appendix B)."""
    c = every / (every + 1)
    for group in opt.param_groups:
        group["lr"] *= c
        if "betas" in group:
            group["betas"] = tuple(b ** c for b in group["betas"])
