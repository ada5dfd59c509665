"""ResNet image-to-image translators: ``resnet`` (pix2pix/CycleGAN's ResnetGenerator layout) and ``mobile-resnet``
(the same frame with depthwise-separable residual blocks, a compact student as in GAN Compression).

Layout of ``model`` (an ``nn.Sequential``; indices are the state-dict keys, so junyanz checkpoints load as they
are): 0 reflection pad 3, 1 conv 7x7 (in -> ngf), 2 norm, 3 ReLU; 4-6 and 7-9 two stride-2 3x3 convolutions
(ngf -> 2 ngf -> 4 ngf) with norm and ReLU; 10 .. 9+n residual blocks at 4 ngf; then two stride-2 transposed
3x3 convolutions back to ngf with norm and ReLU, reflection pad 3, conv 7x7 (ngf -> out, with bias), tanh.
Fully convolutional: any input whose sides are multiples of 4. With ``num_labels`` > 0 every norm is a
``LabelNorm`` (one translator, several mappings: ``g(x, labels)``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from gantransfer.models.family import Capabilities, ModelFamily, register
from gantransfer.models.translator_blocks import (ResidualBlock, ResnetOptions, SeparableResidualBlock,
                                                  check_translator_input, conv_bias, init_translator_weights,
                                                  labels_bound, norm_layer, validate_translator)
from gantransfer.models.translator_prune import resnet_channel_groups

if TYPE_CHECKING:
    from gantransfer.models.config import GeneratorConfig

DOWNSAMPLINGS = 2
FIRST_BLOCK = 10  # index of the first residual block in ``model``


class ResnetTranslator(nn.Module):
    """images (N, in_channels, H, W) in [-1, 1] -> images (N, out_channels, H, W) in [-1, 1]."""

    multiple = 2 ** DOWNSAMPLINGS

    def __init__(self, in_channels: int, out_channels: int, ngf: int = 64, n_blocks: int = 9,
                 norm: str = "instance", dropout: bool = False, separable: bool = False, num_labels: int = 0) -> None:
        super().__init__()
        if n_blocks < 0:
            raise ValueError(f"n_blocks must be >= 0, got {n_blocks}")
        self.in_channels, self.out_channels, self.n_blocks = in_channels, out_channels, n_blocks
        self.num_labels = k = num_labels
        bias = conv_bias(norm)
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, ngf, 7, bias=bias),
                                   norm_layer(norm, ngf, k), nn.ReLU(True)]
        c = ngf
        for _ in range(DOWNSAMPLINGS):
            layers += [nn.Conv2d(c, 2 * c, 3, stride=2, padding=1, bias=bias), norm_layer(norm, 2 * c, k),
                       nn.ReLU(True)]
            c *= 2
        block = SeparableResidualBlock if separable else ResidualBlock
        layers += [block(c, norm, dropout, k) for _ in range(n_blocks)]
        for _ in range(DOWNSAMPLINGS):
            layers += [nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1, bias=bias),
                       norm_layer(norm, c // 2, k), nn.ReLU(True)]
            c //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(c, out_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        check_translator_input(x, self.in_channels, self.multiple, labels, self.num_labels)
        with labels_bound(self, labels):
            return self.model(x)

    def forward_features(self, x: torch.Tensor, labels: torch.Tensor | None = None
                         ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Images and the activations after every residual block (4 ngf maps at 1/4 of the input size)."""
        check_translator_input(x, self.in_channels, self.multiple, labels, self.num_labels)
        feats = []
        with labels_bound(self, labels):
            for i, layer in enumerate(self.model):
                x = layer(x)
                if FIRST_BLOCK <= i < FIRST_BLOCK + self.n_blocks:
                    feats.append(x)
        return x, feats


def _validate(cfg: "GeneratorConfig") -> None:
    validate_translator(cfg)
    if not 0 <= cfg.options.n_blocks <= 64:
        raise ValueError(f"n_blocks must be between 0 and 64, got {cfg.options.n_blocks}")


def _builder(separable: bool):
    def build(cfg: "GeneratorConfig") -> ResnetTranslator:
        o = cfg.options
        g = ResnetTranslator(cfg.input_channels, cfg.channels, o.ngf, o.n_blocks, o.norm, o.dropout, separable,
                             cfg.num_classes)
        init_translator_weights(g)
        return g
    return build


def _feature_resolutions(cfg: "GeneratorConfig") -> list[int]:
    return [cfg.resolution // 4] * cfg.options.n_blocks


# batch norm when options.norm is "batch"; labels: one translator applying several mappings (fused translators)
CAPABILITIES = Capabilities(labels=True, feature_taps=True, batch_norm=True)


FAMILY = register(ModelFamily(
    name="resnet", kind="translator", options=ResnetOptions, capabilities=CAPABILITIES,
    build_generator=_builder(False), validate=_validate, feature_resolutions=_feature_resolutions,
    max_resolution=1024, channel_groups=resnet_channel_groups,
    description="image-to-image ResNet translator (pix2pix/CycleGAN resnet_6blocks, resnet_9blocks)"))

MOBILE_FAMILY = register(ModelFamily(
    name="mobile-resnet", kind="translator", options=ResnetOptions, capabilities=CAPABILITIES,
    build_generator=_builder(True), validate=_validate, feature_resolutions=_feature_resolutions,
    max_resolution=1024, channel_groups=resnet_channel_groups,
    description="compact ResNet translator with depthwise-separable residual blocks (a student for resnet)"))
