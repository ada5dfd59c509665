"""One command at a time per run directory: a lock file naming the holder's process.

``RUN/.gantransfer.lock`` holds ``PID START`` (START: the process's start time from /proc, to tell a reused PID
apart). A second command on the same directory is refused, naming the holder; a lock whose process is gone (a kill)
is stale and taken over. The holder releases it when the command ends (``release_all``, also at exit).
"""
from __future__ import annotations

import atexit
import os
from pathlib import Path

from gantransfer.errors import ConfigError

LOCK = ".gantransfer.lock"

_held: set[Path] = set()


def _start_time(pid: int) -> str:
    """The start time of process ``pid`` (clock ticks since boot), or "" where /proc does not tell."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else ""


def _alive(pid: int, start: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    except OverflowError:
        return False
    return not start or not _start_time(pid) or _start_time(pid) == start


def holder(run: Path) -> int | None:
    """The PID of a live process holding ``run``'s lock (other than this one), or None."""
    p = run / LOCK
    try:
        text = p.read_text()[:100].split()
    except (OSError, UnicodeDecodeError):
        return None
    try:
        pid = int(text[0])
    except (ValueError, IndexError):
        return None
    if pid == os.getpid() or pid <= 0:
        return None
    return pid if _alive(pid, text[1] if len(text) > 1 else "") else None


def check_unlocked(run: Path) -> None:
    """ConfigError when another live command holds ``run``."""
    pid = holder(run)
    if pid is not None:
        raise ConfigError(f"{run} is in use by another gantransfer command (process {pid}); wait for it to end, "
                          f"stop it (kill {pid}), or choose another --out")


def acquire(run: Path) -> None:
    """Take ``run``'s lock (the directory exists); ConfigError when a live process holds it."""
    run = Path(os.path.abspath(run))
    if run in _held:
        return
    p = run / LOCK
    mine = f"{os.getpid()} {_start_time(os.getpid())}\n"
    for _ in range(3):
        try:
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except FileExistsError:
            check_unlocked(run)
            try:  # stale (its process is gone) or ours from before: take it over
                if p.is_symlink() or p.is_file():
                    p.unlink()
            except FileNotFoundError:
                pass
            continue
        with os.fdopen(fd, "w") as f:
            f.write(mine)
        _held.add(run)
        return
    check_unlocked(run)
    raise ConfigError(f"{run}: could not take its lock {p}; remove it if no gantransfer command is running there")


def release(run: str | Path) -> None:
    """Give back ``run``'s lock when this process holds it (a run of the Python API ends holding nothing)."""
    run = Path(os.path.abspath(run))
    if run not in _held:
        return
    p = run / LOCK
    try:
        if p.is_file() and p.read_text().split()[:1] == [str(os.getpid())]:
            p.unlink()
    except OSError:
        pass
    _held.discard(run)


def release_all() -> None:
    """Give back every lock this process holds."""
    for run in list(_held):
        release(run)


atexit.register(release_all)
