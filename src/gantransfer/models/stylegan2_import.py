"""Importers of StyleGAN2 checkpoints onto the ``stylegan2`` family, image for image.

- rosinality/stylegan2-pytorch ``.pt``: the converted layout (``g_ema``, optional ``latent_avg``, ``g``, ``d``) and
  the one its ``train.py`` writes (``g``, ``d``, ``g_ema``, optimizers, ``args`` as an argparse Namespace), read
  with ``torch.load(weights_only=True)`` and only ``argparse.Namespace`` allow-listed;
- NVlabs/stylegan2-ada-pytorch ``.pkl`` network pickles, read by ``stylegan2_pickle.RestrictedUnpickler``.

Resolution, W size, mapping depth, channel multiplier and cap are inferred from the tensors (and checked against
``args`` when present); every tensor is checked against the rebuilt network, naming the layer that differs.
"""
from __future__ import annotations

import argparse
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gantransfer.errors import CheckpointError, ConfigError
from gantransfer.models.config import DiscriminatorConfig, GeneratorConfig, build_discriminator, build_generator
from gantransfer.models.importers import Imported, Importer, read_checkpoint, register_importer
from gantransfer.models.stylegan2_ops import setup_filter

ROSINALITY_G_KEYS = ("style.1.weight", "input.input", "conv1.conv.weight", "to_rgb1.conv.weight")
ROSINALITY_D_KEYS = ("convs.0.0.weight", "final_conv.0.weight", "final_linear.0.weight")


# ---- shared -------------------------------------------------------------------------------------------------


def _width_of(ch: dict[int, int], resolution: int, channel_base: int = 16384) -> tuple[float, int]:
    """(channel multiplier, channel cap) that reproduce the per-resolution channels ``ch``: the cap is the widest
    layer, the multiplier is read at the first resolution below the cap (when every layer is at the cap, as at
    32 px and below, any multiplier fits: the smallest one >= 1/16 that keeps the last layer at the cap)."""
    cap = max(ch.values())
    below = [r for r in sorted(ch) if ch[r] < cap]
    if below:
        return ch[below[0]] * below[0] / channel_base, cap
    return max(cap * resolution / channel_base, 1 / 16), cap


def _load_into(module: nn.Module, state: dict[str, torch.Tensor], path: Path, what: str) -> None:
    """Copy ``state`` into ``module``, naming the first layers whose shapes differ or that are missing."""
    expected = module.state_dict()
    bad = [f"{k}: file {tuple(state[k].shape)} vs expected {tuple(v.shape)}" for k, v in expected.items()
           if k in state and state[k].shape != v.shape]
    missing = [k for k in expected if k not in state]
    extra = [k for k in state if k not in expected]
    if bad or missing or extra:
        detail = "; ".join(bad[:3]) or (f"missing {', '.join(missing[:4])}" if missing else
                                       f"unexpected {', '.join(extra[:4])}")
        raise CheckpointError(f"{path}: the {what} does not fit the inferred StyleGAN2 layout ({detail})")
    bad_values = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad_values:
        raise CheckpointError(f"{path}: the {what} holds NaN/inf in {', '.join(bad_values[:3])}")
    module.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})


def _check_filter(kernel: torch.Tensor, layer: str, path: Path, scale: float = 1.0) -> None:
    f = setup_filter()
    want = (f[:, None] * f[None, :]) * scale
    k = kernel.float().reshape(want.shape) if kernel.numel() == want.numel() else None
    if k is None or (k - want).abs().max() > 1e-6:
        raise CheckpointError(f"{path}: layer {layer} uses a resampling filter other than [1, 3, 3, 1]; "
                              "not supported")


