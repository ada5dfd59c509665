"""Checkpoint importers: each an ``Importer`` (name, detector, loader, file suffixes), registered once, feeding
``gantransfer import FILE`` and ``--teacher FILE`` (``teachers.load_teacher``). No pickle code runs: a file is read
with the weights-only loader (``read_checkpoint``) once, and each importer's ``detect(path, loaded)`` says whether
it reads it; the first that does loads it. The ``fallback`` importer (DCGAN) loads what none claims, and its error
names what every other importer expected.

Built-in importers register themselves in their modules (``BUILTIN``, imported on first lookup):
``models/stylegan2_import.py`` (NVlabs ``.pkl``, rosinality ``.pt``) and ``models/dcgan_import.py``. A new one
(e.g. a pix2pix/CycleGAN translator) is one module that calls ``register_importer(Importer(...))``.
"""
from __future__ import annotations

import argparse
import importlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from gantransfer.errors import CheckpointError
from gantransfer.models.config import DiscriminatorConfig, GeneratorConfig
from gantransfer.registry import Registry

BUILTIN = ("gantransfer.models.stylegan2_import", "gantransfer.models.dcgan_import")


@dataclass
class Imported:
    """An imported generator (eval mode), its config, and its discriminator when the file has one."""

    generator: nn.Module
    config: GeneratorConfig
    discriminator: nn.Module | None = None
    discriminator_config: DiscriminatorConfig | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Importer:
    """A foreign checkpoint layout gantransfer reads."""

    name: str
    detect: Callable[[Path, Any], bool]            # (path, loaded or None) -> whether this importer reads it
    load: Callable[[Path, str, Any], Imported]     # (path, dataset, loaded or None) -> Imported
    suffixes: tuple[str, ...] = (".pt", ".pth", ".tar")  # files --teacher FILE treats as checkpoints
    mismatch: Callable[[Any], str] | None = None   # (loaded) -> "a ... checkpoint (expected ...)", for errors
    fallback: bool = False                         # loads what no other importer claims
    reads_with_torch_load: bool = True             # its files are read with the weights-only loader first
    description: str = ""


IMPORTERS: Registry[Importer] = Registry("checkpoint importer")
_loaded_builtin = False


def register_importer(importer: Importer) -> Importer:
    """Add ``importer`` (a later registration of the same name replaces it)."""
    return IMPORTERS.register(importer)


def importers() -> list[Importer]:
    """Every registered importer, in the order they are asked (the built-in ones imported first)."""
    global _loaded_builtin
    if not _loaded_builtin:
        _loaded_builtin = True
        for module in BUILTIN:
            importlib.import_module(module)
    return list(IMPORTERS)


def checkpoint_suffixes() -> set[str]:
    """The file suffixes some importer reads (``--teacher FILE`` treats such files as checkpoints)."""
    return {s for imp in importers() for s in imp.suffixes}


def read_checkpoint(path: Path) -> Any:
    """A file's contents through ``torch.load(weights_only=True)`` (``argparse.Namespace`` allow-listed, as
    rosinality's train.py saves its args); CheckpointError when it cannot be read so."""
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(f"{path} cannot be read as a weights-only PyTorch checkpoint "
                              f"({str(e).splitlines()[0][:300]})") from None


def import_file(path: str | Path, dataset: str = "") -> Imported:
    """Any checkpoint file a registered importer reads (built in: NVlabs ``.pkl``, rosinality ``.pt``, PyTorch
    DCGAN): read once, given to the first importer that claims it, else to the fallback."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"checkpoint {p} does not exist")
    every = [imp for imp in importers() if not imp.fallback]
    for imp in every:  # importers that read the file their own way (a restricted unpickler) decide by the path
        if not imp.reads_with_torch_load and imp.detect(p, None):
            return imp.load(p, dataset, None)
    try:
        loaded = read_checkpoint(p)
    except CheckpointError:
        loaded = None  # the fallback says why, reading it itself
    for imp in every:
        if imp.reads_with_torch_load and imp.detect(p, loaded):
            return imp.load(p, dataset, loaded)
    fallback = next((imp for imp in importers() if imp.fallback), None)
    if fallback is None:
        raise CheckpointError(f"{p} is not a checkpoint any importer reads ({', '.join(i.name for i in every)})")
    try:
        return fallback.load(p, dataset, loaded)
    except CheckpointError as e:
        others = [imp.mismatch(loaded) for imp in every if imp.mismatch is not None and imp.reads_with_torch_load]
        raise CheckpointError("; nor is it ".join([str(e), *others])) from None


def import_checkpoint(path: str | Path, out: str | Path, dataset: str = "") -> Path:
    """Write the generator of checkpoint ``path`` as gantransfer directory ``out`` (``out/generator`` and
    ``out/discriminator`` when the file has one). ``out`` must be new or empty; it is written in a temporary
    directory and renamed, so nothing is left half-way."""
    from gantransfer.models.store import save_discriminator, save_generator
    dest = Path(out)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise CheckpointError(f"{dest} exists and is not an empty directory; give a new --out")
    imported = import_file(path, dataset)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        save_generator(imported.generator, imported.config, tmp / "generator")
        if imported.discriminator is not None:
            save_discriminator(imported.discriminator, imported.discriminator_config, tmp / "discriminator")
        if dest.exists():
            dest.rmdir()
        tmp.rename(dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return dest
