"""Atomic file writes and safe reads of JSON and safetensors (no pickle anywhere)."""
from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from gantransfer import killpoints, manifest
from gantransfer.errors import CheckpointError, ConfigError


def atomic_write(path: str | Path, write) -> None:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, fsync it and rename it over ``path``: a kill or
    a full disk leaves the earlier file intact and no partial one (the temporary file is removed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        killpoints.reached()  # fault tests: a kill with the temporary file complete, not yet renamed
        commit(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def commit(tmp: str | Path, path: str | Path) -> None:
    """Rename the finished temporary file ``tmp`` over ``path``: synced first, and with the permissions a new file
    gets under the umask (a temporary file is created private, 0600)."""
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)
    manifest.record(path)  # a run's own file (when written into a run this process owns)


_TEMP_NAME = re.compile(r"^\.(.+?)\.(?:report-)?[A-Za-z0-9_]{8}(?:\.[a-z0-9]+)?(?:\.tmp)?$")


def user_path(path: str | Path) -> str:
    """``path`` with each temporary name this package makes (``.NAME.XXXXXXXX[.tag].tmp``, a report's
    ``.NAME.report-XXXXXXXX``) replaced by the NAME the user asked for: what an error message should show."""
    parts = []
    for part in Path(path).parts:
        m = _TEMP_NAME.match(part) if part.startswith(".") and part not in (".", "..") else None
        parts.append(m.group(1) if m and (part.endswith(".tmp") or ".report-" in part) else part)
    return str(Path(*parts)) if parts else str(path)


def write_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically (temp file + rename)."""
    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2, sort_keys=False)
            f.write("\n")
    atomic_write(path, write)


def read_json(path: str | Path, what: str = "file") -> Any:
    """Read JSON, raising CheckpointError with the path on a missing or corrupt file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{what} {path} does not exist")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise CheckpointError(f"{what} {path} is not valid JSON ({str(e)[:120]}); restore it or re-create the "
                              "run") from None


def write_tensors(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    """Write tensors as safetensors, atomically."""
    flat = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    atomic_write(path, lambda tmp: save_file(flat, tmp, metadata=metadata))


def read_tensors(path: str | Path, what: str = "weights file") -> dict[str, torch.Tensor]:
    """Read a safetensors file, raising CheckpointError on a missing, truncated or corrupt file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{what} {path} does not exist")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(
            f"{what} {path} is truncated or corrupt ({e}). Re-export it, or resume from an earlier checkpoint"
        ) from None


def check_file_out(out: str | Path, overwrite: bool, example: str) -> Path:
    """ConfigError unless a file may be written at ``out``: its directory exists, it is not a directory, and it
    exists only with ``overwrite``; ``example`` is a file name to suggest."""
    p = Path(out)
    if not p.parent.is_dir():
        raise ConfigError(f"the directory of --out {p} does not exist; create it (mkdir -p {p.parent}) or choose "
                          "another --out")
    if p.is_dir():
        raise ConfigError(f"--out {p} is a directory; give a file name, e.g. {p / example}")
    if p.exists() and not overwrite:
        raise ConfigError(f"--out {p} already exists; pass --overwrite to replace it or choose another --out")
    return p


def check_json_out(out: str | Path, overwrite: bool) -> Path:
    """ConfigError unless a results file may be written at ``out`` (as ``check_out``, for JSON)."""
    return check_file_out(out, overwrite, "bench.json")
