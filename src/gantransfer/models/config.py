"""Generator and discriminator configs: everything needed to rebuild a network from JSON alone.

The shared fields (shape, labels, what the generator models) live in ``GeneratorConfig``; a family's own settings
live in its typed ``options`` (e.g. ``DCGANOptions``). ``format_version`` is checked on load and older layouts
are migrated (``models/migrate.py``).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from gantransfer.errors import ConfigError
from gantransfer.models.family import ModelFamily, family
from gantransfer.typed import from_dict as typed_from_dict
from gantransfer.typed import to_dict as typed_to_dict

FORMAT_VERSION = 3
MIN_WIDTH, MAX_WIDTH = 1 / 256, 2.0  # a generator's width multiplier (a student of a width-1/16 teacher at 1/16)
FUSION_MODES = ("teacher", "merge", "unconditional", "baseline")


@dataclass
class FusionRecord:
    """Where a fused student (or a brute-force baseline) came from, and how its labels map to the teachers'."""

    mode: str                                   # teacher | merge | unconditional | baseline
    teachers: list[str] = field(default_factory=list)       # the teachers' paths, in fusion order
    teacher_names: list[str] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)      # normalised share of each teacher
    label_map: list[dict[str, int]] | None = None           # per teacher: teacher class -> student label
    samples: int | None = None                              # baseline: images sampled from the teachers

    def validate(self) -> None:
        if self.mode not in FUSION_MODES:
            raise ConfigError(f"fusion mode must be one of {', '.join(FUSION_MODES)}, got {self.mode!r}")


@dataclass
class LabelOrigin:
    """Where one label of an incrementally extended generator came from (``gantransfer extend``)."""

    label: int                                  # the generator's label id
    name: str
    dataset: str                                # the data set (or image folder) its images come from
    classes: list[int] | None = None            # that data set's classes the label covers (None: all)
    step: int = 0                               # 0: learned by the base; k: added by the k-th extension


@dataclass
class ExtensionRecord:
    """The label history of an extended generator: every learned label's origin, and each extension step."""

    base: str                                   # the generator the first extension started from
    labels: list[LabelOrigin] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)   # per step: data, classes, method, steps
    converted: bool = False                     # the base was unconditional: label 0 is its whole distribution

    def identity(self, dataset: str) -> bool:
        """Whether every label is the data class of the same id in ``dataset`` (then labels are data classes)."""
        return not self.converted and all(o.dataset == dataset and o.classes == [o.label] for o in self.labels)


@dataclass
class GeneratorConfig:
    """Everything needed to rebuild a generator; saved as config.json beside model.safetensors."""

    arch: str = "dcgan"
    latent_dim: int = 100
    resolution: int = 32          # images: side length; points: 0
    channels: int = 1             # images: 1 or 3; points: the point dimension
    width: float = 1.0
    num_classes: int = 0          # 0: unconditional
    class_names: list[str] = field(default_factory=list)
    dataset: str = ""             # the data set it models, used as the default for evaluation
    data_range: tuple[float, float] = (-1.0, 1.0)
    trained_classes: list[int] | None = None   # data classes it was trained on (None: all of the data set's)
    data_classes: list[int] | None = None      # fused students and baselines: the real classes the union covers
    label_weights: list[float] | None = None   # conditional: labels drawn with these weights (indexed by label)
    fusion: FusionRecord | None = None         # fused students and baselines: teachers, weights, label map
    options: Any = None                        # the family's typed options (None: its defaults)
    extension: ExtensionRecord | None = None   # extended generators: which labels came when, from what data
    latent_space: str | None = None            # distilled students: the teacher's space they were matched in (w, z)
    loss_networks: list[str] = field(default_factory=list)  # frozen networks its run's losses used (evaluation
                                                            # marks a protocol whose network is among them)
    format_version: int = FORMAT_VERSION
    meta: dict[str, Any] = field(default_factory=dict)  # provenance only (steps, commands, figures)
    input_channels: int = 0       # translators: channels of the input image (latent_dim is then 0); else 0

    def __post_init__(self) -> None:
        if self.options is None:
            self.options = self.family.options()
        elif isinstance(self.options, dict):
            self.options = typed_from_dict(self.family.options, self.options, f"{self.arch} options")

    @property
    def family(self) -> ModelFamily:
        return family(self.arch)

    @property
    def kind(self) -> str:
        return self.family.kind

    @property
    def sample_shape(self) -> tuple[int, ...]:
        if self.kind == "points":
            return (self.channels,)
        return (self.channels, self.resolution, self.resolution)

    @property
    def is_translator(self) -> bool:
        """Whether it maps images to images (input ``input_shape``) rather than latents to samples."""
        return self.kind == "translator"

    @property
    def what_it_makes(self) -> str:
        """What it is, for messages refusing it: "makes images", "makes 2-D points" or "is an image-to-image
        translator (run it with `gantransfer translate`)"."""
        if self.is_translator:
            return "is an image-to-image translator (run it with `gantransfer translate`)"
        return "makes 2-D points" if self.kind == "points" else "makes images"

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one input: an image (input_channels, R, R) for translators, else a latent (latent_dim,)."""
        if self.is_translator:
            return (self.input_channels, self.resolution, self.resolution)
        return (self.latent_dim,)

    @property
    def evaluation_classes(self) -> list[int] | None:
        """The real data classes its samples should be compared with: those a fused student or baseline covers,
        else those it was trained on (None: all)."""
        return self.data_classes if self.fusion is not None or not self.labels_are_data_classes \
            else self.trained_classes

    @property
    def labels_are_data_classes(self) -> bool:
        """Whether its labels are data-set classes (a fused student's are teachers or merged names; an extended
        generator's are when each label is the data class of its id)."""
        return self.fusion is None and (self.extension is None or self.extension.identity(self.dataset))

    def validate(self) -> None:
        """Raise ValueError with a readable message if a field is out of range."""
        fam = self.family
        if not isinstance(self.options, fam.options):
            raise ValueError(f"options of a {self.arch} generator must be {fam.options.__name__}, "
                             f"got {type(self.options).__name__}")
        if self.is_translator:
            from gantransfer.image_space import check_channels
            check_channels(self.input_channels, ValueError)
            if self.latent_dim:
                raise ValueError(f"a translator takes an image, not a latent: latent_dim must be 0, "
                                 f"got {self.latent_dim}")
        elif self.latent_dim < 1:
            raise ValueError(f"latent_dim must be positive, got {self.latent_dim}")
        elif self.input_channels:
            raise ValueError(f"input_channels is for translators; a {self.arch} generator takes a latent "
                             f"(input_channels must be 0, got {self.input_channels})")
        if not (MIN_WIDTH - 1e-9 <= self.width <= MAX_WIDTH + 1e-9):
            raise ValueError(f"width must be between {MIN_WIDTH:g} and {MAX_WIDTH:g}, got {self.width}")
        if self.num_classes < 0:
            raise ValueError(f"num_classes must be >= 0, got {self.num_classes}")
        if self.num_classes and not fam.capabilities.labels:
            raise ValueError(f"{self.arch} generators cannot be class-conditional")
        lo, hi = self.data_range if len(self.data_range) == 2 else (0.0, 0.0)
        if len(self.data_range) != 2 or not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"data_range must be two finite numbers [low, high] with low < high, got "
                             f"{list(self.data_range)}")
        if self.label_weights is not None and len(self.label_weights) != self.num_classes:
            raise ValueError(f"label_weights has {len(self.label_weights)} entries for {self.num_classes} labels")
        if self.kind in ("image", "translator"):
            from gantransfer.image_space import check_channels, check_resolution
            check_resolution(self.resolution, ValueError, fam.max_resolution)
            check_channels(self.channels, ValueError)
        if fam.validate is not None:
            fam.validate(self)

    def to_dict(self) -> dict[str, Any]:
        return typed_to_dict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "GeneratorConfig":
        """A config from its current-format JSON dict (see ``models.migrate.upgrade_generator`` for older ones)."""
        cfg = typed_from_dict(cls, dict(d), "generator config")
        cfg.data_range = tuple(cfg.data_range)  # type: ignore[assignment]
        return cfg


