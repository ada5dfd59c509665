"""The benchmarks' shared harness: one clock, timing, job running, result JSON and Markdown tables.

Every script under benchmarks/ imports what it needs from here (``from harness import ...``; the scripts run as
``python benchmarks/NAME.py``, so this directory is on ``sys.path``):

- **Timing**: ``timed(fn, repeats, warmup, clock, reduce)`` and ``Stopwatch``, on one of two clocks: ``"wall"``
  (``time.perf_counter``) or ``"cpu"`` (``time.process_time``: this process's CPU seconds, all threads, robust to
  other jobs on a shared machine).
- **Jobs**: ``run_all`` runs ``(name, command, done-marker, log)`` jobs a few at a time, one torch thread each,
  skipping those already done; ``teacher_jobs``, ``log_beside``, ``train_seconds``, ``accelerator`` and
  ``add_run_options`` are the pieces the training benchmarks share.
- **Results**: ``write_results`` writes the result JSON atomically (``gantransfer.io``).
- **Tables**: ``markdown_table`` formats rows as the Markdown tables docs/results.md quotes.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Sequence

# ---------------------------------------------------------------- timing

CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}
REDUCERS: dict[str, Callable[[list[float]], float]] = {"median": statistics.median, "best": min,
                                                       "mean": statistics.mean}


def clock(kind: str = "wall") -> Callable[[], float]:
    """The clock named ``kind``: ``"wall"`` (perf_counter) or ``"cpu"`` (process time)."""
    if kind not in CLOCKS:
        raise ValueError(f"unknown clock {kind!r}; known: {', '.join(CLOCKS)}")
    return CLOCKS[kind]


def timed(fn: Callable[[], Any], repeats: int = 1, warmup: int = 0, clock_kind: str = "wall",
          reduce: str = "median") -> tuple[Any, float]:
    """``fn``'s last result and its seconds: ``warmup`` untimed calls, then ``repeats`` timed ones on the clock
    ``clock_kind``, reduced by ``reduce`` (``"median"``, ``"best"`` or ``"mean"``)."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"timed: repeats must be >= 1 and warmup >= 0, got {repeats} and {warmup}")
    if reduce not in REDUCERS:
        raise ValueError(f"unknown reduction {reduce!r}; known: {', '.join(REDUCERS)}")
    now = clock(clock_kind)
    for _ in range(warmup):
        fn()
    times, out = [], None
    for _ in range(repeats):
        start = now()
        out = fn()
        times.append(now() - start)
    return out, REDUCERS[reduce](times)


class Stopwatch:
    """Seconds since it was started, on one clock: ``with Stopwatch() as sw: ...`` then ``sw.seconds``; read
    ``sw.elapsed()`` while it runs."""

    def __init__(self, clock_kind: str = "wall") -> None:
        self._now = clock(clock_kind)
        self._start = self._now()
        self.seconds: float | None = None

    def elapsed(self) -> float:
        """Seconds so far (the final figure once stopped)."""
        return self.seconds if self.seconds is not None else self._now() - self._start

    def __enter__(self) -> "Stopwatch":
        self._start, self.seconds = self._now(), None
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = self._now() - self._start

# ---------------------------------------------------------------- results and tables


def write_results(path: str | Path, result: Any, indent: int = 2) -> Path:
    """Write a benchmark's result JSON atomically (a kill leaves the previous file), ``indent`` spaces deep."""
    from gantransfer.io import atomic_write, write_json  # imported here: timing alone needs no gantransfer

    path = Path(path)
    if indent == 2:
        write_json(path, result)
    else:
        atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(result, indent=indent) + "\n"))
    return path


def merge_row(path: str | Path, row: dict[str, Any], header: dict[str, Any], key: str = "run") -> Path:
    """Add ``row`` to the ``rows`` of the result JSON at ``path`` (a row with the same ``key`` is replaced; a new
    file starts as ``header`` plus the row), written atomically."""
    path = Path(path)
    data = json.loads(path.read_text()) if path.is_file() else {**header, "rows": []}
    data["rows"] = [r for r in data["rows"] if r.get(key) != row[key]] + [row]
    return write_results(path, data)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table: ``header`` cells, then one line per row (cells formatted with ``str``)."""
    width = len(header)
    for row in rows:
        if len(row) != width:
            raise ValueError(f"markdown_table: a row has {len(row)} cells, the header {width}")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * width]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)

# ---------------------------------------------------------------- jobs


def log_beside(out: Path, suffix: str = "") -> Path:
    """The log file of a job writing run directory ``out``: beside it, never in it (a command writes only into a
    new or empty directory, so a log placed inside first would make the run refuse its directory)."""
    return out.parent / f"{out.name}{suffix}.log"


def launch(cmd: list[str], log: Path) -> subprocess.Popen:
    """Start ``cmd`` with one torch thread, its output into ``log``."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    log.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(cmd, stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env)


def run_all(jobs: list[tuple[str, list[str], Path, Path]], parallel: int) -> None:
    """Run (name, command, done-marker, log file) jobs, ``parallel`` at a time; skip those already done."""
    pending = [j for j in jobs if not j[2].exists()]
    running: list[tuple[str, subprocess.Popen, Stopwatch]] = []
    while pending or running:
        while pending and len(running) < parallel:
            name, cmd, marker, log = pending.pop(0)
            print(f"[jobs] start {name}", flush=True)
            running.append((name, launch(cmd, log), Stopwatch()))
        time.sleep(2)
        for item in list(running):
            name, proc, watch = item
            if proc.poll() is not None:
                running.remove(item)
                print(f"[jobs] {name} exit {proc.returncode} after {watch.elapsed():.0f} s", flush=True)


def train_seconds(run: Path) -> float:
    """Training wall time of a run (summed over its time-limited segments)."""
    from gantransfer.engine.logger import training_seconds

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


def add_run_options(ap: Any, runs: str, results: str) -> None:
    """The options every benchmark shares: --jobs, --collect-only, --runs (its run directories), --results (JSON)."""
    ap.add_argument("--jobs", type=int, default=2, help="processes at a time (one torch thread each)")
    ap.add_argument("--collect-only", action="store_true",
                    help="run nothing: gather the finished runs into --results")
    ap.add_argument("--runs", default=runs)
    ap.add_argument("--results", default=results)
