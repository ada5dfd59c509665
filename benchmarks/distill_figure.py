"""Side-by-side figure of the distillation benchmark: the teacher and one student per loss set, same latents.

    python benchmarks/distill_figure.py --width 0.125 --out docs/distill-losses-w0.125.png

Rows, top to bottom: teacher, pixel, pixel+perceptual, +adversarial, +feature (runs of benchmarks/distill_grid.py).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from gantransfer import generate, load
from gantransfer.report.grid import save_image_grid

ROWS = ("p", "pp", "ppa", "ppaf")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--teacher", default="src/gantransfer/assets/teachers/fashion-mnist-dcgan")
    ap.add_argument("--runs", default="runs/bench/distill")
    ap.add_argument("--width", type=float, default=0.125)
    ap.add_argument("--seed", type=int, default=0, help="the runs' seed")
    ap.add_argument("--n", type=int, default=12)
    ap.add_argument("--out", default="docs/distill-losses-w0.125.png")
    args = ap.parse_args()
    rows = []
    for path in [args.teacher] + [f"{args.runs}/w{args.width:g}-{k}-s{args.seed}" for k in ROWS]:
        g, cfg = load(path)
        rows.append(generate(g, cfg, args.n, seed=777)[0])  # the same latents for every row
    print(save_image_grid(torch.cat(rows), Path(args.out), nrow=args.n, scale=3))


if __name__ == "__main__":
    main()
