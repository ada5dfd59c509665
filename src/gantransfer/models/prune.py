"""Channel pruning: a student of the teacher's family whose weights are the teacher's kept channels.

A family declares its prunable channels with ``ModelFamily.channel_groups(generator) -> list[ChannelGroup]``: each
group is one layer's output channels, named the same in every width of the family, with the state-dict entries
that index them (as outputs of the layer that makes them, and as inputs of the layers that read them) and the
activation where they appear (the ``tap``, for importance criteria that look at activations). Entries outside
every group (a mapping network, label embeddings, noise buffers) are copied whole. Nothing here knows a family;
adding one is one ``channel_groups`` function on its registration.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from gantransfer.errors import ConfigError


@dataclass(frozen=True)
class Slice:
    """A state-dict entry indexed by a group's channels along ``dim``.

    ``role``: ``out`` (the layer that makes the channels) or ``in`` (one that reads them). ``gain_power``: the kept
    values are multiplied by (kept / teacher channels) ** gain_power, for layers whose runtime gain depends on
    their input count (StyleGAN2's toRGB scales by 1 / sqrt(in_channels): power 0.5 keeps its output unchanged).
    ``offset``: where the group's channels start along ``dim`` in the teacher, for a layer that reads a
    concatenation of groups (a U-Net's skip connection): every group of such a dimension names its part, and the
    kept channels of the parts, in offset order, make the student's dimension.
    """

    entry: str
    dim: int
    role: str = "out"
    gain_power: float = 0.0
    offset: int = 0


@dataclass(frozen=True)
class ChannelGroup:
    """One layer's output channels: the entries they index, and where they appear as activations.

    ``tap``: (module name, ``out`` | ``in``): the channels are dim 1 of that module's output (or first input).
    """

    name: str
    slices: tuple[Slice, ...]
    tap: tuple[str, str]

    def weights(self) -> list[Slice]:
        """The slices of the layer that makes the channels (``out``): its weight, bias, normalisation."""
        return [s for s in self.slices if s.role == "out"]


def groups_of(family, module: nn.Module) -> list[ChannelGroup]:
    """The channel groups of ``module`` (a generator of ``family``); ConfigError if the family declares none."""
    if family.channel_groups is None:
        raise ConfigError(f"{family.name} generators cannot be pruned (the family declares no channel groups); "
                          "use --init random")
    return family.channel_groups(module)


def group_sizes(module: nn.Module, groups: list[ChannelGroup]) -> dict[str, int]:
    """Channels per group in ``module``, read off each group's first slice."""
    state = module.state_dict()
    return {g.name: int(state[g.slices[0].entry].shape[g.slices[0].dim]) for g in groups}


def top_channels(scores: dict[str, torch.Tensor], sizes: dict[str, int], by_importance: bool = False
                 ) -> dict[str, torch.Tensor]:
    """Per group, the indices of the ``sizes[name]`` highest-scoring channels, ascending (``by_importance``: the
    highest score first); ties go to the lower index, so equal scores give a deterministic choice."""
    if set(sizes) != set(scores):  # the same layers (criteria may list them in the order they run)
        raise ConfigError(f"cannot prune: the student's layers ({', '.join(sizes)}) differ from the teacher's "
                          f"({', '.join(scores)}); use --init random or the teacher's family options")
    keep = {}
    for name, k in sizes.items():
        s = scores[name].double()
        if k > s.numel():
            raise ConfigError(f"layer {name}: the student has {k} channels but its teacher only {s.numel()}; "
                              "a pruned student must be narrower than its teacher (lower --width)")
        order = sorted(range(s.numel()), key=lambda i: (-float(s[i]), i))[:k]
        keep[name] = torch.tensor(order if by_importance else sorted(order), dtype=torch.long)
    return keep


def _slice_plan(groups: list[ChannelGroup], keep: dict[str, torch.Tensor]
                ) -> dict[str, list[tuple[Slice, str, torch.Tensor]]]:
    """Per state-dict entry: each slice that indexes it, its group's name and the kept indices."""
    plan: dict[str, list[tuple[Slice, str, torch.Tensor]]] = {}
    for g in groups:
        for s in g.slices:
            plan.setdefault(s.entry, []).append((s, g.name, keep[g.name]))
    return plan


def singular_value_scaling(w: torch.Tensor, dim: int) -> torch.Tensor:
    """``w`` with its singular values (as a matrix of ``dim`` rows by everything else) replaced by their square
    roots, rescaled so the Frobenius norm (the spectral energy, sum of squared singular values) is unchanged:
    s' = sqrt(s) * ||s|| / ||sqrt(s)||. The ratio of the largest to the smallest singular value becomes its square
    root, so no few directions dominate the pruned layer (SVS, Kim & Yoo, AAAI 2025, in spirit)."""
    m = w.movedim(dim, 0)
    shape = m.shape
    mat = m.reshape(shape[0], -1).double()
    u, s, vh = torch.linalg.svd(mat, full_matrices=False)
    root = s.sqrt()
    scale = s.norm() / root.norm() if root.norm() > 0 else 1.0
    out = (u * (root * scale)) @ vh
    return out.reshape(shape).movedim(0, dim).to(w.dtype)


def copy_kept(teacher: nn.Module, student: nn.Module, groups: list[ChannelGroup], keep: dict[str, torch.Tensor],
              svs: bool = False) -> int:
    """Load ``student`` with ``teacher``'s weights restricted to the kept channels (``keep``: per group, teacher
    channel indices); with ``svs``, the producing weights of every group rescaled by ``singular_value_scaling``.
    ConfigError naming the entry when a layout differs beyond the groups. Returns the number of entries pruned."""
    t_state, s_state = teacher.state_dict(), student.state_dict()
    plan = _slice_plan(groups, keep)
    t_sizes = group_sizes(teacher, groups)
    rescaled = {s.entry for g in groups for s in g.weights() if t_state[s.entry].dim() >= 2}
    out, pruned = {}, 0
    for name, target in s_state.items():
        if name not in t_state:
            raise ConfigError(f"cannot prune: the student's {name} has no counterpart in the teacher (their layouts "
                              "differ); use --init random or the teacher's family options")
        w = t_state[name]
        by_dim: dict[int, list[tuple[Slice, str, torch.Tensor]]] = {}
        for item in plan.get(name, []):
            by_dim.setdefault(item[0].dim, []).append(item)
        for dim, items in by_dim.items():  # one dimension may be a concatenation of groups (``Slice.offset``)
            items.sort(key=lambda it: it[0].offset)
            idx = torch.cat([k + s.offset for s, _, k in items])
            w = w.index_select(dim, idx.to(w.device))
            for s, group, k in items:
                if s.gain_power:
                    w = w * (len(k) / t_sizes[group]) ** s.gain_power
        if tuple(w.shape) != tuple(target.shape):
            raise ConfigError(f"cannot prune: the student's {name} is {tuple(target.shape)} but the teacher's kept "
                              f"channels give {tuple(w.shape)}; use --init random or the teacher's family options")
        if svs and name in rescaled and name in plan and w.is_floating_point():
            dim = next(s.dim for s, _, _ in plan[name] if s.role == "out")
            w = singular_value_scaling(w, dim)
        pruned += name in plan
        out[name] = w.to(target.dtype)
    student.load_state_dict(out)
    return pruned


def kept_fraction(keep: dict[str, torch.Tensor], teacher_sizes: dict[str, int]) -> dict[str, str]:
    """Per group, ``kept/total`` (for the run's record)."""
    return {n: f"{len(idx)}/{teacher_sizes[n]}" for n, idx in keep.items()}
