"""The latent-direction term (after StyleKD, Xu et al. 2022, "latent-direction-based distillation"): a student
should not only match the teacher's image at W, but change as the teacher does when W moves.

Each step the sampler also gives the teacher's image at ``ws_shifted = ws + step * (mapping(z') - ws)``, a step of
``DIRECTION_STEP`` along the difference to another mapped latent (so the moved W stays among the W the mapping
network makes), rendered with the same noise. The term is the mean over samples of ``1 - cos(dS, dT)``, where
``dS`` and ``dT`` are the student's and the teacher's image differences between the moved and the original W,
flattened: it asks for the same direction of change, whatever its size (which the pixel terms already match).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from gantransfer.engine.terms import LossTerm, StepContext
from gantransfer.errors import ConfigError

DIRECTION_STEP = 0.25  # the fraction of the way to the other latent's W


class LatentDirectionLoss(LossTerm):
    """Mean of ``1 - cos(student(w') - student(w), teacher(w') - teacher(w))`` over the batch."""

    name = "latent_direction"

    def compute(self, ctx: StepContext) -> torch.Tensor:
        if "teacher_shifted" not in ctx.batch:
            raise ConfigError("the latent_direction term needs a teacher with a mapping network and a student "
                              "distilled in its W space (gantransfer distill --latent-space w); drop it from --terms")
        ds = (ctx["student_shifted"] - ctx["student"]).flatten(1)
        dt = (ctx["teacher_shifted"] - ctx["teacher"]).flatten(1)
        return (1 - F.cosine_similarity(ds, dt, dim=1, eps=1e-8)).mean()
