"""Multi-layer perceptrons for 2-D point data (toy mixtures)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from gantransfer.models.conditioning import concat_label_embedding, projection_logits
from gantransfer.models.family import Capabilities, ModelFamily, register

if TYPE_CHECKING:
    from gantransfer.models.config import DiscriminatorConfig, GeneratorConfig


def _mlp(in_dim: int, hidden: int, depth: int, out_dim: int, act: nn.Module) -> nn.Sequential:
    layers: list[nn.Module] = []
    d = in_dim
    for _ in range(depth):
        layers += [nn.Linear(d, hidden), act]
        d = hidden
    layers.append(nn.Linear(d, out_dim))
    return nn.Sequential(*layers)


class MLPGenerator(nn.Module):
    """z (B, latent_dim) [+ labels] -> points (B, out_dim)."""

    def __init__(self, latent_dim: int, out_dim: int = 2, width: float = 1.0, depth: int = 3,
                 num_classes: int = 0) -> None:
        super().__init__()
        self.latent_dim, self.num_classes = latent_dim, num_classes
        hidden = max(4, int(round(128 * width)))
        if num_classes > 0:
            self.embed = nn.Embedding(num_classes, 16)
        self.main = _mlp(latent_dim + (16 if num_classes else 0), hidden, depth, out_dim, nn.ReLU())

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        z = concat_label_embedding(z, labels, getattr(self, "embed", None))
        return self.main(z)


class MLPDiscriminator(nn.Module):
    """points (B, in_dim) [+ labels] -> logits (B,)."""

    def __init__(self, in_dim: int = 2, width: float = 1.0, depth: int = 3, num_classes: int = 0) -> None:
        super().__init__()
        hidden = max(4, int(round(128 * width)))
        self.num_classes = num_classes
        self.body = _mlp(in_dim, hidden, depth - 1, hidden, nn.LeakyReLU(0.2))
        self.act = nn.LeakyReLU(0.2)
        self.head = nn.Linear(hidden, 1)
        self.feature_dim = hidden
        if num_classes > 0:
            self.embed = nn.Embedding(num_classes, hidden)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [self.act(self.body(x))]

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x)[-1]
        return projection_logits(h, self.head, labels, getattr(self, "embed", None))


@dataclass
class MLPOptions:
    """The MLP family has no settings beyond the shared config."""


def _build_generator(cfg: "GeneratorConfig") -> MLPGenerator:
    return MLPGenerator(cfg.latent_dim, cfg.channels, cfg.width, num_classes=cfg.num_classes)


def _build_discriminator(cfg: "DiscriminatorConfig") -> MLPDiscriminator:
    return MLPDiscriminator(cfg.channels, cfg.width, num_classes=cfg.num_classes)


FAMILY = register(ModelFamily(
    name="mlp", kind="points", options=MLPOptions,
    capabilities=Capabilities(labels=True, discriminator_features=True),
    build_generator=_build_generator, build_discriminator=_build_discriminator,
    description="multi-layer perceptrons for 2-D points (toy mixtures)"))
