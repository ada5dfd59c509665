"""``shuffle-resnet``: a compact translator that works at 1/``factor`` of the image size from its first layer on.

The input is folded into channels (``pixel_unshuffle``: each ``factor`` x ``factor`` patch becomes
``factor**2 * in_channels`` channels), a 3x3 convolution makes the 4 ngf trunk channels of a ResNet translator of
the same ngf, depthwise-separable residual blocks (the mobile block) run at 1/``factor`` of the size, and a 3x3
convolution with ``pixel_shuffle`` unfolds ``factor**2 * out_channels`` channels back into the image. There is no
layer at the full resolution and no transposed convolution: thin full-size layers (the 7x7 input and output
convolutions, the upsamplings of ``resnet`` and ``mobile-resnet``) are what keeps small ResNet students slow on a
CPU whatever their MACs. The blocks' activations are the feature taps, at 1/``factor`` of the size (1/4 by default:
the resolution of a ResNet teacher's taps). Any input whose sides are multiples of ``factor``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.nn import functional as F

from gantransfer.models.family import Capabilities, ModelFamily, register
from gantransfer.models.translator_blocks import (SeparableResidualBlock, check_translator_input, conv_bias,
                                                  init_translator_weights, labels_bound, norm_layer,
                                                  validate_translator)

if TYPE_CHECKING:
    from gantransfer.models.config import GeneratorConfig

FACTORS = (2, 4, 8)


@dataclass
class ShuffleOptions:
    """Shuffle translator settings: trunk of 4 ngf channels at 1/factor of the image size."""

    ngf: int = 16               # a quarter of the trunk's channels (as in resnet: 4 ngf after two downsamplings)
    n_blocks: int = 6           # separable residual blocks in the trunk
    norm: str = "instance"      # instance | batch | none
    dropout: bool = False       # dropout 0.5 inside each residual block (active in train mode only)
    factor: int = 4             # the image side is folded by this factor: 2, 4 or 8


class ShuffleTranslator(nn.Module):
    """images (N, in_channels, H, W) in [-1, 1] -> images (N, out_channels, H, W) in [-1, 1]."""

    def __init__(self, in_channels: int, out_channels: int, ngf: int = 16, n_blocks: int = 6,
                 norm: str = "instance", dropout: bool = False, factor: int = 4, num_labels: int = 0) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.n_blocks = in_channels, out_channels, n_blocks
        self.multiple = self.factor = factor
        self.num_labels = k = num_labels
        c = 4 * ngf
        self.head = nn.Sequential(nn.Conv2d(in_channels * factor ** 2, c, 3, padding=1, bias=conv_bias(norm)),
                                  norm_layer(norm, c, k), nn.ReLU(True))
        self.blocks = nn.ModuleList(SeparableResidualBlock(c, norm, dropout, k) for _ in range(n_blocks))
        self.tail = nn.Conv2d(c, out_channels * factor ** 2, 3, padding=1)

    def _run(self, x: torch.Tensor, feats: list[torch.Tensor] | None) -> torch.Tensor:
        h = self.head(F.pixel_unshuffle(x, self.factor))
        for block in self.blocks:
            h = block(h)
            if feats is not None:
                feats.append(h)
        return torch.tanh(F.pixel_shuffle(self.tail(h), self.factor))

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        check_translator_input(x, self.in_channels, self.multiple, labels, self.num_labels)
        with labels_bound(self, labels):
            return self._run(x, None)

    def forward_features(self, x: torch.Tensor, labels: torch.Tensor | None = None
                         ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Images and the activations after every residual block (4 ngf maps at 1/factor of the input size)."""
        check_translator_input(x, self.in_channels, self.multiple, labels, self.num_labels)
        feats: list[torch.Tensor] = []
        with labels_bound(self, labels):
            return self._run(x, feats), feats


def _validate(cfg: "GeneratorConfig") -> None:
    validate_translator(cfg)
    o = cfg.options
    if not 0 <= o.n_blocks <= 64:
        raise ValueError(f"n_blocks must be between 0 and 64, got {o.n_blocks}")
    if o.factor not in FACTORS:
        raise ValueError(f"factor must be one of {', '.join(map(str, FACTORS))}, got {o.factor}")
    if cfg.resolution % o.factor:
        raise ValueError(f"resolution {cfg.resolution} must be a multiple of factor {o.factor}")


def _build(cfg: "GeneratorConfig") -> ShuffleTranslator:
    o = cfg.options
    g = ShuffleTranslator(cfg.input_channels, cfg.channels, o.ngf, o.n_blocks, o.norm, o.dropout, o.factor,
                          cfg.num_classes)
    init_translator_weights(g)
    return g


def _feature_resolutions(cfg: "GeneratorConfig") -> list[int]:
    return [cfg.resolution // cfg.options.factor] * cfg.options.n_blocks


FAMILY = register(ModelFamily(
    name="shuffle-resnet", kind="translator", options=ShuffleOptions,
    capabilities=Capabilities(labels=True, feature_taps=True, batch_norm=True),
    build_generator=_build, validate=_validate, feature_resolutions=_feature_resolutions, max_resolution=1024,
    description="compact translator working at 1/4 of the image size from its first layer (pixel unshuffle, "
                "separable residual blocks, pixel shuffle): a fast CPU student for resnet"))
