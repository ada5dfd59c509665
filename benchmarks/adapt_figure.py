"""Grid figure of the limited-data benchmark: the few target images, then the kept generator of each method.

    python benchmarks/adapt_figure.py --target footwear --n 100 --out docs/adapt-footwear-n100.png

Rows, top to bottom: 12 of the N training images (evenly spaced in the set's order), then finetune, freezed,
l2sp, minegan, scratch (and the multi-source MineGAN for footwear at N=100), each the generator kept by held-out
FID (runs of benchmarks/adapt.py).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch
from adapt import METHODS, TARGETS

from gantransfer import generate, load
from gantransfer.config import AdaptConfig
from gantransfer.grid import save_image_grid
from gantransfer.data.splits import target_splits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", default="footwear", choices=list(TARGETS))
    ap.add_argument("--n", type=int, default=100, help="the runs' target size")
    ap.add_argument("--runs", default="runs/bench/adapt")
    ap.add_argument("--per-row", type=int, default=12)
    ap.add_argument("--out", default="docs/adapt-footwear-n100.png")
    args = ap.parse_args()
    flags = dict(zip(TARGETS[args.target][0::2], TARGETS[args.target][1::2]))
    classes = [int(c) for c in flags["--classes"].split(",")] if "--classes" in flags else None
    names = [f"{args.target}-n{args.n}-{m}-s0" for m in METHODS]
    if args.target == "footwear" and args.n == 100:
        names.append("footwear-n100-minegan-multi-s0")
    rows = []
    for name in names:
        run = Path(args.runs) / name
        g, cfg = load(run / "best" if (run / "best").is_dir() else run)
        rows.append(generate(g, cfg, args.per_row, seed=777)[0])  # the same latents for every row
        print(name)
    # the training images as adapt saw them (the same seeded subset, converted to the sources' shape)
    train, _, _ = target_splits(AdaptConfig(sources=["-"], data=flags["--data"], classes=classes, limit=args.n),
                                cfg.resolution, cfg.channels)
    rows.insert(0, train.as_float(torch.linspace(0, len(train) - 1, args.per_row).long()))  # spread over the set
    print(save_image_grid(torch.cat(rows), Path(args.out), nrow=args.per_row, scale=3))


if __name__ == "__main__":
    main()
