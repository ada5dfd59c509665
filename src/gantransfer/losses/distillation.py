"""Loss terms that match a student generator to a teacher on the same latents.

They read ``student`` and ``teacher`` images from the step context; the perceptual term compares feature maps
of a frozen network (the teacher's discriminator or the protocol classifier), so that structure, not only
pixels, is matched: pixel-only students are blurry.
"""
from __future__ import annotations

import copy
from typing import Callable

import torch

from gantransfer.engine.terms import LossTerm, StepContext


class PixelLoss(LossTerm):
    """Mean absolute (p=1) or squared (p=2) difference between student and teacher images."""
    name = "pixel"

    def __init__(self, weight: float = 1.0, p: int = 1) -> None:
        super().__init__(weight)
        self.p = p
        if p == 2:
            self.name = "pixel_l2"

    def compute(self, ctx: StepContext) -> torch.Tensor:
        diff = ctx["student"] - ctx["teacher"]
        return diff.abs().mean() if self.p == 1 else diff.pow(2).mean()


class PerceptualLoss(LossTerm):
    """Sum over layers of the mean squared difference of normalised feature maps (LPIPS-style, unlearned)."""
    name = "perceptual"

    def __init__(self, features: Callable[[torch.Tensor], list[torch.Tensor]], weight: float = 1.0) -> None:
        super().__init__(weight)
        self.features = features

    def compute(self, ctx: StepContext) -> torch.Tensor:
        fs, ft = self.features(ctx["student"]), ctx["teacher_features"]
        return sum(unit_distance(a, b) for a, b in zip(fs, ft))


UNIT_EPS = 1e-10  # added to squared norms before normalising: an all-zero feature vector stays zero


def unit_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean over positions of ||a/|a| - b/|b|||^2 along channels (norms taken with ``UNIT_EPS``), for ``b`` a
    constant target. Expanded as |â|^2 + |b̂|^2 - 2 â.b̂, so that only per-position sums of the large maps are
    formed: the same value as normalising both maps, within float rounding, in about a third of the CPU time.
    Computed in float32 (under bfloat16 autocast the expansion's cancellation would cost the difference)."""
    a, b = a.float(), b.float()
    with torch.no_grad():
        sb = b.pow(2).sum(1)
        rb = sb.add(UNIT_EPS).rsqrt()
        qb = sb * rb * rb
    sa = a.pow(2).sum(1)
    ra = sa.add(UNIT_EPS).rsqrt()
    return (sa * ra * ra + qb - 2 * (a * b).sum(1) * ra * rb).mean()


class FeatureMatching(LossTerm):
    """Intermediate generator activations of the student, mapped by learned 1x1 adapters to the teacher's
    channel counts, matched to the teacher's in mean squared error (white-box teachers only)."""
    name = "feature"

    def __init__(self, adapters: torch.nn.ModuleList, weight: float = 1.0) -> None:
        super().__init__(weight)
        self.adapters = adapters

    def compute(self, ctx: StepContext) -> torch.Tensor:
        fs, ft = ctx["student_features"], ctx["teacher_features_g"]
        pairs = getattr(self.adapters, "pairs", None) or list(zip(range(len(fs)), range(len(ft))))
        return sum((a(fs[i]) - ft[j]).pow(2).mean() for a, (i, j) in zip(self.adapters, pairs))


def feature_adapters(student_channels: list[int], teacher_channels: list[int],
                     pairs: list[tuple[int, int]] | None = None) -> torch.nn.ModuleList:
    """1x1 convolutions from each student block's channels to the teacher's; ``pairs`` (student block, teacher
    block) say which blocks meet, by resolution (a shallower student skips the teacher's first blocks)."""
    adapters = torch.nn.ModuleList(torch.nn.Conv2d(s, t, 1) for s, t in zip(student_channels, teacher_channels))
    adapters.pairs = pairs
    return adapters


def feature_maps_of_classifier(classifier) -> Callable[[torch.Tensor], list[torch.Tensor]]:
    """Feature maps after every ReLU of a protocol classifier's body. The classifier is frozen, so each Conv-BN
    pair is folded into one convolution and run channels-last: the same maps, a third less time on CPU."""
    body = [m.to(memory_format=torch.channels_last) for m in fold_batch_norms(copy.deepcopy(classifier.body))]

    def features(x: torch.Tensor) -> list[torch.Tensor]:
        out, h = [], classifier.prepare(x).contiguous(memory_format=torch.channels_last)
        for layer in body:
            h = layer(h)
            if isinstance(layer, torch.nn.ReLU):
                out.append(h)
        return out
    return features


def fold_batch_norms(layers: torch.nn.Sequential) -> list[torch.nn.Module]:
    """The layers of a frozen network in eval mode with every Conv2d-BatchNorm2d pair folded into one Conv2d."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval
    out: list[torch.nn.Module] = []
    for layer in layers:
        if (isinstance(layer, torch.nn.BatchNorm2d) and out and isinstance(out[-1], torch.nn.Conv2d)
                and not layer.training):
            out[-1] = fuse_conv_bn_eval(out[-1], layer).requires_grad_(False)
        else:
            out.append(layer)
    return out


def feature_maps_of_module(module: torch.nn.Module) -> Callable[[torch.Tensor], list[torch.Tensor]]:
    """A user's feature network: its output (a tensor, or a list/tuple of tensors) as the feature maps."""
    def features(x: torch.Tensor) -> list[torch.Tensor]:
        out = module(x)
        maps = list(out) if isinstance(out, (list, tuple)) else [out]
        return [m if m.dim() > 2 else m[:, :, None, None] for m in maps]
    return features


def feature_maps_of_discriminator(d) -> Callable[[torch.Tensor], list[torch.Tensor]]:
    """Feature maps after every block of a discriminator (``d.features``)."""
    return d.features


class TeacherPixelGap(LossTerm):
    """Monitor (weight 0): the L1 gap between student and teacher images on one teacher's share of the batch
    (``teacher_ids`` in the step marks whose share each sample is)."""

    def __init__(self, k: int, name: str) -> None:
        super().__init__(0.0)
        self.k, self.name = k, f"pixel@{name}"

    def compute(self, ctx: StepContext) -> torch.Tensor:
        mine = ctx["teacher_ids"] == self.k
        return (ctx["student"][mine] - ctx["teacher"][mine]).detach().abs().mean()
