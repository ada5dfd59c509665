"""The Teacher interface: a generator to learn from, white-box (layers readable) or black-box (samples only)."""
from __future__ import annotations

import dataclasses
import importlib
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from gantransfer.errors import ConfigError
from gantransfer.models.contract import ConfiguredGenerator, Generator, config_of
from gantransfer.models.family import Capabilities
from gantransfer.models.importers import checkpoint_suffixes
from gantransfer.models.config import DiscriminatorConfig, GeneratorConfig
from gantransfer.models.store import CONFIG_NAME, load_discriminator, load_generator, resolve_generator_dir


@dataclass
class Teacher(ConfiguredGenerator):
    """A frozen generator and what is known of it; satisfies the Generator contract."""

    module: nn.Module
    config: GeneratorConfig
    white_box: bool = True
    discriminator: nn.Module | None = None
    source: str = ""
    native: bool = True  # ``module`` was built by its config's family (so the family's capabilities hold)
    discriminator_config: DiscriminatorConfig | None = None
    taps: tuple[str, ...] = ()  # a user module's layers whose outputs feature matching reads (``tap_teacher``)

    @property
    def capabilities(self) -> Capabilities:
        """What may be read of this teacher: its family's capabilities when white-box and native; a user module's
        hidden layers when it has taps; else none."""
        if self.white_box and self.native:
            return self.config.family.capabilities
        return Capabilities(feature_taps=True) if self.white_box and self.taps else Capabilities()

    @torch.no_grad()
    def __call__(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.module(z, labels)


def discriminator_beside(generator_dir: Path) -> tuple[nn.Module, DiscriminatorConfig] | None:
    """The discriminator kept with a generator, if any (frozen, eval mode): in ``generator_dir/discriminator``
    (shipped teachers) or beside it, as `gantransfer train` writes ``run/generator`` and ``run/discriminator``."""
    found = [d for d in (generator_dir / "discriminator", generator_dir.parent / "discriminator")
             if (d / CONFIG_NAME).is_file()]
    return load_discriminator(found[0]) if found else None


def load_teacher(path: str | Path, device: str | torch.device = "cpu", black_box: bool = False,
                 dataset: str = "") -> Teacher:
    """A teacher from a gantransfer generator (or run) directory, with its discriminator when saved, or from a
    PyTorch DCGAN checkpoint file, a rosinality StyleGAN2 ``.pt`` or an NVlabs StyleGAN2-ADA ``.pkl`` (read without
    running pickled code). ``black_box`` hides everything but samples."""
    p = Path(path)
    from gantransfer.trust import is_torchscript_archive, require_code_trust
    if is_torchscript_archive(p):  # code, not weights: only when the user trusts it, and then as a black box
        require_code_trust(p)
        from gantransfer.deploy.runtime import TorchScriptGenerator
        return teacher_from_model(TorchScriptGenerator(p), dataset=dataset, device=device, black_box=True,
                                  name=str(path))
    if p.is_file() and p.suffix in checkpoint_suffixes():
        from gantransfer.models.importers import import_file  # the registered importers (models/importers.py)
        imported = import_file(p, dataset)
        g, cfg, d, dcfg = (imported.generator, imported.config, imported.discriminator,
                           imported.discriminator_config)
    else:
        g, cfg = load_generator(p, device)
        found = discriminator_beside(resolve_generator_dir(p))
        d, dcfg = found if found is not None else (None, None)
    g = g.to(device).requires_grad_(False)
    if black_box:
        return Teacher(g, cfg, False, None, str(path))
    return Teacher(g, cfg, True, None if d is None else d.to(device), str(path), discriminator_config=dcfg)


def load_teacher_module(spec: str, latent_dim: int | None = None, num_classes: int = 0, dataset: str = "",
                        device: str | torch.device = "cpu", black_box: bool = False) -> Teacher:
    """A teacher from an entry point ``pkg.module:factory`` returning an ``nn.Module`` or a callable
    ``f(z, labels) -> images in [-1, 1]`` (see ``teacher_from_model``)."""
    model = import_entry_point(spec, "--teacher-module")
    return teacher_from_model(model, latent_dim, num_classes, dataset, device, black_box, spec)


def import_entry_point(spec: str, flag: str):
    """Import ``pkg.module:factory`` and return ``factory()``; ConfigError naming ``flag`` when it fails."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"{flag} must look like pkg.module:factory, got {spec!r}")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"cannot import {flag} entry point {spec!r}: {e}") from None
    try:
        return factory()
    except Exception as e:
        raise ConfigError(f"{flag} entry point {spec!r} failed when called: {type(e).__name__}: {e}") from None


def teacher_from_model(model, latent_dim: int | None = None, num_classes: int = 0, dataset: str = "",
                       device: str | torch.device = "cpu", black_box: bool = False, name: str = "") -> Teacher:
    """A teacher from an ``nn.Module``, a black-box callable ``f(z[, labels]) -> images in [-1, 1]``, or any object
    under the Generator contract (its latent size, label count and shape are then taken from it).

    Latent size from ``latent_dim``, or the model's ``latent_dim``/``nz``; image shape from one probe call.
    A callable that is not an ``nn.Module`` is black-box."""
    name = name or type(model).__name__
    if isinstance(model, Generator) and not isinstance(model, nn.Module):
        cfg = config_of(model, dataset)
        return Teacher(_Callable(model, True), cfg, False, None, name, native=False)
    latent_dim = latent_dim or getattr(model, "latent_dim", None) or getattr(model, "nz", None)
    if not latent_dim:
        raise ConfigError(f"cannot tell the latent size of {name!r}: pass --latent-dim N")
    if isinstance(model, nn.Module):
        model = model.to(device).eval().requires_grad_(False)
        white_box = not black_box
    elif callable(model):
        white_box = False
    else:
        raise ConfigError(f"a teacher must be an nn.Module or a callable, got {type(model).__name__}")
    z = torch.randn(2, int(latent_dim), generator=torch.Generator().manual_seed(0)).to(device)
    labels = torch.zeros(2, dtype=torch.long, device=device) if num_classes else None
    try:
        with torch.no_grad():
            out = model(z, labels) if labels is not None else model(z)
    except Exception as e:
        raise ConfigError(f"probe call of {name!r} with latents of shape {tuple(z.shape)} failed: "
                          f"{type(e).__name__}: {e}. Check --latent-dim and --num-classes") from None
    if not torch.is_tensor(out) or out.dim() != 4 or out.shape[0] != 2 or out.shape[2] != out.shape[3]:
        shape = tuple(out.shape) if torch.is_tensor(out) else type(out).__name__
        raise ConfigError(f"teacher {name!r} must return square images (N, C, H, H); it returned {shape}")
    if not torch.isfinite(out).all():
        raise ConfigError(f"teacher {name!r} returned NaN/inf on its probe call")
    cfg = GeneratorConfig(latent_dim=int(latent_dim), resolution=int(out.shape[-1]), channels=int(out.shape[1]),
                          num_classes=num_classes, dataset=dataset, meta={"entry_point": name})
    try:
        cfg.validate()
    except ValueError as e:
        raise ConfigError(f"teacher {name!r} makes images gantransfer students cannot: {e}") from None
    if out.abs().max() > 1.05:
        warnings.warn(f"teacher {name!r} outputs values up to {float(out.abs().max()):.2f}; images are expected "
                      "in [-1, 1]")
    return Teacher(_Callable(model, num_classes > 0), cfg, white_box, None, name, native=False)


class _Callable(nn.Module):
    """Adapts ``model(z)`` or ``model(z, labels)`` to the generator signature."""

    def __init__(self, model, conditional: bool) -> None:
        super().__init__()
        self.model, self.conditional = model, conditional

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.model(z, labels) if self.conditional else self.model(z)


def tap_teacher(teacher: Teacher, names: list[str] | None = None) -> Teacher:
    """A white-box user-module teacher with feature taps: forward hooks at ``names`` (its modules' dotted names)
    or, by default, at the last module output of each spatial size below the image's (``models/hook_taps.py``).
    ConfigError when named taps match no layer (the layers are listed) or the teacher cannot be tapped."""
    from gantransfer.models.hook_taps import TappedModule, auto_taps, check_taps, layer_shapes
    inner = teacher.module.model if isinstance(teacher.module, _Callable) else None
    if teacher.native or not teacher.white_box or not isinstance(inner, nn.Module):
        if names:
            raise ConfigError("--teacher-taps names layers of a white-box --teacher-module teacher (an nn.Module); "
                              f"teacher {teacher.source} is "
                              + ("a gantransfer generator, whose taps are its blocks: drop --teacher-taps"
                                 if teacher.native else "used black-box: drop --teacher-taps or --black-box"))
        return teacher
    cfg = teacher.config
    device = next(iter(inner.parameters()), torch.empty(0)).device
    z = torch.randn(2, cfg.latent_dim, generator=torch.Generator().manual_seed(0)).to(device)
    labels = torch.zeros(2, dtype=torch.long, device=device) if cfg.num_classes else None
    with torch.no_grad():
        shapes = layer_shapes(inner, lambda: teacher.module(z, labels))
    if names:
        check_taps(names, shapes, repr(teacher.source))
    taps = list(names) if names else auto_taps(shapes, cfg.resolution)
    if not taps:
        return teacher
    return dataclasses.replace(teacher, module=TappedModule(teacher.module, inner, taps), taps=tuple(taps))
