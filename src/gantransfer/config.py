"""Typed task configurations: validated field by field, round-tripped through JSON."""
from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from gantransfer.engine.schedules import LR_SCHEDULES
from gantransfer.errors import ConfigError

T = TypeVar("T")


def _check(name: str, value: Any, tp: Any) -> Any:
    """Return ``value`` converted to ``tp`` when lossless, else raise ConfigError."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _check(name, value, a)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0])
    if origin is list:
        (item,) = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"config field {name!r} must be a list, got {type(value).__name__} {value!r}")
        return [_check(f"{name}[{i}]", v, item) for i, v in enumerate(value)]
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"config field {name!r} must be an object, got {type(value).__name__} {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"config field {name!r} must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"config field {name!r} must be an integer, got {type(value).__name__} {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"config field {name!r} must be a number, got {type(value).__name__} {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"config field {name!r} must be a string, got {type(value).__name__} {value!r}")
        return value
    return value


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Build dataclass ``cls`` from ``data``, rejecting unknown keys and wrong types with clear messages."""
    if not isinstance(data, dict):
        raise ConfigError(f"a {cls.__name__} must be a JSON object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"unknown config field(s) {', '.join(map(repr, unknown))} for {cls.__name__}; "
                          f"known fields: {', '.join(sorted(names))}")
    obj = cls(**{k: _check(k, v, hints[k]) for k, v in data.items()})
    validate = getattr(obj, "validate", None)
    if validate is not None:
        validate()
    return obj


def to_dict(obj: Any) -> dict[str, Any]:
    """A JSON-ready dict of a config dataclass."""
    return dataclasses.asdict(obj)


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a JSON config file into a dict (validated later by ``from_dict``)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {p} does not exist")
    try:
        data = json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise ConfigError(f"config file {p} is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {p} must hold a JSON object of fields")
    return data


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise ConfigError(message)


def _validate_engine_fields(cfg: Any) -> None:
    """Checks of the fields every training config hands the engine."""
    _require(cfg.steps >= 1, f"steps must be >= 1, got {cfg.steps}")
    _require(cfg.precision in ("fp32", "bf16"), f"precision must be fp32 or bf16, got {cfg.precision!r}")
    _require(0.0 <= cfg.ema_beta < 1.0, f"ema_beta must be in [0, 1), got {cfg.ema_beta}")
    _require(cfg.batch_size is None or cfg.batch_size >= 2, f"batch_size must be >= 2, got {cfg.batch_size}")
    _require(cfg.lr is None or cfg.lr > 0, f"lr must be positive, got {cfg.lr}")
    _require(getattr(cfg, "width", 1.0) > 0, f"width must be positive, got {getattr(cfg, 'width', None)}")
    for name in ("log_every", "sample_every", "checkpoint_every"):
        _require(getattr(cfg, name) >= 1, f"{name} must be >= 1, got {getattr(cfg, name)}")
    _require(cfg.max_seconds >= 0, f"max_seconds must be >= 0 (0: no limit), got {cfg.max_seconds}")
    _require(getattr(cfg, "lr_decay", "none") in LR_SCHEDULES,
             f"lr_decay must be one of {', '.join(LR_SCHEDULES)}, got {getattr(cfg, 'lr_decay', None)!r}")


