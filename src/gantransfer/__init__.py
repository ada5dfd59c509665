"""gantransfer: knowledge transfer between generative adversarial networks.

Every task, config and helper is importable from here; each is imported on first use, so that ``import
gantransfer`` (and the command line's ``--help``) does not load torch.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"


def _task_exports() -> dict[str, Any]:
    """Every registered task's run function and config class (config.py registers the built-in ones)."""
    from gantransfer.config import tasks
    out: dict[str, Any] = {}
    for t in tasks():
        out[t.api_name] = t.run_ref if isinstance(t.run, str) else t.run  # a module:function name, or the function
        out[t.config.__name__] = t.config
    return out


_EXPORTS = {
    # tasks and their configs: from the task registry
    **_task_exports(),
    "EvalConfig": "gantransfer.config", "EngineSettings": "gantransfer.engine.settings",
    "Task": "gantransfer.task_registry", "register_task": "gantransfer.task_registry",
    # evaluation
    "evaluate": "gantransfer.metrics.evaluate", "evaluate_generator": "gantransfer.metrics.evaluate",
    "evaluate_fusion": "gantransfer.metrics.fusion", "evaluate_distillation": "gantransfer.metrics.distillation",
    "reference_stats": "gantransfer.metrics.reference_stats", "write_stats": "gantransfer.metrics.reference_stats",
    "read_stats": "gantransfer.metrics.reference_stats", "load_inception": "gantransfer.metrics.inception",
    "inception_features": "gantransfer.metrics.inception",
    # generators and teachers
    "load": "gantransfer.api", "sample_grid": "gantransfer.api", "bench": "gantransfer.api",
    "generate": "gantransfer.models.sampling", "GeneratorConfig": "gantransfer.models.config",
    "DiscriminatorConfig": "gantransfer.models.config", "Generator": "gantransfer.models.contract",
    "LoadedGenerator": "gantransfer.models.contract", "Teacher": "gantransfer.teachers",
    "load_teacher": "gantransfer.teachers", "TeacherSet": "gantransfer.teacher_set",
    "ModelFamily": "gantransfer.models.family", "Capabilities": "gantransfer.models.family",
    "register_family": ("gantransfer.models.family", "register"), "family": "gantransfer.models.family",
    "run_demo": "gantransfer.demo",
    # errors
    "GantransferError": "gantransfer.errors", "ConfigError": "gantransfer.errors", "DataError": "gantransfer.errors",
    "CheckpointError": "gantransfer.errors", "TrainingDiverged": "gantransfer.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name) or _task_exports().get(name)  # a task registered since import
    if target is None:
        raise AttributeError(f"module 'gantransfer' has no attribute {name!r}")
    if not isinstance(target, (str, tuple)):  # a task's function or config class, registered as the object
        return target
    module, attr = target if isinstance(target, tuple) else (target, name)
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
