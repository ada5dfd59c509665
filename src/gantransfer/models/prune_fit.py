"""Layer-wise reconstruction of a pruned student (``--prune-fit STEPS``), in the spirit of ThiNet and channel
pruning by reconstruction (He et al. 2017): after the kept channels are copied, each channel group's producing
layer is refitted, in forward order, so that the student's activations at the group's tap match the teacher's at
the kept channels on the same inputs; the layers that read the last groups (the image's output layers) are then
refitted against the teacher's images. Each stage trains only its own parameters, for ``steps`` Adam steps on
minibatches of a fixed set of teacher inputs, with the student's earlier layers already fitted: what a layer
lost with the channels before it is made up where it is cheapest, before any distillation step is spent on it.

Nothing here knows a family: it reads the groups' taps and slices (``models/prune.py``).
"""
from __future__ import annotations

import torch
from torch import nn

from gantransfer.models.importance import tapped
from gantransfer.models.prune import ChannelGroup

FIT_STEP = 0.02  # Adam's rate per parameter tensor, as a share of its root-mean-square value: the layers start
# from the teacher's kept weights, close already, and their scales differ by orders (a convolution's ~0.02, a
# batch norm's scale ~1)


def _parameters(module: nn.Module, entries: set[str]) -> list[nn.Parameter]:
    """The parameters of ``module`` whose state-dict names are in ``entries`` (buffers, e.g. running
    statistics, are not trained)."""
    return [p for n, p in module.named_parameters() if n in entries]


def _capture(module: nn.Module, group: ChannelGroup, z: torch.Tensor, labels: torch.Tensor | None
             ) -> torch.Tensor:
    """``module``'s activation at ``group``'s tap on ``z`` (and ``labels``)."""
    seen: list[torch.Tensor] = []

    def keep(_: str, a: torch.Tensor) -> torch.Tensor:
        seen.append(a)
        return a

    with tapped(module, [group], keep):
        module(z, labels)
    return seen[0]


def _teacher_targets(teacher: nn.Module, group: ChannelGroup | None, kept: torch.Tensor | None, z: torch.Tensor,
                     labels: torch.Tensor | None, chunk: int) -> torch.Tensor:
    """The teacher's activations at ``group``'s tap, kept channels only (``group`` None: its images)."""
    outs = []
    with torch.no_grad():
        for i in range(0, len(z), chunk):
            zi, li = z[i:i + chunk], None if labels is None else labels[i:i + chunk]
            if group is None:
                outs.append(teacher(zi, li))
            else:
                outs.append(_capture(teacher, group, zi, li).index_select(1, kept.to(z.device)))
    return torch.cat(outs)


def fit_pruned(teacher: nn.Module, student: nn.Module, t_groups: list[ChannelGroup], s_groups: list[ChannelGroup],
               keep: dict[str, torch.Tensor], z: torch.Tensor, labels: torch.Tensor | None, steps: int,
               batch: int, seed: int) -> dict[str, list[float]]:
    """Refit ``student`` (just pruned from ``teacher``: ``keep`` per group) stage by stage; returns per stage the
    mean squared error against the teacher's before and after. ``z`` (and ``labels``): the teacher inputs the
    stages fit on, ``batch`` of them per step. The student trains in train mode (its batch norms' statistics move
    as in distillation); the teacher runs as it is. Global random state is untouched."""
    t_by_name = {g.name: g for g in t_groups}
    out_entries = {s.entry for g in s_groups for s in g.weights()}
    last_readers = {s.entry for g in s_groups for s in g.slices if s.role == "in"} - out_entries
    stages: list[tuple[str, ChannelGroup | None, set[str]]] = [
        (g.name, g, {s.entry for s in g.weights()}) for g in s_groups]
    stages.append(("output", None, last_readers))
    gen = torch.Generator().manual_seed(seed)
    record: dict[str, list[float]] = {}
    was_training = student.training
    student.train()
    for name, group, entries in stages:
        params = _parameters(student, entries)
        if not params:
            continue
        target = _teacher_targets(teacher, None if group is None else t_by_name[name],
                                  None if group is None else keep[name], z, labels, batch)
        frozen = [p for p in student.parameters() if p.requires_grad and all(p is not q for q in params)]
        for p in frozen:
            p.requires_grad_(False)
        opt = torch.optim.Adam([{"params": [p], "lr": FIT_STEP * max(float(p.detach().pow(2).mean().sqrt()), 1e-3)}
                                for p in params], betas=(0.9, 0.999))
        start = [p.detach().clone() for p in params]
        held = torch.arange(min(2 * batch, len(z)), device=z.device)  # a fixed subset, to judge the stage by

        def error(idx: torch.Tensor) -> torch.Tensor:
            li = None if labels is None else labels[idx]
            out = student(z[idx], li) if group is None else _capture(student, group, z[idx], li)
            return (out - target[idx]).pow(2).mean()

        try:
            with torch.no_grad():
                before = float(error(held))
            for _ in range(steps):
                idx = torch.randint(len(z), (min(batch, len(z)),), generator=gen).to(z.device)
                opt.zero_grad(set_to_none=True)
                error(idx).backward()
                opt.step()
            with torch.no_grad():
                after = float(error(held))
        finally:
            for p in frozen:
                p.requires_grad_(True)
        if after > before:  # no better on the fixed subset: keep the pruned weights
            with torch.no_grad():
                for p, w in zip(params, start):
                    p.copy_(w)
        record[name] = [before, after]
    student.train(was_training)
    return record
