"""StyleGAN2's low-level operations in standard PyTorch ops (no compiled extension), fast on CPU.

- ``upfirdn2d``: upsample by zero insertion, pad (negative: crop), convolve with a FIR filter, downsample. The
  filter is separable (1-D taps applied along each axis as depthwise convolutions) and zero insertion is folded
  into a strided transposed convolution, so no zero-filled tensor is ever materialised.
- ``bias_act``: bias + leaky ReLU + gain (+ clamp), the "fused" activation of both reference code bases.
- ``modulated_conv2d``: style modulation and demodulation, with the 2x upsampling of the synthesis network.
- ``conv2d_resample``: the discriminator's plain and 2x-downsampling convolutions.

Semantics follow the published StyleGAN2 maths: filters are normalised to unit DC gain, ``upfirdn2d`` is a true
convolution (the filter is flipped), upsampled convolutions are transposed convolutions followed by a blur.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F

DEFAULT_FILTER = (1.0, 3.0, 3.0, 1.0)
SQRT2 = math.sqrt(2.0)


def setup_filter(taps: Sequence[float] = DEFAULT_FILTER) -> torch.Tensor:
    """A 1-D (separable) FIR filter normalised to sum 1."""
    taps = [float(t) for t in taps]
    if not taps or sum(taps) == 0:
        raise ValueError(f"a resampling filter needs 1-D taps with a non-zero sum, got {list(taps)}")
    return torch.as_tensor([t / sum(taps) for t in taps], dtype=torch.float32)


def _axis_kernel(f: torch.Tensor, channels: int, axis: int, dtype: torch.dtype) -> torch.Tensor:
    k = f.to(dtype).reshape(1, 1, -1, 1) if axis == 2 else f.to(dtype).reshape(1, 1, 1, -1)
    return k.expand(channels, 1, *k.shape[2:]).contiguous()


def _keep_every(x: torch.Tensor, axis: int, down: int) -> torch.Tensor:
    if down == 1:
        return x
    return x[:, :, ::down, :] if axis == 2 else x[:, :, :, ::down]


def _along(x: torch.Tensor, f: torch.Tensor, axis: int, up: int, down: int, p0: int, p1: int) -> torch.Tensor:
    """upfirdn along one spatial axis (2: height, 3: width) with 1-D filter ``f`` (already gain-scaled)."""
    c, k, n = int(x.shape[1]), f.numel(), int(x.shape[axis])  # static: a traced export keeps constant kernels
    out_len = n * up + p0 + p1 - k + 1
    if out_len <= 0:
        raise ValueError(f"upfirdn2d: {n} samples, filter of {k} taps and padding ({p0}, {p1}) leave no output")
    if up > 1:
        # zero insertion + convolution = transposed convolution with stride ``up``; y[o] = sum_i x[i] f[o - up i]
        stride = (up, 1) if axis == 2 else (1, up)
        y = F.conv_transpose2d(x, _axis_kernel(f, c, axis, x.dtype), stride=stride, groups=c)
        start = k - 1 - p0
        lead, end = max(-start, 0), start + out_len
        trail = max(end - y.shape[axis], 0)
        if lead or trail:
            y = F.pad(y, (lead, trail, 0, 0) if axis == 3 else (0, 0, lead, trail))
            start, end = start + lead, end + lead
        return _keep_every(y.narrow(axis, start, out_len), axis, down)
    pads = (max(p0, 0), max(p1, 0), 0, 0) if axis == 3 else (0, 0, max(p0, 0), max(p1, 0))
    if any(pads):
        x = F.pad(x, pads)
    if p0 < 0 or p1 < 0:
        x = x.narrow(axis, max(-p0, 0), x.shape[axis] - max(-p0, 0) - max(-p1, 0))
    stride = (down, 1) if axis == 2 else (1, down)
    return F.conv2d(x, _axis_kernel(f.flip(0), c, axis, x.dtype), stride=stride, groups=c)


def upfirdn2d(x: torch.Tensor, f: torch.Tensor, up: int = 1, down: int = 1,
              padding: Sequence[int] = (0, 0, 0, 0), gain: float = 1.0) -> torch.Tensor:
    """Upsample, pad (x0, x1, y0, y1; negative crops), FIR-filter with separable ``f`` and downsample (NCHW).

    ``gain`` scales the signal (``up ** 2`` keeps the magnitude when upsampling)."""
    if f.ndim != 1:
        raise ValueError(f"upfirdn2d takes a separable 1-D filter, got shape {tuple(f.shape)}")
    x0, x1, y0, y1 = padding
    fa = f * math.sqrt(gain)
    x = _along(x, fa, 3, up, down, x0, x1)
    return _along(x, fa, 2, up, down, y0, y1)


POLYPHASE_MAX_CHANNELS = 16  # below this, 2x upsampling by shifted sums beats a depthwise transposed convolution


def upsample2d(x: torch.Tensor, f: torch.Tensor, up: int = 2) -> torch.Tensor:
    """2x (``up``x) upsampling with filter ``f``, output exactly ``up`` times the input size.

    For the toRGB skip path (few channels) and a symmetric 4-tap filter, the same result is computed as two
    polyphase sums per axis (even outputs: f0 x[m-1] + f2 x[m], odd: f1 x[m] + f3 x[m+1]): on 2 CPU threads about
    100x faster than the depthwise transposed convolution at 3 channels, equal to float rounding (~4e-7)."""
    k = f.numel()
    if up == 2 and k == 4 and x.shape[1] <= POLYPHASE_MAX_CHANNELS and (f.is_meta or torch.equal(f, f.flip(0))):
        return _upsample2x_polyphase(_upsample2x_polyphase(x, f * 2, 3), f * 2, 2)
    p0, p1 = (k + up - 1) // 2, (k - up) // 2
    return upfirdn2d(x, f, up=up, padding=(p0, p1, p0, p1), gain=up * up)


def _upsample2x_polyphase(x: torch.Tensor, g: torch.Tensor, axis: int) -> torch.Tensor:
    """2x upsampling along ``axis`` with the 4 gain-scaled taps ``g`` (zero outside the signal)."""
    n = x.shape[axis]
    xp = F.pad(x, (1, 1, 0, 0) if axis == 3 else (0, 0, 1, 1))
    left, centre, right = xp.narrow(axis, 0, n), xp.narrow(axis, 1, n), xp.narrow(axis, 2, n)
    g = g.to(x.dtype)
    y = torch.stack([g[0] * left + g[2] * centre, g[1] * centre + g[3] * right], dim=axis + 1)
    shape = list(x.shape)
    shape[axis] = 2 * n
    return y.reshape(shape)


def downsample2d(x: torch.Tensor, f: torch.Tensor, down: int = 2) -> torch.Tensor:
    """2x (``down``x) downsampling with filter ``f``, output exactly 1/``down`` of the input size."""
    k = f.numel()
    p0, p1 = (k - down + 1) // 2, (k - down) // 2
    return upfirdn2d(x, f, down=down, padding=(p0, p1, p0, p1))


def bias_act(x: torch.Tensor, b: torch.Tensor | None = None, act: str = "lrelu", alpha: float = 0.2,
             gain: float | None = None, clamp: float | None = None) -> torch.Tensor:
    """``(act(x + b) * gain).clamp(-clamp, clamp)``; ``act`` is ``lrelu`` (gain sqrt 2 by default) or ``linear``."""
    if b is not None:
        x = x + b.reshape(1, -1, *([1] * (x.ndim - 2)))
    if act == "lrelu":
        x = F.leaky_relu(x, alpha)
        gain = SQRT2 if gain is None else gain
    elif act != "linear":
        raise ValueError(f"unknown activation {act!r}; choose lrelu or linear")
    if gain is not None and gain != 1:
        x = x * gain
    if clamp is not None and clamp >= 0:
        x = x.clamp(-clamp, clamp)
    return x


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """x / sqrt(mean(x^2) + eps) over the feature dimension (PixelNorm of the mapping network's input)."""
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True,
                     up: int = 1, f: torch.Tensor | None = None, fused: bool | None = None) -> torch.Tensor:
    """Convolution of ``x`` (N, I, H, W) with ``weight`` (O, I, k, k) scaled per sample by ``styles`` (N, I),
    demodulated to unit output variance; ``up=2`` is a transposed convolution followed by a blur with ``f``.

    ``fused`` (a grouped convolution of per-sample weights) and the unfused form (scale the activations before and
    after one shared convolution) agree to float precision; by default the unfused form is used for batches > 1
    (faster on CPU)."""
    n, i = x.shape[:2]
    o, _, kh, kw = weight.shape
    # broadcast, not weight.unsqueeze(0): the same products, and an ONNX export does not fold an unsqueezed copy of
    # every weight into the file beside the weight itself (1.86x the parameters before, on a StyleGAN2 export)
    w = weight * styles.reshape(n, 1, i, 1, 1)
    dcoefs = (w.square().sum(dim=(2, 3, 4)) + 1e-8).rsqrt() if demodulate else None
    if fused is None:
        fused = n == 1
    if fused:
        if dcoefs is not None:
            w = w * dcoefs.reshape(n, o, 1, 1, 1)
        xg = x.reshape(1, n * i, *x.shape[2:])
        if up > 1:
            wt = w.transpose(1, 2).reshape(n * i, o, kh, kw)
            y = F.conv_transpose2d(xg, wt, stride=up, groups=n)
        else:
            y = F.conv2d(xg, w.reshape(n * o, i, kh, kw), padding=kh // 2, groups=n)
        y = y.reshape(n, o, *y.shape[2:])
    else:
        xs = x * styles.reshape(n, i, 1, 1)
        if up > 1:
            y = F.conv_transpose2d(xs, weight.transpose(0, 1), stride=up)
        else:
            y = F.conv2d(xs, weight, padding=kh // 2)
        if dcoefs is not None:
            y = y * dcoefs.reshape(n, o, 1, 1)
    if up > 1:
        if f is None:
            raise ValueError("an upsampling modulated convolution needs its blur filter")
        p = (f.numel() - up - (kh - 1) + 1) // 2 + up - 1  # transposed conv of size 2H+1 -> 2H after the blur
        p1 = (f.numel() - up - (kh - 1)) // 2 + 1
        y = upfirdn2d(y, f, padding=(p, p1, p, p1), gain=up * up)
    return y


def conv2d_resample(x: torch.Tensor, weight: torch.Tensor, f: torch.Tensor | None = None,
                    down: int = 1) -> torch.Tensor:
    """Plain convolution (padding k // 2), or blur with ``f`` then strided convolution when ``down`` > 1."""
    k = weight.shape[-1]
    if down == 1:
        return F.conv2d(x, weight, padding=k // 2)
    if f is None:
        raise ValueError("a downsampling convolution needs its blur filter")
    if k == 1:
        return F.conv2d(downsample2d(x, f, down), weight)
    p = f.numel() - down + k - 1
    x = upfirdn2d(x, f, padding=((p + 1) // 2, p // 2, (p + 1) // 2, p // 2))
    return F.conv2d(x, weight, stride=down)
