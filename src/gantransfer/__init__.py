"""gantransfer: knowledge transfer between generative adversarial networks."""
from gantransfer.api import bench, load, sample_grid
from gantransfer.config import DistillConfig, EvalConfig, TrainConfig
from gantransfer.demo import run_demo
from gantransfer.errors import CheckpointError, ConfigError, DataError, GantransferError, TrainingDiverged
from gantransfer.metrics.evaluate import evaluate
from gantransfer.models.registry import GeneratorConfig
from gantransfer.models.sampling import generate
from gantransfer.tasks.distill import distill
from gantransfer.tasks.train import train

__version__ = "0.1.0"

__all__ = ["CheckpointError", "ConfigError", "DataError", "DistillConfig", "EvalConfig", "GantransferError",
           "GeneratorConfig", "TrainConfig", "TrainingDiverged", "bench", "distill", "evaluate", "generate", "load",
           "run_demo", "sample_grid", "train"]