@dataclass
class TrainConfig:
    """``gantransfer train``: a GAN from scratch on a data set."""

    data: str = "fashion-mnist"
    data_dir: str | None = None
    classes: list[int] | None = None
    limit: int | None = None
    resolution: int | None = None
    channels: int | None = None
    arch: str | None = None            # dcgan for images, mlp for points
    width: float = 1.0
    d_width: float | None = None       # default: width (conditional images: width / 2)
    latent_dim: int | None = None      # 100 for images, 2 for points
    conditional: bool = False
    loss: str = "nonsaturating"
    r1: float | None = None            # R1 gamma: 0 for unconditional images, 1 for points and conditional
    lr: float | None = None            # 2e-4 for images, 3e-3 for points
    betas: list[float] | None = None   # [0.5, 0.999] for images, [0.0, 0.9] for points
    batch_size: int | None = None      # 64 for images, 256 for points
    steps: int = 20000
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"
    ema_beta: float = 0.999
    log_every: int = 50
    sample_every: int = 1000
    checkpoint_every: int = 1000
    eval_every: int = 0
    eval_n: int = 2000
    out: str = "runs/train"
    progress: bool = True
    max_seconds: float = 0.0           # stop, checkpoint and export once training has run this long (0: no limit)

    def validate(self) -> None:
        _validate_engine_fields(self)
        _require(self.d_width is None or self.d_width > 0, f"d_width must be positive, got {self.d_width}")
        _require(self.loss in ("nonsaturating", "hinge"), f"loss must be nonsaturating or hinge, got {self.loss!r}")
        _require(self.r1 is None or self.r1 >= 0, f"r1 must be >= 0, got {self.r1}")
        _require(self.betas is None or (len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas)),
                 f"betas must be two numbers in [0, 1), got {self.betas}")
        _require(self.arch in (None, "dcgan", "mlp"), f"arch must be dcgan or mlp, got {self.arch!r}")
        _require(self.latent_dim is None or self.latent_dim >= 1, f"latent_dim must be >= 1, got {self.latent_dim}")
        _require(self.eval_every >= 0, f"eval_every must be >= 0, got {self.eval_every}")