@dataclass
class DiscriminatorConfig:
    """Everything needed to rebuild a discriminator; saved as config.json beside its model.safetensors."""

    arch: str = "dcgan"
    resolution: int = 32
    channels: int = 1
    width: float = 1.0
    num_classes: int = 0
    format_version: int = FORMAT_VERSION
    options: dict[str, Any] = field(default_factory=dict)  # the family's discriminator settings beyond width
                                                           # (stylegan2: channel_max, mbstd_group, ...; {}: defaults)

    def to_dict(self) -> dict[str, Any]:
        return typed_to_dict(self)


def discriminator_config_for(gcfg: GeneratorConfig, width: float | None = None) -> DiscriminatorConfig:
    """The discriminator that matches generator ``gcfg`` (at its width unless ``width`` is given; with the options
    its family derives from the generator's, e.g. StyleGAN2's channel cap)."""
    derive = gcfg.family.discriminator_options
    return DiscriminatorConfig(arch=gcfg.arch, resolution=gcfg.resolution, channels=gcfg.channels,
                               width=gcfg.width if width is None else width, num_classes=gcfg.num_classes,
                               options=derive(gcfg) if derive is not None else {})


def build_generator(cfg: GeneratorConfig) -> Any:
    """A freshly initialised generator for ``cfg`` (refused when its declared sizes cannot fit in memory)."""
    cfg.validate()
    from gantransfer.budget import check_generator
    check_generator(cfg, "the generator config")
    return cfg.family.build_generator(cfg)


def build_discriminator(cfg: GeneratorConfig | DiscriminatorConfig, width: float | None = None) -> Any:
    """A freshly initialised discriminator: from a DiscriminatorConfig, or matching a generator config."""
    if isinstance(cfg, GeneratorConfig):
        cfg.validate()
        cfg = discriminator_config_for(cfg, width)
    fam = family(cfg.arch)
    if fam.build_discriminator is None:
        raise ConfigError(f"{cfg.arch} has no discriminator of its own; train one of its source family")
    if cfg.options and fam.discriminator_options is None:  # only a family that declares them reads any
        raise ConfigError(f"the {cfg.arch} discriminator cannot be built: {cfg.arch} discriminators take no options "
                          f"(only a width), got {dict(cfg.options)}")
    from gantransfer.budget import check_generator
    try:
        check_generator(cfg, "the discriminator config", build=fam.build_discriminator)  # declared sizes, memory
        return fam.build_discriminator(cfg)
    except ValueError as e:  # its options (some read off the generator's) do not fit: one line, no traceback
        raise ConfigError(f"the {cfg.arch} discriminator cannot be built: {e}") from None


def with_options(cfg: GeneratorConfig, **changes: Any) -> GeneratorConfig:
    """A copy of ``cfg`` with some of its family options changed."""
    return dataclasses.replace(cfg, options=dataclasses.replace(cfg.options, **changes))
