"""Feature taps on any ``nn.Module`` by forward hooks: the hidden activations of a user's own generator (a
``--teacher-module`` teacher), found automatically or named, for the feature-matching term.

Automatic taps: one per spatial size below the image's, at the last module (in call order) whose output has that
size: a block's output when the network is built of blocks (a container's hook runs after its children's). Named
taps: the modules' dotted names as ``named_modules`` gives them (``--teacher-taps stem,up1``).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from gantransfer.errors import ConfigError


def _capture(root: nn.Module, names: set[str] | None, run: Callable[[], torch.Tensor]
             ) -> tuple[torch.Tensor, list[tuple[str, torch.Tensor]]]:
    """``run()``'s result and the 4-D tensor outputs of ``root``'s submodules (all of them, or those in ``names``)
    in call order; hooks removed afterwards."""
    seen: list[tuple[str, torch.Tensor]] = []
    handles = []
    for name, m in root.named_modules():
        if name and (names is None or name in names):
            handles.append(m.register_forward_hook(
                lambda _m, _i, out, name=name: seen.append((name, out)) if torch.is_tensor(out) and out.dim() == 4
                else None))
    try:
        out = run()
    finally:
        for h in handles:
            h.remove()
    return out, seen


def layer_shapes(root: nn.Module, run: Callable[[], torch.Tensor]) -> list[tuple[str, tuple[int, ...]]]:
    """(name, output shape without the batch) of every submodule with a 4-D output, in call order."""
    return [(n, tuple(t.shape[1:])) for n, t in _capture(root, None, run)[1]]


def auto_taps(shapes: list[tuple[str, tuple[int, ...]]], image_size: int) -> list[str]:
    """The last module output at each spatial size below ``image_size``, smallest size first."""
    last: dict[int, str] = {}
    for name, shape in shapes:
        if shape[-1] < image_size:
            last[shape[-1]] = name
    return [last[r] for r in sorted(last)]


def check_taps(names: list[str], shapes: list[tuple[str, tuple[int, ...]]], source: str) -> None:
    """ConfigError naming the layers there are when a tap names none of them."""
    known = dict(shapes)
    missing = [n for n in names if n not in known]
    if missing:
        listing = ", ".join(f"{n} {'x'.join(map(str, s))}" for n, s in shapes) or "none"
        raise ConfigError(f"--teacher-taps: {', '.join(missing)} names no layer of {source} with an image-shaped "
                          f"(N, C, H, W) output; its layers: {listing}")


class TappedModule(nn.Module):
    """A generator ``wrapped`` (called ``wrapped(z, labels)``) whose ``forward_features`` also returns the outputs
    of ``root``'s modules named ``taps``, in the order given."""

    def __init__(self, wrapped: nn.Module, root: nn.Module, taps: list[str]) -> None:
        super().__init__()
        self.wrapped, self.taps = wrapped, list(taps)
        self._root = [root]  # not a submodule twice: ``wrapped`` holds it

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.wrapped(z, labels)

    def forward_features(self, z: torch.Tensor, labels: torch.Tensor | None = None
                         ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Images and the tapped activations (the last output of each named module)."""
        out, seen = _capture(self._root[0], set(self.taps), lambda: self.wrapped(z, labels))
        last = dict(seen)
        absent = [n for n in self.taps if n not in last]
        if absent:
            raise ConfigError(f"teacher layer(s) {', '.join(absent)} gave no (N, C, H, W) output on this call; "
                              "name layers every call runs in --teacher-taps")
        return out, [last[n] for n in self.taps]
