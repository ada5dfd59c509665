"""Elastic generators: one set of weights whose channel-sliced sub-networks each work (Anycost GAN's idea).

An elastic generator is an ordinary generator at its largest width, with ``meta["elastic"]`` listing the widths
it was trained at. Its channels are ordered by importance, so the sub-network at width ``w`` is the first k
channels of every channel group (k: the family's channel count at ``w``). ``SlicedForward`` runs a sub-network
on views of the shared weights (gradients reach them); ``subnetwork`` copies one out as a standalone generator
of the family (batch-norm statistics re-estimated), which every command (``--width``) then uses as any other.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from torch import nn
from torch.func import functional_call

from gantransfer.errors import ConfigError
from gantransfer.models.config import GeneratorConfig, build_generator
from gantransfer.models.prune import ChannelGroup, copy_kept, group_sizes, groups_of
from gantransfer.models.sampling import recalibrate_batchnorm


def parse_widths(text: str | list[float]) -> list[float]:
    """Sorted distinct widths from ``0.125,0.25,0.5`` (fractions of the teacher's channels, as ``--width``);
    ConfigError unless at least two, each in (0, 1]."""
    try:
        widths = sorted({float(w) for w in (text.split(",") if isinstance(text, str) else text)})
    except ValueError:
        raise ConfigError(f"--elastic takes comma-separated widths such as 0.125,0.25,0.5, got {text!r}") from None
    if len(widths) < 2 or not all(0 < w <= 1 for w in widths):
        raise ConfigError(f"--elastic needs at least two widths in (0, 1] (width multipliers, as --width), "
                          f"got {text!r}")
    return widths


def elastic_widths(cfg: GeneratorConfig) -> list[float] | None:
    """The widths an elastic generator was trained at (None: not elastic)."""
    widths = cfg.meta.get("elastic")
    return [float(w) for w in widths] if isinstance(widths, list) and widths else None


def elastic_unit(cfg: GeneratorConfig) -> float:
    """The family width that elastic width 1 stands for: the teacher's (the widths are fractions of its
    channels, as ``distill --width``); 1 for files written before the widths were relative."""
    unit = cfg.meta.get("elastic_unit", 1.0)
    return float(unit) if isinstance(unit, (int, float)) and unit > 0 else 1.0


def width_config(cfg: GeneratorConfig, width: float) -> GeneratorConfig:
    """The config of ``cfg``'s sub-network at elastic width ``width`` (a standalone generator of the family)."""
    meta = {k: v for k, v in cfg.meta.items() if k not in ("elastic", "elastic_unit")}
    return dataclasses.replace(cfg, width=width * elastic_unit(cfg),
                               meta={**meta, "elastic_parent_width": cfg.width})


def first_channels(sizes: dict[str, int]) -> dict[str, torch.Tensor]:
    """Keep the first k channels of every group (an elastic generator's sub-network)."""
    return {n: torch.arange(k) for n, k in sizes.items()}


def subnetwork(g: nn.Module, cfg: GeneratorConfig, width: float) -> tuple[nn.Module, GeneratorConfig]:
    """The sub-network of elastic generator ``g`` at ``width``, standalone, in eval mode; ConfigError when ``g``
    is not elastic or was not trained at ``width``."""
    if not 0 < width <= 1:
        raise ConfigError(f"--width {width:g}: an elastic sub-network's width is a fraction in (0, 1] (the widths "
                          "it was trained at, as distill --elastic took them)")
    widths = elastic_widths(cfg)
    if widths is None:
        raise ConfigError("--width picks a sub-network of an elastic generator (distill --elastic); this one is "
                          "not elastic")
    if not any(abs(width - w) < 1e-9 for w in widths):
        raise ConfigError(f"--width {width:g}: this elastic generator was trained at widths "
                          f"{', '.join(f'{w:g}' for w in widths)}; choose one of them")
    sub_cfg = width_config(cfg, width)
    sub = build_generator(sub_cfg)
    groups = groups_of(cfg.family, g)
    copy_kept(g, sub, groups, first_channels(group_sizes(sub, groups_of(sub_cfg.family, sub))))
    if sub_cfg.family.capabilities.batch_norm:
        recalibrate_batchnorm(sub.to(next(g.parameters()).device), sub_cfg)
    return sub.eval(), sub_cfg


class SlicedForward:
    """Forward passes of an elastic student's sub-networks on views of its weights (for training).

    ``sandwich(z, labels)`` splits the batch in three: the largest width, the smallest, and one of the others
    drawn at random (the sandwich rule), and returns the three outputs in batch order. ``widths``: the family's
    widths of the sub-networks (``elastic_unit`` times the elastic widths), the largest ``cfg``'s own.
    """

    def __init__(self, student: nn.Module, cfg: GeneratorConfig, widths: list[float]) -> None:
        self.student, self.widths = student, sorted(widths)
        self.groups: list[ChannelGroup] = groups_of(cfg.family, student)
        full = group_sizes(student, self.groups)
        self.subs: dict[float, tuple[nn.Module, dict[str, int]]] = {}
        for w in self.widths[:-1]:
            sub_cfg = dataclasses.replace(cfg, width=w)
            sub = build_generator(sub_cfg).to(next(student.parameters()).device)
            sizes = group_sizes(sub, groups_of(sub_cfg.family, sub))
            self.subs[w] = (sub, sizes)
        self.full = full

    def _views(self, sizes: dict[str, int]) -> dict[str, torch.Tensor]:
        tensors = {**dict(self.student.named_parameters()), **dict(self.student.named_buffers())}
        for g in self.groups:
            k = sizes[g.name]
            for s in g.slices:
                t = tensors[s.entry].narrow(s.dim, 0, k)
                tensors[s.entry] = t * (k / self.full[g.name]) ** s.gain_power if s.gain_power else t
        return tensors

    def __call__(self, z: torch.Tensor, labels: torch.Tensor | None, width: float) -> torch.Tensor:
        """The sub-network at ``width`` (one of the widths) on ``z``."""
        if width == self.widths[-1]:
            return self.student(z, labels)
        sub, sizes = self.subs[width]
        sub.train(self.student.training)
        return functional_call(sub, self._views(sizes), (z, labels))

    def sandwich(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """Largest, smallest and a random other width, each on a third of the batch, in batch order."""
        middle = self.widths[1:-1] or self.widths
        chosen = [self.widths[-1], self.widths[0], middle[int(torch.randint(len(middle), ()))]]  # resumable
        parts = torch.tensor_split(torch.arange(z.shape[0], device=z.device), 3)
        out = [self(z[p], None if labels is None else labels[p], w) for p, w in zip(parts, chosen) if len(p)]
        return torch.cat(out)


def materialise(path: str, width: float, dest: str | Path) -> Path:
    """Write the sub-network at ``width`` of the elastic generator at ``path`` (a generator or run directory) to
    directory ``dest``, for a command given ``--width``; returns ``dest``."""
    from gantransfer.models.store import load_generator, save_generator
    g, cfg = load_generator(path)
    sub, sub_cfg = subnetwork(g, cfg, width)
    return save_generator(sub, sub_cfg, dest)
