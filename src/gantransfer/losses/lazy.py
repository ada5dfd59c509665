"""Lazy regularisation for families that declare it: extra phases that run every N steps (weights scaled by N),
extra providers for the adversarial phases (e.g. style mixing) and the modules that hold their state.

Built-in families name their builder in ``BUILTIN`` (imported on first use); others call
``register_regularisation(arch, builder)``. ``tasks/train.py`` asks ``regularisation_for`` and, when there is one,
runs R1 in its lazy phase instead of every step.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from torch import nn

from gantransfer.engine.loop import Phase

Builder = Callable[..., "Regularisation"]
_BUILDERS: dict[str, Builder] = {}
BUILTIN = {"stylegan2": "gantransfer.models.stylegan2_train:regularisation"}


@dataclass
class Regularisation:
    """What a family adds to adversarial training."""

    phases: list[Phase] = field(default_factory=list)        # run after the D and G phases
    providers: dict[str, Any] = field(default_factory=dict)  # replace/extend the adversarial phases' providers
    modules: dict[str, nn.Module] = field(default_factory=dict)  # state to checkpoint (e.g. path-length mean)


def register_regularisation(arch: str, builder: Builder) -> None:
    """``builder(gcfg, g, d, g_opt, d_opt, r1) -> Regularisation`` for generators of family ``arch``."""
    _BUILDERS[arch] = builder


def regularisation_for(gcfg: Any, g: nn.Module, d: nn.Module, g_opt: Any, d_opt: Any, r1: float
                       ) -> Regularisation | None:
    """The family's lazy regularisation, or None when it declares none (adversarial phases as before)."""
    if gcfg.arch not in _BUILDERS and gcfg.arch in BUILTIN:
        module, _, name = BUILTIN[gcfg.arch].partition(":")
        _BUILDERS[gcfg.arch] = getattr(importlib.import_module(module), name)
    builder = _BUILDERS.get(gcfg.arch)
    return None if builder is None else builder(gcfg, g, d, g_opt, d_opt, r1)
