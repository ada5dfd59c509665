"""Path-length regularisation (Karras et al. 2020): image changes along random directions should have a constant
magnitude per unit step in W. The running mean ``pl_mean`` lives in a module so that checkpoints resume it exactly.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from gantransfer.engine.distributed import mean_across_processes
from gantransfer.engine.terms import LossTerm, StepContext


class PathLengthState(nn.Module):
    """Holds the running mean of the path lengths (a buffer, saved with the run's modules)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("pl_mean", torch.zeros(()))


class PathLengthPenalty(LossTerm):
    """E (|J_w^T y| - a)^2 with y ~ N(0, I) / sqrt(H W) and ``a`` the running mean of the lengths.

    Reads ``z`` (and ``labels``) from the step; uses the first ``batch / batch_shrink`` latents. ``generator`` needs
    ``mapping(z, labels)`` and ``synthesis(ws)``."""
    name = "pl"

    def __init__(self, generator: nn.Module, state: PathLengthState, weight: float = 2.0, batch_shrink: int = 2,
                 decay: float = 0.01) -> None:
        super().__init__(weight)
        self.generator, self.state, self.batch_shrink, self.decay = generator, state, batch_shrink, decay

    def compute(self, ctx: StepContext) -> torch.Tensor:
        z = ctx["z"]
        n = max(1, z.shape[0] // self.batch_shrink)
        labels = ctx.batch.get("labels")
        ws = self.generator.mapping(z[:n], None if labels is None else labels[:n])
        img = self.generator.synthesis(ws)
        y = torch.randn_like(img) / math.sqrt(img.shape[2] * img.shape[3])
        (grad,) = torch.autograd.grad((img * y).sum(), ws, create_graph=True)
        lengths = grad.float().square().sum(2).mean(1).sqrt()
        # under torchrun the running mean follows every process's lengths, so that all hold the same one
        mean = self.state.pl_mean.lerp(mean_across_processes(lengths.mean().detach()), self.decay)
        self.state.pl_mean.copy_(mean)
        return (lengths - mean).square().mean()
