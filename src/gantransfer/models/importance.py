"""Channel importance criteria for pruning a teacher (``models/prune.py``): a score per channel of every group,
higher meaning keep.

- ``magnitude``: the L1 norm of the channel's slice of the producing layer's weights (every ``out`` entry with at
  least two dimensions), divided by the slice's size.
- ``activation``: the mean absolute activation of the channel at the group's tap, over a batch of teacher samples
  (all positions and samples).
- ``diversity`` (in the spirit of DCP-GAN, Chung et al. 2024): how much the channel carries what tells samples
  apart. Latents are drawn in pairs (a, b); every channel c of every group is multiplied by a mask m[p, c] = 1
  shared by the pair p; d_p = mean |G(a_p) - G(b_p)| is the pair's image distance. The score is
  mean_p |d d_p / d m[p, c]|: the first-order change of a pair's distance when the channel is removed, so
  channels whose removal would most change how different two samples look are kept (a channel that adds the same
  thing to every sample counts only through later nonlinearities, however large its activation). The teacher
  runs in eval mode, so a
  pair's distance depends on its own mask only and one backward pass gives every pair's gradient.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

import torch
from torch import nn

from gantransfer.models.prune import ChannelGroup

CRITERIA = ("magnitude", "activation", "diversity")


def magnitude(teacher: nn.Module, groups: list[ChannelGroup]) -> dict[str, torch.Tensor]:
    """Mean |weight| of each channel's slice of its producing layers."""
    state = teacher.state_dict()
    scores = {}
    for g in groups:
        total = None
        for s in g.weights():
            w = state[s.entry]
            if w.dim() < 2:
                continue
            per = w.detach().abs().movedim(s.dim, 0).reshape(w.shape[s.dim], -1).double().mean(1)
            total = per if total is None else total + per
        if total is None:
            raise ValueError(f"group {g.name} has no weight tensor to measure")
        scores[g.name] = total
    return scores


@contextmanager
def _tapped(teacher: nn.Module, groups: list[ChannelGroup], fn: Callable[[str, torch.Tensor], torch.Tensor]
            ) -> Iterator[None]:
    """Every group's tap passes through ``fn(group name, activation)`` (its result replaces the activation)."""
    modules = dict(teacher.named_modules())
    handles = []
    for g in groups:
        name, where = g.tap
        if name not in modules:
            raise ValueError(f"group {g.name}: tap {name!r} names no module")
        if where == "out":
            handles.append(modules[name].register_forward_hook(lambda m, a, out, n=g.name: fn(n, out)))
        else:
            handles.append(modules[name].register_forward_pre_hook(
                lambda m, a, n=g.name: (fn(n, a[0]), *a[1:])))
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def activation(teacher: nn.Module, groups: list[ChannelGroup], z: torch.Tensor,
               labels: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """Mean |activation| per channel at each group's tap, over the samples of ``z`` (and ``labels``)."""
    sums: dict[str, torch.Tensor] = {}

    def record(name: str, a: torch.Tensor) -> torch.Tensor:
        sums[name] = a.detach().abs().double().transpose(0, 1).reshape(a.shape[1], -1).mean(1)
        return a

    with torch.no_grad(), _tapped(teacher, groups, record):
        teacher(z, labels)
    return sums


def diversity(teacher: nn.Module, groups: list[ChannelGroup], z: torch.Tensor,
              labels: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """Mean over latent pairs of |d (pair's image distance) / d (channel mask)| (see the module docstring); the
    first half of ``z`` is paired with the second."""
    pairs = z.shape[0] // 2
    if pairs < 1:
        raise ValueError("the diversity criterion needs at least two samples")
    z = z[:2 * pairs]
    labels = None if labels is None else labels[:2 * pairs]
    masks: dict[str, torch.Tensor] = {}

    def mask(name: str, a: torch.Tensor) -> torch.Tensor:
        if name not in masks:
            masks[name] = torch.ones(pairs, a.shape[1], device=a.device, dtype=a.dtype, requires_grad=True)
        m = torch.cat([masks[name], masks[name]])
        return a * m.view(*m.shape, *([1] * (a.dim() - 2)))

    with torch.enable_grad(), _tapped(teacher, groups, mask):
        img = teacher(z, labels)
        distance = (img[:pairs] - img[pairs:]).abs().flatten(1).mean(1).sum()
        grads = torch.autograd.grad(distance, [masks[g.name] for g in groups])
    return {g.name: gr.detach().abs().double().mean(0) for g, gr in zip(groups, grads)}


def channel_scores(criterion: str, teacher: nn.Module, groups: list[ChannelGroup], z: torch.Tensor,
                   labels: torch.Tensor | None, batch: int = 64) -> dict[str, torch.Tensor]:
    """The scores of ``criterion`` (one of ``CRITERIA``); ``z``/``labels``: the teacher samples of the
    activation-based criteria (ignored by ``magnitude``), taken ``batch`` at a time and averaged."""
    if criterion == "magnitude":
        return magnitude(teacher, groups)
    if criterion not in CRITERIA:
        raise ValueError(f"unknown pruning criterion {criterion!r}; choose one of {', '.join(CRITERIA)}")
    measure = activation if criterion == "activation" else diversity
    total: dict[str, torch.Tensor] = {}
    chunks = range(0, z.shape[0], batch)
    for i in chunks:
        part = measure(teacher, groups, z[i:i + batch], None if labels is None else labels[i:i + batch])
        total = {k: total.get(k, 0) + v for k, v in part.items()}
    return {k: v / len(chunks) for k, v in total.items()}
