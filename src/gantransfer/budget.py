"""Memory budgets, checked before anything is allocated.

A declared architecture (a config.json, an importer's checkpoint, ONNX metadata, flags) or a count (--n, --batch,
--calibration, --bank-size) is turned into an estimate of the bytes it needs and refused when that exceeds the
limit: this machine's memory, or ``--max-memory`` (``limited``). Sizes are first held to hard ranges (a latent of
1e9 or 1e9 mapping layers is no model: building it would hang). Ordinary configs cost nothing more; an unusual one is
built on the ``meta`` device (shapes, no storage) and run once there, so the estimate holds for every family.
"""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import math
import os
import re
from typing import Any, Callable, Iterator

from gantransfer.errors import ConfigError

_LIMIT: contextvars.ContextVar[int | None] = contextvars.ContextVar("gantransfer_max_memory", default=None)

# Hard ranges of declared sizes (by field name; generous for every real model).
CAPS = {"latent_dim": 1 << 16, "w_dim": 1 << 16, "z_dim": 1 << 16, "c_dim": 1 << 20, "num_classes": 1 << 20,
        "channels": 1 << 12, "resolution": 1 << 13}
MAX_LAYERS = 1 << 10          # any field named *layers*, *blocks* or *depth*
MAX_INT = 1 << 24             # any other declared integer size
MAX_WIDTH = 64.0              # channel multipliers (width)
ORDINARY = 4096               # every declared size at most this (and width <= 8): no estimate needed
ORDINARY_BY_NAME = {"channel_base": 1 << 16}  # scales whose usual values are larger
MAX_COUNT = 10_000_000        # samples of one eval, baseline or calibration


def machine_memory() -> int:
    """The memory this machine has available now (MemAvailable), else its physical memory, in bytes."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 16 << 30


def limit() -> int:
    """The memory limit in bytes: --max-memory, else this machine's memory."""
    return _LIMIT.get() or machine_memory()


def limited_by_flag() -> bool:
    """Whether the limit is --max-memory's (rather than this machine's memory)."""
    return _LIMIT.get() is not None


@contextlib.contextmanager
def limited(nbytes: int | None) -> Iterator[None]:
    """Within the block, ``nbytes`` is the memory limit (None: the machine's memory)."""
    token = _LIMIT.set(nbytes)
    try:
        yield
    finally:
        _LIMIT.reset(token)


