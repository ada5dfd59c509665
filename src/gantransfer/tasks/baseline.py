"""``gantransfer baseline``: the brute-force alternative to fusion. Sample a data set of N images from all
teachers (in proportion to the weights, in the student's image space) and train one GAN on it from scratch with
``gantransfer train``'s task on the one engine."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from gantransfer.config import FuseConfig, TrainConfig
from gantransfer.data.base import Dataset
from gantransfer.engine.loop import resolve_device
from gantransfer.errors import ConfigError
from gantransfer.metrics.fusion import teacher_samples
from gantransfer.tasks.fuse import balanced_counts, load_teacher_set
from gantransfer.tasks.train import train


def sample_teacher_dataset(teachers: list[str], n: int, weights: list[float] | None = None, seed: int = 0,
                           device: str | torch.device = "cpu") -> tuple[Dataset, dict]:
    """``n`` teacher images as an in-memory data set (labels: teacher ids) and what the generator should record."""
    if n < 2:
        raise ConfigError(f"--n must be at least 2, got {n}")
    dev = resolve_device(str(device))
    tset = load_teacher_set(FuseConfig(teachers=list(teachers), weights=weights), dev)
    counts = balanced_counts(tset.weights, n)
    x = torch.cat([teacher_samples(tset, k, m, seed + 1000, dev) for k, m in enumerate(counts)])
    images = ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    labels = torch.arange(len(counts)).repeat_interleave(torch.tensor(counts))
    data = Dataset(name="teacher-samples", x=images, y=labels, class_names=list(tset.names))
    meta = {"teachers": [t.source for t in tset.teachers], "teacher_names": tset.names,
            "weights": tset.weights.tolist(), "data_classes": tset.student.meta.get("data_classes"),
            "label_weights": tset.weights.tolist(), "baseline_samples": n}
    return data, {"meta": meta, "dataset": tset.student.dataset}


def baseline(teachers: list[str], n: int, train_config: TrainConfig, weights: list[float] | None = None,
             resume: bool = False) -> Path:
    """Train ``train_config`` (data ignored) on ``n`` samples of ``teachers``; returns the run directory."""
    if len(teachers) < 2:
        raise ConfigError(f"baseline needs at least two teachers (--teacher A --teacher B), got {len(teachers)}")
    if weights is not None and (len(weights) != len(teachers) or min(weights) <= 0):
        raise ConfigError(f"--weights needs one positive value per teacher ({len(teachers)}), got {weights}")
    data, info = sample_teacher_dataset(teachers, n, weights, train_config.seed, train_config.device)
    cfg = dataclasses.replace(train_config, data=info["dataset"] or "teacher-samples", classes=None, limit=None)
    return train(cfg, resume=resume, dataset=data, extra_meta=info["meta"])
