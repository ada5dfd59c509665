"""StyleGAN2 (Karras et al. 2020) in plain PyTorch: mapping network, modulated/demodulated convolutions, noise
inputs, skip toRGB, residual discriminator with minibatch standard deviation, truncation, class conditioning.

Calling convention (the StyleGAN one): ``g(z, labels, truncation_psi=1.0, noise_mode="random")``;
``g.mapping(z, labels, truncation_psi=...)`` gives W (N, num_ws, w_dim) and ``g.synthesis(ws, noise_mode=...)``
images. ``noise_mode``: ``random`` (fresh noise; in eval mode seeded from the batch's W, see ``eval_noise_rng``),
``const`` (the stored noise buffers) or ``none``.

Channels at feature resolution r: ``min(channel_max, channel_base * width / r)`` -- ``width`` is the channel
multiplier (rosinality's ``channel_multiplier``; NVlabs' ``channel_base`` is 16384 x width).
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from gantransfer.errors import ConfigError
from gantransfer.image_space import check_resolution as _check_resolution
from gantransfer.models.family import Capabilities, ModelFamily, register
from gantransfer.models.layers import features_after_each
from gantransfer.models.prune import ChannelGroup, Slice
from gantransfer.models.stylegan2_ops import (bias_act, conv2d_resample, modulated_conv2d, normalize_2nd_moment,
                                              setup_filter, upsample2d)
from gantransfer.typed import from_dict

if TYPE_CHECKING:
    from gantransfer.models.config import DiscriminatorConfig, GeneratorConfig

NOISE_MODES = ("random", "const", "none")
MAX_RESOLUTION = 1024


def check_noise_mode(noise_mode: str) -> None:
    """ConfigError unless ``noise_mode`` is random, const or none."""
    if noise_mode not in NOISE_MODES:
        raise ConfigError(f"unknown noise mode {noise_mode!r}; choose one of {', '.join(NOISE_MODES)}")


def channels_at(r: int, width: float, channel_base: int = 16384, channel_max: int = 512) -> int:
    """Feature channels at spatial size ``r``."""
    return max(1, min(channel_max, int(channel_base * width) // r))


def check_resolution(resolution: int) -> None:
    """ValueError unless ``resolution`` is a power of two in [16, 1024]."""
    _check_resolution(resolution, ValueError, MAX_RESOLUTION)


# ---- layers -------------------------------------------------------------------------------------------------


class EqualLinear(nn.Module):
    """Fully connected layer with equalised learning rate: weight N(0, 1/lr_mul^2), used times lr_mul/sqrt(in)."""

    def __init__(self, in_features: int, out_features: int, bias_init: float = 0.0, lr_mul: float = 1.0,
                 activation: str = "linear") -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init)))
        self.weight_gain, self.lr_mul, self.activation = lr_mul / math.sqrt(in_features), lr_mul, activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w, b = self.weight * self.weight_gain, self.bias * self.lr_mul
        if self.activation == "linear":
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return bias_act(x.matmul(w.t()), b, self.activation)


class EqualConv2d(nn.Module):
    """Convolution with equalised learning rate, optional 2x downsampling (blur first), bias + activation."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True,
                 activation: str = "lrelu", down: int = 1, conv_clamp: float | None = None) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size ** 2)
        self.activation, self.down, self.conv_clamp = activation, down, conv_clamp
        self.register_buffer("resample_filter", setup_filter(), persistent=False)

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        x = conv2d_resample(x, self.weight * self.weight_gain, self.resample_filter, self.down)
        act_gain = (math.sqrt(2) if self.activation == "lrelu" else 1.0) * gain
        clamp = self.conv_clamp * gain if self.conv_clamp else None
        return bias_act(x, self.bias, self.activation, gain=act_gain, clamp=clamp)


