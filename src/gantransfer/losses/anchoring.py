"""Elastic weight consolidation (Kirkpatrick et al. 2017; for GANs, Seff et al. 2017): fine-tuning on new data
pulled towards the base weights in proportion to how much each weight matters to the old outputs.

The importance is the diagonal Fisher information of the generator's outputs on the old labels, data-free:
with the output read as the mean of N(G(z, y), I), the score is e^T dG/dtheta for e ~ N(0, I), so
E[score^2] = diag(J^T J). It is estimated on batches of the base generator's own latents and labels
(``fisher_diagonal``) and normalised to mean 1, so the weight of the term is comparable with L2-SP's.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from gantransfer.engine.terms import LossTerm, StepContext


def fisher_diagonal(g: nn.Module, draw: Callable[[torch.Generator, int], tuple[torch.Tensor, torch.Tensor | None]],
                    n: int, batch_size: int = 64, seed: int = 0) -> list[torch.Tensor]:
    """Diagonal Fisher of ``g``'s parameters (in ``g.parameters()`` order) from ``n`` samples of ``draw(rng, k)``
    (latents and labels of the old labels); normalised to mean 1 over all parameters."""
    rng = torch.Generator().manual_seed(seed + 4242)
    params = list(g.parameters())
    was_training, needs = g.training, [p.requires_grad for p in params]
    g.eval()
    for p in params:
        p.requires_grad_(True)
    fisher = [torch.zeros_like(p) for p in params]
    done = 0
    while done < n:
        k = min(batch_size, n - done)
        z, y = draw(rng, k)
        out = g(z, y)
        e = torch.randn(out.shape, generator=rng).to(out.device, out.dtype)
        grads = torch.autograd.grad((out * e).sum(), params, allow_unused=True)
        for f, gr in zip(fisher, grads):
            if gr is not None:
                f += gr.detach().pow(2)
        done += k
    for p, r in zip(params, needs):
        p.requires_grad_(r)
    g.train(was_training)
    total = sum(float(f.sum()) for f in fisher)
    count = sum(f.numel() for f in fisher)
    scale = count / total if total > 0 else 0.0
    return [f * scale for f in fisher]


class EWC(LossTerm):
    """sum_i F_i (theta_i - theta*_i)^2 over ``module``'s parameters, F the (normalised) Fisher diagonal."""
    name = "ewc"

    def __init__(self, module: nn.Module, fisher: list[torch.Tensor], weight: float = 1.0) -> None:
        super().__init__(weight)
        self.module = module
        self.anchor = [p.detach().clone() for p in module.parameters()]
        self.fisher = [f.detach().clone() for f in fisher]

    def compute(self, ctx: StepContext) -> torch.Tensor:
        total = None
        for i, p in enumerate(self.module.parameters()):
            if self.anchor[i].device != p.device:
                self.anchor[i], self.fisher[i] = self.anchor[i].to(p.device), self.fisher[i].to(p.device)
            term = (self.fisher[i] * (p - self.anchor[i]).pow(2)).sum()
            total = term if total is None else total + term
        return total
