"""Class conditioning shared by the generator and discriminator families."""
from __future__ import annotations

import torch
from torch import nn


def concat_label_embedding(z: torch.Tensor, labels: torch.Tensor | None, embed: nn.Embedding | None) -> torch.Tensor:
    """Generator input: latents, with the label embedding appended when the model is conditional."""
    if embed is None:
        return z
    if labels is None:
        raise ValueError("this generator is class-conditional: pass labels")
    return torch.cat([z, embed(labels)], dim=1)


def projection_logits(h: torch.Tensor, head: nn.Linear, labels: torch.Tensor | None,
                      embed: nn.Embedding | None) -> torch.Tensor:
    """Discriminator output: linear head on features ``h``, plus <embed(y), h> (Miyato and Koyama 2018)."""
    out = head(h).squeeze(1)
    if embed is None:
        return out
    if labels is None:
        raise ValueError("this discriminator is class-conditional: pass labels")
    return out + (embed(labels) * h).sum(1)
