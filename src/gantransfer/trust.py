"""What may run code from outside the package: nothing, unless the user asks.

A TorchScript archive is code (loading and calling it runs whatever its author wrote); an entry point
``pkg.module:factory`` imports a module and calls a function of it. Both are refused unless the user opts in: on the
command line with ``--trust-code`` (TorchScript) and ``--allow-entry-points`` (entry points read from a JSON file;
those typed on the command line or passed to the Python API are the user's own choice and always taken).
The policy is a context (``trusting``) so the Python API can opt in for one block; imports nothing heavy.
"""
from __future__ import annotations

import contextlib
import contextvars
from pathlib import Path
from typing import Any, Iterator

from gantransfer.errors import CheckpointError, ConfigError

_TRUST_CODE: contextvars.ContextVar[bool] = contextvars.ContextVar("gantransfer_trust_code", default=False)
_ENTRY_POINTS: contextvars.ContextVar[bool] = contextvars.ContextVar("gantransfer_entry_points", default=False)

# Config fields whose value may name an entry point ``pkg.module:factory`` (and the flag that gives one).
ENTRY_POINT_FIELDS = {"teacher_module": "--teacher-module", "perceptual_net": "--perceptual-net"}


@contextlib.contextmanager
def trusting(code: bool = False, entry_points: bool = False) -> Iterator[None]:
    """Within the block, TorchScript files may be loaded (``code``) and entry points read from files may be
    imported (``entry_points``)."""
    t1, t2 = _TRUST_CODE.set(code), _ENTRY_POINTS.set(entry_points)
    try:
        yield
    finally:
        _TRUST_CODE.reset(t1)
        _ENTRY_POINTS.reset(t2)


def code_trusted() -> bool:
    """Whether the current context lets TorchScript archives run."""
    return _TRUST_CODE.get()


def require_code_trust(path: str | Path) -> None:
    """CheckpointError unless the user trusts code: ``path`` is a TorchScript archive."""
    if not _TRUST_CODE.get():
        raise CheckpointError(
            f"{path} is a TorchScript archive, and loading one runs the code inside it, which can read, write or "
            "delete anything your account can. Pass --trust-code only if you trust whoever made it (Python: "
            "gantransfer.trust.trusting(code=True)); an ONNX export holds no code and needs no such trust "
            "(`gantransfer export GEN --format onnx`)")


def is_torchscript_archive(path: str | Path) -> bool:
    """Whether ``path`` is a TorchScript archive (a zip holding ``code/`` or ``constants.pkl``), whoever wrote it."""
    import zipfile
    p = Path(path)
    try:
        if not p.is_file() or not zipfile.is_zipfile(p):
            return False
        with zipfile.ZipFile(p) as z:
            return any("/code/" in n or n.endswith("/constants.pkl") for n in z.namelist()[:100_000])
    except (OSError, zipfile.BadZipFile, ValueError):
        return False


def is_entry_point(value: Any) -> bool:
    """Whether a config value names an entry point ``pkg.module:factory``."""
    return isinstance(value, str) and ":" in value


def check_file_entry_points(data: dict[str, Any], source: str | Path) -> None:
    """ConfigError when ``data`` (read from file ``source``) names an entry point and the user has not passed
    --allow-entry-points: a file handed to a user must not make the program import and call code."""
    if _ENTRY_POINTS.get() or not isinstance(data, dict):
        return
    for key, flag in ENTRY_POINT_FIELDS.items():
        value = data.get(key)
        if is_entry_point(value):
            raise ConfigError(
                f"{source}: '{key}' asks to import and call the entry point {value!r} (code of an installed module). "
                f"Entry points are taken from the command line or the Python API only: give {flag} {value} yourself, "
                "or pass --allow-entry-points if you trust this file")
