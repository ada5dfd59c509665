"""The loss-term protocol and the per-step context that shares tensors between terms."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Callable

import torch


class StepContext:
    """Named tensors of one optimisation phase, each computed once on first use.

    ``batch`` holds what the sampler drew (real images, labels, latents); ``providers`` compute derived
    tensors (fake images, discriminator logits, teacher outputs) from the context itself.
    """

    def __init__(self, batch: dict[str, torch.Tensor], providers: dict[str, Callable[["StepContext"], torch.Tensor]]):
        self.batch = batch
        self._providers = providers
        self._cache: dict[str, torch.Tensor] = {}

    def __getitem__(self, key: str) -> torch.Tensor:
        if key in self.batch:
            return self.batch[key]
        if key not in self._cache:
            if key not in self._providers:
                raise KeyError(f"no tensor {key!r} in this step; known: {sorted(set(self.batch) | set(self._providers))}")
            self._cache[key] = self._providers[key](self)
        return self._cache[key]


class LossTerm(ABC):
    """One named, weighted term of an objective. Subclasses implement ``compute``."""

    name: str = "term"

    def __init__(self, weight: float = 1.0) -> None:
        self.weight = float(weight)

    @abstractmethod
    def compute(self, ctx: StepContext) -> torch.Tensor:
        """The unweighted value of this term."""

    def __call__(self, ctx: StepContext) -> torch.Tensor:
        return self.compute(ctx)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, weight={self.weight})"