def mean_w(g: nn.Module, labels: torch.Tensor | None = None, n: int = 4096, seed: int = 0) -> torch.Tensor:
    """Mean W over ``n`` seeded latents (the truncation centre when a file stores none)."""
    z = torch.randn(n, g.latent_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return g.mapping(z, labels)[:, 0].mean(0)


# ---- rosinality ---------------------------------------------------------------------------------------------


def looks_like_rosinality(obj: Any) -> bool:
    """Whether a loaded checkpoint holds a rosinality StyleGAN2 generator."""
    if not isinstance(obj, dict):
        return False
    sd = obj.get("g_ema", obj.get("g", obj))
    return isinstance(sd, dict) and all(k in sd for k in ROSINALITY_G_KEYS)


def _rosinality_layout(sd: dict[str, torch.Tensor], path: Path) -> tuple[int, int, int, dict[int, int]]:
    """(resolution, w_dim, mapping layers, channels per resolution) from the tensors."""
    n_mlp = sum(1 for k in sd if k.startswith("style.") and k.endswith(".weight"))
    w_dim = int(sd["style.1.weight"].shape[0])
    n_up = sum(1 for k in sd if k.startswith("convs.") and k.endswith(".conv.weight")) // 2
    resolution = 4 * 2 ** n_up
    ch = {4: int(sd["conv1.conv.weight"].shape[1])}
    for b in range(1, n_up + 1):
        ch[4 * 2 ** b] = int(sd[f"convs.{2 * b - 1}.conv.weight"].shape[1])
    return resolution, w_dim, n_mlp, ch


def _layer(sd: dict, src: str, noise: str | None) -> dict[str, torch.Tensor]:
    out = {"weight": sd[f"{src}.conv.weight"][0], "affine.weight": sd[f"{src}.conv.modulation.weight"],
           "affine.bias": sd[f"{src}.conv.modulation.bias"], "bias": sd[f"{src}.activate.bias"],
           "noise_strength": sd[f"{src}.noise.weight"].reshape(())}
    if noise is not None:
        out["noise_const"] = sd[noise][0, 0]
    return out


def rosinality_generator_state(sd: dict[str, torch.Tensor], n_mlp: int, n_up: int, path: Path
                               ) -> dict[str, torch.Tensor]:
    """rosinality Generator state dict -> stylegan2 family state dict (w_avg left to the caller)."""
    out: dict[str, torch.Tensor] = {"synthesis.const": sd["input.input"][0]}
    for i in range(n_mlp):
        out[f"mapping.fc.{i}.weight"], out[f"mapping.fc.{i}.bias"] = sd[f"style.{i + 1}.weight"], sd[f"style.{i + 1}.bias"]
    for b in range(n_up + 1):
        pre = f"synthesis.blocks.{b}."
        if b == 0:
            layers = {"conv1": ("conv1", "noises.noise_0")}
            rgb = "to_rgb1"
        else:
            layers = {"conv0": (f"convs.{2 * b - 2}", f"noises.noise_{2 * b - 1}"),
                      "conv1": (f"convs.{2 * b - 1}", f"noises.noise_{2 * b}")}
            rgb = f"to_rgbs.{b - 1}"
            _check_filter(sd[f"convs.{2 * b - 2}.conv.blur.kernel"], f"convs.{2 * b - 2}", path, 4.0)
            _check_filter(sd[f"{rgb}.upsample.kernel"], f"{rgb}.upsample", path, 4.0)
        for name, (src, noise) in layers.items():
            for k, v in _layer(sd, src, noise if noise in sd else None).items():
                out[pre + f"{name}.{k}"] = v
        out[pre + "torgb.weight"] = sd[f"{rgb}.conv.weight"][0]
        out[pre + "torgb.affine.weight"] = sd[f"{rgb}.conv.modulation.weight"]
        out[pre + "torgb.affine.bias"] = sd[f"{rgb}.conv.modulation.bias"]
        out[pre + "torgb.bias"] = sd[f"{rgb}.bias"].reshape(-1)
    return out


def rosinality_discriminator_state(sd: dict[str, torch.Tensor], path: Path) -> dict[str, torch.Tensor]:
    """rosinality Discriminator state dict -> stylegan2 family state dict."""
    out = {"blocks.0.fromrgb.weight": sd["convs.0.0.weight"], "blocks.0.fromrgb.bias": sd["convs.0.1.bias"],
           "conv.weight": sd["final_conv.0.weight"], "conv.bias": sd["final_conv.1.bias"],
           "fc.weight": sd["final_linear.0.weight"], "fc.bias": sd["final_linear.0.bias"],
           "out.weight": sd["final_linear.1.weight"], "out.bias": sd["final_linear.1.bias"]}
    j = 1
    while f"convs.{j}.conv1.0.weight" in sd:
        pre, src = f"blocks.{j - 1}.", f"convs.{j}."
        _check_filter(sd[src + "conv2.0.kernel"], src + "conv2", path)
        out.update({pre + "conv0.weight": sd[src + "conv1.0.weight"], pre + "conv0.bias": sd[src + "conv1.1.bias"],
                    pre + "conv1.weight": sd[src + "conv2.1.weight"], pre + "conv1.bias": sd[src + "conv2.2.bias"],
                    pre + "skip.weight": sd[src + "skip.1.weight"]})
        j += 1
    return out


ARGS_RANGES = {"size": (4, 8192), "latent": (1, 1 << 16), "n_mlp": (1, 1 << 10), "channel_multiplier": (1e-3, 64)}


def check_rosinality(obj: dict[str, Any], sd: dict[str, Any], key: str, p: Path) -> None:
    """The schema of a rosinality checkpoint, before anything is built: every generator entry a finite tensor of at
    least one dimension, ``args`` an argparse.Namespace (or dict) of numbers in range, ``latent_avg`` a tensor.
    CheckpointError naming the file, the key path, what was found and what was expected."""
    where = f"{key}." if key else ""
    for k, v in sd.items():
        if not torch.is_tensor(v):
            raise CheckpointError(f"{p}: '{where}{k}' is {type(v).__name__}, expected a tensor")
        if v.dim() == 0:
            raise CheckpointError(f"{p}: '{where}{k}' is a 0-d tensor, expected a tensor of at least one dimension")
        if v.is_floating_point() and not bool(torch.isfinite(v).all()):
            raise CheckpointError(f"{p}: '{where}{k}' holds NaN or infinite values; the checkpoint is corrupt")
    args = obj.get("args")
    if args is not None and not isinstance(args, (argparse.Namespace, dict)):
        raise CheckpointError(f"{p}: 'args' is {type(args).__name__}, expected the argparse.Namespace of train.py")
    a = vars(args) if isinstance(args, argparse.Namespace) else (args or {})
    for name, (lo, hi) in ARGS_RANGES.items():
        v = a.get(name)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi):
            raise CheckpointError(f"{p}: 'args.{name}' is {str(v)[:40]!r}, expected a number from {lo} to {hi}")
    la = obj.get("latent_avg")
    if la is not None and not torch.is_tensor(la):
        raise CheckpointError(f"{p}: 'latent_avg' is {type(la).__name__}, expected a tensor (the mean W)")


