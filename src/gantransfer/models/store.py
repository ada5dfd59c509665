"""Generator directories: config.json + model.safetensors, loaded without pickle or training code."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from gantransfer.errors import CheckpointError, ConfigError
from gantransfer.io import read_json, read_tensors, write_json, write_tensors
from gantransfer.models.migrate import upgrade_discriminator, upgrade_generator
from gantransfer.models.config import DiscriminatorConfig, GeneratorConfig, build_discriminator, build_generator
from gantransfer.typed import from_dict

CONFIG_NAME, WEIGHTS_NAME = "config.json", "model.safetensors"


def resolve_generator_dir(path: str | Path) -> Path:
    """A generator directory itself, or the ``generator/`` inside a run directory."""
    p = Path(path)
    if (p / CONFIG_NAME).is_file():
        return p
    if (p / "generator" / CONFIG_NAME).is_file():
        return p / "generator"
    if not p.exists():
        raise CheckpointError(f"{p} does not exist; give a generator directory (config.json + model.safetensors) "
                              "or a run directory made by `gantransfer train`")
    raise CheckpointError(f"{p} is not a generator: it has no {CONFIG_NAME} (nor generator/{CONFIG_NAME}). "
                          "Give a directory written by gantransfer (a run or its generator/ folder)")


def save_module(module: nn.Module, config: dict, path: str | Path) -> Path:
    """Write ``module`` as directory ``path`` of config.json + model.safetensors, each file replaced atomically."""
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    write_tensors(p / WEIGHTS_NAME, module.state_dict(), metadata={"format": f"gantransfer-{config['kind']}"})
    write_json(p / CONFIG_NAME, config)
    return p


def save_generator(generator: nn.Module, cfg: GeneratorConfig, path: str | Path) -> Path:
    """Write ``generator`` to directory ``path`` (loadable with ``load_generator``)."""
    return save_module(generator, {"kind": "generator", **cfg.to_dict()}, path)


def save_discriminator(discriminator: nn.Module, cfg: DiscriminatorConfig, path: str | Path) -> Path:
    """Write ``discriminator`` to directory ``path`` (loadable with ``load_discriminator``)."""
    return save_module(discriminator, {"kind": "discriminator", **cfg.to_dict()}, path)


def load_discriminator(path: str | Path) -> tuple[nn.Module, DiscriminatorConfig]:
    """Rebuild a discriminator directory (config.json + model.safetensors); frozen, in eval mode."""
    d = Path(path)
    raw = read_json(d / CONFIG_NAME, "discriminator config")
    if not isinstance(raw, dict) or raw.get("kind") != "discriminator":
        raise CheckpointError(f"{d / CONFIG_NAME} is not a gantransfer discriminator config")
    try:
        cfg = from_dict(DiscriminatorConfig, upgrade_discriminator(raw, str(d / CONFIG_NAME)))
        net = build_discriminator(cfg)
    except (ConfigError, ValueError, TypeError) as e:
        raise CheckpointError(f"{d / CONFIG_NAME} is invalid: {e}") from None
    try:
        net.load_state_dict(read_tensors(d / WEIGHTS_NAME, "discriminator weights"))
    except RuntimeError as e:
        raise CheckpointError(f"{d / WEIGHTS_NAME} does not match {d / CONFIG_NAME}: {str(e).splitlines()[0]}") from None
    return net.eval().requires_grad_(False), cfg


def load_config(path: str | Path) -> GeneratorConfig:
    """The GeneratorConfig of a generator (or run) directory."""
    d = resolve_generator_dir(path)
    raw = read_json(d / CONFIG_NAME, "generator config")
    if not isinstance(raw, dict) or raw.get("kind") != "generator":
        raise CheckpointError(f"{d / CONFIG_NAME} is not a gantransfer generator config (no \"kind\": \"generator\")")
    try:
        cfg = GeneratorConfig.from_dict(upgrade_generator(raw, str(d / CONFIG_NAME)))
        cfg.validate()
    except (TypeError, ValueError, ConfigError) as e:
        raise CheckpointError(f"{d / CONFIG_NAME} is invalid: {e}") from None
    from gantransfer.budget import check_generator
    check_generator(cfg, str(d / CONFIG_NAME))  # before anything is built: a declared size that cannot fit
    return cfg


def _check_declared(d: Path, expected: dict[str, tuple[int, ...]]) -> None:
    """CheckpointError when model.safetensors' tensors (read from its header) are not the declared ones."""
    from safetensors import safe_open
    try:
        with safe_open(str(d / WEIGHTS_NAME), "pt") as f:
            found = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except Exception as e:  # noqa: BLE001 - safetensors raises its own types for unreadable headers
        raise CheckpointError(f"{d / WEIGHTS_NAME} is truncated or corrupt ({str(e)[:120]})") from None
    wrong = sorted(k for k in set(found) | set(expected) if found.get(k) != expected.get(k))
    if wrong:
        k = wrong[0]
        raise CheckpointError(f"{d / WEIGHTS_NAME} does not match {d / CONFIG_NAME}: '{k}' is {found.get(k)} in the "
                              f"weights but {expected.get(k)} by the config ({len(wrong)} tensors differ)")


def load_generator(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, GeneratorConfig]:
    """Rebuild the generator from config.json and load model.safetensors; returned in eval mode."""
    d = resolve_generator_dir(path)
    cfg = load_config(d)
    from gantransfer.budget import declared_shapes, screen
    if screen(cfg, str(d / CONFIG_NAME)):  # unusual sizes: the weights' shapes are compared before anything is built
        _check_declared(d, declared_shapes(cfg.family.build_generator, cfg))
    g = build_generator(cfg)
    state = read_tensors(d / WEIGHTS_NAME, "generator weights")
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise CheckpointError(f"{d / WEIGHTS_NAME} holds NaN or infinite values in {', '.join(bad[:3])}: the weights "
                              "are corrupt. Re-export them, or use an earlier checkpoint of the run")
    try:
        g.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise CheckpointError(f"{d / WEIGHTS_NAME} does not match {d / CONFIG_NAME}: {str(e).splitlines()[0]} "
                              f"{str(e).splitlines()[1] if len(str(e).splitlines()) > 1 else ''}") from None
    return g.to(device).eval(), cfg
