"""``gantransfer baseline``: the brute-force alternative to fusion. Sample a data set of N images from all
teachers (in proportion to the weights, in the student's image space) and train one GAN on it from scratch with
``gantransfer train``'s setup on the one engine."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from gantransfer.config import BaselineConfig
from gantransfer.data.base import Dataset
from gantransfer.devices import resolve_device
from gantransfer.errors import ConfigError
from gantransfer.models.config import FusionRecord
from gantransfer.tasks.train import train
from gantransfer.teacher_set import TeacherSet, balanced_counts, load_teacher_set


def sample_teacher_dataset(teachers: list[str], n: int, weights: list[float] | None = None, seed: int = 0,
                           device: str | torch.device = "cpu") -> tuple[Dataset, TeacherSet]:
    """``n`` teacher images as an in-memory data set (labels: teacher ids), and the teacher set they came from."""
    if n < 2:
        raise ConfigError(f"--n must be at least 2, got {n}")
    dev = resolve_device(str(device))
    tset = load_teacher_set(list(teachers), dev, weights=weights)
    counts = balanced_counts(tset.weights, n)
    x = torch.cat([tset.samples(k, m, seed + 1000, dev) for k, m in enumerate(counts)])
    images = ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    labels = torch.arange(len(counts)).repeat_interleave(torch.tensor(counts))
    return Dataset(name="teacher-samples", x=images, y=labels, class_names=list(tset.names)), tset


def baseline(config: BaselineConfig, resume: bool = False, overwrite: bool = False) -> Path:
    """Train ``config`` on ``config.n`` samples of ``config.teachers``; returns the run directory."""
    config.validate()
    from gantransfer.budget import require_count
    require_count(config.n, "--n")
    data, tset = sample_teacher_dataset(config.teachers, config.n, config.weights, config.seed, config.device)
    record = FusionRecord(mode="baseline", teachers=[t.source for t in tset.teachers], teacher_names=tset.names,
                          weights=tset.weights.tolist(), samples=config.n)
    cfg = dataclasses.replace(config, data=tset.student.dataset or "teacher-samples", classes=None, limit=None)
    return train(cfg, resume=resume, dataset=data, fusion=record, data_classes=tset.student.data_classes,
                 command="baseline", overwrite=overwrite)
