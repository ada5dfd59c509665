"""The constructor arguments an NVlabs network pickle records for each network (``_init_kwargs``), read as data
and checked against the network's own tensors.

stylegan2-ada-pytorch builds ``G`` and ``D`` from separate keyword sets (``G_kwargs``: ``z_dim``, ``w_dim``,
``mapping_kwargs.num_layers``, ``synthesis_kwargs.channel_base/channel_max/num_fp16_res/conv_clamp``; ``D_kwargs``:
``channel_base``, ``channel_max``, ``num_fp16_res``, ``conv_clamp``, ``mapping_kwargs``,
``epilogue_kwargs.mbstd_group_size/mbstd_num_channels``; both ``c_dim``, ``img_resolution``, ``img_channels``),
and its persistence wrapper keeps them in every network object. Each network's layout is inferred from its own
record: the tensors say the channels, depths and sizes; the recorded arguments say what tensors cannot (the
minibatch-stddev group, the clamp, the fp16 resolutions) and must agree with the tensors where both speak.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from gantransfer.errors import CheckpointError

# name: (nested dict it may sit in, low, high, may be None); integers unless in FLOATS
FIELDS: dict[str, tuple[tuple[str, ...], float, float, bool]] = {
    "z_dim": ((), 0, 1 << 16, False), "w_dim": ((), 1, 1 << 16, False), "c_dim": ((), 0, 1 << 20, False),
    "img_resolution": ((), 4, 8192, False), "img_channels": ((), 1, 16, False),
    "cmap_dim": ((), 1, 1 << 16, True),
    "channel_base": (("synthesis_kwargs",), 1, 1 << 24, False),
    "channel_max": (("synthesis_kwargs",), 1, 1 << 16, False),
    "num_fp16_res": (("synthesis_kwargs",), 0, 16, False),
    "conv_clamp": (("synthesis_kwargs",), 0, 1e9, True),
    "num_layers": (("mapping_kwargs",), 0, 1 << 10, False),
    "lr_multiplier": (("mapping_kwargs",), 1e-6, 1e3, False),
    "mbstd_group_size": (("epilogue_kwargs",), 1, 1 << 16, True),
    "mbstd_num_channels": (("epilogue_kwargs",), 0, 1 << 10, False),
}
FLOATS = {"conv_clamp", "lr_multiplier"}
NESTED = ("mapping_kwargs", "synthesis_kwargs", "epilogue_kwargs", "block_kwargs")
ARCHITECTURES = ("orig", "skip", "resnet")


def _check(value: Any, name: str, key: str, net: str, path: Path) -> Any:
    _, lo, hi, none_ok = FIELDS[name]
    if value is None and none_ok:
        return None
    floats = name in FLOATS
    ok_type = isinstance(value, (int, float)) if floats else isinstance(value, int)
    if isinstance(value, bool) or not ok_type or (floats and not math.isfinite(value)) or not lo <= value <= hi:
        expected = f"{'a number' if floats else 'an integer'} from {lo:g} to {hi:g}" + (" or None" if none_ok else "")
        raise CheckpointError(f"{path}: {net}'s recorded constructor argument init_kwargs.{key} is "
                              f"{str(value)[:40]!r} ({type(value).__name__}), expected {expected}; the pickle is "
                              "corrupt or was not written by stylegan2-ada-pytorch")
    return value


def read_init_kwargs(rec: Any, net: str, path: Path) -> dict[str, Any]:
    """The known constructor arguments of network record ``rec`` (``G_ema``, ``D``), flattened (``channel_base``
    from ``synthesis_kwargs`` or the top level) and checked for type and range; {} when the pickle records none.
    CheckpointError naming the file, the network, the key and what was expected."""
    raw = rec.attr("_init_kwargs")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise CheckpointError(f"{path}: {net}'s recorded constructor arguments (init_kwargs) are "
                              f"{type(raw).__name__}, expected a dict of keyword arguments")
    out: dict[str, Any] = {}
    for group in NESTED:
        if group in raw and raw[group] is not None and not isinstance(raw[group], dict):
            raise CheckpointError(f"{path}: {net}'s init_kwargs.{group} is {type(raw[group]).__name__}, expected "
                                  "a dict of keyword arguments")
    for name, (groups, *_rest) in FIELDS.items():
        for where in ((), *((g,) for g in NESTED)):
            src = raw if not where else (raw.get(where[0]) or {})
            if name in src:
                key = ".".join((*where, name))
                out[name] = _check(src[name], name, key, net, path)
    arch = raw.get("architecture")
    if arch is not None and arch not in ARCHITECTURES:
        raise CheckpointError(f"{path}: {net}'s init_kwargs.architecture is {str(arch)[:40]!r}, expected one of "
                              f"{', '.join(ARCHITECTURES)}")
    if arch is not None:
        out["architecture"] = arch
    return out


def agree(kw: dict[str, Any], name: str, found: Any, where: str, net: str, path: Path) -> None:
    """CheckpointError when recorded argument ``name`` says otherwise than the tensors (``found``, at ``where``)."""
    if name in kw and kw[name] is not None and found is not None and kw[name] != found:
        raise CheckpointError(f"{path}: {net}'s init_kwargs say {name} = {kw[name]}, but its tensors say {found} "
                              f"({where}); the pickle is inconsistent")


def check_channels(kw: dict[str, Any], ch: dict[int, int], layer: str, net: str, path: Path) -> None:
    """The per-resolution channels ``ch`` read from the tensors against the recorded ``channel_base`` and
    ``channel_max`` (NVlabs: ``min(channel_base // r, channel_max)``); ``layer`` names the tensor, {r} filled."""
    if "channel_base" not in kw and "channel_max" not in kw:
        return
    base, cap = kw.get("channel_base", 32768), kw.get("channel_max", 512)
    for r, c in sorted(ch.items()):
        want = min(base // r, cap)
        if want != c:
            raise CheckpointError(
                f"{path}: {net}'s init_kwargs say channel_base {base}, channel_max {cap} ({want} channels at {r} px), "
                f"but {layer.format(r=r)} has {c}; the pickle is inconsistent")


def fp16_resolutions(kw: dict[str, Any], resolution: int) -> list[int]:
    """The block resolutions the original computes in float16 (``num_fp16_res`` highest, from 8 px up)."""
    n = kw.get("num_fp16_res", 0) or 0
    lowest = max(2 ** (int(math.log2(resolution)) + 1 - n), 8)
    return [r for r in (2 ** k for k in range(2, int(math.log2(resolution)) + 1)) if n and r >= lowest]
