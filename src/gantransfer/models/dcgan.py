"""DCGAN-style convolutional generator and discriminator with a width multiplier and class conditioning.

Channel plan: at feature resolution ``r`` the networks use ``base * res / (2 r)`` channels times ``width``,
capped at ``8 * base * width`` (the DCGAN recipe: 256-128-64 at 32x32 for base 64).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
from torch import nn

from gantransfer.image_space import check_resolution as _check_resolution
from gantransfer.models.conditioning import concat_label_embedding, projection_logits
from gantransfer.models.family import Capabilities, ModelFamily, register
from gantransfer.models.layers import features_after_each
from gantransfer.models.prune import ChannelGroup, Slice

if TYPE_CHECKING:
    from gantransfer.models.config import DiscriminatorConfig, GeneratorConfig

BASE_CHANNELS = 64


def check_resolution(resolution: int) -> None:
    """Raise ValueError unless ``resolution`` is a power of two in [16, 256]."""
    _check_resolution(resolution, ValueError)


def channels_at(r: int, resolution: int, width: float) -> int:
    """Channels of the feature map at spatial size ``r``."""
    c = BASE_CHANNELS * resolution / (2 * r)
    return max(1, int(round(min(c, 8 * BASE_CHANNELS) * width)))


def hidden_channels(start: int, resolution: int, width: float) -> list[int]:
    """The generator's hidden blocks' channels at ``width`` (sizes start, 2 start, ... up to resolution / 2)."""
    sizes, r = [], start
    while r < resolution:
        sizes.append(channels_at(r, resolution, width))
        r *= 2
    return sizes


CONDITIONINGS = ("embed", "affine")


def mixture_ids(z: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Component ids read off the last latent coordinate: Phi(z[:, -1]) falls in bins of widths ``weights``
    (normalised), so N(0, I) latents pick component k with probability weights[k]."""
    u = 0.5 * (1 + torch.erf(z[:, -1] / math.sqrt(2)))
    edges = torch.cumsum(weights / weights.sum(), 0)[:-1].to(z.device, z.dtype)
    return torch.bucketize(u, edges, right=True)


