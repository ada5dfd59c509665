"""Device and precision choices: ``--device`` to a torch device this machine has, ``--precision`` checked
against it, and the autocast dtype of each precision."""
from __future__ import annotations

import torch

from gantransfer.errors import ConfigError

AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def check_precision(precision: str, device: torch.device) -> None:
    """fp16 needs CUDA (its gradient scaler and kernels); bf16 autocast runs on CPU and CUDA."""
    if precision == "fp16" and device.type != "cuda":
        raise ConfigError(f"--precision fp16 needs a CUDA device (this run is on {device.type}); use --precision "
                          "bf16 on CPU, or fp32")


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when available, else CPU; anything else must name a device this machine has."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"--device {name!r} is not a device; use auto, cpu, cuda or cuda:N") from None
    if dev.type not in ("cpu", "cuda"):
        raise ConfigError(f"--device {name!r}: gantransfer runs on cpu and cuda devices; use auto, cpu, cuda or cuda:N")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but no CUDA device is available; use --device cpu")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ConfigError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return dev
