"""The Generator contract: what teachers, metrics, fusion and export accept.

Anything with a latent size, a label count, a sample shape, a value range and ``__call__(z, labels)`` is a
generator: a loaded gantransfer directory, a Teacher, a user's module wrapped by ``teacher_from_model``, and
later an exported file run by a runtime. ``config_of`` turns one into the GeneratorConfig that sampling and the
metrics read.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
from torch import nn

from gantransfer.models.config import GeneratorConfig


@runtime_checkable
class Generator(Protocol):
    """A frozen generator: ``__call__(z (N, latent_dim), labels (N,) or None) -> samples (N, *sample_shape)``."""

    @property
    def latent_dim(self) -> int: ...
    @property
    def num_classes(self) -> int: ...
    @property
    def sample_shape(self) -> tuple[int, ...]: ...
    @property
    def value_range(self) -> tuple[float, float]: ...
    def __call__(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor: ...


class ConfiguredGenerator:
    """Mixin: the contract's properties read off a ``config`` attribute (a GeneratorConfig)."""

    config: GeneratorConfig

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    @property
    def num_classes(self) -> int:
        return self.config.num_classes

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return self.config.sample_shape

    @property
    def value_range(self) -> tuple[float, float]:
        return tuple(self.config.data_range)  # type: ignore[return-value]


@dataclass
class LoadedGenerator(ConfiguredGenerator):
    """A module and its config, as ``gantransfer.load`` returns them, under the Generator contract."""

    module: nn.Module
    config: GeneratorConfig

    @torch.no_grad()
    def __call__(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.module(z, labels)


def config_of(g: Generator, dataset: str = "") -> GeneratorConfig:
    """The config of a contract generator: its own when it has one, else one built from the contract's fields."""
    cfg = getattr(g, "config", None)
    if isinstance(cfg, GeneratorConfig):
        return cfg
    shape = tuple(g.sample_shape)
    if len(shape) == 3:
        return GeneratorConfig(latent_dim=g.latent_dim, resolution=shape[-1], channels=shape[0],
                               num_classes=g.num_classes, dataset=dataset, data_range=tuple(g.value_range))
    return GeneratorConfig(arch="mlp", latent_dim=g.latent_dim, resolution=0, channels=shape[0],
                           num_classes=g.num_classes, dataset=dataset, data_range=tuple(g.value_range))
