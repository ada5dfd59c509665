"""A short StyleGAN2 training run on the one engine (lazy R1, path length, style mixing, EMA), killed with SIGKILL
part-way and resumed, against the same run uninterrupted: the final weights must be bit-identical.

    python benchmarks/stylegan2_train.py --steps 60 --runs /tmp/sg2-train --out benchmarks/results/stylegan2_train.json
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from safetensors.torch import load_file

from harness import Stopwatch, write_results

OPTIONS = {"channel_max": 64, "w_dim": 64, "mapping_layers": 4, "r1_every": 4, "pl_every": 4}


def command(out: Path, steps: int, resume: bool = False) -> list[str]:
    return [sys.executable, "-m", "gantransfer", "train", "--data", "fashion-mnist", "--arch", "stylegan2",
            "--width", "0.0625", "--arch-options", json.dumps(OPTIONS), "--r1", "1", "--batch-size", "16",
            "--steps", str(steps), "--checkpoint-every", "5", "--log-every", "1", "--sample-every", str(steps),
            "--seed", "0", "--device", "cpu", "--no-progress", "--out", str(out)] + (["--resume"] if resume else [])


def last_step(run: Path) -> int:
    log = run / "logs" / "metrics.jsonl"
    if not log.is_file():
        return 0
    lines = [ln for ln in log.read_text().splitlines() if ln.strip()]
    try:
        return int(json.loads(lines[-1])["step"]) if lines else 0
    except json.JSONDecodeError:
        return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--kill-after", type=int, default=None, help="kill once this step is logged (default: 60%%)")
    ap.add_argument("--runs", default="runs/bench/stylegan2-train")
    ap.add_argument("--out", default="benchmarks/results/stylegan2_train.json")
    args = ap.parse_args()
    runs = Path(args.runs)
    if runs.exists():
        raise SystemExit(f"{runs} exists; choose a new --runs directory")
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    kill_after = args.kill_after or int(args.steps * 0.6)
    watch = Stopwatch()
    subprocess.run(command(runs / "straight", args.steps), check=True, env=env, capture_output=True)
    straight_seconds = watch.elapsed()
    proc = subprocess.Popen(command(runs / "killed", args.steps), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    while proc.poll() is None and last_step(runs / "killed") < kill_after:
        time.sleep(0.05)
    killed_at = last_step(runs / "killed")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    subprocess.run(command(runs / "killed", args.steps, resume=True), check=True, env=env, capture_output=True)
    a = load_file(str(runs / "straight" / "generator" / "model.safetensors"))
    b = load_file(str(runs / "killed" / "generator" / "model.safetensors"))
    identical = a.keys() == b.keys() and all(bool((a[k] == b[k]).all()) for k in a)
    rows = [json.loads(ln) for ln in (runs / "straight" / "logs" / "metrics.jsonl").read_text().splitlines()]
    terms = sorted({k for r in rows for k in r if k.startswith("loss/")})
    result = {"command": " ".join(command(runs / "straight", args.steps)[1:]), "steps": args.steps,
              "seconds_per_step": round(rows[-1]["time/sec_per_step"], 3), "wall_seconds": round(straight_seconds, 1),
              "killed_after_step": killed_at, "resumed_weights_bit_identical": identical, "terms_logged": terms,
              "last_losses": {k: rows[-1][k] for k in terms if k in rows[-1]},
              "parameters": sum(v.numel() for k, v in a.items() if not k.endswith(("noise_const", "w_avg"))),
              "hardware": f"{os.cpu_count()} CPU cores, OMP_NUM_THREADS=2"}
    write_results(args.out, result, indent=1)
    print(json.dumps(result, indent=1))
    sys.exit(0 if identical else 1)


if __name__ == "__main__":
    main()
