"""DiffAugment (Zhao et al. 2020): differentiable colour, translation and cutout applied to real and fake images
alike before the discriminator, so that D cannot memorise a few training images. Draws from torch's global RNG
(checkpointed by the engine, so resume stays exact)."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

POLICIES = ("color", "translation", "cutout")


def color(x: torch.Tensor) -> torch.Tensor:
    """Random brightness (+-0.5), saturation (x0..2) and contrast (x0.5..1.5) per image."""
    n = x.shape[0]
    x = x + (torch.rand(n, 1, 1, 1, device=x.device) - 0.5)
    mean = x.mean(1, keepdim=True)
    x = (x - mean) * (torch.rand(n, 1, 1, 1, device=x.device) * 2) + mean
    mean = x.mean((1, 2, 3), keepdim=True)
    return (x - mean) * (torch.rand(n, 1, 1, 1, device=x.device) + 0.5) + mean


def translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ``ratio`` of its size in x and y, filling with zeros."""
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (n, 1, 1), device=x.device)
    dx = torch.randint(-sw, sw + 1, (n, 1, 1), device=x.device)
    gy, gx = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
    gy = (gy.unsqueeze(0) + dy + 1).clamp(0, h + 1)
    gx = (gx.unsqueeze(0) + dx + 1).clamp(0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1])
    idx = torch.arange(n, device=x.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[idx, gy, gx].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero one random square of ``ratio`` of the image size per image."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device)
    ox = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device)
    gy, gx = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
    top, left = oy - ch // 2, ox - cw // 2  # the square may reach past the border, as in the original
    gy, gx = gy.unsqueeze(0), gx.unsqueeze(0)
    inside = (gy >= top) & (gy < top + ch) & (gx >= left) & (gx < left + cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


def diff_augment(policy: str) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The augmentation of a comma-separated ``policy`` (e.g. ``color,translation,cutout``); None when empty."""
    names = [p.strip() for p in policy.split(",") if p.strip()]
    unknown = [p for p in names if p not in POLICIES]
    if unknown:
        raise ValueError(f"unknown DiffAugment policy {', '.join(unknown)}; choose from {', '.join(POLICIES)}")
    if not names:
        return None
    fns = {"color": color, "translation": translation, "cutout": cutout}

    def augment(x: torch.Tensor) -> torch.Tensor:
        for name in names:
            x = fns[name](x)
        return x
    return augment
