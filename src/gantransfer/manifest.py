"""What a run wrote, so that ``--overwrite`` removes exactly that and nothing of the user's.

While a run directory is *owned* (``own``), every file written into it through ``gantransfer.io``'s atomic writes
(and the few appended logs, via ``record``) is listed in its ``manifest.json`` with a stamp (size and modification
time in ns). The manifest is rewritten atomically after each new entry. ``remove_recorded`` deletes a listed file
only when it is still a regular file inside the run (no symbolic link on the way) with the recorded stamp: a file the
user wrote, replaced or edited since, and anything never listed, is left in place. A manifest handed over by someone
else can therefore name nothing but files that are byte-for-byte what a run stamped, inside the folder.

Imports nothing of the package but its errors (``io`` calls in here), so it can sit below everything.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from gantransfer.errors import ConfigError

MANIFEST = "manifest.json"
KIND = "gantransfer run manifest"
MAX_ENTRIES = 1_000_000
MAX_BYTES = 64 << 20

_owned: dict[Path, dict[str, list[int]]] = {}  # run root (resolved) -> {relative path: [size, mtime_ns]}


def stamp(path: Path) -> list[int] | None:
    """[size, mtime_ns] of a regular file (not a link), or None."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    import stat as _stat
    return [st.st_size, st.st_mtime_ns] if _stat.S_ISREG(st.st_mode) else None


def _relative(root: Path, path: Path) -> str | None:
    """``path`` relative to ``root`` when inside it and not hidden/temporary (``.NAME...``), else None."""
    try:
        rel = Path(os.path.abspath(path)).relative_to(root)
    except ValueError:
        return None
    parts = rel.parts
    if not parts or any(p.startswith(".") for p in parts) or rel.as_posix() == MANIFEST:
        return None
    return rel.as_posix()


def read_manifest(run: Path) -> dict[str, list[int]] | None:
    """The entries of ``run``'s manifest, or None when it has none; ConfigError naming the file and the field when
    it is not one this package writes."""
    p = run / MANIFEST
    if not p.exists() and not p.is_symlink():
        return None
    where = f"{p}"
    if p.is_symlink() or not p.is_file():
        raise ConfigError(f"{where} is not a regular file (a link or a folder); a run's manifest is its own file. "
                          "Remove it, or choose another --out")
    if p.stat().st_size > MAX_BYTES:
        raise ConfigError(f"{where} is {p.stat().st_size} bytes, more than a manifest's {MAX_BYTES}; choose another "
                          "--out")
    try:
        raw = json.loads(p.read_text())
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise ConfigError(f"{where} is not valid JSON ({str(e)[:80]}); choose another --out") from None
    if not isinstance(raw, dict) or raw.get("kind") != KIND:
        raise ConfigError(f"{where}: 'kind' must be {KIND!r}, found {type(raw).__name__ if not isinstance(raw, dict) else repr(raw.get('kind'))[:60]}; "
                          "it was not written by gantransfer. Choose another --out")
    files = raw.get("files")
    if not isinstance(files, dict) or len(files) > MAX_ENTRIES:
        raise ConfigError(f"{where}: 'files' must be an object of at most {MAX_ENTRIES} entries, found "
                          f"{type(files).__name__}; choose another --out")
    out: dict[str, list[int]] = {}
    for name, st in files.items():
        ok = (isinstance(st, list) and len(st) == 2 and all(isinstance(v, int) and not isinstance(v, bool)
                                                             and v >= 0 for v in st))
        if not ok:
            raise ConfigError(f"{where}: 'files.{name[:80]}' must be [size, mtime_ns], found {str(st)[:60]}; choose "
                              "another --out")
        out[name] = st
    return out


def _write(root: Path, entries: dict[str, list[int]]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{MANIFEST}.", suffix=".tmp", dir=root)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump({"kind": KIND, "version": 1, "files": entries}, f, indent=0, sort_keys=True)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, root / MANIFEST)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


def own(run: Path) -> None:
    """Start recording what this process writes into ``run`` (kept with the entries of an earlier manifest)."""
    root = Path(os.path.abspath(run))
    _owned[root] = dict(read_manifest(root) or {})
    _write(root, _owned[root])


def disown_all() -> None:
    """Stop recording (the end of a command)."""
    _owned.clear()


def record(path: str | Path) -> None:
    """Note ``path`` (just written) in the manifest of every owned run that holds it."""
    if not _owned:
        return
    p = Path(os.path.abspath(path))
    for root, entries in _owned.items():
        rel = _relative(root, p)
        if rel is None:
            continue
        st = stamp(p)
        if st is not None and entries.get(rel) != st:
            entries[rel] = st
            _write(root, entries)


def record_tree(path: str | Path) -> None:
    """``record`` every regular file under the folder ``path`` (one that was renamed into place whole)."""
    if not _owned:
        return
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            record(Path(dirpath) / f)


def _inside_without_links(root: Path, rel: str) -> Path | None:
    """``root/rel`` when ``rel`` is a plain relative path and no part of it (below ``root``) is a symbolic link."""
    parts = Path(rel).parts
    if not parts or Path(rel).is_absolute() or any(p in ("", ".", "..") for p in parts) or "\\" in rel:
        return None
    cur = root
    for part in parts:
        cur = cur / part
        if cur.is_symlink():
            return None
    return cur


def remove_recorded(run: Path) -> list[str]:
    """Delete the files ``run``'s manifest lists, each only if unchanged since recorded, then the folders that this
    left empty, then the manifest; returns what was left in place (changed or unsafe entries)."""
    root = Path(os.path.abspath(run))
    entries = read_manifest(root)
    if entries is None:
        return []
    kept = remove_stamped(root, entries)
    (root / MANIFEST).unlink()
    _owned.pop(root, None)
    return kept


def stamps_under(root: Path, names: list[str]) -> dict[str, list[int]]:
    """{relative path: stamp} of every regular file at or under ``root/name`` for each of ``names``."""
    out: dict[str, list[int]] = {}
    for name in names:
        top = root / name
        paths = [top] if not top.is_dir() else [Path(d) / f for d, _, fs in os.walk(top) for f in fs]
        for p in paths:
            st = stamp(p)
            if st is not None:
                out[p.relative_to(root).as_posix()] = st
    return out


def remove_stamped(root: Path, entries: dict[str, Any]) -> list[str]:
    """Delete each ``root/rel`` of ``entries`` ({rel: [size, mtime_ns]}) that is still that very file (no link on
    the way, same stamp), then the folders this left empty; returns the entries left in place."""
    root = Path(os.path.abspath(root))
    kept, emptied = [], set()
    for rel, st in entries.items():
        p = _inside_without_links(root, rel)
        if p is None:
            kept.append(rel)
            continue
        now = stamp(p)
        if now is None:
            if p.exists():
                kept.append(rel)
            continue
        if now != st:
            kept.append(rel)
            continue
        p.unlink()
        emptied.update(p.parents)
    for d in sorted((d for d in emptied if d != root and root in d.parents), key=lambda d: -len(d.parts)):
        try:
            d.rmdir()  # only when empty: a folder holding anything else stays
        except OSError:
            pass
    return kept


def describe(entries: dict[str, Any]) -> str:
    """A short list of paths for a message."""
    names = sorted(entries)
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
