"""The no-classifier fixture domain of the any-teacher benchmark: colourised 64x64 RGB Fashion-MNIST.

Each garment keeps its Fashion-MNIST shape; its colour and the background's are drawn per image (a seeded hue
for the garment, a darker tint of another hue for the background), so the domain is RGB, 64x64 and has no
protocol classifier in gantransfer. A DCGAN teacher is trained on it with ``gantransfer train`` and then treated
as an unknown teacher (its data set is a folder path, not a built-in).

    python benchmarks/any_teacher_fixture.py images --out runs/any-teacher/images --n 6000
    gantransfer train --data runs/any-teacher/images --resolution 64 --channels 3 --width 0.75 ...
"""
from __future__ import annotations

import argparse
import colorsys
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def colourise(gray: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """uint8 (N, 1, H, W) gray garments -> uint8 (N, 3, 64, 64): garment and background coloured per image."""
    from gantransfer.image_space import resize
    rng = np.random.default_rng(seed)
    n = gray.shape[0]
    x = resize(gray.float() / 255.0, 64).clamp(0, 1)             # (N, 1, 64, 64), 1 = garment
    fg = torch.tensor([colorsys.hsv_to_rgb(h, 0.75, 1.0) for h in rng.random(n)], dtype=torch.float32)
    bg = torch.tensor([colorsys.hsv_to_rgb(h, 0.5, 0.3) for h in rng.random(n)], dtype=torch.float32)
    out = x * fg[:, :, None, None] + (1 - x) * bg[:, :, None, None]
    return (out * 255).round().clamp(0, 255).to(torch.uint8)


def write_images(out: Path, n: int, seed: int = 0) -> Path:
    """``n`` colourised Fashion-MNIST training images as PNG files in ``out`` (one class)."""
    from gantransfer.data.registry import load_dataset
    data = load_dataset("fashion-mnist", "train", limit=n, seed=seed, resolution=32)
    images = colourise(data.x, seed)
    out.mkdir(parents=True, exist_ok=True)
    for i, im in enumerate(images):
        Image.fromarray(im.permute(1, 2, 0).numpy()).save(out / f"{i:05d}.png")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="what", required=True)
    q = sub.add_parser("images", help="write the colourised images")
    q.add_argument("--out", required=True)
    q.add_argument("--n", type=int, default=6000)
    q.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    print(write_images(Path(args.out), args.n, args.seed))


if __name__ == "__main__":
    main()
