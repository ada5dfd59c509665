"""Small building blocks shared by the families' networks."""
from __future__ import annotations

from typing import Iterable

import torch
from torch import nn


def features_after_each(blocks: Iterable[nn.Module], x: torch.Tensor) -> list[torch.Tensor]:
    """Run ``x`` through ``blocks`` in order; the output of every block (a discriminator's feature maps, for the
    perceptual and feature-matching terms)."""
    feats = []
    for block in blocks:
        x = block(x)
        feats.append(x)
    return feats
