"""Structure terms for image outputs (as OMGD used to compress translators): SSIM between student and teacher
images, Gram matrices (style) of a frozen feature network's maps, and total variation of the student's image; and
the frozen feature network a translator's perceptual and Gram terms use when no data set ships one.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torchmetrics.functional.image import structural_similarity_index_measure

from gantransfer.engine.terms import LossTerm, StepContext


class SSIMLoss(LossTerm):
    """1 - SSIM (Gaussian window 11, sigma 1.5) between student and teacher images in [-1, 1]."""
    name = "ssim"

    def compute(self, ctx: StepContext) -> torch.Tensor:
        s, t = ctx["student"].float(), ctx["teacher"].float()
        return 1 - structural_similarity_index_measure(s, t, data_range=2.0)


def gram(x: torch.Tensor) -> torch.Tensor:
    """Gram matrices (N, C, C) of feature maps (N, C, H, W), normalised by C*H*W."""
    n, c, h, w = x.shape
    f = x.reshape(n, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


class GramLoss(LossTerm):
    """Sum over layers of the mean squared difference of the Gram matrices of a frozen network's feature maps of
    student and teacher images (the teacher's maps come as ``teacher_features``)."""
    name = "gram"

    def __init__(self, features: Callable[[torch.Tensor], list[torch.Tensor]], weight: float = 1.0) -> None:
        super().__init__(weight)
        self.features = features

    def compute(self, ctx: StepContext) -> torch.Tensor:
        fs, ft = self.features(ctx["student"]), ctx["teacher_features"]
        return sum((gram(a) - gram(b)).pow(2).sum((1, 2)).mean() for a, b in zip(fs, ft))


class TotalVariation(LossTerm):
    """Mean absolute difference of neighbouring pixels of the student's image (a smoothness prior)."""
    name = "tv"

    def compute(self, ctx: StepContext) -> torch.Tensor:
        x = ctx["student"]
        return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()


class RandomFeatures(nn.Module):
    """A frozen, seeded, randomly initialised convolutional network (3x3 convolutions, ReLU, three stride-2
    stages): feature maps that no evaluation protocol uses, for any channel count and no download. Random
    convolutional features are a known stand-in for a trained perceptual network on texture and structure."""

    def __init__(self, channels: int, width: int = 32, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        layers, c = [], channels
        for out, stride in ((width, 1), (width, 2), (2 * width, 2), (4 * width, 2)):
            conv = nn.Conv2d(c, out, 3, stride=stride, padding=1)
            with torch.no_grad():  # He-normal from the seed: the same network in every run and process
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=g) * (2 / (c * 9)) ** 0.5)
                conv.bias.zero_()
            layers += [conv, nn.ReLU()]
            c = out
        self.body = nn.Sequential(*layers)
        self.eval().requires_grad_(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out, h = [], x
        for layer in self.body:
            h = layer(h)
            if isinstance(layer, nn.ReLU):
                out.append(h)
        return out