class DCGANGenerator(nn.Module):
    """z (B, latent_dim) [+ labels] -> images (B, C, R, R) in [-1, 1].

    Conditioning on ``num_classes`` labels: ``embed`` appends a learned label embedding to z; ``affine`` scales and
    shifts z per label and adds a learned per-label constant to the first 4x4 feature map. With ``mixture``
    weights and no classes, the generator is unconditional to its users but picks a component per sample from
    the last latent coordinate (``mixture_ids``) and conditions on it: a fused student of several teachers.
    ``start`` is the size of the first feature map: 8 instead of 4 makes a generator one block shallower.
    ``plan``: the hidden blocks' channel counts (one per block, e.g. chosen by a compression budget), instead of
    the width's.
    """

    def __init__(self, latent_dim: int, resolution: int, channels: int, width: float = 1.0,
                 num_classes: int = 0, embed_dim: int = 32, conditioning: str = "embed",
                 mixture: list[float] | None = None, start: int = 4, plan: list[int] | None = None) -> None:
        super().__init__()
        check_resolution(resolution)
        if start < 4 or start >= resolution or start & (start - 1):
            raise ValueError(f"start resolution must be a power of two from 4 to {resolution // 2}, got {start}")
        if conditioning not in CONDITIONINGS:
            raise ValueError(f"conditioning must be one of {', '.join(CONDITIONINGS)}, got {conditioning!r}")
        if mixture and num_classes:
            raise ValueError("a generator takes class labels or mixture weights, not both")
        self.latent_dim, self.resolution, self.channels = latent_dim, resolution, channels
        self.num_classes, self.conditioning = num_classes, conditioning
        if mixture:
            self.register_buffer("mixture", torch.tensor(mixture, dtype=torch.float32))
        k = num_classes or len(mixture or [])
        in_dim = latent_dim
        plan = list(plan or hidden_channels(start, resolution, width))
        if len(plan) != len(hidden_channels(start, resolution, width)) or min(plan) < 1:
            raise ValueError(f"a channel plan needs {len(hidden_channels(start, resolution, width))} positive "
                             f"counts (one per hidden block), got {plan}")
        c0 = plan[0]
        if k and conditioning == "embed":
            self.embed = nn.Embedding(k, embed_dim)
            in_dim += embed_dim
        elif k:
            self.cond_scale = nn.Parameter(torch.ones(k, latent_dim))
            self.cond_shift = nn.Parameter(0.1 * torch.randn(k, latent_dim))
            self.cond_const = nn.Parameter(torch.zeros(k, c0, start, start))
        blocks: list[nn.Module] = [
            nn.ConvTranspose2d(in_dim, c0, start, 1, 0, bias=False), nn.BatchNorm2d(c0), nn.ReLU(True)]
        r, c = start, c0
        for c_next in plan[1:]:
            blocks += [nn.ConvTranspose2d(c, c_next, 4, 2, 1, bias=False), nn.BatchNorm2d(c_next), nn.ReLU(True)]
            r, c = r * 2, c_next
        blocks += [nn.ConvTranspose2d(c, channels, 4, 2, 1), nn.Tanh()]
        self.main = nn.Sequential(*blocks)

    def _first(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """The conditioned input to ``main`` and, for ``affine``, the per-label constant for its first block."""
        if hasattr(self, "mixture"):
            labels = mixture_ids(z, self.mixture)
        if hasattr(self, "cond_scale"):
            if labels is None:
                raise ValueError("this generator is class-conditional: pass labels")
            return (z * self.cond_scale[labels] + self.cond_shift[labels])[:, :, None, None], self.cond_const[labels]
        return concat_label_embedding(z, labels, getattr(self, "embed", None))[:, :, None, None], None

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.forward_features(z, labels)[0]

    def forward_features(self, z: torch.Tensor, labels: torch.Tensor | None = None
                         ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Images and the activations after every hidden block (4x4, 8x8, ...), for feature matching."""
        h, const = self._first(z, labels)
        feats = []
        for i, layer in enumerate(self.main):
            h = layer(h)
            if i == 0 and const is not None:
                h = h + const
            if isinstance(layer, nn.ReLU):
                feats.append(h)
        return h, feats


class DCGANDiscriminator(nn.Module):
    """images (B, C, R, R) [+ labels] -> logits (B,); projection conditioning when num_classes > 0."""

    def __init__(self, resolution: int, channels: int, width: float = 1.0, num_classes: int = 0) -> None:
        super().__init__()
        check_resolution(resolution)
        self.num_classes = num_classes
        blocks: list[nn.Module] = []
        r, c = resolution, channels
        first = True
        while r > 4:
            c_next = channels_at(r // 2, resolution, width)
            layer: list[nn.Module] = [nn.Conv2d(c, c_next, 4, 2, 1, bias=first)]
            if not first:
                layer.append(nn.BatchNorm2d(c_next))
            layer.append(nn.LeakyReLU(0.2, True))
            blocks.append(nn.Sequential(*layer))
            r, c, first = r // 2, c_next, False
        self.blocks = nn.ModuleList(blocks)
        self.feature_dim = c * 16
        self.head = nn.Linear(self.feature_dim, 1)
        if num_classes > 0:
            self.embed = nn.Embedding(num_classes, self.feature_dim)
            nn.init.normal_(self.embed.weight, std=1.0 / math.sqrt(self.feature_dim))

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Feature maps after every block (for perceptual and feature-matching losses)."""
        return features_after_each(self.blocks, x)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x)[-1].flatten(1)
        return projection_logits(h, self.head, labels, getattr(self, "embed", None))


def init_dcgan_weights(module: nn.Module) -> None:
    """DCGAN initialisation: N(0, 0.02) convolutions, N(1, 0.02) batch-norm scales."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


@dataclass
class DCGANOptions:
    """DCGAN settings beyond the shared config."""

    conditioning: str = "embed"   # how labels enter the generator: embed | affine
    start_resolution: int = 4     # the generator's first feature-map size (8: one block fewer)
    mixture: list[float] = field(default_factory=list)  # fused unconditional students: component weights
    channels: list[int] = field(default_factory=list)  # hidden blocks' channels, one per block (empty: the width's)


def _validate(cfg: "GeneratorConfig") -> None:
    o = cfg.options
    if o.conditioning not in CONDITIONINGS:
        raise ValueError(f"conditioning must be one of {', '.join(CONDITIONINGS)}, got {o.conditioning!r}")
    if o.mixture and (cfg.num_classes or min(o.mixture) <= 0):
        raise ValueError("mixture weights need an unconditional generator and positive weights")
    if o.start_resolution < 4 or o.start_resolution >= cfg.resolution or o.start_resolution & (o.start_resolution - 1):
        raise ValueError(f"start_resolution must be a power of two from 4 to {cfg.resolution // 2}, "
                         f"got {o.start_resolution}")
    blocks = len(hidden_channels(o.start_resolution, cfg.resolution, cfg.width))
    if o.channels and (len(o.channels) != blocks or min(o.channels) < 1):
        raise ValueError(f"dcgan option channels needs {blocks} positive counts (one per hidden block), "
                         f"got {o.channels}")


def _build_generator(cfg: "GeneratorConfig") -> DCGANGenerator:
    o = cfg.options
    g = DCGANGenerator(cfg.latent_dim, cfg.resolution, cfg.channels, cfg.width, cfg.num_classes,
                       conditioning=o.conditioning, mixture=list(o.mixture) or None, start=o.start_resolution,
                       plan=list(o.channels) or None)
    init_dcgan_weights(g)
    return g


def _build_discriminator(cfg: "DiscriminatorConfig") -> DCGANDiscriminator:
    d = DCGANDiscriminator(cfg.resolution, cfg.channels, cfg.width, cfg.num_classes)
    init_dcgan_weights(d)
    return d


def _channel_groups(g: nn.Module) -> list[ChannelGroup]:
    """Every hidden block's output channels: its transposed convolution's weight (dim 1) and batch norm make them,
    the next transposed convolution (dim 0) reads them; an ``affine`` generator's per-label constant joins the
    first block's. Tapped after the block's ReLU."""
    layers = list(g.main)
    convs = [i for i, m in enumerate(layers) if isinstance(m, nn.ConvTranspose2d)]
    groups = []
    for i, j in enumerate(convs[:-1]):
        bn = f"main.{j + 1}"
        slices = [Slice(f"main.{j}.weight", 1)] + [Slice(f"{bn}.{k}", 0) for k in ("weight", "bias", "running_mean",
                                                                                     "running_var")]
        if i == 0 and hasattr(g, "cond_const"):
            slices.append(Slice("cond_const", 1))
        slices.append(Slice(f"main.{convs[i + 1]}.weight", 0, "in"))
        groups.append(ChannelGroup(f"block{i}", tuple(slices), (f"main.{j + 2}", "out")))
    return groups


def _channel_plan(cfg: "GeneratorConfig", sizes: list[int]) -> "GeneratorConfig":
    """``cfg`` with the hidden blocks' channels ``sizes`` (one per channel group, in order)."""
    return dataclasses.replace(cfg, options=dataclasses.replace(cfg.options, channels=list(sizes)))


def _feature_resolutions(cfg: "GeneratorConfig") -> list[int]:
    sizes, r = [], cfg.options.start_resolution
    while r < cfg.resolution:
        sizes.append(r)
        r *= 2
    return sizes


FAMILY = register(ModelFamily(
    name="dcgan", kind="image", options=DCGANOptions,
    capabilities=Capabilities(labels=True, mixture_latent=True, feature_taps=True, discriminator_blocks=True,
                              discriminator_features=True, batch_norm=True),
    build_generator=_build_generator, build_discriminator=_build_discriminator, validate=_validate,
    feature_resolutions=_feature_resolutions, channel_groups=_channel_groups,
    channel_plan=_channel_plan,
    description="convolutional generator and discriminator (Radford et al. 2016), width multiplier, labels"))
