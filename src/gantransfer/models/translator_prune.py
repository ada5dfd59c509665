"""The prunable channels (``models/prune.py``'s ``ChannelGroup``) of the translator families.

* ``resnet`` / ``mobile-resnet``: the input convolution's and the first downsampling's outputs; the trunk (4 ngf
  channels made by the second downsampling and added to by every residual block, so one group for all of them);
  each residual block's inner channels; each upsampling's outputs. A mobile block's depthwise convolutions follow
  the channels they filter (they read them).
* ``unet``: per level, the down convolution's outputs (read by the next level down and, through the skip
  connection, by this level's up convolution) and, below the outermost, the up convolution's outputs (read by the
  level above's up convolution after its skip part): the concatenations are named by ``Slice.offset``.

Norm entries (batch norm's affine parameters and running statistics) are listed only where they exist (instance
norm and none keep none). Groups are read off the module, so any depth, dropout and norm kind works.
"""
from __future__ import annotations

from torch import nn

from gantransfer.models.prune import ChannelGroup, Slice
from gantransfer.models.translator_blocks import ResidualBlock, SeparableConv, SeparableResidualBlock

NORM_ENTRIES = ("weight", "bias", "running_mean", "running_var")
FIRST_BLOCK = 10  # index of a ResNet translator's first residual block in its ``model``


def _present(state: dict, slices: list[Slice]) -> list[Slice]:
    return [s for s in slices if s.entry in state]


def _made_by(prefix: str, transposed: bool = False) -> list[Slice]:
    """A convolution's output channels: its weight (dim 0; dim 1 for a transposed one) and bias."""
    return [Slice(f"{prefix}.weight", 1 if transposed else 0), Slice(f"{prefix}.bias", 0)]


def _norm(prefix: str, role: str = "out") -> list[Slice]:
    return [Slice(f"{prefix}.{k}", 0, role) for k in NORM_ENTRIES]


def _read_by(prefix: str, transposed: bool = False, offset: int = 0) -> list[Slice]:
    """A convolution's input channels: its weight's dim 1 (dim 0 for a transposed one)."""
    return [Slice(f"{prefix}.weight", 0 if transposed else 1, "in", offset=offset)]


def _group(state: dict, name: str, slices: list[Slice], tap: tuple[str, str]) -> ChannelGroup:
    return ChannelGroup(name, tuple(_present(state, slices)), tap)


def _block_convs(block: nn.Module, prefix: str) -> tuple[list[str], list[str], list[str]]:
    """A residual block's two convolutions, the norms after them and its ReLU, as module names under ``prefix``."""
    convs, norms, relu = [], [], []
    layers = list(block.conv_block)
    for i, m in enumerate(layers):
        if isinstance(m, (nn.Conv2d, SeparableConv)):
            convs.append(f"{prefix}.conv_block.{i}")
            norms.append(f"{prefix}.conv_block.{i + 1}")
        elif isinstance(m, nn.ReLU):
            relu.append(f"{prefix}.conv_block.{i}")
    return convs, norms, relu


def _reads(conv: str, separable: bool) -> list[Slice]:
    """What reads a channel group entering ``conv``: a plain convolution's weight, or a separable one's depthwise
    convolution (its weight, bias and norm follow the channels) and pointwise weight."""
    if not separable:
        return _read_by(conv)
    return [Slice(f"{conv}.depthwise.weight", 0, "in"), Slice(f"{conv}.depthwise.bias", 0, "in"),
            *_norm(f"{conv}.norm", "in"), *_read_by(f"{conv}.pointwise")]


def _writes(conv: str, separable: bool) -> list[Slice]:
    return _made_by(f"{conv}.pointwise" if separable else conv)