def import_rosinality(path: str | Path, obj: dict[str, Any] | None = None, dataset: str = "") -> Imported:
    """A rosinality/stylegan2-pytorch checkpoint (converted or train.py layout) as a stylegan2 generator."""
    p = Path(path)
    obj = read_checkpoint(p) if obj is None else obj
    if not looks_like_rosinality(obj):
        found = sorted(obj)[:12] if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointError(f"{p} is not a rosinality StyleGAN2 checkpoint: expected 'g_ema' (or 'g') holding "
                              f"{', '.join(ROSINALITY_G_KEYS)}; found top-level keys {found}")
    key = "g_ema" if isinstance(obj.get("g_ema"), dict) else ("g" if isinstance(obj.get("g"), dict) else None)
    sd = obj[key] if key else obj
    check_rosinality(obj, sd, key or "", p)
    try:
        resolution, w_dim, n_mlp, ch = _rosinality_layout(sd, p)
    except KeyError as e:
        raise CheckpointError(f"{p}: the rosinality generator lacks layer {e.args[0]}") from None
    width, cap = _width_of(ch, resolution)
    args = obj.get("args")
    notes = []
    if isinstance(args, (argparse.Namespace, dict)):
        a = vars(args) if isinstance(args, argparse.Namespace) else args
        for name, mine in (("size", resolution), ("latent", w_dim), ("n_mlp", n_mlp)):
            if name in a and int(a[name]) != mine:
                raise CheckpointError(f"{p}: args.{name} = {a[name]} but the tensors say {mine} "
                                      f"(layer {'style.1.weight' if name != 'size' else 'convs'})")
        cm = a.get("channel_multiplier")
        if cm is not None and resolution >= 64 and abs(float(cm) - width) > 1e-9:
            raise CheckpointError(f"{p}: args.channel_multiplier = {cm} but layer convs.{2 * 5 - 1}.conv.weight "
                                  f"(64 px) says {width:g}")
        if cm is not None and resolution < 64:
            width = float(cm)  # below 64 px every multiplier gives the same network; keep the recorded one
    cfg = GeneratorConfig(arch="stylegan2", latent_dim=w_dim, resolution=resolution, channels=3, width=width,
                          dataset=dataset, options={"w_dim": w_dim, "mapping_layers": n_mlp, "channel_max": cap},
                          meta={"imported_from": str(p), "format": "rosinality-stylegan2-pytorch"})
    try:
        cfg.validate()
        g = build_generator(cfg)
    except (ValueError, CheckpointError) as e:
        raise CheckpointError(f"{p}: the StyleGAN2 layout does not fit gantransfer's ({e})") from None
    try:
        state = rosinality_generator_state(sd, n_mlp, resolution.bit_length() - 3, p)
    except KeyError as e:
        raise CheckpointError(f"{p}: the rosinality generator lacks layer {e.args[0]}") from None
    latent_avg = obj.get("latent_avg")
    _load_into(g, {**state, "mapping.w_avg": torch.zeros(w_dim)}, p, "generator")
    if torch.is_tensor(latent_avg):
        if latent_avg.numel() < w_dim or not bool(torch.isfinite(latent_avg).all()):
            raise CheckpointError(f"{p}: 'latent_avg' holds {latent_avg.numel()} values"
                                  f"{'' if bool(torch.isfinite(latent_avg).all()) else ' (some not finite)'}, "
                                  f"expected {w_dim} finite ones (the mean W)")
        g.mapping.w_avg.copy_(latent_avg.reshape(-1)[:w_dim].float())
        notes.append("truncation centre: the stored latent_avg")
    else:
        g.mapping.w_avg.copy_(mean_w(g))
        notes.append("truncation centre: mean W of 4096 seeded latents (the file stores no latent_avg)")
    d = dcfg = None
    if isinstance(obj.get("d"), dict) and all(k in obj["d"] for k in ROSINALITY_D_KEYS):
        dcfg = DiscriminatorConfig(arch="stylegan2", resolution=resolution, channels=3, width=width)
        d = build_discriminator(dcfg)
        try:
            _load_into(d, rosinality_discriminator_state(obj["d"], p), p, "discriminator")
        except KeyError as e:
            raise CheckpointError(f"{p}: the rosinality discriminator lacks layer {e.args[0]}") from None
        d = d.eval().requires_grad_(False)
    cfg.meta["notes"] = notes
    return Imported(g.eval(), cfg, d, dcfg, tuple(notes))


