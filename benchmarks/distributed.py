"""Throughput of 1 vs N processes (torchrun, gloo on CPU / NCCL on CUDA) for teacher training and distillation.

Each configuration is a real ``torchrun --standalone --nproc-per-node N -m gantransfer ...`` run at the same
global batch; the figure is the engine's own ``time/sec_per_step`` of the last log record (training steps only:
process start-up, data loading and the final export are excluded), turned into samples per second. Runs are
interleaved (1, N, 1, N, ...) over ``--rounds`` so that load from other jobs hits both alike; the median is kept.

    python benchmarks/distributed.py --out benchmarks/results/distributed_cpu.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import Stopwatch, write_results

ROOT = Path(__file__).resolve().parents[1]
TEACHER = ROOT / "src" / "gantransfer" / "assets" / "teachers" / "fashion-mnist-dcgan"


def workloads(steps: int, batch: int, device: str) -> dict[str, list[str]]:
    common = ["--steps", str(steps), "--batch-size", str(batch), "--no-progress", "--device", device,
              "--log-every", str(steps), "--sample-every", str(10 * steps), "--checkpoint-every", str(10 * steps)]
    return {
        "train (DCGAN width 0.5 on Fashion-MNIST)": ["train", "--data", "fashion-mnist", "--width", "0.5", *common],
        "distill (shipped teacher into a width-0.25 student, pixel+perceptual, bank 4096)":
            ["distill", "--teacher", str(TEACHER), "--width", "0.25", "--bank-size", "4096", "--eval-n", "0",
             *common],
    }


def run_once(argv: list[str], procs: int, threads: int) -> dict:
    """One torchrun launch; returns its seconds per step and wall time."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": str(threads)}
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(procs),
               "-m", "gantransfer", *argv, "--out", str(out)]
        watch = Stopwatch()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        wall = watch.elapsed()
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
        last = [json.loads(ln) for ln in (out / "logs" / "metrics.jsonl").read_text().splitlines()
                if "time/sec_per_step" in ln][-1]
        return {"sec_per_step": last["time/sec_per_step"], "wall_s": wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--procs", type=int, default=2, help="processes of the parallel runs (default: 2)")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--batch", type=int, default=64, help="global batch (each of N processes takes batch/N)")
    ap.add_argument("--threads", type=int, default=1, help="OMP threads per process (default: 1)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    results = {}
    for name, argv in workloads(args.steps, args.batch, args.device).items():
        times: dict[int, list[float]] = {1: [], args.procs: []}
        walls: dict[int, list[float]] = {1: [], args.procs: []}
        for _ in range(args.rounds):
            for procs in (1, args.procs):
                r = run_once(argv, procs, args.threads)
                times[procs].append(r["sec_per_step"])
                walls[procs].append(r["wall_s"])
                print(f"{name}: {procs} process(es): {r['sec_per_step']:.4f} s/step", flush=True)
        med = {p: statistics.median(v) for p, v in times.items()}
        results[name] = {
            "command": "torchrun --standalone --nproc-per-node N -m gantransfer " + " ".join(argv),
            "sec_per_step": {str(p): v for p, v in times.items()},
            "wall_s": {str(p): v for p, v in walls.items()},
            "samples_per_s_median": {str(p): args.batch / med[p] for p in med},
            "speedup_median": med[1] / med[args.procs],
        }
    load = os.getloadavg()
    report = {
        "benchmark": "distributed throughput, 1 vs N processes at the same global batch",
        "command": "python benchmarks/distributed.py " + " ".join(sys.argv[1:]),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "load_average_at_end": load,
                    "note": "shared with other jobs; figures measured under that contention"},
        "settings": vars(args), "results": results,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_results(args.out, report)
    for name, r in results.items():
        print(f"{name}: speedup x{r['speedup_median']:.2f} with {args.procs} processes")


if __name__ == "__main__":
    main()
