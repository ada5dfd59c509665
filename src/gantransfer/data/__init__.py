"""Built-in data sets, image folders and 2-D toy mixtures, all loaded as tensors in memory."""
from gantransfer.data.base import Dataset
from gantransfer.data.registry import DATASETS, load_dataset

__all__ = ["DATASETS", "Dataset", "load_dataset"]
