"""Side-by-side figure of the distillation benchmark: the teacher and one student per loss set, same latents.

    python benchmarks/distill_figure.py --width 0.125 --out docs/distill-losses-w0.125.png
    python benchmarks/distill_figure.py --run-dirs runs/bench/distill-long/w0.2-{p-e999,pp-e999,ppaf,scratch} \
        --out docs/distill-long-w0.2.png

Rows, top to bottom: teacher, pixel, pixel+perceptual, +adversarial, +feature (runs of benchmarks/distill_grid.py),
or the teacher and then --run-dirs in the order given.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from gantransfer import generate, load
from gantransfer.grid import save_image_grid

ROWS = ("p", "pp", "ppa", "ppaf")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--teacher", default="src/gantransfer/assets/teachers/fashion-mnist-dcgan")
    ap.add_argument("--runs", default="runs/bench/distill")
    ap.add_argument("--width", type=float, default=0.125)
    ap.add_argument("--seed", type=int, default=0, help="the runs' seed")
    ap.add_argument("--n", type=int, default=12)
    ap.add_argument("--run-dirs", nargs="+", help="runs to show below the teacher instead of the grid's width rows")
    ap.add_argument("--out", default="docs/distill-losses-w0.125.png")
    args = ap.parse_args()
    rows = []
    runs = args.run_dirs or [f"{args.runs}/w{args.width:g}-{k}-s{args.seed}" for k in ROWS]
    for path in [args.teacher] + runs:
        g, cfg = load(path)
        rows.append(generate(g, cfg, args.n, seed=777)[0])  # the same latents for every row
    print(save_image_grid(torch.cat(rows), Path(args.out), nrow=args.n, scale=3))


if __name__ == "__main__":
    main()
