"""Ship a distilled student: copy a finished `gantransfer distill` run's generator into the package assets, with
its command, training time and the end-of-run evaluation (student and teacher under the same protocol).

    python scripts/make_student.py --name fashion-mnist-dcgan-w0.125 --run runs/long/w0.125-ppaf

Also writes benchmarks/results/student-<name>.json.
"""
from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
from pathlib import Path

from gantransfer.engine.logger import read_log, training_seconds
from gantransfer.io import read_json, write_json
from gantransfer.metrics.classifier import assets_dir
from gantransfer.models.store import load_generator, save_generator


def command_of(config: dict) -> str:
    """The `gantransfer distill` command line of a resolved config (the flags that differ from the defaults)."""
    from gantransfer.config import DistillConfig
    default = dataclasses.asdict(DistillConfig())
    flags = []
    for k, v in config.items():
        if v == default.get(k) or k == "progress":
            continue
        flags += [f"--{k.replace('_', '-')}", str(v)] if not isinstance(v, bool) else [f"--{k.replace('_', '-')}"]
    return "gantransfer distill " + " ".join(flags)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--name", required=True)
    ap.add_argument("--run", required=True, help="a finished distill run directory (with eval.json)")
    ap.add_argument("--hardware", default="x86_64 CPU, 1 torch thread, 2 cores shared with other runs")
    ap.add_argument("--command", help="how the run was made, where its resolved config does not say it (e.g. a run "
                                      "stopped by --max-seconds and resumed); default: rebuilt from run.json")
    args = ap.parse_args()
    run = Path(args.run)
    g, gcfg = load_generator(run)
    ev = read_json(run / "eval.json", "distillation results")
    config = read_json(run / "run.json", "run config")["config"]
    last = [r for r in read_log(run / "logs" / "metrics.jsonl") if "time/sec_per_step" in r][-1]
    seconds = training_seconds(run / "logs" / "metrics.jsonl")
    training = {"command": args.command or command_of(config), "steps": last["step"],
                "wall_seconds": round(seconds, 1), "hardware": args.hardware}
    meta = {k: v for k, v in gcfg.meta.items() if k != "distill_config"}
    meta.update(training=training, evaluation=ev)
    dest = assets_dir() / "students" / args.name
    if dest.exists():
        shutil.rmtree(dest)
    save_generator(g, dataclasses.replace(gcfg, meta=meta), dest)
    out = Path("benchmarks/results") / f"student-{args.name}.json"
    write_json(out, {"name": args.name, "training": training, **ev})
    print(f"wrote {dest} and {out}")


if __name__ == "__main__":
    sys.exit(main())
