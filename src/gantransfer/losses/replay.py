"""Replay alignment: the part of a batch given to old labels is matched to a frozen copy of the base.

``ctx["student"]`` and ``ctx["teacher"]`` are that part's images (the pixel and perceptual terms of
``losses/distillation.py`` read them); ``FeatureAlignment`` matches the hidden activations of the extended
generator to the base's on the same latents. Both networks have the same architecture, so no adapters are
needed (distillation's ``FeatureMatching`` learns them between different ones).
"""
from __future__ import annotations

import torch

from gantransfer.engine.terms import LossTerm, StepContext


class FeatureAlignment(LossTerm):
    """Mean squared difference of every hidden block's activations, extended generator against the base."""
    name = "feature"

    def compute(self, ctx: StepContext) -> torch.Tensor:
        fs, ft = ctx["student_features"], ctx["teacher_features_g"]
        return sum((a - b).pow(2).mean() for a, b in zip(fs, ft))
