"""The pattern of every extension point (tasks, matching terms, export formats, checkpoint importers): named
entries in a ``Registry``, added by ``register`` from any module, looked up by name with an error listing the
known ones. Torch-free and importing nothing of gantransfer but ``errors``, so that every floor can read it.

An entry may name a function lazily as ``"gantransfer.module:function"`` (``resolve``), so that a registry read
by ``--help`` does not import torch; such references are written in gantransfer's code, never read from a file,
and only gantransfer's own modules are imported by them. Entries registered from outside pass the function.
"""
from __future__ import annotations

import importlib
from typing import Any, Callable, Generic, Iterator, TypeVar

T = TypeVar("T")


def resolve(ref: str | Callable[..., Any]) -> Callable[..., Any]:
    """The function ``ref`` names (``"gantransfer.pkg.module:function"``), or ``ref`` itself when it is one."""
    if callable(ref):
        return ref
    if not isinstance(ref, str) or ":" not in ref or not ref.startswith("gantransfer."):
        raise ValueError(f"expected a function or a 'gantransfer.module:function' reference, got {ref!r}")
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


class Registry(Generic[T]):
    """The entries of one extension point, by name (each entry has a ``name`` attribute), in registration order."""

    def __init__(self, what: str) -> None:
        self.what = what                      # e.g. "matching term", for error messages
        self._entries: dict[str, T] = {}

    def register(self, entry: T) -> T:
        """Add ``entry`` (a later registration of the same name replaces it, keeping its place)."""
        name = getattr(entry, "name", None)
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {self.what} needs a non-empty string name, got {name!r}")
        self._entries[name] = entry
        return entry

    def unregister(self, name: str) -> None:
        """Remove ``name`` if registered (tests and plug-ins that withdraw an entry)."""
        self._entries.pop(name, None)

    def get(self, name: str) -> T:
        """The entry ``name``; ValueError listing the known ones otherwise."""
        if name not in self._entries:
            raise ValueError(f"unknown {self.what} {name!r}; choose one of {', '.join(self.names())}")
        return self._entries[name]

    def names(self) -> list[str]:
        """Every registered name, in registration order."""
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[T]:
        return iter(list(self._entries.values()))