class MappingNetwork(nn.Module):
    """z [+ one-hot label embedding] -> W: normalised inputs, ``layers`` equalised FC layers (lr multiplier).

    ``w_avg`` tracks the mean W during training (the truncation centre)."""

    def __init__(self, z_dim: int, num_classes: int, w_dim: int, num_ws: int | None, layers: int = 8,
                 lr_mul: float = 0.01, w_avg_beta: float | None = 0.995) -> None:
        super().__init__()
        self.z_dim, self.num_classes, self.w_dim, self.num_ws = z_dim, num_classes, w_dim, num_ws
        self.w_avg_beta = w_avg_beta
        self.track_w_avg = True  # False: w_avg stays as it is (a mapping network reused frozen)
        embed = w_dim if num_classes else 0
        if num_classes:
            self.embed = EqualLinear(num_classes, embed)
        dims = [z_dim + embed] + [w_dim] * layers
        self.fc = nn.ModuleList(EqualLinear(dims[k], dims[k + 1], lr_mul=lr_mul, activation="lrelu")
                                for k in range(layers))
        if w_avg_beta is not None:
            self.register_buffer("w_avg", torch.zeros(w_dim))

    def one_hot(self, labels: torch.Tensor | None, n: int) -> torch.Tensor:
        if labels is None:
            raise ConfigError("this StyleGAN2 generator is class-conditional: pass labels")
        if labels.dim() == 2:  # already one-hot (NVlabs' ``c``)
            return labels.float()
        return F.one_hot(labels.long(), self.num_classes).float().reshape(n, self.num_classes)

    def forward(self, z: torch.Tensor | None, labels: torch.Tensor | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None, update_w_avg: bool = True) -> torch.Tensor:
        parts = []
        if self.z_dim:
            parts.append(normalize_2nd_moment(z.float()))
        if self.num_classes:
            n = z.shape[0] if z is not None else labels.shape[0]
            parts.append(normalize_2nd_moment(self.embed(self.one_hot(labels, n))))
        x = torch.cat(parts, 1) if len(parts) > 1 else parts[0]
        for layer in self.fc:
            x = layer(x)
        if self.w_avg_beta is not None and self.training and update_w_avg and self.track_w_avg:
            with torch.no_grad():
                self.w_avg.copy_(x.detach().mean(0).lerp(self.w_avg, self.w_avg_beta))
        if self.num_ws is not None:
            x = x.unsqueeze(1).repeat(1, self.num_ws, 1)
        if truncation_psi != 1:
            cut = self.num_ws if truncation_cutoff is None else truncation_cutoff
            x = torch.cat([self.w_avg.lerp(x[:, :cut], truncation_psi), x[:, cut:]], 1)
        return x


