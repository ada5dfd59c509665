"""Building blocks shared by the image-to-image translator families (``translator_resnet``, ``translator_unet``).

Norm kinds follow the pix2pix/CycleGAN convention: ``instance`` (no affine parameters, no running statistics;
convolutions carry a bias), ``batch`` (affine, running statistics; convolutions without bias) and ``none``
(identity; convolutions without bias either). The options, the validation shared by every translator family and
the translator's call signature ``g(x)`` / ``g(x, labels)`` live here too.

Label-conditional translators (``num_classes`` > 0: a fused translator applying one of several teachers' mappings)
condition every norm layer on the label (``LabelNorm``: conditional normalisation, a learned per-label scale and
shift after the norm). Constant label planes concatenated to the input would not do: an instance norm after the
first convolution removes any spatially constant signal.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

import torch
from torch import nn

if TYPE_CHECKING:
    from gantransfer.models.config import GeneratorConfig

NORMS = ("instance", "batch", "none")
MAX_INPUT_SIDE = 4096  # the largest image side a translator is run on (memory bound, not a network limit)
MAX_LABELS = 256       # the most mappings one label-conditional translator applies


def check_norm(norm: str) -> None:
    """ValueError unless ``norm`` is a known norm kind."""
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")


def conv_bias(norm: str) -> bool:
    """Whether convolutions followed by a norm of kind ``norm`` carry a bias (only before instance norm)."""
    return norm == "instance"


def norm_layer(norm: str, channels: int, labels: int = 0) -> nn.Module:
    """The norm of kind ``norm`` over ``channels`` feature maps; with ``labels`` > 0, conditioned on a label."""
    check_norm(norm)
    if labels:
        return LabelNorm(norm, channels, labels)
    if norm == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if norm == "batch":
        return nn.BatchNorm2d(channels, affine=True, track_running_stats=True)
    return nn.Identity()


class LabelNorm(nn.Module):
    """Conditional normalisation: ``(1 + scale[y]) * norm(x) + shift[y]`` for labels ``y`` (bound by
    ``bind_labels`` before the forward pass); scale and shift start at zero, so every label starts alike."""

    def __init__(self, norm: str, channels: int, labels: int) -> None:
        super().__init__()
        self.norm = norm_layer(norm, channels)
        self.scale, self.shift = nn.Embedding(labels, channels), nn.Embedding(labels, channels)
        nn.init.zeros_(self.scale.weight)
        nn.init.zeros_(self.shift.weight)
        self.labels: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.labels is None:
            raise ValueError("a label-conditional translator needs labels: call it as g(x, labels)")
        y = self.labels
        return self.norm(x) * (1 + self.scale(y)[:, :, None, None]) + self.shift(y)[:, :, None, None]


def bind_labels(module: nn.Module, labels: torch.Tensor | None) -> None:
    """Give every ``LabelNorm`` inside ``module`` the labels of the coming forward pass (None: unbind)."""
    for m in module.modules():
        if isinstance(m, LabelNorm):
            m.labels = labels


@contextlib.contextmanager
def labels_bound(module: nn.Module, labels: torch.Tensor | None) -> Iterator[None]:
    """Within the block, ``module``'s label norms see ``labels`` (nothing is bound without labels)."""
    if labels is None:
        yield
        return
    bind_labels(module, labels)
    try:
        yield
    finally:
        bind_labels(module, None)


class ResidualBlock(nn.Module):
    """x + [pad, conv3x3, norm, ReLU, (dropout), pad, conv3x3, norm](x); the sequence is ``conv_block``."""

    def __init__(self, dim: int, norm: str, dropout: bool, labels: int = 0) -> None:
        super().__init__()
        bias = conv_bias(norm)
        layers: list[nn.Module] = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias),
                                   norm_layer(norm, dim, labels), nn.ReLU(True)]
        if dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), norm_layer(norm, dim, labels)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class SeparableConv(nn.Module):
    """Depthwise 3x3 convolution, norm, pointwise 1x1 convolution (the mobile block's convolution)."""

    def __init__(self, dim: int, out: int, norm: str, labels: int = 0) -> None:
        super().__init__()
        bias = conv_bias(norm)
        self.depthwise = nn.Conv2d(dim, dim, 3, groups=dim, bias=bias)
        self.norm = norm_layer(norm, dim, labels)
        self.pointwise = nn.Conv2d(dim, out, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.norm(self.depthwise(x)))