def parse_size(text: str) -> int:
    """``64G``, ``512M``, ``1.5T`` or bytes -> bytes; ValueError otherwise (argparse's type)."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]?)i?B?\s*", text, re.IGNORECASE)
    if not m or float(m.group(1)) <= 0:
        raise ValueError(text)
    return int(float(m.group(1)) * 1024 ** " KMGT".index((m.group(2) or " ").upper()))


def gib(nbytes: float) -> str:
    """Bytes as a short figure (``17.2 GiB``)."""
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20)):
        if nbytes >= size:
            return f"{nbytes / size:.1f} {unit}"
    return f"{nbytes / 1024:.1f} KiB"


def require(nbytes: float, what: str) -> None:
    """ConfigError when ``nbytes`` (the estimate for ``what``) exceeds the limit."""
    if nbytes > limit():
        raise ConfigError(f"{what} needs about {gib(nbytes)} of memory, more than the limit of {gib(limit())} "
                          f"({'--max-memory' if _LIMIT.get() else 'this machine'}); reduce it, or pass "
                          "--max-memory SIZE (e.g. --max-memory 256G) to raise the limit")


def out_of_memory(e: BaseException) -> str | None:
    """The one-line message for an allocation that failed at run time (MemoryError, torch's CPU allocator or CUDA
    out of memory), or None when ``e`` is something else."""
    text = str(e)
    if not isinstance(e, MemoryError) and not ("can't allocate memory" in text or "out of memory" in text.lower()):
        return None
    size = re.search(r"allocate ([0-9]+) bytes", text)
    what = f" (an allocation of {gib(int(size.group(1)))} failed)" if size else ""
    return (f"out of memory{what}; use a smaller --batch-size (or --n), a narrower student, or a machine with "
            "more memory. Every file written before is intact (a training run continues with --resume)")


def require_count(n: int, flag: str, most: int = MAX_COUNT) -> None:
    """ConfigError when a count ``n`` given by ``flag`` is beyond ``most``."""
    if n > most:
        raise ConfigError(f"{flag} {n} is beyond the {most:,} this command handles in one go; use a smaller "
                          f"{flag}")


def _fields(obj: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            yield from _fields(v, f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}", v


def screen(cfg: Any, where: str) -> bool:
    """ConfigError when a declared size of model config ``cfg`` is out of range; returns whether one is unusual
    (beyond ``ORDINARY``), so that an estimate is worth its time."""
    unusual = False
    for key, v in _fields(cfg):
        name = key.rsplit(".", 1)[-1]
        if isinstance(v, bool):
            continue
        if isinstance(v, int):
            most = CAPS.get(name, MAX_LAYERS if re.search("layers|blocks|depth", name) else MAX_INT)
            if v > most:
                raise ConfigError(f"{where}: '{key}' is {v}, beyond the {most:,} any model of this kind uses; "
                                  f"give a {key} of at most {most:,}")
            unusual |= v > ORDINARY_BY_NAME.get(name, ORDINARY)
        elif isinstance(v, float) and name == "width":
            if not 0 < v <= MAX_WIDTH:
                raise ConfigError(f"{where}: 'width' is {v}, expected a multiplier in (0, {MAX_WIDTH:g}]")
            unusual |= v > 8
    return unusual


def _on_meta(build, cfg: Any) -> Any:
    """``build(cfg)`` on the meta device (nothing allocated); ConfigError when the builder cannot run there."""
    import torch
    try:
        with torch.device("meta"):
            return build(cfg)
    except Exception as e:  # noqa: BLE001 - a builder the meta device cannot run: refuse rather than allocate
        raise ConfigError(f"the declared sizes of {getattr(cfg, 'arch', 'this model')} cannot be checked before "
                          f"it is built ({type(e).__name__}: {str(e)[:100]}); pass smaller sizes") from None


def _param_bytes(module: Any) -> int:
    return sum(t.numel() * t.element_size() for t in (*module.parameters(), *module.buffers()))


def _output_bytes(module: Any, args: Callable[[], tuple], own_params: bool = False) -> list[int]:
    """The bytes of every leaf module's output (and, with ``own_params``, of every module holding parameters
    itself) in one meta-device forward on ``args()``; [] when the forward cannot run there."""
    import torch
    outs: list[int] = []

    def hook(_m, _i, out) -> None:
        for t in (out if isinstance(out, (tuple, list)) else (out,)):
            if isinstance(t, torch.Tensor):
                outs.append(t.numel() * t.element_size())
    handles = [m.register_forward_hook(hook) for m in module.modules()
               if not list(m.children()) or (own_params and m._parameters)]
    try:
        with torch.device("meta"), torch.no_grad():
            module(*args())
    except Exception:  # noqa: BLE001 - a family whose forward the meta device cannot run: parameters only
        return []
    finally:
        for h in handles:
            h.remove()
    return outs


def _latents(cfg: Any, batch: int) -> tuple:
    import torch
    return torch.zeros(batch, cfg.latent_dim), torch.zeros(batch, dtype=torch.long) if cfg.num_classes else None


def estimate_model(build, cfg: Any, batch: int = 0, inputs=None) -> tuple[int, int]:
    """(parameter and buffer bytes, activation bytes at ``batch``) of the module ``build(cfg)`` makes, measured on
    the meta device (nothing allocated). ``inputs(batch)``: the forward's arguments (default: latents and labels)."""
    module = _on_meta(build, cfg)
    params = _param_bytes(module)
    if batch <= 0:
        return params, 0
    outs = _output_bytes(module, lambda: inputs(batch) if inputs else _latents(cfg, batch))
    # inference: the largest layer's input and output and two buffers of its size (a transposed convolution's
    # columns), fitted to the peak RSS measured by benchmarks/memory_estimate.py
    return params, 4 * max(outs, default=0)


def activation_bytes(build, cfg: Any) -> tuple[int, int, int]:
    """(parameter bytes, summed layer-output bytes, largest layer output) of ``build(cfg)`` for one sample,
    measured on the meta device: the outputs of every leaf module and of every module holding parameters itself
    (a modulated convolution computes its output in its own forward); (params, 0, 0) when the forward cannot run
    there."""
    module = _on_meta(build, cfg)
    outs = _output_bytes(module, lambda: _latents(cfg, 1), own_params=True)
    return _param_bytes(module), sum(outs), max(outs, default=0)


def check_generator(cfg: Any, where: str, build=None, batch: int = 0, force: bool = False) -> None:
    """Screen generator config ``cfg`` (from ``where``) and, when unusual (or ``force``), estimate its memory at
    ``batch`` and refuse what exceeds the limit."""
    if not screen(cfg, where) and not force:
        return
    build = build or cfg.family.build_generator
    params, acts = estimate_model(build, cfg, batch)
    require(params + acts, f"the generator of {where} ({params / 4:,.0f} parameters"
            + (f", batch {batch})" if batch else ")"))


def declared_shapes(build, cfg: Any) -> dict[str, tuple[int, ...]]:
    """{name: shape} of the state dict the module ``build(cfg)`` has, built on the meta device."""
    import torch
    with torch.device("meta"):
        module = build(cfg)
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def sample_bytes(cfg: Any, n: int, copies: int = 1) -> int:
    """Bytes of ``n`` float32 samples of generator config ``cfg`` (``copies``: how many are held at once)."""
    return n * math.prod(cfg.sample_shape) * 4 * copies
