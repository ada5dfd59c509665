"""The in-memory data set every task consumes."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class Dataset:
    """Samples held in memory.

    Images: ``x`` is uint8 of shape (N, C, H, W) in [0, 255]; ``as_float`` maps to [-1, 1].
    Points (2-D toys): ``x`` is float32 of shape (N, 2); ``as_float`` returns it unchanged.
    ``y`` holds int64 labels (class index, or mixture component for toys).
    """

    name: str
    x: torch.Tensor
    y: torch.Tensor
    class_names: list[str]
    kind: str = "image"  # "image" or "points"
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    def as_float(self, index: torch.Tensor | slice | None = None) -> torch.Tensor:
        """Samples at ``index`` as float32; images scaled to [-1, 1]."""
        x = self.x if index is None else self.x[index]
        if self.kind == "image":
            return x.float().div_(127.5).sub_(1.0)
        return x.float()
