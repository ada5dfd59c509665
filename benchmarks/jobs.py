"""Running benchmark jobs: one torch thread per process, a few processes at a time, finished jobs skipped."""
from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path


def launch(cmd: list[str], log: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    log.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(cmd, stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env)


def run_all(jobs: list[tuple[str, list[str], Path, Path]], parallel: int) -> None:
    """Run (name, command, done-marker, log file) jobs, ``parallel`` at a time; skip those already done."""
    pending = [j for j in jobs if not j[2].exists()]
    running: list[tuple[str, subprocess.Popen, float]] = []
    while pending or running:
        while pending and len(running) < parallel:
            name, cmd, marker, log = pending.pop(0)
            print(f"[jobs] start {name}", flush=True)
            running.append((name, launch(cmd, log), time.perf_counter()))
        time.sleep(2)
        for item in list(running):
            name, proc, t0 = item
            if proc.poll() is not None:
                running.remove(item)
                print(f"[jobs] {name} exit {proc.returncode} after {time.perf_counter() - t0:.0f} s", flush=True)


def train_seconds(run: Path) -> float:
    """Training wall time of a run: steps x the last logged seconds per step."""
    last = [json.loads(ln) for ln in (run / "logs" / "metrics.jsonl").read_text().splitlines() if ln.strip()][-1]
    return last["step"] * last["time/sec_per_step"]
