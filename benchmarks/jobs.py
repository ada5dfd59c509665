"""Running benchmark jobs: one torch thread per process, a few processes at a time, finished jobs skipped."""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from gantransfer.engine.logger import training_seconds


def log_beside(out: Path, suffix: str = "") -> Path:
    """The log file of a job writing run directory ``out``: beside it, never in it (a command writes only into a
    new or empty directory, so a log placed inside first would make the run refuse its directory)."""
    return out.parent / f"{out.name}{suffix}.log"


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
    """Training wall time of a run (summed over its time-limited segments)."""
    return training_seconds(run / "logs" / "metrics.jsonl")


TEACHERS = {  # benchmark teachers, name: (data set, classes)
    "fm-tops": ("fashion-mnist", "0,2,4,6"), "fm-footwear": ("fashion-mnist", "5,7,9"),
    "fm-rest": ("fashion-mnist", "1,3,8"), "fm-0-4": ("fashion-mnist", "0,1,2,3,4"),
    "fm-5-9": ("fashion-mnist", "5,6,7,8,9"), "mnist": ("mnist-5k", None),
}


def teacher_jobs(names: list[str], teachers_dir: Path, width: float, steps: int,
                 exe: list[str]) -> list[tuple[str, list[str], Path, Path]]:
    """`gantransfer train` jobs for the named benchmark teachers (done when their last checkpoint exists)."""
    jobs = []
    for name in names:
        data, classes = TEACHERS[name]
        out = teachers_dir / name
        cmd = exe + ["train", "--data", data, "--width", str(width), "--steps", str(steps),
                     "--seed", "0", "--checkpoint-every", "500", "--sample-every", str(steps),
                     "--no-progress", "--out", str(out)] + (["--classes", classes] if classes else [])
        jobs.append((name, cmd, out / "state" / f"step-{steps:07d}", log_beside(out)))
    return jobs


def accelerator(device: str) -> str | None:
    """The GPU's name when ``device`` (as `--device` takes it) puts the runs on one here, else None (also when
    gathering GPU runs on a machine without one)."""
    import torch

    from gantransfer.devices import resolve_device

    if not torch.cuda.is_available():
        return None
    dev = resolve_device(device)
    return torch.cuda.get_device_name(dev) if dev.type == "cuda" else None


def add_run_options(ap, runs: str, results: str) -> None:
    """The options every benchmark shares: --jobs, --collect-only, --runs (its run directories), --results (JSON)."""
    ap.add_argument("--jobs", type=int, default=2, help="processes at a time (one torch thread each)")
    ap.add_argument("--collect-only", action="store_true",
                    help="run nothing: gather the finished runs into --results")
    ap.add_argument("--runs", default=runs)
    ap.add_argument("--results", default=results)
