"""Run directories: a run owns only its own files.

A command writes only into a directory that is new, empty, or an earlier run of the same command (marked by its
``run.json``). ``--resume`` continues such a run under the same config; ``--overwrite`` replaces one, removing
only the files the run recorded writing (its ``manifest.json``, see gantransfer.manifest), unchanged since, and
leaving anything else in place. One command at a time holds a run directory (tasks/runlock.py), and a symbolic link
among a run's own files is refused, never followed.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from gantransfer import manifest
from gantransfer.engine.checkpoint import latest_step
from gantransfer.errors import ConfigError
from gantransfer.io import read_json, write_json
from gantransfer.tasks.runlock import LOCK, acquire, check_unlocked

RUN_MARKER = "run.json"
# What a training run writes; --overwrite removes these and nothing else.
RUN_ARTEFACTS = (RUN_MARKER, "generator", "discriminator", "state", "samples", "logs", "report", "best", "eval.json",
                 "eval-cache")
# Fields that may change between a run and its resume (they do not change the result).
RESUMABLE_CHANGES = {"steps", "progress", "device", "log_every", "sample_every", "checkpoint_every", "eval_every",
                     "eval_n", "out", "max_seconds", "on_nan"}


def stale_temporaries(run: Path) -> list[Path]:
    """Temporary files that a killed run left beside the files it writes (``.NAME.XXXX.tmp``, made by io's atomic
    writes, and ``state/.step-NNNNNNN.tmp``): its own, never renamed into place."""
    if not run.is_dir():
        return []
    found = [p for p in run.glob(".*.tmp") if p.name.startswith((f".{RUN_MARKER}.", f".{manifest.MANIFEST}."))]
    for name in RUN_ARTEFACTS:
        d = run / name
        if d.is_dir() and not d.is_symlink():
            found += [p for p in d.rglob(".*.tmp")]
    return found


def recorded_command(run: Path) -> str | None:
    """The command that made run directory ``run`` (from its run.json), or None when it is not a run."""
    marker = run / RUN_MARKER
    if not marker.is_file():
        return None
    raw = read_json(marker, "run record")
    return raw.get("command") if isinstance(raw, dict) and isinstance(raw.get("command"), str) else None


def refuse_links(run: Path, names: tuple[str, ...] = RUN_ARTEFACTS) -> None:
    """ConfigError when a run's own file or folder (``names``, and everything under them) is a symbolic link: a
    run writes into its folder only, and a link would lead its writes (or --overwrite's removals) elsewhere."""
    for name in (*names, manifest.MANIFEST):
        top = run / name
        if top.is_symlink():
            raise ConfigError(f"{top} is a symbolic link; a run's files are its own and links are not followed. "
                              "Replace the link with a copy of what it points to, or choose another --out")
        if not top.is_dir():
            continue
        for dirpath, dirs, files in os.walk(top):
            for n in (*dirs, *files):
                p = Path(dirpath) / n
                if p.is_symlink():
                    raise ConfigError(f"{p} is a symbolic link; a run's files are its own and links are not "
                                      "followed. Replace the link with a copy of what it points to, or choose "
                                      "another --out")


def check_directory(out: str | Path, command: str, resume: bool = False, overwrite: bool = False) -> str | None:
    """ConfigError unless ``command`` may write into ``out`` (nothing is created or changed); returns the command
    of the run already there, if any."""
    run = Path(out)
    if run.exists() and not run.is_dir():
        raise ConfigError(f"--out {run} is a file, not a directory; choose another --out")
    if resume and overwrite:
        raise ConfigError("--resume continues a run and --overwrite replaces it; give one of them")
    if run.is_symlink():
        raise ConfigError(f"--out {run} is a symbolic link; give the directory itself")
    if run.is_dir():
        check_unlocked(run)
    owner = recorded_command(run) if run.is_dir() else None
    # a run killed while writing its first run.json left only that temporary file (and its lock and manifest):
    # the directory counts as empty
    leftovers = set(stale_temporaries(run)) | {run / LOCK, run / manifest.MANIFEST}
    if run.is_dir() and owner is None and any(p not in leftovers for p in run.iterdir()):
        if (run / RUN_MARKER).is_file():
            raise ConfigError(f"{run / RUN_MARKER} is not a gantransfer run record; choose another --out")
        raise ConfigError(f"{run} is not empty and is not a gantransfer run (it has no {RUN_MARKER}); a command writes "
                          "only into a new or empty directory or its own earlier run. Choose another --out")
    if owner is not None and owner != command:
        raise ConfigError(f"{run} holds a `gantransfer {owner}` run; `gantransfer {command}` does not write into "
                          "another command's run. Choose another --out")
    if resume and owner is None:
        raise ConfigError(f"--resume: {run} holds no run to resume; drop --resume to start one there")
    if owner is not None:
        refuse_links(run)
    step = latest_step(run / "state") if owner is not None else None
    if step is not None and not resume and not overwrite:
        raise ConfigError(f"{run} already holds a run (checkpoint at step {step}). Pass --resume to continue it, "
                          "--overwrite to replace it, or choose another --out")
    return owner


def claim_directory(out: str | Path, command: str, resume: bool = False, overwrite: bool = False,
                    artefacts: tuple[str, ...] = RUN_ARTEFACTS) -> Path:
    """Check that ``command`` may write into ``out`` and make it; with ``overwrite``, remove an earlier run's
    ``artefacts`` (only those). ConfigError naming the reason and the fix otherwise."""
    run = Path(out)
    owner = check_directory(run, command, resume, overwrite)
    if overwrite and owner is not None:
        if not (run / manifest.MANIFEST).is_file():
            raise ConfigError(f"{run} holds a run without a {manifest.MANIFEST} (written by an older gantransfer), so "
                              "--overwrite cannot tell its files from yours; move or delete it yourself, or choose "
                              "another --out")
        acquire(run)
        kept = manifest.remove_recorded(run)
        if kept:
            import warnings
            warnings.warn(f"--overwrite left in place {len(kept)} file(s) changed since the run wrote them: "
                          f"{manifest.describe(dict.fromkeys(kept))}")
    run.mkdir(parents=True, exist_ok=True)
    acquire(run)
    manifest.own(run)
    for tmp in stale_temporaries(run):  # what a killed run of its own left half-written
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
    return run


def prepare_run_dir(out: str | Path, command: str, resolved: dict[str, Any], resume: bool = False,
                    overwrite: bool = False) -> Path:
    """Claim ``out`` for a training run; refuse to overwrite a run without ``overwrite``, and refuse a resume
    under another config."""
    run = Path(out)
    check_directory(run, command, resume, overwrite)
    if resume:
        from gantransfer.config import task, task_names, upgrade_run_config
        before = read_json(run / RUN_MARKER, "run record").get("config", {})
        if not isinstance(before, dict):
            raise ConfigError(f"{run / RUN_MARKER}: 'config' is not a JSON object, so this run's settings are unknown "
                              "and it cannot be resumed; restore run.json, or start a new run with another --out")
        cls = task(command).config if command in task_names() else None
        before = upgrade_run_config(cls, before) if cls is not None else before
        changed = sorted(k for k in set(before) | set(resolved)
                         if k not in RESUMABLE_CHANGES and before.get(k) != resolved.get(k))
        if changed:
            detail = ", ".join(f"{k}: {before.get(k)!r} -> {resolved.get(k)!r}" for k in changed)
            raise ConfigError(f"--resume with a different config ({detail}); resume with the original settings "
                              "or start a new run with another --out")
    return claim_directory(run, command, resume, overwrite)


def write_run_config(run: Path, command: str, resolved: dict[str, Any], extra: dict[str, Any] | None = None) -> None:
    """Write run.json with the command name and the resolved config."""
    write_json(run / RUN_MARKER, {"command": command, "config": resolved, **(extra or {})})
