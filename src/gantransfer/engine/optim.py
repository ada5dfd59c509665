"""Optimizer construction from a task's settings: Adam with the configured betas and weight decay, and the
discriminator's learning rate as a ratio of the generator's."""
from __future__ import annotations

from typing import Any, Iterable

import torch

DEFAULT_BETAS = (0.5, 0.999)


def adam(params: Iterable[Any], lr: float, settings: Any) -> torch.optim.Adam:
    """Adam over ``params`` (tensors or param groups) at ``lr``, with ``settings.betas`` and ``.weight_decay``."""
    betas = tuple(settings.betas) if settings.betas is not None else DEFAULT_BETAS
    return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=settings.weight_decay)


def generator_adam(params: Iterable[Any], settings: Any) -> torch.optim.Adam:
    """The generator's (or student's) optimizer at ``settings.lr``."""
    return adam(params, settings.lr, settings)


def discriminator_adam(params: Iterable[Any], settings: Any) -> torch.optim.Adam:
    """The discriminator's optimizer at ``settings.lr * settings.d_lr_ratio``."""
    return adam(params, settings.lr * settings.d_lr_ratio, settings)