# ---- NVlabs -------------------------------------------------------------------------------------------------


def _nvlabs_generator_state(rec: Any, path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """NVlabs Generator record -> (stylegan2 family state dict, inferred settings)."""
    from gantransfer.models.stylegan2_pickle import Record
    synthesis, mapping = rec.child("synthesis"), rec.child("mapping")
    if not isinstance(rec, Record) or synthesis is None or mapping is None:
        raise CheckpointError(f"{path}: G_ema is not a StyleGAN2 generator record (no mapping/synthesis)")
    sizes = sorted(int(k[1:]) for k in (synthesis.state.get("_modules") or {}) if k[:1] == "b" and k[1:].isdigit())
    if not sizes or sizes[0] != 4:
        raise CheckpointError(f"{path}: the synthesis network has no b4 block (blocks found: {sizes})")
    out: dict[str, torch.Tensor] = {}
    ch: dict[int, int] = {}
    clamp, use_noise = None, True
    for b, r in enumerate(sizes):
        block = synthesis.child(f"b{r}")
        arch = block.attr("architecture", "skip")
        if arch != "skip":
            raise CheckpointError(f"{path}: synthesis block b{r} uses architecture {arch!r}; only 'skip' (StyleGAN2's "
                                  "default) is supported")
        for k, v in block.tensors().items():
            if k.endswith("resample_filter"):
                _check_filter(v, f"synthesis.b{r}.{k}", path)
                continue
            out["synthesis.const" if k == "const" else f"synthesis.blocks.{b}.{k}"] = v
        conv1 = block.child("conv1")
        ch[r] = int(conv1.tensors()["weight"].shape[0])
        clamp = conv1.attr("conv_clamp", clamp)
        use_noise = bool(conv1.attr("use_noise", True))
    fcs = sorted(int(k[2:]) for k in (mapping.state.get("_modules") or {}) if k.startswith("fc") and k[2:].isdigit())
    for k, v in mapping.tensors().items():
        head, _, rest = k.partition(".")
        out[f"mapping.fc.{head[2:]}.{rest}" if head.startswith("fc") else f"mapping.{k}"] = v
    lr_mul = mapping.child("fc0").attr("bias_gain", 0.01) if fcs else 0.01
    settings = dict(resolution=sizes[-1], z_dim=int(rec.attr("z_dim", mapping.attr("z_dim", 0)) or 0),
                    c_dim=int(out["mapping.embed.weight"].shape[1]) if "mapping.embed.weight" in out
                    else int(rec.attr("c_dim", 0) or 0), w_dim=int(out["mapping.w_avg"].numel())
                    if "mapping.w_avg" in out else int(mapping.attr("w_dim", 512)),
                    img_channels=int(out[f"synthesis.blocks.{len(sizes) - 1}.torgb.weight"].shape[0]),
                    mapping_layers=len(fcs), lr_mul=float(lr_mul), ch=ch, conv_clamp=clamp, use_noise=use_noise)
    return out, settings


def _nvlabs_discriminator_state(rec: Any, path: Path) -> dict[str, torch.Tensor]:
    sizes = sorted((int(k[1:]) for k in (rec.state.get("_modules") or {}) if k[:1] == "b" and k[1:].isdigit()),
                   reverse=True)
    out: dict[str, torch.Tensor] = {}
    for i, r in enumerate(s for s in sizes if s > 4):
        block = rec.child(f"b{r}")
        if block.attr("architecture", "resnet") != "resnet":
            raise CheckpointError(f"{path}: discriminator block b{r} uses architecture "
                                  f"{block.attr('architecture')!r}; only 'resnet' is supported")
        out.update({f"blocks.{i}.{k}": v for k, v in block.tensors().items() if not k.endswith("resample_filter")})
    out.update({k: v for k, v in rec.child("b4").tensors().items() if not k.endswith("resample_filter")})
    if rec.child("mapping") is not None:
        m = rec.child("mapping").tensors()
        out.update({f"mapping.fc.{k[2:].partition('.')[0]}.{k.partition('.')[2]}" if k.startswith("fc")
                    else f"mapping.{k}": v for k, v in m.items()})
    return out


def _nvlabs_discriminator(rec: Any, path: Path) -> tuple[nn.Module, DiscriminatorConfig, list[str]]:
    """The discriminator of an NVlabs pickle from its own tensors and recorded constructor arguments (never from
    its generator's): resolution, channels per resolution, minibatch-stddev group and channels, clamp, label
    mapping. CheckpointError naming what does not fit."""
    from gantransfer.models.stylegan2_kwargs import agree, check_channels, fp16_resolutions, read_init_kwargs
    kw = read_init_kwargs(rec, "D", path)
    blocks = sorted(int(k[1:]) for k in (rec.state.get("_modules") or {}) if k[:1] == "b" and k[1:].isdigit())
    epilogue = rec.child("b4")
    if not blocks or blocks[0] != 4 or epilogue is None:
        raise CheckpointError(f"{path}: D has no b4 epilogue (blocks found: {blocks})")
    resolution = blocks[-1]
    ch = {4: int(epilogue.tensors()["conv.weight"].shape[0])}
    for r in blocks[1:]:
        ch[r] = int(rec.child(f"b{r}").tensors()["conv0.weight"].shape[0])
    top = rec.child(f"b{resolution}").tensors() if resolution > 4 else epilogue.tensors()
    img_channels = int(top["fromrgb.weight"].shape[1])
    mbstd_channels = int(epilogue.tensors()["conv.weight"].shape[1]) - ch[4]
    mbstd = epilogue.child("mbstd")
    group = mbstd.attr("group_size", kw.get("mbstd_group_size", 4)) if mbstd is not None else \
        kw.get("mbstd_group_size", 4)
    mapping = rec.child("mapping")
    c_dim = int(mapping.tensors()["embed.weight"].shape[1]) if mapping is not None else 0
    map_layers = sum(1 for k in (mapping.state.get("_modules") or {}) if k.startswith("fc")) if mapping else 8
    clamp = epilogue.child("conv").attr("conv_clamp", kw.get("conv_clamp")) if epilogue.child("conv") else None
    for name, found, where in (("img_resolution", resolution, f"its largest block b{resolution}"),
                               ("img_channels", img_channels, f"b{resolution}.fromrgb.weight"),
                               ("c_dim", c_dim, "mapping.embed.weight"),
                               ("mbstd_num_channels", mbstd_channels, "b4.conv.weight"),
                               ("mbstd_group_size", group, "b4.mbstd.group_size"),
                               ("conv_clamp", clamp, "b4.conv.conv_clamp")):
        agree(kw, name, found, where, "D", path)
    if mapping is not None:
        agree(kw, "num_layers", map_layers, "mapping.fc*", "D", path)
    check_channels(kw, ch, "D's b{r} (conv0.weight; b4: conv.weight)", "D", path)
    if group is not None and (isinstance(group, bool) or not isinstance(group, int) or not 1 <= group <= 1 << 16):
        raise CheckpointError(f"{path}: D's b4.mbstd.group_size is {str(group)[:40]!r}, expected an integer "
                              "from 1 to 65536 or None")
    if mbstd_channels < 0 or (mbstd_channels and ch[4] % mbstd_channels):
        raise CheckpointError(f"{path}: D's b4.conv.weight takes {ch[4] + mbstd_channels} channels for "
                              f"{ch[4]} features: not a minibatch-stddev layout")
    width, cap = _width_of(ch, resolution)
    dcfg = DiscriminatorConfig(arch="stylegan2", resolution=resolution, channels=img_channels, width=width,
                               num_classes=c_dim, options={
                                   "channel_max": cap, "mbstd_group": int(group or 0),
                                   "mbstd_channels": mbstd_channels, "conv_clamp": float(clamp or 0.0),
                                   "mapping_layers": map_layers})
    try:
        d = build_discriminator(dcfg)
    except (ValueError, ConfigError) as e:
        raise CheckpointError(f"{path}: D's layout does not fit gantransfer's ({e})") from None
    _load_into(d, _nvlabs_discriminator_state(rec, path), path, "discriminator")
    notes = []
    if fp16_resolutions(kw, resolution):
        notes.append(f"D: blocks {fp16_resolutions(kw, resolution)} px ran in float16 on CUDA in the original "
                     "(num_fp16_res); here in float32, same weights")
    return d.eval().requires_grad_(False), dcfg, notes


def _check_generator_kwargs(rec: Any, s: dict[str, Any], path: Path) -> dict[str, Any]:
    """G_ema's recorded constructor arguments against what its tensors said (``s``)."""
    from gantransfer.models.stylegan2_kwargs import agree, check_channels, read_init_kwargs
    kw = read_init_kwargs(rec, "G_ema", path)
    for name, key, where in (("img_resolution", "resolution", "its largest synthesis block"),
                             ("z_dim", "z_dim", "z_dim"), ("c_dim", "c_dim", "mapping.embed.weight"),
                             ("w_dim", "w_dim", "mapping.w_avg"), ("img_channels", "img_channels", "torgb.weight"),
                             ("num_layers", "mapping_layers", "mapping.fc*")):
        agree(kw, name, s[key], where, "G_ema", path)
    check_channels(kw, s["ch"], "synthesis.b{r}.conv1.weight", "G_ema", path)
    if "conv_clamp" in kw and s["conv_clamp"] is None:
        s["conv_clamp"] = kw["conv_clamp"]
    else:
        agree(kw, "conv_clamp", s["conv_clamp"], "synthesis layers' conv_clamp", "G_ema", path)
    return kw


def import_nvlabs(path: str | Path, dataset: str = "") -> Imported:
    """An NVlabs/stylegan2-ada-pytorch network pickle (G_ema, with D when present) as a stylegan2 generator. Each
    network's layout comes from its own tensors and recorded constructor arguments; a discriminator that cannot
    be read is left out with a warning (the generator is what a teacher needs)."""
    from gantransfer.models.stylegan2_kwargs import fp16_resolutions
    from gantransfer.models.stylegan2_pickle import read_network_pickle
    p = Path(path)
    top = read_network_pickle(p)
    rec = top.get("G_ema") or top.get("G") if isinstance(top, dict) else None
    if rec is None:
        found = sorted(map(str, top))[:8] if isinstance(top, dict) else type(top).__name__
        raise CheckpointError(f"{p}: the pickle holds no generator: expected 'G_ema' or 'G', found {found}")
    try:
        state, s = _nvlabs_generator_state(rec, p)
    except (ValueError, TypeError, AttributeError, KeyError, IndexError) as e:
        raise CheckpointError(f"{p}: the generator record is not laid out as stylegan2-ada-pytorch writes it "
                              f"({type(e).__name__}: {str(e)[:120]})") from None
    for name in ("z_dim", "c_dim", "w_dim", "resolution", "mapping_layers"):
        if isinstance(s[name], bool) or not 0 <= s[name] <= 1 << 16:
            raise CheckpointError(f"{p}: G_ema's {name} is {s[name]}, expected 0 to {1 << 16}")
    if s["z_dim"] < 1:
        raise CheckpointError(f"{p}: the generator has no latent input (z_dim {s['z_dim']})")
    kw = _check_generator_kwargs(rec, s, p)
    width, cap = _width_of(s["ch"], s["resolution"])
    cfg = GeneratorConfig(
        arch="stylegan2", latent_dim=s["z_dim"], resolution=s["resolution"], channels=s["img_channels"],
        width=width, num_classes=s["c_dim"], dataset=dataset,
        options={"w_dim": s["w_dim"], "mapping_layers": s["mapping_layers"], "mapping_lr_mul": s["lr_mul"],
                 "channel_max": cap, "use_noise": s["use_noise"], "conv_clamp": float(s["conv_clamp"] or 0.0)},
        meta={"imported_from": str(p), "format": "nvlabs-stylegan2-ada-pytorch"})
    try:
        cfg.validate()
        g = build_generator(cfg)
    except ValueError as e:
        raise CheckpointError(f"{p}: the StyleGAN2 layout does not fit gantransfer's ({e})") from None
    _load_into(g, state, p, "generator")
    records = [r for r in _records(top) if r.skipped_source_chars]
    classes = sorted({r.class_name for r in records})
    notes = [f"skipped (never executed): the embedded source code of {len(records)} objects "
             f"({', '.join(classes[:8])}{', ...' if len(classes) > 8 else ''})",
             "truncation centre: the stored w_avg"]
    if fp16_resolutions(kw, s["resolution"]):
        notes.append(f"G: blocks {fp16_resolutions(kw, s['resolution'])} px ran in float16 on CUDA in the original "
                     "(num_fp16_res); here in float32, same weights")
    d = dcfg = None
    if top.get("D") is not None:
        try:
            d, dcfg, d_notes = _nvlabs_discriminator(top["D"], p)
            notes += d_notes
        except (CheckpointError, ValueError, TypeError, AttributeError, KeyError, IndexError) as e:
            reason = str(e) if isinstance(e, CheckpointError) else f"{type(e).__name__}: {str(e)[:120]}"
            reason = reason[len(str(p)) + 2:] if reason.startswith(f"{p}: ") else reason
            notes.append(f"discriminator not imported ({reason})")
            warnings.warn(f"{p}: the generator was imported without the discriminator, which could not be read "
                          f"({reason}); the file's generator is complete, its discriminator is left out", stacklevel=2)
            d = dcfg = None
    cfg.meta["notes"] = notes
    return Imported(g.eval(), cfg, d, dcfg, tuple(notes))


def _records(obj: Any) -> list:
    from gantransfer.models.stylegan2_pickle import Record
    found = []
    if isinstance(obj, Record):
        found.append(obj)
        for v in (obj.state.get("_modules") or {}).values():
            found += _records(v)
    elif isinstance(obj, dict):
        for v in obj.values():
            found += _records(v)
    return found


# ---- registration -------------------------------------------------------------------------------------------


def rosinality_mismatch(loaded: Any) -> str:
    """What a rosinality checkpoint holds, for the error of a file no importer read."""
    found = sorted(loaded)[:12] if isinstance(loaded, dict) else None
    return (f"a rosinality StyleGAN2 checkpoint (expected 'g_ema' or 'g' holding {', '.join(ROSINALITY_G_KEYS)}"
            + (f"; top-level keys found: {found})" if found else ")"))


register_importer(Importer(
    "nvlabs-stylegan2-ada", detect=lambda path, loaded: path.suffix == ".pkl",
    load=lambda path, dataset, loaded: import_nvlabs(path, dataset), suffixes=(".pkl",),
    reads_with_torch_load=False, description="NVlabs stylegan2-ada-pytorch network pickle (restricted unpickler)"))
register_importer(Importer(
    "rosinality-stylegan2", detect=lambda path, loaded: looks_like_rosinality(loaded),
    load=lambda path, dataset, loaded: import_rosinality(path, loaded, dataset), mismatch=rosinality_mismatch,
    description="rosinality/stylegan2-pytorch .pt (converted or train.py layout)"))