class SynthesisLayer(nn.Module):
    """Modulated 3x3 convolution (optionally 2x upsampling), noise input, bias + leaky ReLU."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: int = 1,
                 use_noise: bool = True, conv_clamp: float | None = None) -> None:
        super().__init__()
        self.resolution, self.up, self.use_noise, self.conv_clamp = resolution, up, use_noise, conv_clamp
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 3, 3))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        if use_noise:
            self.noise_strength = nn.Parameter(torch.zeros(()))
            self.register_buffer("noise_const", torch.randn(resolution, resolution))
        self.register_buffer("resample_filter", setup_filter(), persistent=False)

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "random",
                rng: torch.Generator | None = None, noise: torch.Tensor | None = None) -> torch.Tensor:
        """``noise`` (N or 1, 1, R, R), when given, replaces the noise ``noise_mode`` would add."""
        x = modulated_conv2d(x, self.weight, self.affine(w), up=self.up, f=self.resample_filter)
        if self.use_noise and noise is not None:
            x = x + noise * self.noise_strength
        elif self.use_noise and noise_mode == "random":
            x = x + torch.randn(x.shape[0], 1, self.resolution, self.resolution, device=x.device,
                                dtype=x.dtype, generator=rng) * self.noise_strength
        elif self.use_noise and noise_mode == "const":
            x = x + self.noise_const * self.noise_strength
        return bias_act(x, self.bias, "lrelu", clamp=self.conv_clamp)


class ToRGB(nn.Module):
    """Modulated 1x1 convolution to image channels, without demodulation."""

    def __init__(self, in_channels: int, img_channels: int, w_dim: int, conv_clamp: float | None = None) -> None:
        super().__init__()
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn(img_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(img_channels))
        self.weight_gain, self.conv_clamp = 1 / math.sqrt(in_channels), conv_clamp

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        x = modulated_conv2d(x, self.weight, self.affine(w) * self.weight_gain, demodulate=False)
        return bias_act(x, self.bias, "linear", clamp=self.conv_clamp)


class SynthesisBlock(nn.Module):
    """One resolution of the synthesis network: [upsampling conv0,] conv1, toRGB added to the upsampled image."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, img_channels: int,
                 use_noise: bool = True, conv_clamp: float | None = None, mid_channels: int | None = None) -> None:
        """``mid_channels``: conv0's outputs, conv1's inputs (default ``out_channels``; the first block, without
        conv0: the constant's channels)."""
        super().__init__()
        self.resolution = resolution
        mid = out_channels if mid_channels is None else mid_channels
        if in_channels:
            self.conv0 = SynthesisLayer(in_channels, mid, w_dim, resolution, 2, use_noise, conv_clamp)
        self.conv1 = SynthesisLayer(mid, out_channels, w_dim, resolution, 1, use_noise, conv_clamp)
        self.torgb = ToRGB(out_channels, img_channels, w_dim, conv_clamp)
        self.num_conv = 2 if in_channels else 1
        self.register_buffer("resample_filter", setup_filter(), persistent=False)

    def forward(self, x: torch.Tensor, img: torch.Tensor | None, ws: torch.Tensor, noise_mode: str,
                rng: torch.Generator | None = None, noise: list[torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        k = 0
        if self.num_conv == 2:
            x = self.conv0(x, ws[:, 0], noise_mode, rng, None if noise is None else noise[0])
            k = 1
        x = self.conv1(x, ws[:, k], noise_mode, rng, None if noise is None else noise[k])
        y = self.torgb(x, ws[:, k + 1])
        img = y if img is None else upsample2d(img, self.resample_filter) + y
        return x, img


def eval_noise_rng(ws: torch.Tensor) -> torch.Generator | None:
    """The random generator of ``noise_mode="random"`` outside training: seeded from the batch's W, so sampling is
    a function of its inputs (``generate(seed=...)`` repeats exactly) and never draws from torch's global RNG (a
    preview or evaluation mid-run leaves the training stream, and so exact resume, untouched). None on the meta
    device (shapes only: the memory estimate)."""
    if ws.is_meta:
        return None
    digest = hashlib.blake2b(ws.detach().float().cpu().numpy().tobytes(), digest_size=8).digest()
    return torch.Generator(device=ws.device).manual_seed(int.from_bytes(digest, "little") >> 1)


def synthesis_plan(resolution: int, width: float, channel_base: int = 16384, channel_max: int = 512) -> list[int]:
    """The synthesis network's channels per channel group at ``width``: the 4x4 constant's, the 4x4 block's conv1,
    then each larger block's conv0 and conv1 (``2 log2(resolution) - 2`` counts)."""
    sizes = [2 ** k for k in range(2, int(math.log2(resolution)) + 1)]
    ch = [channels_at(r, width, channel_base, channel_max) for r in sizes]
    return [ch[0]] + [c for c in ch for _ in (0, 1)][1:]


class SynthesisNetwork(nn.Module):
    """W (N, num_ws, w_dim) -> images: a learned 4x4 constant, then one block per resolution up to ``resolution``."""

    def __init__(self, w_dim: int, resolution: int, img_channels: int, width: float, channel_base: int = 16384,
                 channel_max: int = 512, use_noise: bool = True, conv_clamp: float | None = None,
                 plan: list[int] | None = None) -> None:
        """``plan``: the channels of every channel group (``synthesis_plan``), instead of the width's."""
        super().__init__()
        self.w_dim, self.resolution = w_dim, resolution
        sizes = [2 ** k for k in range(2, int(math.log2(resolution)) + 1)]
        c = list(plan) if plan else synthesis_plan(resolution, width, channel_base, channel_max)
        self.const = nn.Parameter(torch.randn(c[0], 4, 4))
        self.blocks = nn.ModuleList(
            SynthesisBlock(c[2 * i - 1] if i else 0, c[2 * i + 1], w_dim, r, img_channels, use_noise, conv_clamp,
                           c[2 * i]) for i, r in enumerate(sizes))
        self.num_ws = 2 * len(sizes)

    def noise_layers(self) -> list[SynthesisLayer]:
        """The layers with a noise input, in the order ``noise`` lists them."""
        return [layer for block in self.blocks for layer in (getattr(block, "conv0", None), block.conv1)
                if layer is not None and layer.use_noise]

    def forward(self, ws: torch.Tensor, noise_mode: str = "random", features: list | None = None,
                noise: list[torch.Tensor] | None = None) -> torch.Tensor:
        """``noise``: one tensor (N or 1, 1, R, R) per noise layer (``noise_layers``), used instead of
        ``noise_mode``'s (an export's noise inputs)."""
        check_noise_mode(noise_mode)
        if noise is not None and len(noise) != len(self.noise_layers()):
            raise ConfigError(f"noise needs {len(self.noise_layers())} tensors, one per noise layer; got {len(noise)}")
        if ws.dim() != 3 or ws.shape[1] != self.num_ws or ws.shape[2] != self.w_dim:
            raise ConfigError(f"synthesis takes W of shape (N, {self.num_ws}, {self.w_dim}), got {tuple(ws.shape)}")
        x = self.const.unsqueeze(0).repeat(ws.shape[0], 1, 1, 1)
        rng = eval_noise_rng(ws) if noise_mode == "random" and not self.training else None
        img, k, j = None, 0, 0
        for block in self.blocks:
            used = sum(1 for layer in (getattr(block, "conv0", None), block.conv1) if layer is not None and layer.use_noise)
            mine = None if noise is None or not used else (noise[j:j + used] if block.num_conv == used else None)
            x, img = block(x, img, ws[:, k:k + block.num_conv + 1], noise_mode, rng, mine)
            k += block.num_conv
            j += used
            if features is not None and block.resolution < self.resolution:
                features.append(x)
        return img


class StyleGAN2Generator(nn.Module):
    """z (N, latent_dim) [+ labels (N,)] -> images (N, C, R, R), roughly in [-1, 1]."""

    def __init__(self, latent_dim: int, resolution: int, channels: int, width: float = 1.0, num_classes: int = 0,
                 w_dim: int = 512, mapping_layers: int = 8, mapping_lr_mul: float = 0.01, channel_base: int = 16384,
                 channel_max: int = 512, use_noise: bool = True, conv_clamp: float | None = None,
                 w_avg_beta: float = 0.995, truncation_psi: float = 1.0, plan: list[int] | None = None) -> None:
        super().__init__()
        check_resolution(resolution)
        self.latent_dim, self.resolution, self.channels, self.num_classes = latent_dim, resolution, channels, num_classes
        self.w_dim = w_dim
        self.truncation_psi = truncation_psi  # used when a call does not say (a W-space student: its teacher's)
        self.synthesis = SynthesisNetwork(w_dim, resolution, channels, width, channel_base, channel_max, use_noise,
                                          conv_clamp, plan)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(latent_dim, num_classes, w_dim, self.num_ws, mapping_layers, mapping_lr_mul,
                                      w_avg_beta)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None, truncation_psi: float | None = None,
                noise_mode: str = "random", truncation_cutoff: int | None = None,
                noise: list[torch.Tensor] | None = None) -> torch.Tensor:
        """``truncation_psi`` None: the generator's own (``truncation_psi`` option, 1 unless distilled in W at
        another psi)."""
        check_noise_mode(noise_mode)
        psi = self.truncation_psi if truncation_psi is None else truncation_psi
        return self.synthesis(self.mapping(z, labels, psi, truncation_cutoff), noise_mode, noise=noise)

    def const_noise(self) -> list[torch.Tensor]:
        """The stored noise buffers (1, 1, R, R) of every noise layer: ``noise_mode="const"`` as explicit inputs."""
        return [layer.noise_const[None, None] for layer in self.synthesis.noise_layers()]

    def forward_features(self, z: torch.Tensor, labels: torch.Tensor | None = None
                         ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Images and the activations of every block below the output resolution (4x4, 8x8, ...)."""
        feats: list[torch.Tensor] = []
        img = self.synthesis(self.mapping(z, labels, self.truncation_psi), "random", feats)
        return img, feats

    def mixed_ws(self, z: torch.Tensor, z2: torch.Tensor, labels: torch.Tensor | None, prob: float) -> torch.Tensor:
        """Style mixing: W of ``z``, switched to W of ``z2`` from a random layer on, with probability ``prob``."""
        ws = self.mapping(z, labels)
        if prob <= 0:
            return ws
        cutoff = torch.randint(1, self.num_ws, (), device=ws.device)
        if float(torch.rand(())) >= prob:
            cutoff = torch.full_like(cutoff, self.num_ws)
        ws2 = self.mapping(z2, labels, update_w_avg=False)
        keep = torch.arange(self.num_ws, device=ws.device)[None, :, None] < cutoff
        return torch.where(keep, ws, ws2)


# ---- discriminator ----------------------------------------------------------------------------------------


class DiscriminatorBlock(nn.Module):
    """Residual block: [fromRGB,] conv0, conv1 (2x down), 1x1 skip (2x down); the two paths summed / sqrt 2."""

    def __init__(self, in_channels: int, tmp_channels: int, out_channels: int, img_channels: int,
                 conv_clamp: float | None = None) -> None:
        super().__init__()
        if not in_channels:
            self.fromrgb = EqualConv2d(img_channels, tmp_channels, 1, conv_clamp=conv_clamp)
        self.conv0 = EqualConv2d(tmp_channels, tmp_channels, 3, conv_clamp=conv_clamp)
        self.conv1 = EqualConv2d(tmp_channels, out_channels, 3, down=2, conv_clamp=conv_clamp)
        self.skip = EqualConv2d(tmp_channels, out_channels, 1, bias=False, activation="linear", down=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if hasattr(self, "fromrgb"):
            x = self.fromrgb(x)
        y = self.skip(x, gain=math.sqrt(0.5))
        return y + self.conv1(self.conv0(x), gain=math.sqrt(0.5))


def minibatch_stddev(x: torch.Tensor, group_size: int = 4, num_channels: int = 1) -> torch.Tensor:
    """Append the mean standard deviation over groups of samples as ``num_channels`` feature maps.

    The group is ``group_size`` (0: the whole batch) or, when that does not divide the batch, its largest divisor
    below it."""
    n, c, h, w = x.shape
    g = min(group_size, n) if group_size else n
    while n % g:
        g -= 1
    y = x.reshape(g, -1, num_channels, c // num_channels, h, w)
    y = (y - y.mean(0)).square().mean(0).add(1e-8).sqrt().mean(dim=(2, 3, 4))
    y = y.reshape(-1, num_channels, 1, 1).repeat(g, 1, h, w)
    return torch.cat([x, y], 1)


class StyleGAN2Discriminator(nn.Module):
    """images (N, C, R, R) [+ labels] -> logits (N,): residual blocks down to 4x4, minibatch stddev, conv, two FC
    layers; with classes, the output is projected on a mapped label embedding (as NVlabs' conditional D)."""

    def __init__(self, resolution: int, channels: int, width: float = 1.0, num_classes: int = 0,
                 channel_base: int = 16384, channel_max: int = 512, mbstd_group: int = 4, mbstd_channels: int = 1,
                 conv_clamp: float | None = None, mapping_layers: int = 8) -> None:
        super().__init__()
        check_resolution(resolution)
        self.num_classes = num_classes
        sizes = [2 ** k for k in range(int(math.log2(resolution)), 2, -1)]
        ch = {r: channels_at(r, width, channel_base, channel_max) for r in sizes + [4]}
        self.blocks = nn.ModuleList(DiscriminatorBlock(ch[r] if r < resolution else 0, ch[r], ch[r // 2], channels,
                                                       conv_clamp) for r in sizes)
        self.mbstd_group, self.mbstd_channels = mbstd_group, mbstd_channels
        c4 = ch[4]
        self.conv = EqualConv2d(c4 + mbstd_channels, c4, 3, conv_clamp=conv_clamp)
        self.fc = EqualLinear(c4 * 16, c4, activation="lrelu")
        self.out = EqualLinear(c4, c4 if num_classes else 1)
        if num_classes:
            self.mapping = MappingNetwork(0, num_classes, c4, None, mapping_layers, w_avg_beta=None)
        self.cmap_dim = c4

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Feature maps after every residual block (for perceptual and feature-matching losses)."""
        return features_after_each(self.blocks, x)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = self.features(x)[-1]
        if self.mbstd_channels:
            x = minibatch_stddev(x, self.mbstd_group, self.mbstd_channels)
        x = self.out(self.fc(self.conv(x).flatten(1)))
        if self.num_classes:
            cmap = self.mapping(None, labels)
            x = (x * cmap).sum(1, keepdim=True) / math.sqrt(self.cmap_dim)
        return x.squeeze(1)


# ---- the family -------------------------------------------------------------------------------------------


@dataclass
class StyleGAN2Options:
    """StyleGAN2 settings beyond the shared config (``width`` is the channel multiplier)."""

    w_dim: int = 512                # size of W (rosinality's style_dim)
    mapping_layers: int = 8         # depth of the mapping network (rosinality's n_mlp)
    mapping_lr_mul: float = 0.01    # learning-rate multiplier of the mapping network
    channel_base: int = 16384       # channels at resolution r: min(channel_max, channel_base * width / r)
    channel_max: int = 512          # channel cap (small students: e.g. 64)
    use_noise: bool = True          # per-layer noise inputs
    conv_clamp: float = 0.0         # clamp conv outputs to +-conv_clamp (0: off; NVlabs' configs use 256)
    mbstd_group: int = 4            # discriminator's minibatch-stddev group size
    mbstd_channels: int = 1         # minibatch-stddev feature maps (0: off)
    style_mixing: float = 0.9       # training: probability of mixing two latents' styles
    r1_every: int = 16              # lazy regularisation: R1 every N steps (weight scaled by N)
    pl_weight: float = 2.0          # path-length regularisation weight (0: off)
    pl_every: int = 4               # path-length penalty every N steps (weight scaled by N)
    pl_batch_shrink: int = 2        # path-length batch = batch / shrink
    pl_decay: float = 0.01          # decay of the path-length running mean
    truncation_psi: float = 1.0     # psi of calls that do not give one (W-space students keep their teacher's)
    channels: list[int] = field(default_factory=list)  # synthesis channels per channel group (empty: the width's)


def _validate(cfg: "GeneratorConfig") -> None:
    o = cfg.options
    check_resolution(cfg.resolution)
    for name in ("w_dim", "mapping_layers", "channel_base", "channel_max", "mbstd_group", "r1_every", "pl_every",
                 "pl_batch_shrink"):
        if getattr(o, name) < 1:
            raise ValueError(f"stylegan2 option {name} must be >= 1, got {getattr(o, name)}")
    if not 0 <= o.style_mixing <= 1 or o.pl_weight < 0 or o.conv_clamp < 0 or o.mbstd_channels < 0:
        raise ValueError("stylegan2 options: style_mixing in [0, 1]; pl_weight, conv_clamp, mbstd_channels >= 0")
    if not 0 < o.truncation_psi <= 1:
        raise ValueError(f"stylegan2 option truncation_psi must be in (0, 1], got {o.truncation_psi}")
    if o.mapping_lr_mul <= 0 or not 0 < o.pl_decay <= 1:
        raise ValueError("stylegan2 options: mapping_lr_mul > 0 and pl_decay in (0, 1]")
    groups = 2 * int(math.log2(cfg.resolution)) - 2
    if o.channels and (len(o.channels) != groups or min(o.channels) < 1):
        raise ValueError(f"stylegan2 option channels needs {groups} positive counts at {cfg.resolution} px (the "
                         f"constant, the 4x4 block's conv1, then each block's conv0 and conv1), got {o.channels}")


def generator_kwargs(cfg: "GeneratorConfig") -> dict:
    """Constructor arguments of the generator for ``cfg``."""
    o = cfg.options
    return dict(latent_dim=cfg.latent_dim, resolution=cfg.resolution, channels=cfg.channels, width=cfg.width,
                num_classes=cfg.num_classes, w_dim=o.w_dim, mapping_layers=o.mapping_layers,
                mapping_lr_mul=o.mapping_lr_mul, channel_base=o.channel_base, channel_max=o.channel_max,
                use_noise=o.use_noise, conv_clamp=o.conv_clamp or None, truncation_psi=o.truncation_psi,
                plan=list(o.channels) or None)


def _build_generator(cfg: "GeneratorConfig") -> StyleGAN2Generator:
    return StyleGAN2Generator(**generator_kwargs(cfg))


@dataclass
class StyleGAN2DiscriminatorOptions:
    """A discriminator's own settings (``DiscriminatorConfig.options``; an imported one's may differ from its
    generator's): channels at r are ``min(channel_max, 16384 * width / r)``."""

    channel_max: int = 512
    mbstd_group: int = 4            # minibatch-stddev group size (0: the whole batch, NVlabs' None)
    mbstd_channels: int = 1         # minibatch-stddev feature maps (0: off)
    conv_clamp: float = 0.0         # 0: off
    mapping_layers: int = 8         # conditional: depth of the label-embedding mapping network

    def validate(self) -> None:
        """Ranges: the cap bounds the network's size whatever its width (NVlabs' configs use 256 or 512)."""
        if not (1 <= self.channel_max <= 1024 and 0 <= self.mbstd_group <= 1 << 16 and 0 <= self.mbstd_channels
                <= self.channel_max and 0 <= self.conv_clamp < float("inf") and 0 <= self.mapping_layers <= 32):
            raise ValueError("stylegan2 discriminator options: channel_max from 1 to 1024, mbstd_group from 0 (the "
                             "whole batch) to 65536, mbstd_channels from 0 to channel_max, conv_clamp >= 0 and "
                             f"finite, mapping_layers from 0 to 32; got {self}")


def discriminator_options(cfg: "DiscriminatorConfig") -> StyleGAN2DiscriminatorOptions:
    """The typed, checked options of a stylegan2 discriminator config (ValueError naming the field)."""
    try:
        return from_dict(StyleGAN2DiscriminatorOptions, dict(cfg.options or {}), "stylegan2 discriminator options")
    except ConfigError as e:
        raise ValueError(str(e)) from None


def _build_discriminator(cfg: "DiscriminatorConfig") -> StyleGAN2Discriminator:
    o = discriminator_options(cfg)
    c4 = channels_at(4, cfg.width, 16384, o.channel_max)
    if o.mbstd_channels and c4 % o.mbstd_channels:
        raise ValueError(f"stylegan2 discriminator options: mbstd_channels {o.mbstd_channels} must divide the "
                         f"{c4} channels at 4 px")
    return StyleGAN2Discriminator(cfg.resolution, cfg.channels, cfg.width, cfg.num_classes, 16384, o.channel_max,
                                  o.mbstd_group, o.mbstd_channels, o.conv_clamp or None, o.mapping_layers)


def _affine_in(layer: str) -> list[Slice]:
    """A modulated layer's input channels: its weight (dim 1) and its style affine's outputs."""
    return [Slice(f"{layer}.weight", 1, "in"), Slice(f"{layer}.affine.weight", 0, "in"),
            Slice(f"{layer}.affine.bias", 0, "in")]


def _channel_groups(g: nn.Module) -> list[ChannelGroup]:
    """The synthesis network's channels (the mapping network is copied whole): the 4x4 constant's, then every
    block's conv0 and conv1 outputs. conv1's are read by the block's toRGB (whose 1/sqrt(in) gain is compensated)
    and by the next block's conv0."""
    blocks = g.synthesis.blocks
    groups = [ChannelGroup("const", (Slice("synthesis.const", 0), *_affine_in("synthesis.blocks.0.conv1")),
                           ("synthesis.blocks.0.conv1", "in"))]
    for b, block in enumerate(blocks):
        p = f"synthesis.blocks.{b}"
        if block.num_conv == 2:
            groups.append(ChannelGroup(f"b{block.resolution}.conv0", (
                Slice(f"{p}.conv0.weight", 0), Slice(f"{p}.conv0.bias", 0), *_affine_in(f"{p}.conv1")),
                (f"{p}.conv0", "out")))
        readers = [Slice(f"{p}.torgb.weight", 1, "in", 0.5), Slice(f"{p}.torgb.affine.weight", 0, "in"),
                   Slice(f"{p}.torgb.affine.bias", 0, "in")]
        if b + 1 < len(blocks):
            readers += _affine_in(f"synthesis.blocks.{b + 1}.conv0")
        groups.append(ChannelGroup(f"b{block.resolution}.conv1", (
            Slice(f"{p}.conv1.weight", 0), Slice(f"{p}.conv1.bias", 0), *readers), (f"{p}.conv1", "out")))
    return groups


def _channel_plan(cfg: "GeneratorConfig", sizes: list[int]) -> "GeneratorConfig":
    """``cfg`` with the synthesis channels ``sizes`` (one per channel group, in ``_channel_groups``' order)."""
    return dataclasses.replace(cfg, options=dataclasses.replace(cfg.options, channels=list(sizes)))


def _feature_resolutions(cfg: "GeneratorConfig") -> list[int]:
    return [2 ** k for k in range(2, int(math.log2(cfg.resolution)))]


def _discriminator_options(cfg: "GeneratorConfig") -> dict:
    """A discriminator to match a generator of ``cfg`` takes the generator's channel cap and ``conv_clamp`` (as
    NVlabs' configs share one ``cmax`` and clamp) and the minibatch-stddev settings its options hold for it; only
    those that differ from the discriminator's defaults, so a default generator's reads ``{}`` as before."""
    o, defaults = cfg.options, StyleGAN2DiscriminatorOptions()
    shared = {"channel_max": o.channel_max, "conv_clamp": float(o.conv_clamp), "mbstd_group": o.mbstd_group,
              "mbstd_channels": o.mbstd_channels}
    return {k: v for k, v in shared.items() if v != getattr(defaults, k)}


FAMILY = register(ModelFamily(
    name="stylegan2", kind="image", options=StyleGAN2Options,
    capabilities=Capabilities(labels=True, feature_taps=True, discriminator_blocks=True, discriminator_features=True,
                              noise_inputs=True, mapping_network=True),
    build_generator=_build_generator, build_discriminator=_build_discriminator, validate=_validate,
    feature_resolutions=_feature_resolutions, max_resolution=MAX_RESOLUTION, channel_groups=_channel_groups,
    channel_plan=_channel_plan, discriminator_options=_discriminator_options,
    description="StyleGAN2 (Karras et al. 2020): mapping network, modulated convolutions, noise, skip toRGB, "
                "residual discriminator; channel multiplier = width"))
