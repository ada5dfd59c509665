"""Importer of pix2pix/CycleGAN generator checkpoints (junyanz/pytorch-CycleGAN-and-pix2pix ``*_net_G*.pth``).

The file is a bare state dict (``module.`` prefixes from DataParallel are dropped), read with the weights-only
loader: no code in it runs. The architecture comes from the keys and shapes alone:

* ResNet: ``model.1.weight`` is the 7x7 input convolution (ngf, in, 7, 7); residual blocks are
  ``model.10.conv_block.*`` onwards (a convolution at ``conv_block.6``: dropout); the output convolution follows them.
* U-Net: ``model.model.0.weight`` is the outermost 4x4 down convolution (ngf, in, 4, 4); each further level nests
  as ``.model.3`` (``model.model.1.model.3.model.3...``); the outermost up convolution gives the output channels.
* Norm: convolutions with a bias mean instance norm; norm layers with weights mean batch norm; neither: none.

Files of older versions of that code carry InstanceNorm running statistics; as its loader does, they are dropped.
Every remaining tensor must match the rebuilt network's shape, or the import stops naming file, key and shape.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from gantransfer.errors import CheckpointError
from gantransfer.models.dcgan_import import read_state_dict
from gantransfer.models.importers import Imported, Importer, register_importer
from gantransfer.models.config import GeneratorConfig, build_generator

ARCHS = {"resnet_9blocks": ("resnet", 9), "resnet_6blocks": ("resnet", 6), "unet_128": ("unet", 7),
         "unet_256": ("unet", 8)}
NORMS = ("instance", "batch", "none")
STALE_STATS = ("running_mean", "running_var", "num_batches_tracked")
RESNET_FIRST_BLOCK = 10


def _kernel(state: dict[str, torch.Tensor], key: str) -> tuple[int, ...]:
    t = state.get(key)
    return tuple(t.shape[-2:]) if t is not None and t.dim() == 4 else ()


def looks_like_junyanz(state: dict[str, torch.Tensor]) -> bool:
    """Whether a state dict has the key layout of a pix2pix/CycleGAN ResnetGenerator (a 7x7 ``model.1`` after a
    parameter-free padding ``model.0``) or UnetGenerator (a 4x4 ``model.model.0``)."""
    return _kernel(state, "model.model.0.weight") == (4, 4) or (
        _kernel(state, "model.1.weight") == (7, 7) and not any(k.startswith("model.0.") for k in state))


def _shape(state: dict[str, torch.Tensor], key: str, where: str, dims: int) -> tuple[int, ...]:
    if key not in state:
        raise CheckpointError(f"{where}: key {key} is missing, so this is not a pix2pix/CycleGAN generator "
                              "(ResnetGenerator or UnetGenerator state dict)")
    shape = tuple(state[key].shape)
    if len(shape) != dims or not all(1 <= s <= 65536 for s in shape):
        raise CheckpointError(f"{where}: key {key} has shape {shape}, expected a {dims}-D convolution weight")
    return shape


def _norm(state: dict[str, torch.Tensor], conv: str, norm: str) -> str:
    if f"{conv}.bias" in state:
        return "instance"
    return "batch" if f"{norm}.weight" in state else "none"


def _resnet_layout(state: dict[str, torch.Tensor], where: str) -> dict[str, Any]:
    ngf, in_ch = _shape(state, "model.1.weight", where, 4)[:2]
    n = 0
    while f"model.{RESNET_FIRST_BLOCK + n}.conv_block.1.weight" in state:
        n += 1
    last = RESNET_FIRST_BLOCK + n + 7  # two (transposed conv, norm, ReLU) triples and a pad before it
    out_ch = _shape(state, f"model.{last}.weight", where, 4)[0]
    return {"arch": "resnet", "count": n, "ngf": ngf, "in": in_ch, "out": out_ch,
            "norm": _norm(state, "model.1", "model.2"),
            "dropout": getattr(state.get(f"model.{RESNET_FIRST_BLOCK}.conv_block.6.weight"), "ndim", 0) == 4,
            "name": f"resnet_{n}blocks"}


def _unet_layout(state: dict[str, torch.Tensor], where: str) -> dict[str, Any]:
    ngf, in_ch = _shape(state, "model.model.0.weight", where, 4)[:2]
    out_ch = _shape(state, "model.model.3.weight", where, 4)[1]  # transposed: (in, out, k, k)
    prefix, levels = "model.model.1", 2
    while f"{prefix}.model.3.model.1.weight" in state and levels < 64:
        prefix, levels = prefix + ".model.3", levels + 1
    return {"arch": "unet", "count": levels, "ngf": ngf, "in": in_ch, "out": out_ch,
            "norm": _norm(state, "model.model.0", "model.model.1.model.2"), "dropout": False,
            "name": f"unet_{2 ** levels}" if levels < 20 else f"unet with {levels} levels"}


def detect_layout(state: dict[str, torch.Tensor], where: str) -> dict[str, Any]:
    """The architecture of a junyanz generator state dict: arch (resnet/unet), count (blocks or downsamplings),
    ngf, in/out channels, norm, dropout (ResNet only; a U-Net's dropout leaves no key) and the junyanz name."""
    if looks_like_junyanz(state):
        return _unet_layout(state, where) if "model.model.0.weight" in state else _resnet_layout(state, where)
    found = ", ".join(sorted(state)[:8])
    raise CheckpointError(f"{where} is not a pix2pix/CycleGAN generator: expected keys model.1.weight (ResNet) or "
                          f"model.model.0.weight (U-Net); found {found or 'no tensors'}")


def _check_requested(layout: dict[str, Any], arch: str, norm: str, dropout: bool | None, where: str) -> None:
    if arch != "auto":
        if arch not in ARCHS:
            raise CheckpointError(f"--arch must be auto or one of {', '.join(ARCHS)}, got {arch!r}")
        if ARCHS[arch] != (layout["arch"], layout["count"]):
            raise CheckpointError(f"{where} holds a {layout['name']} generator, not {arch}; drop --arch (auto) "
                                  f"or give --arch {layout['name']}")
    if norm != "auto":
        if norm not in NORMS:
            raise CheckpointError(f"--norm must be auto or one of {', '.join(NORMS)}, got {norm!r}")
        if norm != layout["norm"]:
            raise CheckpointError(f"{where} was saved with {layout['norm']} norm (read off its keys), not {norm}; "
                                  f"drop --norm or give --norm {layout['norm']}")
    if dropout is not None and layout["arch"] == "resnet" and dropout != layout["dropout"]:
        raise CheckpointError(f"{where}: a ResNet file records dropout in its keys, and this one was saved "
                              f"{'with' if layout['dropout'] else 'without'} it; drop --dropout")


def layout_config(layout: dict[str, Any], dataset: str = "", dropout: bool | None = None,
                  resolution: int | None = None) -> GeneratorConfig:
    """The GeneratorConfig of a detected layout (``resolution``: the nominal image side; default 256 for ResNets,
    2**num_downs for U-Nets; ``dropout``: overrides what the keys tell, for U-Nets which keep no trace of it)."""
    if layout["arch"] == "resnet":
        options = {"ngf": layout["ngf"], "n_blocks": layout["count"], "norm": layout["norm"],
                   "dropout": layout["dropout"] if dropout is None else dropout}
        resolution = resolution or 256
    else:
        options = {"ngf": layout["ngf"], "num_downs": layout["count"], "norm": layout["norm"],
                   "dropout": bool(dropout)}
        resolution = resolution or max(2 ** min(layout["count"], 10), 16)
    return GeneratorConfig(arch=layout["arch"], latent_dim=0, input_channels=int(layout["in"]),
                           channels=int(layout["out"]), resolution=resolution, dataset=dataset, options=options,
                           meta={"format": "junyanz-pytorch-CycleGAN-and-pix2pix", "junyanz_arch": layout["name"]})


def _drop_stale_instance_stats(state: dict[str, torch.Tensor], g: nn.Module) -> list[str]:
    modules = dict(g.named_modules())
    stale = [k for k in state if k.rsplit(".", 1)[-1] in STALE_STATS
             and isinstance(modules.get(k.rsplit(".", 1)[0]), nn.InstanceNorm2d)]
    for k in stale:
        del state[k]
    return stale


def check_tensors(state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], where: str, what: str) -> None:
    """CheckpointError naming the first key that is unexpected, missing, of another shape or kind, or not finite."""
    extra = sorted(set(state) - set(expected))
    if extra:
        raise CheckpointError(f"{where}: unexpected key {extra[0]} ({len(extra)} in all) for a {what}; the file "
                              "does not fit the pix2pix/CycleGAN layout")
    for k, want in expected.items():
        if k not in state:
            raise CheckpointError(f"{where}: key {k} is missing; a {what} needs it with shape {tuple(want.shape)}")
        got = state[k]
        if tuple(got.shape) != tuple(want.shape):
            raise CheckpointError(f"{where}: key {k} has shape {tuple(got.shape)}, expected {tuple(want.shape)} "
                                  f"for a {what}")
        if got.is_floating_point() != want.is_floating_point() or got.is_complex():
            raise CheckpointError(f"{where}: key {k} holds {got.dtype} values, expected {want.dtype}")
        if got.is_floating_point() and not torch.isfinite(got).all():
            raise CheckpointError(f"{where}: key {k} holds NaN or infinite values; the weights are corrupt")


