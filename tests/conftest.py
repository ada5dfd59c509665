import os
from pathlib import Path

import pytest

FMNIST_DIR = Path("/usr/share/datasets/fashion-mnist")


def has_fmnist() -> bool:
    return (FMNIST_DIR / "train-images-idx3-ubyte.gz").is_file()


needs_fmnist = pytest.mark.skipif(not has_fmnist(), reason="apt-get install dataset-fashion-mnist")


@pytest.fixture(autouse=True)
def _small_threads(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "2"))
