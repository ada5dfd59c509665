"""Command-line wiring of the ecosystem commands: ``card`` (a generator directory's model card) and ``dataset
export`` (a data set as a StyleGAN2-ADA dataset_tool zip). Argument parsing only; no torch at import."""
from __future__ import annotations

import argparse
import json


def _cmd_card(args: argparse.Namespace) -> int:
    from gantransfer.card import write_card
    for d in args.dir:
        print(f"wrote {write_card(d)}")
    return 0


def _cmd_dataset_export(args: argparse.Namespace) -> int:
    from gantransfer.data.ada_export import export_dataset
    result = export_dataset(args.data, args.out, split=args.split, overwrite=args.overwrite,
                            resolution=args.resolution, limit=args.limit)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        classes = f", {len(result['classes'])} classes as labels" if result["classes"] else ", unlabelled"
        print(f"wrote {result['out']}: {result['images']} images of {result['resolution']}x{result['resolution']}"
              f"x{result['channels']}{classes} (StyleGAN2-ADA dataset_tool layout)")
    return 0


def add_ecosystem_commands(sub) -> None:
    """Add ``card`` and ``dataset`` to the ``gantransfer`` subparsers ``sub``."""
    p = sub.add_parser("card", help="(re)write the model card README.md of generator directories",
                       description="Write DIR/README.md (or DIR/generator/README.md for a run) from the directory's "
                       "files: config.json, and the run's run.json and eval.json. The folder then uploads to a "
                       "model hub as it is.")
    p.add_argument("dir", nargs="+", help="generator or run directories")
    p.set_defaults(func=_cmd_card)

    p = sub.add_parser("dataset", help="data set tools: export in the StyleGAN2-ADA dataset_tool layout")
    ds = p.add_subparsers(dest="dataset_command", metavar="ACTION", required=True)
    e = ds.add_parser("export", help="write a data set as a dataset_tool zip (images + dataset.json labels)",
                      description="Write the images of a built-in data set (or an image folder) as a StyleGAN2-ADA "
                      "dataset_tool zip: 00000/img00000000.png ... and dataset.json with the classes as labels, "
                      "so other tools can train on the same images; every command reads it back with --data FILE.zip.")
    e.add_argument("--data", required=True, help="a built-in data set (e.g. fashion-mnist) or an image folder")
    e.add_argument("--out", required=True, help="the .zip to write (its directory must exist)")
    e.add_argument("--split", default="train", choices=("train", "test"), help="the split (default: train)")
    e.add_argument("--resolution", type=int, default=None, help="image size (default: the one gantransfer trains "
                   "at, e.g. 32 for 28-pixel images)")
    e.add_argument("--limit", type=int, default=None, help="keep this many images (a seeded subset)")
    e.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    e.add_argument("--json", action="store_true", help="print what was written as JSON")
    e.set_defaults(func=_cmd_dataset_export)
