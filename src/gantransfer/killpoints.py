"""Deterministic kill points for fault tests: ``GANTRANSFER_KILL_AT=KIND:N`` sends this process SIGKILL at the
N-th point of KIND it reaches (counted from process start).

Kinds: ``step`` (before each training step), ``checkpoint``, ``export``, ``grid``, ``log``, ``run`` (run.json):
the points of a write kind are each atomic file write of that kind, after the temporary file is complete and
before it is renamed into place, plus, for checkpoints, the moment between renaming the step directory and
updating ``latest.json``, and, for logs, the middle of a line (half of it written and flushed). Unset, nothing
happens. Torch-free: ``io`` reaches these points.
"""
from __future__ import annotations

import os
import signal
from contextlib import contextmanager
from typing import Iterator

ENV = "GANTRANSFER_KILL_AT"
KINDS = ("step", "checkpoint", "export", "grid", "log", "run")

_counts: dict[str, int] = {}
_scope: list[str] = []


@contextmanager
def writing(kind: str) -> Iterator[None]:
    """Count the atomic writes made inside this block as points of ``kind``."""
    _scope.append(kind)
    try:
        yield
    finally:
        _scope.pop()


def reached(kind: str | None = None) -> None:
    """One point of ``kind`` (default: the innermost ``writing`` block's kind, or nothing outside one)."""
    target = os.environ.get(ENV)
    if not target:
        return
    kind = kind or (_scope[-1] if _scope else None)
    if kind is None:
        return
    _counts[kind] = _counts.get(kind, 0) + 1
    want, _, count = target.partition(":")
    if want == kind and count.isdigit() and _counts[kind] == int(count):
        os.kill(os.getpid(), signal.SIGKILL)