def resnet_channel_groups(g: nn.Module) -> list[ChannelGroup]:
    """The channel groups of a ``ResnetTranslator`` (plain or separable blocks)."""
    state = g.state_dict()
    layers = list(g.model)  # 0-3 input convolution, 4-6 and 7-9 two downsamplings, blocks, two upsamplings
    blocks = [i for i, m in enumerate(layers) if isinstance(m, (ResidualBlock, SeparableResidualBlock))]
    n, first = len(blocks), FIRST_BLOCK
    if blocks != list(range(first, first + n)):
        raise ValueError(f"not the ResNet translator layout: residual blocks at {blocks}")
    separable = n > 0 and isinstance(layers[first], SeparableResidualBlock)
    groups = [_group(state, "in", [*_made_by("model.1"), *_norm("model.2"), *_read_by("model.4")], ("model.3", "out"))]
    groups.append(_group(state, "down1", [*_made_by("model.4"), *_norm("model.5"), *_read_by("model.7")],
                         ("model.6", "out")))
    up = first + n
    trunk = [*_made_by("model.7"), *_norm("model.8")]
    inner = []
    for b in range(n):
        p = f"model.{first + b}"
        convs, norms, relu = _block_convs(layers[first + b], p)
        trunk += [*_reads(convs[0], separable), *_writes(convs[1], separable), *_norm(norms[1])]
        inner.append(_group(state, f"block{b}", [*_writes(convs[0], separable), *_norm(norms[0]),
                                                 *_reads(convs[1], separable)], (relu[0], "out")))
    trunk += _read_by(f"model.{up}", transposed=True)
    trunk_tap = (f"model.{up - 1}", "out")  # after the last block (the second downsampling's ReLU without blocks)
    groups += [_group(state, "trunk", trunk, trunk_tap), *inner]
    groups.append(_group(state, "up0", [*_made_by(f"model.{up}", True), *_norm(f"model.{up + 1}"),
                                        *_read_by(f"model.{up + 3}", True)], (f"model.{up + 2}", "out")))
    groups.append(_group(state, "up1", [*_made_by(f"model.{up + 3}", True), *_norm(f"model.{up + 4}"),
                                        *_read_by(f"model.{up + 7}")], (f"model.{up + 5}", "out")))
    return groups


def unet_channel_groups(g: nn.Module) -> list[ChannelGroup]:
    """The channel groups of a ``UnetTranslator``, outermost level first: ``d{k}`` (level k's down convolution)
    and ``u{k}`` (level k's up convolution, k >= 1)."""
    state = g.state_dict()
    levels, prefixes = [], []
    level, prefix = g.model, "model"
    while level is not None:
        levels.append(level)
        prefixes.append(prefix)
        inner = next((m for m in level.model if hasattr(m, "outermost")), None)  # the nested level
        prefix = f"{prefix}.model.{list(level.model).index(inner)}" if inner is not None else ""
        level = inner
    groups = []
    for k, (level, p) in enumerate(zip(levels, prefixes)):
        layers = list(level.model)
        down = next(i for i, m in enumerate(layers) if isinstance(m, nn.Conv2d))
        up = next(i for i, m in enumerate(layers) if isinstance(m, nn.ConvTranspose2d))
        made = _made_by(f"{p}.model.{down}")
        if k not in (0, len(levels) - 1):  # a middle level normalises its down convolution's output
            made += _norm(f"{p}.model.{down + 1}")
        if k + 1 < len(levels):  # read by the next level's down convolution and, skipped, by this up convolution
            q = prefixes[k + 1]
            q_down = next(i for i, m in enumerate(levels[k + 1].model) if isinstance(m, nn.Conv2d))
            reads = [*_read_by(f"{q}.model.{q_down}"), *_read_by(f"{p}.model.{up}", True, offset=0)]
            tap = (q, "in")
        else:  # innermost: its up convolution reads it directly
            reads = _read_by(f"{p}.model.{up}", True)
            tap = (f"{p}.model.{down}", "out")
        groups.append(_group(state, f"d{k}", [*made, *reads], tap))
        if k > 0:  # this level's output joins the level above's skip: the second part of its up convolution
            above, a_up = prefixes[k - 1], next(i for i, m in enumerate(levels[k - 1].model)
                                                if isinstance(m, nn.ConvTranspose2d))
            size = level.model[up].out_channels
            groups.append(_group(state, f"u{k}", [*_made_by(f"{p}.model.{up}", True), *_norm(f"{p}.model.{up + 1}"),
                                                  *_read_by(f"{above}.model.{a_up}", True, offset=size)],
                                 (f"{p}.model", "out")))
    return groups
