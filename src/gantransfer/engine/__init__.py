"""The one training loop, its checkpoints and its logs."""
from gantransfer.engine.loop import Engine, EngineConfig, Phase, TrainingTask

__all__ = ["Engine", "EngineConfig", "Phase", "TrainingTask"]
