"""Learning-rate schedules: the multiplier of every optimizer group's initial learning rate at a step."""
from __future__ import annotations

import math
from typing import Callable

LR_SCHEDULES: dict[str, Callable[[int, int], float]] = {
    "none": lambda step, steps: 1.0,
    "cosine": lambda step, steps: 0.5 * (1.0 + math.cos(math.pi * min(step, steps) / steps)),  # to 0 at ``steps``
}


def lr_factor(schedule: str, step: int, steps: int) -> float:
    """The multiplier of the initial learning rates at ``step`` of ``steps`` under ``schedule``."""
    if schedule not in LR_SCHEDULES:
        raise ValueError(f"unknown learning-rate schedule {schedule!r}; use one of {', '.join(LR_SCHEDULES)}")
    return LR_SCHEDULES[schedule](step, steps)
