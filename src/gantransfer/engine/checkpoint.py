"""Training state on disk without pickle: tensors in safetensors, everything else in JSON.

Layout under ``state/``: ``step-000500/{tensors.safetensors,state.json,checksums.json}`` and ``latest.json``
naming the newest complete step. A step directory is written under a temporary name and renamed when complete;
``latest.json`` is replaced atomically afterwards, so a kill at any moment leaves a good checkpoint. Checksums
are verified on resume; a corrupt newest checkpoint falls back to the one before it, with a warning.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

import torch

from gantransfer import killpoints, manifest
from gantransfer.errors import CheckpointError
from gantransfer.io import read_json, read_tensors, write_json, write_tensors

KEEP = 2
CHECKSUMS = "checksums.json"  # SHA-256 of the step's files, recorded when it was saved
CHECKED = ("tensors.safetensors", "state.json")


def flatten_optimizer(prefix: str, state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer state_dict into tensors (safetensors) and plain values (JSON)."""
    tensors: dict[str, torch.Tensor] = {}
    plain: dict[str, Any] = {"param_groups": state["param_groups"], "state": {}}
    for idx, entry in state["state"].items():
        plain["state"][str(idx)] = {}
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"{prefix}.{idx}.{key}"] = value
                plain["state"][str(idx)][key] = {"tensor": f"{prefix}.{idx}.{key}"}
            else:
                plain["state"][str(idx)][key] = value
    return tensors, plain


def unflatten_optimizer(tensors: dict[str, torch.Tensor], plain: dict[str, Any]) -> dict[str, Any]:
    """Inverse of ``flatten_optimizer``."""
    state = {}
    for idx, entry in plain["state"].items():
        state[int(idx)] = {k: tensors[v["tensor"]] if isinstance(v, dict) and "tensor" in v else v
                           for k, v in entry.items()}
    return {"state": state, "param_groups": plain["param_groups"]}


def save_state(state_dir: Path, step: int, tensors: dict[str, torch.Tensor], plain: dict[str, Any]) -> Path:
    """Write one complete checkpoint for ``step`` and point latest.json at it."""
    state_dir.mkdir(parents=True, exist_ok=True)
    name = f"step-{step:07d}"
    tmp = state_dir / f".{name}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        write_tensors(tmp / "tensors.safetensors", tensors)
        write_json(tmp / "state.json", {"step": step, **plain})
        write_json(tmp / CHECKSUMS, {f: _sha256(tmp / f) for f in CHECKED})
    except BaseException:  # a full disk or a kill: remove the partial step; the earlier checkpoints are intact
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    final = state_dir / name
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    manifest.record_tree(final)
    killpoints.reached()  # fault tests: the step renamed into place, latest.json not yet updated
    write_json(state_dir / "latest.json", {"step": step, "dir": name})
    for old in sorted(state_dir.glob("step-*"))[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest_step(state_dir: Path) -> int | None:
    """The step of the newest complete checkpoint, or None when there is none."""
    if not (state_dir / "latest.json").is_file():
        return None
    pointer = read_json(state_dir / "latest.json", "checkpoint pointer")
    step = pointer.get("step") if isinstance(pointer, dict) else None
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise CheckpointError(f"checkpoint pointer {state_dir / 'latest.json'} does not name a step (expected "
                              f'{{"step": N, "dir": "step-NNNNNNN"}}); restore it, or start a new run with another '
                              "--out")
    return step


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read_step(d: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """One checkpoint directory, its checksums verified (directories written before checksums: read as they are)."""
    if not d.is_dir():
        raise CheckpointError(f"checkpoint {d} is missing")
    if (d / CHECKSUMS).is_file():
        recorded = read_json(d / CHECKSUMS, "checkpoint checksums")
        if not isinstance(recorded, dict):
            raise CheckpointError(f"checkpoint checksums {d / CHECKSUMS} is not a JSON object of file -> SHA-256")
        for f in CHECKED:
            if not (d / f).is_file() or _sha256(d / f) != recorded.get(f):
                raise CheckpointError(f"checkpoint {d / f} does not match the checksum recorded when it was saved")
    tensors, plain = read_tensors(d / "tensors.safetensors", "checkpoint"), read_json(d / "state.json", "checkpoint state")
    problem = _state_problem(plain)
    if problem:
        raise CheckpointError(f"checkpoint state {d / 'state.json'} is not a training state: {problem}")
    return tensors, plain


def _state_problem(plain: Any) -> str | None:
    """What is wrong with the plain part of a checkpoint (None: it has the types the engine reads)."""
    if not isinstance(plain, dict):
        return "not a JSON object"
    step = plain.get("step")
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        return f"'step' must be an integer >= 0, got {step!r}"
    if not isinstance(plain.get("optimizers"), dict):
        return "'optimizers' must be an object"
    for name, opt in plain["optimizers"].items():
        if not (isinstance(opt, dict) and isinstance(opt.get("state"), dict)
                and isinstance(opt.get("param_groups"), list)):
            return f"optimizer {name!r} must hold 'state' and 'param_groups'"
    if not isinstance(plain.get("sampler", {}), dict):
        return "'sampler' must be an object"
    scale = plain.get("lr_scale", 1.0)
    if not isinstance(scale, (int, float)) or isinstance(scale, bool) or not 0 < scale <= 1:
        return f"'lr_scale' must be a number in (0, 1], got {scale!r}"
    return None


def load_state(state_dir: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and plain state of the newest intact checkpoint: the one latest.json names, or, when that one is
    missing or corrupt, the newest earlier one that is intact (with a warning naming both)."""
    pointer = read_json(state_dir / "latest.json", "checkpoint pointer")
    newest = state_dir / str(pointer.get("dir", ""))
    candidates = [newest] + [d for d in sorted(state_dir.glob("step-*"), reverse=True) if d != newest]
    problems = []
    for d in candidates:
        try:
            loaded = _read_step(d)
        except CheckpointError as e:
            problems.append(str(e))
            continue
        if d != newest:
            warnings.warn(f"{problems[0]}; resuming from the earlier checkpoint {d.name} instead")
        return loaded
    raise CheckpointError(f"no intact checkpoint in {state_dir} ({'; '.join(problems)}); the run cannot be resumed: "
                          "start a new run with another --out")
