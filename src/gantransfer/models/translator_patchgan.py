"""A small PatchGAN discriminator (pix2pix's NLayerDiscriminator layout) for translator students: 4x4 stride-2
convolutions with LeakyReLU and instance norm, then a 1-channel map of per-patch logits. Conditional use (as
pix2pix): it is given the input and the output image side by side on channels."""
from __future__ import annotations

import torch
from torch import nn


class PatchDiscriminator(nn.Module):
    """(N, channels, H, W) -> per-patch logits (N, 1, H', W'); ``labels`` must be None."""

    def __init__(self, channels: int, ndf: int = 16, n_layers: int = 2) -> None:
        super().__init__()
        if channels < 1 or ndf < 1 or n_layers < 1:
            raise ValueError(f"channels, ndf and n_layers must be >= 1, got {channels}, {ndf}, {n_layers}")
        layers: list[nn.Module] = [nn.Conv2d(channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        c = ndf
        for i in range(1, n_layers + 1):
            out = ndf * min(2 ** i, 8)
            stride = 2 if i < n_layers else 1
            layers += [nn.Conv2d(c, out, 4, stride, 1), nn.InstanceNorm2d(out), nn.LeakyReLU(0.2, True)]
            c = out
        layers.append(nn.Conv2d(c, 1, 4, 1, 1))
        self.model = nn.Sequential(*layers)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0.0, 0.02)
                nn.init.zeros_(m.bias)

    @property
    def blocks(self) -> list[nn.Module]:
        """Its convolutions before the head, in order: what ``adapt --freeze-d K`` freezes the first K of."""
        convs = [m for m in self.model if isinstance(m, nn.Conv2d)]
        return convs[:-1]

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if labels is not None:
            raise ValueError("the patch discriminator takes no labels")
        return self.model(x)
