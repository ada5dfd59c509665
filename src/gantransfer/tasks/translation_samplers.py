"""Samplers of translator training: paired batches (pix2pix) and two independent streams of unpaired images
(CycleGAN), each in a seeded per-epoch order. Their state is a few integers (epoch and position per stream), so a
resumed run draws exactly the batches an uninterrupted one would; under torchrun each process keeps its share
of the global batch.
"""
from __future__ import annotations

from typing import Any

import torch

from gantransfer.tasks.samplers import Sharded


class EpochOrder:
    """Indices of ``n`` items in batches of ``batch``, a fresh seeded permutation every epoch (a batch that
    would run past the end starts the next epoch)."""

    def __init__(self, n: int, batch: int, seed: int) -> None:
        self.n, self.batch, self.seed = n, min(batch, n), seed
        self.epoch, self.pos = 0, 0
        self._order = self._permutation(0)

    def _permutation(self, epoch: int) -> torch.Tensor:
        return torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed * 1_000_003 + epoch))

    def take(self) -> torch.Tensor:
        if self.pos + self.batch > self.n:
            self.epoch, self.pos = self.epoch + 1, 0
            self._order = self._permutation(self.epoch)
        idx = self._order[self.pos:self.pos + self.batch]
        self.pos += self.batch
        return idx

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "pos": self.pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch, self.pos = int(state["epoch"]), int(state["pos"])
        self._order = self._permutation(self.epoch)


class PairedSampler(Sharded):
    """pix2pix batches: ``input`` and its ground truth ``target``, and ``real`` = both side by side on channels
    (what the conditional discriminator calls real)."""

    def __init__(self, inputs: torch.Tensor, targets: torch.Tensor, batch_size: int, seed: int) -> None:
        self.inputs, self.targets = inputs, targets
        self.order = EpochOrder(len(inputs), batch_size, seed)

    def next(self, rng: torch.Generator, device: torch.device) -> dict[str, torch.Tensor]:
        idx = self.order.take()
        idx = idx[self.local(len(idx))]
        x, y = self.inputs[idx].to(device), self.targets[idx].to(device)
        return {"input": x, "target": y, "real": torch.cat([x, y], 1)}

    def state_dict(self) -> dict[str, Any]:
        return self.order.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.order.load_state_dict(state)


class UnpairedSampler(Sharded):
    """CycleGAN batches: ``real_A`` and ``real_B`` drawn independently (the domains' sizes may differ)."""

    def __init__(self, a: torch.Tensor, b: torch.Tensor, batch_size: int, seed: int) -> None:
        self.a, self.b = a, b
        batch = min(batch_size, len(a), len(b))
        self.order_a = EpochOrder(len(a), batch, seed)
        self.order_b = EpochOrder(len(b), batch, seed + 7919)

    def next(self, rng: torch.Generator, device: torch.device) -> dict[str, torch.Tensor]:
        ia, ib = self.order_a.take(), self.order_b.take()
        ia, ib = ia[self.local(len(ia))], ib[self.local(len(ib))]
        return {"real_A": self.a[ia].to(device), "real_B": self.b[ib].to(device)}

    def state_dict(self) -> dict[str, Any]:
        return {"A": self.order_a.state_dict(), "B": self.order_b.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.order_a.load_state_dict(state["A"])
        self.order_b.load_state_dict(state["B"])
