"""Model families: each one module that registers its typed options, builders and declared capabilities.

A family module (``models/dcgan.py``, ``models/mlp.py``, ``models/miner.py``) calls ``register(ModelFamily(...))``
at import. Tasks ask ``family_of(cfg).capabilities`` what a generator can do (labels, feature taps, freezable
discriminator blocks, noise inputs, a mapping network), never ``hasattr``. Built-in families are imported on
first lookup, so importing this module costs nothing.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from torch import nn

    from gantransfer.models.config import DiscriminatorConfig, GeneratorConfig
    from gantransfer.models.prune import ChannelGroup

BUILTIN = {"dcgan": "gantransfer.models.dcgan", "mlp": "gantransfer.models.mlp", "minegan": "gantransfer.models.miner",
           "stylegan2": "gantransfer.models.stylegan2", "resnet": "gantransfer.models.translator_resnet",
           "mobile-resnet": "gantransfer.models.translator_resnet", "unet": "gantransfer.models.translator_unet",
           "shuffle-resnet": "gantransfer.models.translator_shuffle"}
_REGISTRY: dict[str, "ModelFamily"] = {}


@dataclass(frozen=True)
class Capabilities:
    """What a family's networks offer to the tasks."""

    labels: bool = False                   # class-conditional generators and discriminators
    mixture_latent: bool = False           # unconditional mixtures that pick a component from the last latent
    feature_taps: bool = False             # G.forward_features(z or x, labels) -> (images, hidden activations)
    discriminator_blocks: bool = False     # D.blocks: an ordered list whose first K can be frozen (FreezeD)
    discriminator_features: bool = False   # D.features(x) -> feature maps (the perceptual term)
    noise_inputs: bool = False             # per-layer noise buffers (StyleGAN-like)
    mapping_network: bool = False          # G.mapping(z, labels) -> W and G.synthesis(W)
    batch_norm: bool = False               # batch-norm statistics to recalibrate after weight averaging


@dataclass(frozen=True)
class ModelFamily:
    """A generator family: its options dataclass, builders and capabilities."""

    name: str
    kind: str                                                        # image | points | translator
    options: type                                                    # dataclass of family-specific settings
    capabilities: Capabilities
    build_generator: Callable[["GeneratorConfig"], "nn.Module"]
    build_discriminator: Callable[["DiscriminatorConfig"], "nn.Module"] | None = None
    validate: Callable[["GeneratorConfig"], None] | None = None      # raises ValueError on a bad config
    feature_resolutions: Callable[["GeneratorConfig"], list[int]] | None = None  # sizes of the feature taps
    max_resolution: int = 256                                        # the largest image side it builds
    channel_groups: Callable[["nn.Module"], list["ChannelGroup"]] | None = None  # prunable channels (models/prune.py)
    channel_plan: Callable[["GeneratorConfig", list[int]], "GeneratorConfig"] | None = None  # config with per-group
                                                                     # channel counts (tasks/budget.py)
    discriminator_options: Callable[["GeneratorConfig"], dict] | None = None  # a matching discriminator's
                                                                     # options (e.g. the generator's channel cap);
                                                                     # None: its discriminators take no options
    description: str = ""


def register(family: ModelFamily) -> ModelFamily:
    """Add ``family`` to the registry (a later registration of the same name replaces it)."""
    _REGISTRY[family.name] = family
    return family


def family(name: str) -> ModelFamily:
    """The registered family ``name``; ValueError listing the known ones otherwise."""
    if name not in _REGISTRY and name in BUILTIN:
        importlib.import_module(BUILTIN[name])
    if name not in _REGISTRY:
        raise ValueError(f"unknown architecture {name!r}; choose one of {', '.join(family_names())}")
    return _REGISTRY[name]


def family_names() -> list[str]:
    """Every family name: the built-in ones and any registered since."""
    return sorted(set(BUILTIN) | set(_REGISTRY))


def family_names_of_kind(kind: str) -> list[str]:
    """The names of every family of ``kind`` (image, points, translator), built-in ones imported to see theirs."""
    return [n for n in family_names() if family(n).kind == kind]


def family_of(cfg: Any) -> ModelFamily:
    """The family of a generator or discriminator config."""
    return family(cfg.arch)
