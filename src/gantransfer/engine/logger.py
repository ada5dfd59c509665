"""Metrics logs: JSONL always, TensorBoard when it is installed."""
from __future__ import annotations

import json
import os
import math
from pathlib import Path
from typing import Any

from gantransfer import killpoints, manifest
from gantransfer.io import atomic_write


class MetricsLog:
    """Appends one JSON object per logged step to ``logs/metrics.jsonl``."""

    def __init__(self, run_dir: Path, resume_step: int | None = None) -> None:
        self.path = run_dir / "logs" / "metrics.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume_step is not None and self.path.exists():
            self._truncate_after(resume_step)
        self._last: tuple[int, int, dict[str, Any]] | None = None  # step, byte offset and record last written
        self._tb = None
        try:
            from torch.utils.tensorboard import SummaryWriter  # optional
            self._tb = SummaryWriter(str(run_dir / "logs" / "tensorboard"))
        except Exception:  # tensorboard not installed: JSONL only
            self._tb = None

    def _truncate_after(self, step: int) -> None:
        """Keep the records up to ``step`` (a resumed run logs the later ones again); a torn last line, left by a
        kill or a full disk in the middle of a write, is dropped."""
        kept = [json.dumps(r) for r in read_log(self.path) if r.get("step", 0) <= step]
        atomic_write(self.path, lambda tmp: Path(tmp).write_text("".join(ln + "\n" for ln in kept)))

    def rewind(self, step: int) -> None:
        """Drop the records after ``step`` (a rollback trains those steps again)."""
        self._truncate_after(step)
        self._last = None

    def write(self, step: int, values: dict[str, Any], merge: bool = False) -> None:
        """Append ``values`` as the record of ``step``; ``merge``: when the last record this log wrote is of the
        same step, replace it with the two merged (a time limit striking right after a logged step)."""
        record = {"step": step, **{k: (v if not isinstance(v, float) or math.isfinite(v) else str(v))
                                   for k, v in values.items()}}
        if merge and self._last is not None and self._last[0] == step:
            record, offset = {**self._last[2], **record}, self._last[1]
            os.truncate(self.path, offset)
        else:
            offset = self.path.stat().st_size if self.path.exists() else 0
        self._last = (step, offset, record)
        line = json.dumps(record) + "\n"
        with open(self.path, "a") as f:
            f.write(line[:len(line) // 2])
            f.flush()
            killpoints.reached("log")  # fault tests: a kill with half the line written
            f.write(line[len(line) // 2:])
        manifest.record(self.path)
        if self._tb is not None:
            for k, v in values.items():
                if isinstance(v, (int, float)):
                    self._tb.add_scalar(k, v, step)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


class NullLog:
    """The log of a process other than rank 0 under torchrun: it writes nothing."""

    def write(self, step: int, values: dict[str, Any], merge: bool = False) -> None:
        return None

    def rewind(self, step: int) -> None:
        return None

    def close(self) -> None:
        return None


def training_seconds(path: str | Path) -> float:
    """Training wall time recorded in a metrics.jsonl file: for each segment (a run stopped by its time limit and
    resumed has several, each ended by a ``time/stopped_at_limit`` record), its steps x its last logged seconds
    per step, summed. Evaluation records carry no timing and are skipped."""
    timed = [r for r in read_log(path) if "time/sec_per_step" in r]
    total, start = 0.0, 0
    for i, r in enumerate(timed):
        if "time/stopped_at_limit" in r or i == len(timed) - 1:
            total += (r["step"] - start) * r["time/sec_per_step"]
            start = r["step"]
    return total


def read_log(path: str | Path) -> list[dict[str, Any]]:
    """All records of a metrics.jsonl file; a torn last line (a write cut short) is skipped, a corrupt line before
    it is an error naming the line."""
    p = Path(path)
    if not p.exists():
        return []
    lines = [ln for ln in p.read_text(errors="replace").splitlines() if ln.strip()]
    records = []
    for i, ln in enumerate(lines):
        try:
            record = json.loads(ln)
        except (json.JSONDecodeError, RecursionError):
            if i == len(lines) - 1:
                break  # the last write was cut short
            from gantransfer.errors import CheckpointError
            raise CheckpointError(f"{p} line {i + 1} is not valid JSON; the log is corrupt before its last line "
                                  "(restore it, or start a new run)") from None
        records.append(check_record(record, f"{p} line {i + 1}"))
    return records


def check_record(record: Any, where: str) -> dict[str, Any]:
    """``record`` when it is a log record: an object with an integer ``step`` >= 0 and finite numbers or strings as
    values; CheckpointError naming ``where``, the key, what was found and what was expected otherwise."""
    from gantransfer.errors import CheckpointError
    if not isinstance(record, dict):
        raise CheckpointError(f"{where}: found {type(record).__name__}, expected a JSON object "
                              '{"step": N, ...}; restore the log, or start a new run')
    step = record.get("step")
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise CheckpointError(f"{where}: 'step' is {str(step)[:40]!s} ({type(step).__name__}), expected an integer "
                              ">= 0; restore the log, or start a new run")
    for k, v in record.items():  # what the log writes: finite numbers, and non-finite ones as strings ("nan")
        if not (isinstance(v, (str, bool)) or v is None or (isinstance(v, (int, float)) and math.isfinite(v))):
            raise CheckpointError(f"{where}: '{str(k)[:60]}' is {str(v)[:30]} ({type(v).__name__}), expected a finite "
                                  "number or a string; restore the log, or start a new run")
    return record
