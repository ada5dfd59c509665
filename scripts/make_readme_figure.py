"""The README's picture: the shipped teacher's samples beside the shipped width-0.2 student's, on the same latents.

    python scripts/make_readme_figure.py --out docs/teacher-student.png
"""
from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw

import gantransfer
from gantransfer.io import atomic_write
from gantransfer.report.grid import image_grid

ASSETS = Path(gantransfer.__file__).parent / "assets"
TEACHER = ASSETS / "teachers" / "fashion-mnist-dcgan"
STUDENT = ASSETS / "students" / "fashion-mnist-dcgan-w0.2"


def panel(path: Path, n: int, seed: int, nrow: int, scale: int) -> Image.Image:
    """A grid of ``n`` samples of the generator at ``path`` drawn from ``seed``."""
    g, cfg = gantransfer.load(path)
    x, _ = gantransfer.generate(g, cfg, n=n, seed=seed)
    return image_grid(x, nrow=nrow, scale=scale)


def figure(n: int = 32, seed: int = 0, nrow: int = 8, scale: int = 2) -> Image.Image:
    """Teacher | student, captioned, on one white canvas."""
    left, right = panel(TEACHER, n, seed, nrow, scale), panel(STUDENT, n, seed, nrow, scale)
    gap, top = 16, 18
    canvas = Image.new("L", (left.width + gap + right.width, top + max(left.height, right.height)), 255)
    canvas.paste(left, (0, top))
    canvas.paste(right, (left.width + gap, top))
    draw = ImageDraw.Draw(canvas)
    draw.text((4, 3), "teacher: 1,066,881 parameters", fill=0)
    draw.text((left.width + gap + 4, 3), "student: 108,613 parameters, 21.3x fewer MACs", fill=0)
    return canvas


def main() -> None:
    """Write the PNG."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/teacher-student.png")
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    img = figure(args.n, args.seed)
    atomic_write(Path(args.out), lambda tmp: img.save(tmp, format="PNG"))
    print(args.out)


if __name__ == "__main__":
    main()
