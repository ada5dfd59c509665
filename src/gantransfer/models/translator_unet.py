"""U-Net image-to-image translator ``unet`` (pix2pix's UnetGenerator layout: nested levels with skip connections).

Each level is ``model``, an ``nn.Sequential``; a level that is not the outermost returns ``cat([x, model(x)])``
(the skip connection). Level contents and their indices (the state-dict keys, so junyanz checkpoints load as
they are): outermost ``[down conv, inner level, ReLU, up conv (with bias), tanh]``; middle ``[LeakyReLU, down
conv, norm, inner level, ReLU, up conv, norm, (dropout)]``; innermost ``[LeakyReLU, down conv, ReLU, up conv,
norm]``. Convolutions are 4x4 stride 2. Channels: ngf, 2 ngf, 4 ngf, then 8 ngf for the remaining levels.
With ``num_labels`` > 0 every norm is a ``LabelNorm`` (several mappings in one translator: ``g(x, labels)``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from gantransfer.models.family import Capabilities, ModelFamily, register
from gantransfer.models.translator_blocks import (UnetOptions, check_translator_input, conv_bias,
                                                  init_translator_weights, labels_bound, norm_layer,
                                                  validate_translator)
from gantransfer.models.translator_prune import unet_channel_groups

if TYPE_CHECKING:
    from gantransfer.models.config import GeneratorConfig

MIN_DOWNS = 5  # outermost, three widening levels and the innermost


class UnetLevel(nn.Module):
    """One U-Net level: down convolution, the ``inner`` level (None: innermost), up convolution."""

    def __init__(self, outer: int, inner_channels: int, norm: str, inner: "UnetLevel | None" = None,
                 in_channels: int | None = None, outermost: bool = False, dropout: bool = False,
                 labels: int = 0) -> None:
        super().__init__()
        self.outermost = outermost
        bias = conv_bias(norm)
        down = nn.Conv2d(in_channels or outer, inner_channels, 4, stride=2, padding=1, bias=bias)
        if outermost:
            layers = [down, inner, nn.ReLU(True), nn.ConvTranspose2d(2 * inner_channels, outer, 4, 2, 1), nn.Tanh()]
        elif inner is None:
            layers = [nn.LeakyReLU(0.2, True), down, nn.ReLU(True),
                      nn.ConvTranspose2d(inner_channels, outer, 4, 2, 1, bias=bias), norm_layer(norm, outer, labels)]
        else:
            layers = [nn.LeakyReLU(0.2, True), down, norm_layer(norm, inner_channels, labels), inner, nn.ReLU(True),
                      nn.ConvTranspose2d(2 * inner_channels, outer, 4, 2, 1, bias=bias),
                      norm_layer(norm, outer, labels)]
            if dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x, None)

    def run(self, x: torch.Tensor, feats: list[torch.Tensor] | None) -> torch.Tensor:
        """The level's output; with ``feats``, every inner level's up-path output is appended (innermost first)."""
        if feats is None:
            y = self.model(x)
        else:
            y = x
            for layer in self.model:
                y = layer.run(y, feats) if isinstance(layer, UnetLevel) else layer(y)
        if self.outermost:
            return y
        if feats is not None:
            feats.append(y)
        return torch.cat([x, y], 1)


class UnetTranslator(nn.Module):
    """images (N, in_channels, H, W) in [-1, 1] -> (N, out_channels, H, W); H, W multiples of 2**num_downs."""

    def __init__(self, in_channels: int, out_channels: int, num_downs: int = 8, ngf: int = 64,
                 norm: str = "batch", dropout: bool = False, num_labels: int = 0) -> None:
        super().__init__()
        if num_downs < MIN_DOWNS:
            raise ValueError(f"num_downs must be at least {MIN_DOWNS}, got {num_downs}")
        self.in_channels, self.out_channels, self.num_downs = in_channels, out_channels, num_downs
        self.multiple, self.num_labels = 2 ** num_downs, num_labels
        level = UnetLevel(8 * ngf, 8 * ngf, norm, labels=num_labels)
        for _ in range(num_downs - MIN_DOWNS):
            level = UnetLevel(8 * ngf, 8 * ngf, norm, level, dropout=dropout, labels=num_labels)
        for outer in (4 * ngf, 2 * ngf, ngf):
            level = UnetLevel(outer, 2 * outer, norm, level, labels=num_labels)
        self.model = UnetLevel(out_channels, ngf, norm, level, in_channels=in_channels, outermost=True)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        check_translator_input(x, self.in_channels, self.multiple, labels, self.num_labels)
        with labels_bound(self, labels):
            return self.model(x)

    def forward_features(self, x: torch.Tensor, labels: torch.Tensor | None = None
                         ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Images and the up-path output of every inner level, coarsest (1/2**(num_downs-1)) to 1/2 size."""
        check_translator_input(x, self.in_channels, self.multiple, labels, self.num_labels)
        feats: list[torch.Tensor] = []
        with labels_bound(self, labels):
            return self.model.run(x, feats), feats


def _validate(cfg: "GeneratorConfig") -> None:
    validate_translator(cfg)
    o = cfg.options
    if not MIN_DOWNS <= o.num_downs <= 10:
        raise ValueError(f"num_downs must be between {MIN_DOWNS} and 10, got {o.num_downs}")
    if cfg.resolution % 2 ** o.num_downs:
        raise ValueError(f"a U-Net with {o.num_downs} downsamplings needs an image side that is a multiple of "
                         f"{2 ** o.num_downs}, got resolution {cfg.resolution}")


def _build(cfg: "GeneratorConfig") -> UnetTranslator:
    o = cfg.options
    g = UnetTranslator(cfg.input_channels, cfg.channels, o.num_downs, o.ngf, o.norm, o.dropout, cfg.num_classes)
    init_translator_weights(g)
    return g


def _feature_resolutions(cfg: "GeneratorConfig") -> list[int]:
    return [cfg.resolution // 2 ** d for d in range(cfg.options.num_downs - 1, 0, -1)]


FAMILY = register(ModelFamily(
    name="unet", kind="translator", options=UnetOptions,
    capabilities=Capabilities(labels=True, feature_taps=True, batch_norm=True),
    build_generator=_build, validate=_validate, feature_resolutions=_feature_resolutions, max_resolution=1024,
    channel_groups=unet_channel_groups, description="image-to-image U-Net translator (pix2pix unet_128, unet_256)"))
