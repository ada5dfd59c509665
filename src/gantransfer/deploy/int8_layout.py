"""Exact rewrites that give transposed convolutions an int8 kernel (onnxruntime's CPU provider has none for
ConvTranspose): a stride-2, 4x4, padding-1 ConvTranspose2d becomes a 3x3 convolution to 4x the channels and a
pixel shuffle (ONNX DepthToSpace); one applied to a 1x1 input (a DCGAN's first layer) becomes a linear layer.
Both compute the same function; the convolution does 9/4 the MACs of the transposed one, in int8."""
from __future__ import annotations

import copy

import torch
from torch import nn

from gantransfer.models.config import GeneratorConfig
from gantransfer.models.sampling import draw_inputs

# A stride-2 layer whose convolution would have fewer outputs than this stays a (float) ConvTranspose: the
# int8 convolution kernels work on blocks of 16 output channels, and an image's last layer (1 channel: 4
# outputs) measured 2.9x slower in int8 (with its pixel shuffle) than in float
# (benchmarks/results/deploy_all_rewritten.json, "profile").
MIN_CHANNELS = 16
# kernel tap of a stride-2, padding-1, 4x4 transposed convolution for output phase a and input offset d
_TAP = {(0, 0): 1, (0, -1): 3, (1, 0): 2, (1, 1): 0}


def _is_up2(m: nn.ConvTranspose2d) -> bool:
    return (m.kernel_size == (4, 4) and m.stride == (2, 2) and m.padding == (1, 1) and m.output_padding == (0, 0)
            and m.dilation == (1, 1) and m.groups == 1)


def up2_as_conv(m: nn.ConvTranspose2d) -> nn.Sequential:
    """The stride-2 4x4 ConvTranspose2d ``m`` as Conv2d(3x3, 4 * C_out) + PixelShuffle(2)."""
    cin, cout = m.in_channels, m.out_channels
    w = m.weight.detach()                                   # (C_in, C_out, 4, 4)
    k = torch.zeros(cout, 2, 2, cin, 3, 3, dtype=w.dtype)   # (o, a, b, c, di + 1, dj + 1)
    for (a, di), mi in _TAP.items():
        for (b, dj), nj in _TAP.items():
            k[:, a, b, :, di + 1, dj + 1] = w[:, :, mi, nj].t()
    conv = nn.Conv2d(cin, 4 * cout, 3, 1, 1, bias=m.bias is not None)
    conv.weight.data.copy_(k.reshape(4 * cout, cin, 3, 3))
    if m.bias is not None:
        conv.bias.data.copy_(m.bias.detach().repeat_interleave(4))
    return nn.Sequential(conv, nn.PixelShuffle(2))


class PointConvTranspose(nn.Module):
    """A ConvTranspose2d on a 1x1 input as a linear layer (a Gemm) and a reshape."""

    def __init__(self, m: nn.ConvTranspose2d) -> None:
        super().__init__()
        self.shape = (m.out_channels, *m.kernel_size)
        self.linear = nn.Linear(m.in_channels, m.out_channels * m.kernel_size[0] * m.kernel_size[1],
                                bias=m.bias is not None)
        self.linear.weight.data.copy_(m.weight.detach().flatten(1).t())
        if m.bias is not None:
            self.linear.bias.data.copy_(m.bias.detach().repeat_interleave(m.kernel_size[0] * m.kernel_size[1]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.flatten(1)).view(x.shape[0], *self.shape)


def _input_sizes(module: nn.Module, cfg: GeneratorConfig) -> dict[int, tuple[int, ...]]:
    """Spatial size of the input each ConvTranspose2d of ``module`` sees, by id."""
    sizes, hooks = {}, []
    for m in module.modules():
        if isinstance(m, nn.ConvTranspose2d):
            hooks.append(m.register_forward_pre_hook(lambda mod, args: sizes.__setitem__(id(mod), args[0].shape[2:])))
    z, y = draw_inputs(cfg, 2, torch.Generator().manual_seed(0))
    try:
        with torch.no_grad():
            module(z, y)
    finally:
        for h in hooks:
            h.remove()
    return sizes


def int8_friendly(module: nn.Module, cfg: GeneratorConfig, min_channels: int | None = None
                  ) -> tuple[nn.Module, int]:
    """A copy of ``module`` with every ConvTranspose2d (in any container) that has an exact int8-friendly form
    replaced by it (a stride-2 one only when its convolution has at least ``min_channels`` outputs); and the
    number replaced. ``min_channels`` defaults to ``MIN_CHANNELS``."""
    min_channels = MIN_CHANNELS if min_channels is None else min_channels
    out = copy.deepcopy(module).eval()
    sizes = _input_sizes(out, cfg)
    count = 0
    for parent in list(out.modules()):
        for name, child in list(parent._modules.items()):
            if not isinstance(child, nn.ConvTranspose2d):
                continue
            if tuple(sizes.get(id(child), ())) == (1, 1) and child.padding == (0, 0) and child.groups == 1 \
                    and child.output_padding == (0, 0) and child.dilation == (1, 1):
                parent._modules[name] = PointConvTranspose(child)
            elif _is_up2(child) and 4 * child.out_channels >= min_channels:
                parent._modules[name] = up2_as_conv(child)
            else:
                continue
            count += 1
    return out, count
