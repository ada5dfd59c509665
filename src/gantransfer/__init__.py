"""gantransfer: knowledge transfer between generative adversarial networks."""
from gantransfer.api import bench, load, sample_grid
from gantransfer.config import DistillConfig, EvalConfig, FuseConfig, TrainConfig
from gantransfer.demo import run_demo
from gantransfer.errors import CheckpointError, ConfigError, DataError, GantransferError, TrainingDiverged
from gantransfer.metrics.evaluate import evaluate
from gantransfer.metrics.fusion import evaluate_fusion
from gantransfer.models.registry import GeneratorConfig
from gantransfer.models.sampling import generate
from gantransfer.tasks.baseline import baseline
from gantransfer.tasks.distill import distill
from gantransfer.tasks.fuse import fuse
from gantransfer.tasks.train import train

__version__ = "0.1.0"

__all__ = ["CheckpointError", "ConfigError", "DataError", "DistillConfig", "EvalConfig", "FuseConfig",
           "GantransferError", "GeneratorConfig", "TrainConfig", "TrainingDiverged", "baseline", "bench", "distill",
           "evaluate", "evaluate_fusion", "fuse", "generate", "load", "run_demo", "sample_grid", "train"]