@dataclass
class EvalConfig:
    """``gantransfer eval``: metrics of a generator under a named protocol."""

    generator: str = ""
    data: str | None = None            # default: the data set the generator was trained on
    classes: list[int] | None = None
    n: int = 10000
    seed: int = 0
    batch_size: int = 500
    device: str = "auto"
    teachers: list[str] | None = None  # fused students and baselines: per-teacher figures against these

    def validate(self) -> None:
        _require(bool(self.generator), "eval needs a generator directory")
        _require(self.n >= 2, f"n must be >= 2, got {self.n}")
        _require(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")


DISTILL_TERMS = ("pixel", "pixel_l2", "perceptual", "adversarial", "feature")


def parse_loss_weights(text: str) -> dict[str, float]:
    """``pixel=1,perceptual=1,adversarial=0.1`` -> {name: weight}; unknown names and bad numbers are errors."""
    weights: dict[str, float] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        name, _, value = item.partition("=")
        if name not in DISTILL_TERMS:
            raise ConfigError(f"unknown loss term {name!r}; known terms: {', '.join(DISTILL_TERMS)}")
        try:
            weights[name] = float(value) if value else 1.0
        except ValueError:
            raise ConfigError(f"loss weight of {name!r} must be a number, got {value!r}") from None
        if weights[name] < 0:
            raise ConfigError(f"loss weight of {name!r} must be >= 0, got {weights[name]}")
    if not any(weights.values()):
        raise ConfigError(f"--loss needs at least one term with a positive weight, e.g. pixel=1,perceptual=1")
    return weights


@dataclass
class StudentTraining:
    """The engine settings of the tasks that train a student from teachers (distill, fuse)."""

    batch_size: int = 64
    lr: float = 1e-3
    steps: int = 5000
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"
    ema_beta: float = 0.99
    log_every: int = 50
    sample_every: int = 500
    checkpoint_every: int = 500
    eval_n: int = 2000                 # samples (per teacher, when fusing) for the end-of-run evaluation; 0: skip
    progress: bool = True
    max_seconds: float = 0.0           # stop, checkpoint and export once training has run this long (0: no limit)
    lr_decay: str = "none"             # none | cosine: the learning rates fall to 0 over --steps


@dataclass
class DistillConfig(StudentTraining):
    """``gantransfer distill``: a smaller student that reproduces a teacher generator, data-free."""

    teacher: str | None = None         # a generator/run directory, or a PyTorch DCGAN checkpoint (.pt/.pth/.tar)
    teacher_module: str | None = None  # or an entry point pkg.module:factory
    black_box: bool = False            # use samples of the teacher only (no layers, no discriminator)
    latent_dim: int | None = None      # entry points: latent size when the module does not say
    num_classes: int = 0               # entry points: class count of a conditional teacher
    dataset: str | None = None         # data set the teacher models (evaluation protocol, perceptual classifier)
    width: float = 0.25
    start_resolution: int | None = None  # the student's first feature-map size (default: the teacher's; 8: a block fewer)
    loss: str = "pixel=1,perceptual=1"
    perceptual_net: str = "auto"       # auto | classifier | discriminator
    bank_size: int = 0                 # 0: fresh latents every step
    truncation: float = 0.0            # redraw latent components beyond +-T (truncation trick); 0: none
    data: str | None = None            # real images for the real side of the adversarial term (default: data-free)
    data_dir: str | None = None        # where a built-in data set's files are, when not in the default place
    out: str = "runs/student"

    def validate(self, teacher_object: bool = False) -> None:
        """``teacher_object``: the Python API was handed the teacher itself (then neither path may be set)."""
        _require(bool(self.teacher) + bool(self.teacher_module) + teacher_object == 1,
                 "distill needs exactly one teacher: --teacher DIR_OR_CHECKPOINT, --teacher-module pkg.module:factory "
                 "or (Python) distill(config, teacher=model)")
        _require(self.latent_dim is None or self.latent_dim >= 1, f"latent_dim must be >= 1, got {self.latent_dim}")
        _require(self.num_classes >= 0, f"num_classes must be >= 0, got {self.num_classes}")
        _validate_engine_fields(self)
        parse_loss_weights(self.loss)
        _require(self.perceptual_net in ("auto", "classifier", "discriminator") or ":" in self.perceptual_net,
                 f"perceptual_net must be auto, classifier, discriminator or an entry point pkg.module:factory, "
                 f"got {self.perceptual_net!r}")
        _require(self.bank_size >= 0, f"bank_size must be >= 0, got {self.bank_size}")
        _require(self.truncation >= 0, f"truncation must be >= 0 (0: none), got {self.truncation}")
        _require(not self.data or parse_loss_weights(self.loss).get("adversarial", 0) > 0,
                 "--data feeds real images to the adversarial term; add adversarial=W to --loss "
                 "(e.g. --loss pixel=1,perceptual=1,adversarial=0.1) or drop --data")
        _require(self.eval_n == 0 or self.eval_n >= 10, f"eval_n must be 0 (skip) or >= 10, got {self.eval_n}")


@dataclass
class FuseConfig(StudentTraining):
    """``gantransfer fuse``: one student generator of several teachers' combined distribution, data-free."""

    teachers: list[str] = field(default_factory=list)  # generator/run directories or DCGAN checkpoints (2 or more)
    labels: str = "teacher"            # teacher: condition on the teacher id | merge: on the union of class names
    unconditional: bool = False        # no labels: the student picks a teacher per sample, with --weights
    weights: list[float] | None = None  # share of each teacher (default: equal)
    conditioning: str = "embed"        # embed (learned label embedding) | affine (per-label latent affine + constant)
    dataset: str | None = None         # evaluation protocol and perceptual classifier (default: the teachers' own)
    width: float = 0.5
    latent_dim: int | None = None      # default: the largest teacher latent (+1 for --unconditional)
    resolution: int | None = None      # default: the largest teacher resolution
    channels: int | None = None        # default: the largest teacher channel count
    loss: str = "pixel=1,perceptual=1"
    perceptual_net: str = "auto"
    out: str = "runs/fused"

    def validate(self) -> None:
        _require(len(self.teachers) >= 2, f"fuse needs at least two teachers (--teacher A --teacher B); got "
                 f"{len(self.teachers)}. To compress one teacher, use `gantransfer distill`")
        _require(self.labels in ("teacher", "merge"), f"labels must be teacher or merge, got {self.labels!r}")
        _require(not (self.unconditional and self.labels == "merge"), "--labels merge needs a conditional student; "
                 "drop --unconditional")
        _require(self.weights is None or len(self.weights) == len(self.teachers),
                 f"--weights has {len(self.weights or [])} values for {len(self.teachers)} teachers; give one each")
        _require(self.weights is None or (all(w >= 0 for w in self.weights) and sum(self.weights) > 0),
                 f"--weights must be non-negative and sum to a positive number, got {self.weights}")
        _require(self.weights is None or all(w > 0 for w in self.weights),
                 f"every teacher needs a positive weight (drop a teacher rather than give it 0), got {self.weights}")
        _require(self.conditioning in ("embed", "affine"),
                 f"conditioning must be embed or affine, got {self.conditioning!r}")
        _require(self.latent_dim is None or self.latent_dim >= 1, f"latent_dim must be >= 1, got {self.latent_dim}")
        _validate_engine_fields(self)
        weights = parse_loss_weights(self.loss)
        _require(not weights.get("feature"), "the feature term needs one teacher's hidden layers; fuse supports "
                 "pixel, pixel_l2, perceptual and adversarial")
        _require(self.perceptual_net in ("auto", "classifier") or ":" in self.perceptual_net,
                 f"perceptual_net must be auto, classifier or pkg.module:factory for fusion, got {self.perceptual_net!r}")
        _require(self.eval_n == 0 or self.eval_n >= 10, f"eval_n must be 0 (skip) or >= 10, got {self.eval_n}")


ADAPT_METHODS = ("finetune", "freezed", "l2sp", "minegan", "scratch")


@dataclass
class AdaptConfig(StudentTraining):
    """``gantransfer adapt``: a generator for a new domain from a few images, transferred from pretrained sources."""

    sources: list[str] = field(default_factory=list)  # source generator/run directories (several: minegan only)
    data: str = ""                     # target: a built-in data set or an image folder
    data_dir: str | None = None
    classes: list[int] | None = None
    limit: int | None = None           # the few target images (a seeded subset)
    method: str = "finetune"           # finetune | freezed | l2sp | minegan | scratch
    freeze_d: int | None = None        # discriminator blocks kept frozen (freezed: 2 unless given)
    diffaugment: str = ""              # color,translation,cutout (any subset; combines with every method)
    l2sp: float = 0.01                 # weight of the L2-SP term (method l2sp)
    miner_steps: int | None = None     # minegan: steps of stage one (miner alone); default: a quarter of --steps
    selector_lr: float = 0.01          # minegan with several sources: learning rate of the selector's logits
    loss: str = "nonsaturating"
    r1: float = 0.0
    lr: float = 5e-4                   # the sweep's most robust rate over N = 10-1,000 (docs/results.md)
    steps: int = 2000
    eval_every: int = 250              # held-out FID every N steps; the best generator is kept (0: never)
    held_out: int = 1000               # training-split images outside --limit used to pick the best step
    out: str = "runs/adapt"

    def validate(self) -> None:
        _require(len(self.sources) >= 1, "adapt needs a pretrained source: --source DIR")
        _require(bool(self.data), "adapt needs target images: --data NAME_OR_FOLDER")
        _require(self.method in ADAPT_METHODS, f"method must be one of {', '.join(ADAPT_METHODS)}, got {self.method!r}")
        _require(len(self.sources) == 1 or self.method == "minegan",
                 f"{len(self.sources)} sources were given; only --method minegan steers several (a learned selector)")
        _require(self.freeze_d is None or self.freeze_d >= 0, f"freeze_d must be >= 0, got {self.freeze_d}")
        _require(self.l2sp >= 0, f"l2sp must be >= 0, got {self.l2sp}")
        _require(self.selector_lr > 0, f"selector_lr must be > 0, got {self.selector_lr}")
        _require(self.miner_steps is None or 0 <= self.miner_steps <= self.steps,
                 f"miner_steps must be between 0 and --steps ({self.steps}), got {self.miner_steps}")
        _require(self.loss in ("nonsaturating", "hinge"), f"loss must be nonsaturating or hinge, got {self.loss!r}")
        _require(self.r1 >= 0, f"r1 must be >= 0, got {self.r1}")
        _require(self.eval_every >= 0 and self.held_out >= 0, "eval_every and held_out must be >= 0")
        _require(self.eval_n >= 10, f"eval_n must be >= 10, got {self.eval_n}")
        _require(self.limit is None or self.limit >= 2, f"limit must be >= 2, got {self.limit}")
        from gantransfer.losses.augment import diff_augment
        try:
            diff_augment(self.diffaugment)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        _validate_engine_fields(self)
