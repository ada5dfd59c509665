"""The one training loop, its settings, checkpoints and logs (the loop is imported on first use: torch is heavy)."""
from __future__ import annotations

from typing import Any

__all__ = ["Engine", "EngineSettings", "Phase", "TrainingTask"]


def __getattr__(name: str) -> Any:
    if name == "EngineSettings":
        from gantransfer.engine.settings import EngineSettings
        return EngineSettings
    if name in ("Engine", "Phase", "TrainingTask"):
        from gantransfer.engine import loop
        return getattr(loop, name)
    raise AttributeError(f"module 'gantransfer.engine' has no attribute {name!r}")
