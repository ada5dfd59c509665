"""Architecture registry: a GeneratorConfig rebuilds the same network from JSON alone."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from torch import nn

from gantransfer.models.dcgan import (CONDITIONINGS, DCGANDiscriminator, DCGANGenerator, check_resolution,
                                      init_dcgan_weights)
from gantransfer.models.mlp import MLPDiscriminator, MLPGenerator

FORMAT_VERSION = 1
ARCHS = ("dcgan", "mlp")


@dataclass
class GeneratorConfig:
    """Everything needed to rebuild a generator; saved as config.json beside model.safetensors."""

    arch: str = "dcgan"
    latent_dim: int = 100
    resolution: int = 32          # images: side length; points: 0
    channels: int = 1             # images: 1 or 3; points: the point dimension
    width: float = 1.0
    num_classes: int = 0          # 0: unconditional
    class_names: list[str] = field(default_factory=list)
    dataset: str = ""             # the data set it models, used as the default for evaluation
    data_range: tuple[float, float] = (-1.0, 1.0)
    conditioning: str = "embed"   # how labels enter a DCGAN generator: embed | affine
    start_resolution: int = 4     # DCGAN generator: first feature-map size (8: one block fewer)
    mixture: list[float] = field(default_factory=list)  # fused unconditional students: component weights
    sources: list[dict[str, Any]] = field(default_factory=list)  # MineGAN: the steered sources' configs
    miner_hidden: int = 128                                      # MineGAN: hidden width of each miner
    format_version: int = FORMAT_VERSION
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return "points" if self.arch == "mlp" else "image"

    @property
    def sample_shape(self) -> tuple[int, ...]:
        if self.kind == "points":
            return (self.channels,)
        return (self.channels, self.resolution, self.resolution)

    def validate(self) -> None:
        """Raise ValueError with a readable message if a field is out of range."""
        if self.arch not in ARCHS:
            raise ValueError(f"unknown architecture {self.arch!r}; choose one of {', '.join(ARCHS)}")
        if self.latent_dim < 1:
            raise ValueError(f"latent_dim must be positive, got {self.latent_dim}")
        if not (1 / 16 - 1e-9 <= self.width <= 2 + 1e-9):
            raise ValueError(f"width must be between 1/16 and 2, got {self.width}")
        if self.num_classes < 0:
            raise ValueError(f"num_classes must be >= 0, got {self.num_classes}")
        if self.conditioning not in CONDITIONINGS:
            raise ValueError(f"conditioning must be one of {', '.join(CONDITIONINGS)}, got {self.conditioning!r}")
        if self.mixture and (self.num_classes or self.arch != "dcgan" or min(self.mixture) <= 0):
            raise ValueError("mixture weights need an unconditional dcgan generator and positive weights")
        if self.kind == "image":
            check_resolution(self.resolution)
            if self.start_resolution < 4 or self.start_resolution >= self.resolution or \
                    self.start_resolution & (self.start_resolution - 1):
                raise ValueError(f"start_resolution must be a power of two from 4 to {self.resolution // 2}, "
                                 f"got {self.start_resolution}")
            if self.channels not in (1, 3):
                raise ValueError(f"channels must be 1 or 3, got {self.channels}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["data_range"] = list(self.data_range)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "GeneratorConfig":
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown generator config keys: {', '.join(unknown)}")
        cfg = cls(**d)
        cfg.data_range = tuple(cfg.data_range)  # type: ignore[assignment]
        return cfg


def build_generator(cfg: GeneratorConfig) -> nn.Module:
    """A freshly initialised generator for ``cfg``."""
    cfg.validate()
    if cfg.sources:
        from gantransfer.models.miner import MinedGenerator
        configs = [GeneratorConfig.from_dict(d) for d in cfg.sources]
        return MinedGenerator([build_generator(c) for c in configs], [c.latent_dim for c in configs],
                              cfg.latent_dim, cfg.miner_hidden)
    if cfg.arch == "mlp":
        return MLPGenerator(cfg.latent_dim, cfg.channels, cfg.width, num_classes=cfg.num_classes)
    g = DCGANGenerator(cfg.latent_dim, cfg.resolution, cfg.channels, cfg.width, cfg.num_classes,
                       conditioning=cfg.conditioning, mixture=list(cfg.mixture) or None, start=cfg.start_resolution)
    init_dcgan_weights(g)
    return g


def build_discriminator(cfg: GeneratorConfig, width: float | None = None) -> nn.Module:
    """A freshly initialised discriminator matching the generator ``cfg``."""
    cfg.validate()
    w = cfg.width if width is None else width
    if cfg.arch == "mlp":
        return MLPDiscriminator(cfg.channels, w, num_classes=cfg.num_classes)
    d = DCGANDiscriminator(cfg.resolution, cfg.channels, w, cfg.num_classes)
    init_dcgan_weights(d)
    return d
