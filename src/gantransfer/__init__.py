"""gantransfer: knowledge transfer between generative adversarial networks."""
from gantransfer.api import load, sample_grid
from gantransfer.config import EvalConfig, TrainConfig
from gantransfer.demo import run_demo
from gantransfer.errors import CheckpointError, ConfigError, DataError, GantransferError, TrainingDiverged
from gantransfer.models.registry import GeneratorConfig
from gantransfer.models.sampling import generate
from gantransfer.tasks.train import train

__version__ = "0.1.0"


def evaluate(config: EvalConfig) -> dict:
    """Metrics of a generator (see ``gantransfer.metrics.evaluate``)."""
    from gantransfer.metrics.evaluate import evaluate as _evaluate
    return _evaluate(config)


__all__ = ["CheckpointError", "ConfigError", "DataError", "EvalConfig", "GantransferError", "GeneratorConfig",
           "TrainConfig", "TrainingDiverged", "evaluate", "generate", "load", "run_demo", "sample_grid", "train"]