class SeparableResidualBlock(nn.Module):
    """x + [pad, separable conv, norm, ReLU, (dropout), pad, separable conv, norm](x): the mobile ResNet block
    (GAN Compression's student), about 9x fewer MACs than ``ResidualBlock`` at the same width."""

    def __init__(self, dim: int, norm: str, dropout: bool, labels: int = 0) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.ReflectionPad2d(1), SeparableConv(dim, dim, norm, labels),
                                   norm_layer(norm, dim, labels), nn.ReLU(True)]
        if dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.ReflectionPad2d(1), SeparableConv(dim, dim, norm, labels), norm_layer(norm, dim, labels)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


def init_translator_weights(module: nn.Module, gain: float = 0.02) -> None:
    """pix2pix's ``normal`` initialisation: N(0, gain) convolution weights, zero biases, N(1, gain) norm scales."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)


def check_translator_input(x: torch.Tensor, channels: int, multiple: int, labels: torch.Tensor | None,
                           num_labels: int = 0) -> None:
    """ValueError unless ``x`` is an (N, ``channels``, H, W) batch with H and W multiples of ``multiple``, and
    ``labels`` is None for a plain translator or N integer labels in 0 .. ``num_labels`` - 1 for a conditional one."""
    if not num_labels and labels is not None:
        raise ValueError("this translator is not label-conditional: call it as g(x)")
    if num_labels:
        if labels is None:
            raise ValueError(f"this translator applies one of {num_labels} mappings: call it as g(x, labels) with "
                             f"labels in 0..{num_labels - 1}")
        if labels.dim() != 1 or len(labels) != len(x) or labels.dtype.is_floating_point or labels.dtype == torch.bool:
            raise ValueError(f"labels must be {len(x)} integers (one per image), got {labels.dtype} of shape "
                             f"{tuple(labels.shape)}")
        if not torch.jit.is_tracing() and len(labels) and not (0 <= int(labels.min()) and
                                                              int(labels.max()) < num_labels):
            raise ValueError(f"labels must lie in 0..{num_labels - 1}, got {int(labels.min())}..{int(labels.max())}")
    if x.dim() != 4 or x.shape[1] != channels:
        raise ValueError(f"a translator takes images (N, {channels}, H, W), got shape {tuple(x.shape)}")
    h, w = x.shape[-2:]
    if h % multiple or w % multiple:
        raise ValueError(f"image size {h}x{w} does not fit this translator: both sides must be multiples of "
                         f"{multiple}; nearest valid: {nearest_sizes(h, multiple)} x {nearest_sizes(w, multiple)}")


def nearest_sizes(side: int, multiple: int) -> str:
    """The multiples of ``multiple`` just below and above ``side``, as text (e.g. ``"96 or 128"``)."""
    lo, hi = side // multiple * multiple, -(-side // multiple) * multiple
    return str(hi) if lo == 0 or lo == hi else f"{lo} or {hi}"


@dataclass
class ResnetOptions:
    """ResNet translator settings (pix2pix/CycleGAN ``resnet_9blocks`` is ngf 64, 9 blocks, instance norm)."""

    ngf: int = 64               # filters of the first convolution (x2 after each of the two downsamplings)
    n_blocks: int = 9           # residual blocks at 1/4 of the image size
    norm: str = "instance"      # instance | batch | none
    dropout: bool = False       # dropout 0.5 inside each residual block (active in train mode only)


@dataclass
class UnetOptions:
    """U-Net translator settings (pix2pix ``unet_256`` is ngf 64, 8 downsamplings, batch norm)."""

    ngf: int = 64
    num_downs: int = 8          # downsamplings: the input side must be a multiple of 2**num_downs
    norm: str = "batch"
    dropout: bool = False       # dropout 0.5 in the innermost ngf*8 levels (pix2pix trains with it on)


def validate_translator(cfg: "GeneratorConfig") -> None:
    """Checks every translator family shares: a known norm, positive ngf, at most ``MAX_LABELS`` labels."""
    o = cfg.options
    check_norm(o.norm)
    if not 1 <= o.ngf <= 1024:
        raise ValueError(f"ngf must be between 1 and 1024, got {o.ngf}")
    if cfg.num_classes > MAX_LABELS:
        raise ValueError(f"a translator applies at most {MAX_LABELS} mappings (labels), got num_classes "
                         f"{cfg.num_classes}")