def import_translator(path: str | Path, arch: str = "auto", norm: str = "auto", dataset: str = "",
                      dropout: bool | None = None, resolution: int | None = None,
                      loaded: Any = None) -> tuple[nn.Module, GeneratorConfig]:
    """A junyanz pix2pix/CycleGAN generator file as a gantransfer translator (eval mode, same outputs).
    ``arch``/``norm``: ``auto`` or what the file must be (checked against its keys); ``loaded``: the file's
    contents when already read with the weights-only loader."""
    where = str(path)
    state = read_state_dict(path, loaded)
    layout = detect_layout(state, where)
    _check_requested(layout, arch, norm, dropout, where)
    cfg = layout_config(layout, dataset, dropout, resolution)
    what = f"{layout['name']} generator (ngf {layout['ngf']}, {layout['norm']} norm, {layout['in']} -> " \
           f"{layout['out']} channels)"
    try:
        cfg.validate()
    except ValueError as e:
        raise CheckpointError(f"{where}: a {what} cannot be imported: {e}") from None
    g = build_generator(cfg)
    state = dict(state)
    dropped = _drop_stale_instance_stats(state, g)
    expected = g.state_dict()
    check_tensors(state, expected, where, what)
    g.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()})
    if dropped:
        cfg.meta["dropped_instance_norm_statistics"] = len(dropped)
    cfg.meta["imported_from"] = Path(path).name
    return g.eval(), cfg


def is_junyanz_file(path: str | Path, loaded: Any) -> bool:
    """Whether ``loaded`` (a file's weights-only contents) is a pix2pix/CycleGAN generator state dict."""
    if loaded is None:
        return False
    try:
        return looks_like_junyanz(read_state_dict(path, loaded))
    except CheckpointError:
        return False


def _mismatch(loaded: Any) -> str:
    return "a pix2pix/CycleGAN generator (model.1.weight or model.model.0.weight)"


register_importer(Importer(
    "pix2pix-cyclegan", detect=is_junyanz_file,
    load=lambda path, dataset, loaded, **options: Imported(*import_translator(path, dataset=dataset, loaded=loaded,
                                                                              **options)),
    mismatch=_mismatch, options=("arch", "norm", "dropout"),
    description="junyanz/pytorch-CycleGAN-and-pix2pix generator state dict (ResnetGenerator, UnetGenerator)"))
