"""Image shapes and conversions, in one place: the allowed resolutions and channel counts, gray <-> RGB (ITU-R 601
luma) and antialiased bilinear resizing, for float images in [-1, 1] and uint8 images alike."""
from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F

MIN_RESOLUTION, MAX_RESOLUTION = 16, 256


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_resolution(resolution: int, error: type[Exception] | None = None, maximum: int = MAX_RESOLUTION) -> None:
    """Raise ``error`` (DataError by default) unless ``resolution`` is a power of two in [16, ``maximum``] (256 for
    data sets and most families; StyleGAN2 generators go to 1024)."""
    if not _is_int(resolution) or not MIN_RESOLUTION <= resolution <= maximum or resolution & (resolution - 1):
        raise _error(error)(f"resolution must be a power of two between {MIN_RESOLUTION} and {maximum}, "
                            f"got {resolution}")


def check_channels(channels: int, error: type[Exception] | None = None) -> None:
    """Raise ``error`` (DataError by default) unless ``channels`` is 1 or 3."""
    if not _is_int(channels) or channels not in (1, 3):
        raise _error(error)(f"channels must be 1 (gray) or 3 (RGB), got {channels}")


def _error(error: type[Exception] | None) -> type[Exception]:
    if error is not None:
        return error
    from gantransfer.errors import DataError
    return DataError


def luma(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB -> (N, 1, H, W) ITU-R 601 luma, in x's value scale (float)."""
    x = x.float()
    return 0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]


def to_channel_count(x: torch.Tensor, channels: int) -> torch.Tensor:
    """Float images with 1 or 3 channels -> ``channels``: gray repeated, or the luma of RGB."""
    if x.shape[1] == channels:
        return x
    if x.shape[1] == 1 and channels == 3:
        return x.expand(-1, 3, -1, -1)
    if x.shape[1] == 3 and channels == 1:
        return luma(x)
    raise ValueError(f"cannot convert {x.shape[1]}-channel images to {channels} channels")


def resize(x: torch.Tensor, resolution: int, antialias: bool | None = None) -> torch.Tensor:
    """Float images resized to ``resolution`` x ``resolution``, bilinear; antialiased when shrinking unless
    ``antialias`` says otherwise (it changes upsampled values by about 1e-7)."""
    if x.shape[-2:] == (resolution, resolution):
        return x
    return F.interpolate(x.float(), size=(resolution, resolution), mode="bilinear", align_corners=False,
                         antialias=x.shape[-1] > resolution if antialias is None else antialias)


def convert_images(x: torch.Tensor, resolution: int, channels: int, clamp: bool = True) -> torch.Tensor:
    """Float images in [-1, 1] -> ``channels`` and ``resolution`` (clamped back to [-1, 1] unless told not to)."""
    x = resize(to_channel_count(x, channels), resolution)
    return x.clamp(-1, 1) if clamp else x


_CHUNK = 2048  # uint8 images resized at once: bounds the float32 working memory


def default_resolution(native: int) -> int:
    """The smallest allowed power of two >= ``native``, clipped to [16, 256]."""
    r = MIN_RESOLUTION
    while r < min(native, MAX_RESOLUTION):
        r *= 2
    return r


def to_resolution(x: torch.Tensor, resolution: int) -> torch.Tensor:
    """uint8 (N, C, H, W) -> uint8 (N, C, R, R); may return ``x`` itself when nothing changes.

    28x28 images are first zero-padded to 32x32 (exact); any other change of size is a bilinear antialiased
    resize, rounded and clamped.
    """
    check_resolution(resolution)
    if x.shape[-2:] == (28, 28):
        x = F.pad(x, (2, 2, 2, 2), value=0)
    if x.shape[-2:] == (resolution, resolution):
        return x
    out = torch.empty((*x.shape[:2], resolution, resolution), dtype=torch.uint8)
    for i in range(0, len(x), _CHUNK):
        out[i:i + _CHUNK] = resize(x[i:i + _CHUNK], resolution, antialias=True).round_().clamp_(0, 255).to(torch.uint8)
    return out


def to_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """uint8 (N, C, H, W) with C in {1, 3} -> ``channels``: gray repeated, or the ITU-R 601 luma of RGB."""
    check_channels(channels)
    if x.shape[1] == channels:
        return x
    if channels == 3:
        return x.expand(-1, 3, -1, -1).contiguous()
    return luma(x).round_().clamp_(0, 255).to(torch.uint8)
