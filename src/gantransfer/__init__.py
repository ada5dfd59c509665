"""gantransfer: knowledge transfer between generative adversarial networks.

Every task, config and helper is importable from here; each is imported on first use, so that ``import
gantransfer`` (and the command line's ``--help``) does not load torch.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    # tasks and their configs
    "train": "gantransfer.tasks.train", "distill": "gantransfer.tasks.distill", "fuse": "gantransfer.tasks.fuse",
    "adapt": "gantransfer.tasks.adapt", "baseline": "gantransfer.tasks.baseline",
    "extend": "gantransfer.tasks.extend", "extend_sequence": "gantransfer.tasks.extend_sequence",
    "ExtendConfig": "gantransfer.config", "ExtendSequenceConfig": "gantransfer.config",
    "TrainConfig": "gantransfer.config", "DistillConfig": "gantransfer.config", "FuseConfig": "gantransfer.config",
    "AdaptConfig": "gantransfer.config", "BaselineConfig": "gantransfer.config", "EvalConfig": "gantransfer.config",
    "EngineSettings": "gantransfer.engine.settings",
    # evaluation
    "evaluate": "gantransfer.metrics.evaluate", "evaluate_generator": "gantransfer.metrics.evaluate",
    "evaluate_fusion": "gantransfer.metrics.fusion", "evaluate_distillation": "gantransfer.metrics.distillation",
    "reference_stats": "gantransfer.metrics.reference_stats", "write_stats": "gantransfer.metrics.reference_stats",
    "read_stats": "gantransfer.metrics.reference_stats", "load_inception": "gantransfer.metrics.inception",
    "inception_features": "gantransfer.metrics.inception",
    # generators and teachers
    "load": "gantransfer.api", "sample_grid": "gantransfer.api", "bench": "gantransfer.api",
    "generate": "gantransfer.models.sampling", "GeneratorConfig": "gantransfer.models.registry",
    "DiscriminatorConfig": "gantransfer.models.registry", "Generator": "gantransfer.models.contract",
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
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'gantransfer' has no attribute {name!r}")
    module, attr = target if isinstance(target, tuple) else (target, name)
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
