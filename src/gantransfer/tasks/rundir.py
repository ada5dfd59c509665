"""Run directories: the resolved config, and the guard against overwriting or mismatched resumes."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from gantransfer.engine.checkpoint import latest_step
from gantransfer.errors import ConfigError
from gantransfer.io import read_json, write_json

# Fields that may change between a run and its resume (they do not change the result).
RESUMABLE_CHANGES = {"steps", "progress", "device", "log_every", "sample_every", "checkpoint_every", "eval_every",
                     "eval_n", "out", "max_seconds"}


def prepare_run_dir(out: str | Path, resolved: dict[str, Any], resume: bool) -> Path:
    """Create or reopen ``out``; refuse to overwrite a run, and refuse a resume under another config."""
    run = Path(out)
    step = latest_step(run / "state")
    if step is not None and not resume:
        raise ConfigError(f"{run} already holds a run (checkpoint at step {step}). Pass --resume to continue it, "
                          "or choose another --out")
    if resume and (run / "run.json").is_file():
        before = read_json(run / "run.json", "run config")["config"]
        changed = sorted(k for k in set(before) | set(resolved)
                         if k not in RESUMABLE_CHANGES and before.get(k) != resolved.get(k))
        if changed:
            detail = ", ".join(f"{k}: {before.get(k)!r} -> {resolved.get(k)!r}" for k in changed)
            raise ConfigError(f"--resume with a different config ({detail}); resume with the original settings "
                              "or start a new run with another --out")
    run.mkdir(parents=True, exist_ok=True)
    return run


def write_run_config(run: Path, command: str, resolved: dict[str, Any], extra: dict[str, Any] | None = None) -> None:
    """Write run.json with the command name and the resolved config."""
    write_json(run / "run.json", {"command": command, "config": resolved, **(extra or {})})
