"""Weight regularisers for transfer: L2-SP keeps fine-tuned weights near the pretrained source's."""
from __future__ import annotations

import torch
from torch import nn

from gantransfer.engine.terms import LossTerm, StepContext


class L2SP(LossTerm):
    """sum ||theta - theta_source||^2 over ``module``'s parameters (Li et al. 2018, "L2-SP")."""
    name = "l2sp"

    def __init__(self, module: nn.Module, weight: float = 1.0) -> None:
        super().__init__(weight)
        self.module = module
        self.anchor = [p.detach().clone() for p in module.parameters()]

    def compute(self, ctx: StepContext) -> torch.Tensor:
        total = None
        for i, p in enumerate(self.module.parameters()):
            if self.anchor[i].device != p.device:
                self.anchor[i] = self.anchor[i].to(p.device)
            term = (p - self.anchor[i]).pow(2).sum()
            total = term if total is None else total + term
        return total
