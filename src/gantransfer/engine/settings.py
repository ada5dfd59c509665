"""The engine's settings, declared once: every training task's config extends ``EngineSettings``.

Imports nothing heavy (the command line builds its flags from these dataclasses without importing torch).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from gantransfer.engine.schedules import LR_SCHEDULES
from gantransfer.errors import ConfigError
from gantransfer.typed import setting

PRECISIONS = ("fp32", "bf16", "fp16")
ON_NAN = ("stop", "rollback")


def require(cond: bool, message: str) -> None:
    """ConfigError(``message``) unless ``cond``."""
    if not cond:
        raise ConfigError(message)


def override(default: Any) -> Any:
    """A task's own default for an inherited setting (its help text stays the base's)."""
    if isinstance(default, list):
        return dataclasses.field(default_factory=lambda: list(default))
    return dataclasses.field(default=default)


@dataclass
class EngineSettings:
    """What the one engine needs from any training task: steps, seeding, device, precision, optimiser, EMA,
    logging, checkpoints and time limits."""

    steps: int = setting(1000, "training steps")
    seed: int = setting(0, "random seed (weights, latents, data order)")
    device: str = setting("auto", "auto (CUDA when available), cpu, cuda, cuda:1, ...")
    precision: str = setting("fp32", "fp32; bf16 autocast (CPU and CUDA); or fp16 autocast with a gradient scaler "
                                     "(CUDA only). Weights and checkpoints stay fp32")
    batch_size: int | None = setting(64, "samples per step (the global batch: under torchrun each of N processes "
                                         "takes batch/N of them)")
    lr: float | None = setting(2e-4, "Adam learning rate of the generator")
    betas: list[float] | None = setting(help="Adam betas, comma-separated", factory=lambda: [0.5, 0.999])
    d_lr_ratio: float | None = setting(1.0, "the discriminator's learning rate as a multiple of --lr")
    weight_decay: float = setting(0.0, "Adam weight decay of every optimizer")
    ema_beta: float = setting(0.999, "decay of the generator's moving average (the exported weights)")
    lr_decay: str = setting("none", "learning-rate schedule: none, or cosine (falls to 0 at --steps)")
    log_every: int = setting(50, "write logs/metrics.jsonl every N steps")
    sample_every: int = setting(500, "write a sample grid every N steps")
    checkpoint_every: int = setting(500, "checkpoint (and export) every N steps")
    eval_every: int = setting(0, "evaluate every N steps during training (0: never)")
    progress: bool = setting(True, "show a progress bar")
    on_nan: str = setting("stop", "when a loss or weight becomes NaN/inf: stop (the last checkpoint is kept), or "
                                  "rollback (reload it and go on with the learning rates halved, up to 3 times)")
    max_seconds: float = setting(0.0, "stop after this many seconds of training, with a checkpoint (0: no limit; "
                                      "--resume goes on)")

    def validate_engine(self) -> None:
        """Checks of the fields every training config hands the engine."""
        require(self.steps >= 1, f"steps must be >= 1, got {self.steps}")
        require(0 <= self.seed < 2 ** 63, f"seed must be between 0 and 2**63 - 1, got {self.seed}")
        require(self.precision in PRECISIONS, f"precision must be one of {', '.join(PRECISIONS)}, "
                f"got {self.precision!r}")
        require(0.0 <= self.ema_beta < 1.0, f"ema_beta must be in [0, 1), got {self.ema_beta}")
        require(self.batch_size is None or self.batch_size >= 2, f"batch_size must be >= 2, got {self.batch_size}")
        require(self.lr is None or self.lr > 0, f"lr must be positive, got {self.lr}")
        require(self.betas is None or (len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas)),
                f"betas must be two numbers in [0, 1), got {self.betas}")
        require(self.d_lr_ratio is None or self.d_lr_ratio > 0, f"d_lr_ratio must be positive, got {self.d_lr_ratio}")
        require(self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}")
        for name in ("log_every", "sample_every", "checkpoint_every"):
            require(getattr(self, name) >= 1, f"{name} must be >= 1, got {getattr(self, name)}")
        require(self.eval_every >= 0, f"eval_every must be >= 0 (0: never), got {self.eval_every}")
        require(self.max_seconds >= 0, f"max_seconds must be >= 0 (0: no limit), got {self.max_seconds}")
        require(self.on_nan in ON_NAN, f"on_nan must be one of {', '.join(ON_NAN)}, got {self.on_nan!r}")
        require(self.lr_decay in LR_SCHEDULES,
                f"lr_decay must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_decay!r}")
