"""Train a shipped teacher with `gantransfer train`, evaluate it, and write it to the package assets.

    python scripts/make_teacher.py --name fashion-mnist-dcgan -- --data fashion-mnist --steps 6000 --out runs/teacher
    python scripts/make_teacher.py --name fashion-mnist-dcgan-cond -- --data fashion-mnist --conditional ...

The asset's config.json records the training command, wall time, hardware and the measured metrics;
the same figures go to benchmarks/results/teacher-<name>.json.
"""
from __future__ import annotations

import argparse
import dataclasses
import platform
import shutil
import sys
import time
from pathlib import Path

import torch

from gantransfer.cli import build_parser, config_from_args
from gantransfer.config import EvalConfig, TrainConfig
from gantransfer.io import write_json
from gantransfer.metrics.classifier import assets_dir
from gantransfer.metrics.evaluate import evaluate
from gantransfer.models.store import load_config, load_generator, save_generator
from gantransfer.tasks.train import train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--name", required=True)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--eval-n", type=int, default=10000)
    ap.add_argument("--hardware", help="what the training ran on, when it is not this process (e.g. --resume)")
    ap.add_argument("--ship-discriminator", action="store_true",
                    help="also ship the run's discriminator (distillation's perceptual and adversarial terms use it)")
    ap.add_argument("train_args", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    train_args = [a for a in args.train_args if a != "--"]
    targs = build_parser().parse_args(["train", *train_args])
    cfg: TrainConfig = config_from_args(TrainConfig, targs)
    t0 = time.perf_counter()
    run = train(cfg, resume=args.resume)
    seconds = time.perf_counter() - t0
    g, gcfg = load_generator(run)
    hardware = args.hardware or (torch.cuda.get_device_name() if torch.cuda.is_available() and cfg.device != "cpu"
                                 else f"{platform.machine()} CPU, {torch.get_num_threads()} threads")
    res = evaluate(EvalConfig(generator=str(run), n=args.eval_n))
    if args.resume:  # the run trained earlier (or in several pieces): take its time from its own log
        from gantransfer.engine.logger import read_log
        last = [r for r in read_log(run / "logs" / "metrics.jsonl") if "time/sec_per_step" in r][-1]
        seconds = last["time/sec_per_step"] * cfg.steps
    training = {"command": "gantransfer train " + " ".join(train_args), "wall_seconds": round(seconds, 1),
                "hardware": hardware, "torch": torch.__version__, "steps": cfg.steps,
                "resumed": args.resume}
    meta = {k: v for k, v in gcfg.meta.items() if k != "train_config"}
    meta.update(training=training, evaluation={"protocol": res["protocol"], "metrics": res["metrics"],
                                                "class_shares": res["class_shares"]})
    dest = assets_dir() / "teachers" / args.name
    if dest.exists():
        shutil.rmtree(dest)
    save_generator(g, dataclasses.replace(gcfg, meta=meta), dest)
    if args.ship_discriminator:
        shutil.copytree(run / "discriminator", dest / "discriminator")
    out = Path("benchmarks/results") / f"teacher-{args.name}.json"
    write_json(out, {"name": args.name, "training": training, **res})
    print(f"wrote {dest} and {out}")
    print({k: round(v, 4) if isinstance(v, float) else v for k, v in res["metrics"].items()})
    print(res["class_shares"])


if __name__ == "__main__":
    sys.exit(main())
