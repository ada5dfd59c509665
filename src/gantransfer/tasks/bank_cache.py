"""What a latent bank keeps between draws: per-entry tensors that do not change during training (the frozen
teacher's images and hidden features, a frozen perceptual network's maps of them), within a byte budget.

Entries are computed in fixed chunks of the bank (the chunk that holds a missing entry, all of it at once), so an
entry's values never depend on which draw first asked for it: a resumed run, whose cache starts empty, rebuilds
the same bits an uninterrupted run computed.
"""
from __future__ import annotations

from typing import Callable

import torch

Compute = Callable[[torch.Tensor], list[torch.Tensor]]


class ByteBudget:
    """Bytes left for the caches of one bank; the first cache to fill claims first."""

    def __init__(self, total: int) -> None:
        self.left = int(total)

    def claim(self, entries: int, bytes_per_entry: int) -> int:
        """How many of ``entries`` entries of ``bytes_per_entry`` fit; those bytes are taken."""
        n = min(entries, self.left // max(1, bytes_per_entry))
        self.left -= n * bytes_per_entry
        return n


class BankCache:
    """Tensors of each of ``size`` bank entries, computed on first draw by ``compute(indices)`` (a list of tensors
    with one row per index) and kept on the CPU for the first ``capacity`` entries, as many as ``budget`` allows
    (known after the first chunk). Entries from ``capacity`` on are computed on every draw, in the draw's batch."""

    CHUNK = 64

    def __init__(self, size: int, compute: Compute, budget: ByteBudget) -> None:
        self.size, self.compute, self.budget = size, compute, budget
        self.capacity: int | None = None
        self.store: list[torch.Tensor] = []
        self.done = torch.zeros(0, dtype=torch.bool)

    def _chunk(self, c: int) -> list[torch.Tensor]:
        lo = c * self.CHUNK
        with torch.no_grad():
            return [t.detach().float().cpu() for t in self.compute(torch.arange(lo, min(lo + self.CHUNK, self.size)))]

    def _fill(self, c: int, parts: list[torch.Tensor]) -> None:
        lo = c * self.CHUNK
        hi = min(lo + self.CHUNK, self.capacity)
        if hi > lo:
            for s, p in zip(self.store, parts):
                s[lo:hi] = p[:hi - lo]
            self.done[lo:hi] = True

    def _start(self, c: int) -> None:
        """The first chunk computed tells an entry's size, hence the capacity."""
        parts = self._chunk(c)
        per_entry = sum(p[0].numel() * p.element_size() for p in parts)
        self.capacity = self.budget.claim(self.size, per_entry)
        self.store = [torch.empty(self.capacity, *p.shape[1:], dtype=p.dtype) for p in parts]
        self.done = torch.zeros(self.capacity, dtype=torch.bool)
        self._fill(c, parts)

    def get(self, idx: torch.Tensor) -> list[torch.Tensor]:
        """The tensors of bank entries ``idx`` (CPU, one row per index)."""
        idx = idx.cpu()
        if self.capacity is None:
            self._start(int(idx[0]) // self.CHUNK if len(idx) else 0)
        kept = idx < self.capacity
        need = idx[kept]
        for c in (need[~self.done[need]] // self.CHUNK).unique().tolist():
            self._fill(c, self._chunk(c))
        if bool(kept.all()):
            return [s[idx] for s in self.store]
        with torch.no_grad():
            rest = [t.detach().float().cpu() for t in self.compute(idx[~kept])]
        out = [torch.empty(len(idx), *r.shape[1:], dtype=r.dtype) for r in rest]
        for o, s, r in zip(out, self.store, rest):
            o[kept], o[~kept] = s[need], r
        return out

    @property
    def nbytes(self) -> int:
        return sum(s.numel() * s.element_size() for s in self.store)
