"""MineGAN (Wang et al. 2020): small miner networks steer pretrained generators towards a target domain.

A ``Miner`` maps the input latent to one source's latent space and starts as the identity (its MLP's last layer
is zero). A ``MinedGenerator`` holds one or several sources, each with its miner; with several, a learned
selector (softmax over sources) picks one per sample from the last latent coordinate (``mixture_ids``), and its
gradient reaches the selector through a straight-through estimator.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from gantransfer.models.dcgan import mixture_ids
from gantransfer.models.family import Capabilities, ModelFamily, family, register

if TYPE_CHECKING:
    from gantransfer.models.config import GeneratorConfig


class Miner(nn.Module):
    """z (B, in_dim) -> z' (B, out_dim): the identity (padded or cut) plus a residual MLP, zero at start."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int = 128) -> None:
        super().__init__()
        self.in_dim, self.out_dim = in_dim, out_dim
        self.mlp = nn.Sequential(nn.Linear(in_dim, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden),
                                 nn.LeakyReLU(0.2), nn.Linear(hidden, out_dim))
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        base = z[:, :self.out_dim]
        if base.shape[1] < self.out_dim:
            base = torch.cat([base, z.new_zeros(z.shape[0], self.out_dim - base.shape[1])], 1)
        return base + self.mlp(z)


class WMiner(nn.Module):
    """MineGAN in W: a source's mapping network (z -> W), then a residual MLP on W (zero at start), broadcast to
    every synthesis layer. ``source`` is the StyleGAN2 generator; its mapping stays its own (trained in stage two)."""

    def __init__(self, source: nn.Module, hidden: int = 128) -> None:
        super().__init__()
        self.latent_dim, w_dim = source.latent_dim, source.w_dim
        self.mlp = Miner(w_dim, w_dim, hidden)
        self._source = [source]  # not a submodule: its weights are the generator's

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        g = self._source[0]
        w = g.mapping(z[:, :self.latent_dim], None, g.truncation_psi)[:, 0]
        return self.mlp(w).unsqueeze(1).repeat(1, g.num_ws, 1)


class _Synthesis(nn.Module):
    """A StyleGAN2 source seen from W: calling it runs its synthesis network."""

    def __init__(self, source: nn.Module) -> None:
        super().__init__()
        self._source = [source]

    def forward(self, ws: torch.Tensor) -> torch.Tensor:
        return self._source[0].synthesis(ws)


class MinedGenerator(nn.Module):
    """Sources steered by miners; unconditional (labels are ignored). ``space`` w: miners act on W after each
    (StyleGAN2) source's mapping network instead of on its latent."""

    def __init__(self, generators: list[nn.Module], source_latents: list[int], latent_dim: int,
                 hidden: int = 128, space: str = "z") -> None:
        super().__init__()
        self.latent_dim, self.space = latent_dim, space
        self.generators = nn.ModuleList(generators)
        if space == "w":
            self.miners = nn.ModuleList(WMiner(g, hidden) for g in generators)
            self._heads = [_Synthesis(g) for g in generators]
        else:
            self.miners = nn.ModuleList(Miner(latent_dim, d, hidden) for d in source_latents)
            self._heads = list(generators)
        if len(generators) > 1:
            self.selector = nn.Parameter(torch.zeros(len(generators)))

    def source_probabilities(self) -> torch.Tensor:
        if len(self.generators) == 1:
            return torch.ones(1)
        return self.selector.detach().softmax(0).cpu()

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if len(self.generators) == 1:
            return self._heads[0](self.miners[0](z))
        probs = self.selector.softmax(0)
        pick = mixture_ids(z, probs.detach())
        if not torch.is_grad_enabled():  # sampling: run each source on its own samples only
            out = None
            for k, (g, m) in enumerate(zip(self._heads, self.miners)):
                mine = pick == k
                if mine.any():
                    x = g(m(z[mine]))
                    out = x.new_zeros(z.shape[0], *x.shape[1:]) if out is None else out
                    out[mine] = x
            return out
        hard = nn.functional.one_hot(pick, len(self.generators)).to(probs.dtype)
        weights = hard + probs - probs.detach()  # forward: the picked source; backward: d/d probs
        images = torch.stack([g(m(z)) for g, m in zip(self._heads, self.miners)], 1)
        return (weights[:, :, None, None, None] * images).sum(1)


@dataclass
class MinerOptions:
    """MineGAN: the steered sources' generator configs (JSON dicts) and the miners' hidden width."""

    sources: list[dict[str, Any]] = field(default_factory=list)
    hidden: int = 128
    space: str = "z"  # z: miners map the latent; w: they steer W after each (stylegan2) source's mapping network

    def source_configs(self) -> list["GeneratorConfig"]:
        from gantransfer.models.config import GeneratorConfig
        return [GeneratorConfig.from_dict(d) for d in self.sources]


def _validate(cfg: "GeneratorConfig") -> None:
    sources = cfg.options.source_configs()
    if not sources:
        raise ValueError("a minegan generator needs at least one source")
    if any(s.num_classes for s in sources) or cfg.num_classes:
        raise ValueError("minegan steers unconditional sources")
    if any(family(s.arch).kind != "image" for s in sources):
        raise ValueError("minegan sources must make images")
    if cfg.options.space not in ("z", "w"):
        raise ValueError(f"miner space must be z or w, got {cfg.options.space!r}")
    if cfg.options.space == "w" and any(not family(s.arch).capabilities.mapping_network for s in sources):
        raise ValueError("miners in W steer sources with a mapping network (stylegan2); use miner space z")
    if cfg.options.hidden < 1:
        raise ValueError(f"miner hidden width must be >= 1, got {cfg.options.hidden}")


def _build_generator(cfg: "GeneratorConfig") -> MinedGenerator:
    from gantransfer.models.config import build_generator
    configs = cfg.options.source_configs()
    return MinedGenerator([build_generator(c) for c in configs], [c.latent_dim for c in configs], cfg.latent_dim,
                          cfg.options.hidden, cfg.options.space)


FAMILY = register(ModelFamily(
    name="minegan", kind="image", options=MinerOptions, capabilities=Capabilities(batch_norm=True),
    build_generator=_build_generator, validate=_validate,
    description="MineGAN: miners (and a learned selector) steering pretrained sources (Wang et al. 2020)"))
