"""Typed task configurations: the engine's settings declared once (``EngineSettings``), each task's own fields
with their help text, old names accepted as deprecated aliases, flags that do not apply refused."""
from __future__ import annotations

import dataclasses
import functools
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from gantransfer.engine.settings import EngineSettings, override, require
from gantransfer.errors import ConfigError
from gantransfer import typed
from gantransfer.term_registry import parse_term_weights
from gantransfer.task_registry import RepeatedFlag, Task, register_task, task, task_names, tasks  # noqa: F401
from gantransfer.task_registry import TRAIN_TASKS, TrainTask, register_train_task, train_task, train_task_names
from gantransfer.typed import help_of as _field_help
from gantransfer.typed import setting

T = TypeVar("T")

ADVERSARIAL_LOSSES = ("nonsaturating", "hinge", "lsgan")
DIRECTIONS = ("AtoB", "BtoA")
ADAPT_METHODS = ("finetune", "freezed", "l2sp", "minegan", "scratch")


class DeprecatedName(FutureWarning):
    """An old config field or flag name was used; it still works, under its new name."""


def help_of(cls: type, name: str) -> str:
    """A field's help text, looked up through the config's bases (overridden defaults keep the base's help)."""
    for klass in cls.__mro__:
        if dataclasses.is_dataclass(klass) and name in {f.name for f in dataclasses.fields(klass)}:
            text = _field_help(klass, name)
            if text:
                return text
    return name.replace("_", " ")


def aliases_of(cls: type) -> dict[str, str]:
    """Old field name -> new field name, for ``cls`` and its bases."""
    out: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        out.update(klass.__dict__.get("ALIASES", {}))
    return out


def rename_aliases(cls: type, data: dict[str, Any], warn: bool = True) -> dict[str, Any]:
    """``data`` with deprecated field names replaced by the current ones (with a warning naming both)."""
    out = dict(data)
    for old, new in aliases_of(cls).items():
        if old in out:
            if new in out:
                raise ConfigError(f"both {old!r} (the old name) and {new!r} are given; keep only {new!r}")
            if warn:
                warnings.warn(f"{old!r} is now called {new!r} (--{new.replace('_', '-')}); the old name will go "
                              "in a later version", DeprecatedName, stacklevel=3)
            out[new] = out.pop(old)
    return out


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Build config ``cls`` from ``data``: deprecated names renamed, unknown keys and wrong types rejected, values
    validated, and every given field that does not apply to the rest of the config refused."""
    if not isinstance(data, dict):
        raise ConfigError(f"a {cls.__name__} must be a JSON object, got {type(data).__name__}")
    data = rename_aliases(cls, data)
    obj = typed.from_dict(cls, data)
    inapplicable = getattr(obj, "inapplicable", None)
    if inapplicable is not None:
        defaults = {f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}
        given = {k: why for k, why in inapplicable().items()
                 if k in data and (k not in defaults or getattr(obj, k) != defaults[k])}
        if given:
            detail = "; ".join(f"--{k.replace('_', '-')} {why}" for k, why in given.items())
            raise ConfigError(f"{detail}. Drop {'it' if len(given) == 1 else 'them'}")
    return obj


def to_dict(obj: Any) -> dict[str, Any]:
    """A JSON-ready dict of a config dataclass."""
    return typed.to_dict(obj)


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a JSON config file into a dict (validated later by ``from_dict``)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {p} does not exist" + (" (it is a directory)" if p.is_dir() else ""))
    try:
        data = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise ConfigError(f"config file {p} is not valid JSON: {str(e)[:120]}") from None
    except OSError as e:
        raise ConfigError(f"config file {p} cannot be read: {e.strerror}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {p} must hold a JSON object of fields")
    return data


def parse_loss_weights(text: str) -> dict[str, float]:
    """``pixel=1,perceptual=1,adversarial=0.1`` -> {name: weight}, names from the matching-term registry
    (``term_registry.parse_term_weights``)."""
    return parse_term_weights(text)


@dataclass
class TrainConfig(EngineSettings):
    """``gantransfer train``: a GAN from scratch on a data set."""

    ALIASES: ClassVar[dict[str, str]] = {"loss": "adversarial_loss"}
    TRANSLATION_FIELDS: ClassVar[tuple[str, ...]] = ("direction", "aligned", "lambda_l1", "lambda_cycle",
                                                     "lambda_identity")
    GAN_FIELDS: ClassVar[tuple[str, ...]] = ("latent_dim", "conditional", "classes", "width")

    task: str = setting("gan", "what to train: gan (noise -> image), pix2pix (paired translation, --data DIR or "
                               "fmnist-edges) or cyclegan (unpaired translation, --data DIR or fmnist-stripes)")
    data: str = setting("fashion-mnist", "built-in data set (fashion-mnist, mnist-5k, digits, ring8, grid25) or an "
                                         "image folder; pix2pix/cyclegan: a translation task or folder")
    data_dir: str | None = setting(None, "directory holding the data set's files (e.g. the four Fashion-MNIST IDX "
                                         "files)")
    classes: list[int] | None = setting(None, "comma-separated class indices to keep, e.g. 0,1,2")
    limit: int | None = setting(None, "keep a deterministic (seeded) subset of N samples")
    resolution: int | None = setting(None, "image side, a power of two from 16 to 256 (default: native size "
                                           "rounded up)")
    channels: int | None = setting(None, "1 (gray) or 3 (RGB)")
    arch: str | None = setting(None, "model family: dcgan (images) or mlp (2-D points); default by data kind")
    width: float = setting(1.0, "width multiplier of the generator, 1/16 .. 2")
    arch_options: dict[str, Any] | None = setting(None, "the family's own options as JSON, e.g. "
                                                        "'{\"channel_max\": 64, \"w_dim\": 128}' for stylegan2")
    d_width: float | None = setting(None, "width multiplier of the discriminator (default: --width; conditional "
                                          "images: --width / 2)")
    d_arch_options: dict[str, Any] | None = setting(None, "the discriminator's own options as JSON, over those read "
                                                          "off --arch-options (stylegan2: channel_max, conv_clamp, "
                                                          "mbstd_group, mbstd_channels), e.g. '{\"channel_max\": 512}'")
    latent_dim: int | None = setting(None, "latent size (default: 100 for images, 2 for points)")
    conditional: bool = setting(False, "class-conditional generator and discriminator")
    adversarial_loss: str = setting("nonsaturating", "adversarial loss: nonsaturating or hinge")
    r1: float | None = setting(None, "R1 gradient penalty gamma (default: 0 for unconditional images, 1 for points "
                                     "and conditional)")
    eval_n: int = setting(2000, "samples for each evaluation during training (with --eval-every); pix2pix/cyclegan: "
                                "test inputs of the end-of-run evaluation")
    direction: str = setting("AtoB", "pix2pix/cyclegan: AtoB (translate domain A into B) or BtoA")
    aligned: bool = setting(False, "pix2pix: --data is a folder of side-by-side A|B images (pix2pix's format)")
    lambda_l1: float = setting(100.0, "pix2pix: weight of the L1 distance to the ground truth")
    lambda_cycle: float = setting(10.0, "cyclegan: weight of the cycle-consistency L1 terms")
    lambda_identity: float = setting(0.5, "cyclegan: weight of the identity terms, as a multiple of --lambda-cycle")
    out: str = setting("runs/train", "run directory to write")
    # defaults that depend on the data kind: resolved by tasks/train.resolve_train_config
    steps: int = override(20000)
    lr: float | None = override(None)
    betas: list[float] | None = override(None)
    batch_size: int | None = override(None)
    sample_every: int = override(1000)
    checkpoint_every: int = override(1000)

    def validate(self) -> None:
        self.validate_engine()
        require(self.width > 0, f"width must be positive, got {self.width}")
        require(self.d_width is None or self.d_width > 0, f"d_width must be positive, got {self.d_width}")
        require(self.adversarial_loss in ADVERSARIAL_LOSSES,
                f"adversarial_loss must be nonsaturating or hinge, got {self.adversarial_loss!r}")
        require(self.r1 is None or self.r1 >= 0, f"r1 must be >= 0, got {self.r1}")
        require(self.task in train_task_names(), f"--task must be one of {', '.join(train_task_names())}, got "
                f"{self.task!r}")
        require(self.direction in DIRECTIONS, f"direction must be AtoB or BtoA, got {self.direction!r}")
        for name in ("lambda_l1", "lambda_cycle", "lambda_identity"):
            require(0 <= getattr(self, name) < float("inf"), f"{name} must be a finite number >= 0")
        translation = self.translation
        require(not (translation and self.r1), f"--r1 does not apply to --task {self.task}: its translators train "
                "without an R1 penalty (drop it)")
        if self.arch is not None:
            from gantransfer.models.family import family, family_names
            if translation:
                fits = [n for n in family_names() if family(n).kind == "translator"]
            else:
                fits = [n for n in family_names() if family(n).build_discriminator is not None]
            require(self.arch in fits, f"arch must be one of {', '.join(fits)} for --task {self.task}, got "
                    f"{self.arch!r}")
        require(self.latent_dim is None or self.latent_dim >= 1, f"latent_dim must be >= 1, got {self.latent_dim}")
        require(not self.eval_every or self.eval_n >= 10, f"eval_n must be >= 10, got {self.eval_n}")

    @property
    def translation(self) -> bool:
        """Whether ``task`` trains an image-to-image translator (its data: paired or unpaired images)."""
        return self.task in train_task_names() and train_task(self.task).data != "images"

    def inapplicable(self) -> dict[str, str]:
        """Given fields that the rest of this config makes unused, with the reason."""
        if self.task not in TRAIN_TASKS:
            return {}
        mine = train_task(self.task).fields
        owners: dict[str, list[str]] = {}
        for t in TRAIN_TASKS:
            for f in t.fields:
                owners.setdefault(f, []).append(t.name)
        out = {f: f"does not apply to --task {self.task}: it applies to --task {' and '.join(names)} only"
               for f, names in owners.items() if f not in mine}
        if self.translation:
            return out
        if not self.eval_every:
            out["eval_n"] = "is used only with --eval-every N"
        if self.data in ("ring8", "grid25"):
            out.update({k: f"does not apply: {self.data} holds 2-D points, not images" for k in ("resolution", "channels")})
        return out


@dataclass
class BaselineConfig(TrainConfig):
    """``gantransfer baseline``: the brute-force fusion baseline. Sample ``n`` images from all teachers and train
    one GAN on them with ``train``'s settings."""

    teachers: list[str] = setting(help="teachers (generator or run directories, or DCGAN checkpoints); 2 or more",
                                  factory=list)
    n: int = setting(60000, "images to sample from the teachers")
    weights: list[float] | None = setting(None, "share of each teacher, comma-separated (default: equal)")
    out: str = override("runs/baseline")

    DATA_FIELDS: ClassVar[tuple[str, ...]] = ("data", "data_dir", "classes", "limit", "resolution", "channels")

    def validate(self) -> None:
        super().validate()
        require(self.task == "gan", "baseline trains a noise-to-image GAN; --task does not apply")
        require(len(self.teachers) >= 2, f"baseline needs at least two teachers (--teacher A --teacher B), got "
                f"{len(self.teachers)}")
        require(len(set(map(os.path.realpath, self.teachers))) == len(self.teachers),
                f"the same teacher is given twice: {self.teachers}")
        require(self.n >= 2, f"n must be at least 2, got {self.n}")
        require(self.weights is None or (len(self.weights) == len(self.teachers) and min(self.weights) > 0),
                f"--weights needs one positive value per teacher ({len(self.teachers)}), got {self.weights}")

    def inapplicable(self) -> dict[str, str]:
        own = {k: "does not apply: baseline samples its data from the teachers" for k in self.DATA_FIELDS}
        return {**super().inapplicable(), **own}


@dataclass
class EvalConfig:
    """``gantransfer eval``: metrics of a generator under a named protocol."""

    generator: str = setting("", "generator or run directory")
    data: str | None = setting(None, "data set whose protocol evaluates the generator (default: the one it models)")
    classes: list[int] | None = setting(None, "classes to evaluate, e.g. 0,1,2 (default: the trained ones)")
    n: int = setting(10000, "samples to evaluate")
    seed: int = setting(0, "latent seed")
    batch_size: int = setting(500, "samples generated and scored at once")
    device: str = setting("auto", "auto (CUDA when available), cpu, cuda, cuda:1, ...")
    teachers: list[str] | None = setting(None, "fused students and baselines: per-teacher figures against these "
                                               "teachers (comma-separated, in fusion order)")
    protocols: list[str] | None = setting(None, "protocols to report, e.g. fashion-mnist-judge-v1 (comma-separated; "
                                                "default: every shipped one of the data set)")
    inception: str | None = setting(None, "Inception-v3 weights file (the 2015-12-05 FID weights of pytorch-fid / "
                                          "torch-fidelity, .pth or .safetensors; never downloaded): adds "
                                          "fid/inception-v3-compat/<n> against --reference")
    reference: str | None = setting(None, "reference stats (.npz with mu and sigma, from `gantransfer stats` or "
                                          "pytorch-fid --save-stats): FID against them")
    against: str | None = setting(None, "a teacher: figures relative to it that need no pretrained network "
                                        "(two-sample test, FD/KID in its learned feature space, PSNR/SSIM)")
    input: str | None = setting(None, "translators: a folder of input images to evaluate on (with --target "
                                      "and/or --against)")
    target: str | None = setting(None, "translators: ground-truth images named like the --input ones (paired "
                                       "tasks): PSNR, SSIM and L1 against them")
    direction: str | None = setting(None, "translators with --data: AtoB or BtoA (default: the one the translator "
                                          "records, else AtoB)")
    aligned: bool = setting(False, "translators: --data is a folder of side-by-side A|B images (pix2pix's format)")
    label: str | None = setting(None, "a fused translator with --input: the mapping to evaluate, an index or a "
                                      "teacher's name")

    def validate(self) -> None:
        require(bool(self.generator), "eval needs a generator directory")
        require(self.label is None or bool(self.input), "--label picks a fused translator's mapping for --input "
                "(with --target and/or --against); give --input DIR")
        require(not (self.against and self.teachers), "give --against TEACHER (one teacher) or --teachers A,B "
                "(a fused student's), not both")
        require(self.n >= 2, f"n must be >= 2, got {self.n}")
        require(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        require(0 <= self.seed < 2 ** 63, f"seed must be between 0 and 2**63 - 1, got {self.seed}")
        require(not self.teachers or len(self.teachers) >= 2,
                f"--teachers needs at least two teachers, got {self.teachers}")

    def inapplicable(self) -> dict[str, str]:
        if self.against:
            why = "does not apply with --against (the figures are relative to the teacher, not a protocol)"
            return {"data": why, "classes": why}
        if not self.teachers:
            return {}
        why = "does not apply with --teachers (per-teacher figures use each teacher's own protocol and classes)"
        return {"data": why, "classes": why, "batch_size": why, "protocols": why, "inception": why, "reference": why}


@dataclass
class StudentTraining(EngineSettings):
    """The settings shared by the tasks that train a student from teachers (distill, fuse)."""

    ALIASES: ClassVar[dict[str, str]] = {"loss": "terms", "dataset": "teacher_data"}

    teacher_data: str | None = setting(None, "data set the teachers model: their evaluation protocol and the "
                                             "perceptual classifier (default: the one they record)")
    terms: str = setting("auto", "weighted matching terms, e.g. pixel=1,perceptual=1,adversarial=0.1 (pixel, "
                                 "pixel_l2, perceptual, adversarial, feature, ssim, gram, tv), or auto: chosen from "
                                 "what the teacher offers (docs/any-teacher.md, docs/translators.md)")
    perceptual_net: str = setting("auto", "features of the perceptual term: auto (the data set's perceptual "
                                          "network, which no protocol uses, when shipped), perceptual, classifier "
                                          "(the first protocol's: its figures are then marked), discriminator (the "
                                          "teacher's) or pkg.module:factory")
    eval_n: int = setting(2000, "samples (per teacher, when fusing) for the end-of-run evaluation; 0: skip")
    lr: float | None = override(1e-3)
    d_lr_ratio: float | None = override(0.2)
    steps: int = override(5000)
    ema_beta: float = override(0.99)

    @functools.cached_property
    def term_weights(self) -> dict[str, float]:
        """``terms`` parsed once ({} for auto, which the task resolves): what distill and fuse use."""
        return {} if self.terms == "auto" else parse_loss_weights(self.terms)

    def validate_student(self) -> dict[str, float]:
        """Checks shared by distill and fuse; returns the parsed terms."""
        self.validate_engine()
        weights = self.term_weights
        require(self.eval_n == 0 or self.eval_n >= 10, f"eval_n must be 0 (skip) or >= 10, got {self.eval_n}")
        return weights

    def inapplicable(self) -> dict[str, str]:
        out: dict[str, str] = {"eval_every": "does not apply: students are evaluated at the end (--eval-n)"}
        if self.terms != "auto" and not self.term_weights.get("perceptual"):
            out["perceptual_net"] = "applies only with a perceptual term in --terms"
        return out


@dataclass
class DistillConfig(StudentTraining):
    """``gantransfer distill``: a smaller student that reproduces a teacher generator, data-free."""

    teacher: str | None = setting(None, "teacher: a generator or run directory, or a PyTorch DCGAN checkpoint "
                                        "(.pt/.pth/.tar)")
    teacher_module: str | None = setting(None, "teacher from Python: pkg.module:factory returning an nn.Module or a "
                                               "callable f(z[, labels])")
    black_box: bool = setting(False, "use only the teacher's samples (no layers, no discriminator)")
    teacher_taps: list[str] | None = setting(None, "a --teacher-module teacher's layers the feature term matches, "
                                                   "comma-separated dotted names (default: the last module output "
                                                   "at each resolution)")
    latent_dim: int | None = setting(None, "latent size of a --teacher-module teacher, when the module does not say")
    num_classes: int = setting(0, "class count of a conditional --teacher-module teacher")
    student_arch: str | None = setting(None, "model family of the student (default: the teacher's; dcgan for "
                                             "black-box callables)")
    width: float = setting(0.25, "the student's share of the teacher's channels per layer (a student of its family; "
                                 "else the --student-arch family's multiplier), e.g. 0.25")
    student_options: dict[str, Any] | None = setting(None, "the student family's own options as JSON, e.g. "
                                                           "'{\"channel_max\": 32}' (default: the teacher's, for "
                                                           "a student of its family)")
    start_resolution: int | None = setting(None, "first feature-map size of a DCGAN student (8: one block fewer "
                                                 "than the usual 4)")
    bank_size: int = setting(0, "draw latents from a fixed bank of this size (0: fresh latents every step)")
    truncation: float = setting(0.0, "truncation trick: redraw latent components beyond +-T, T >= 0.5 (0: none)")
    latent_space: str = setting("auto", "teachers with a mapping network (stylegan2): w (the student reuses the "
                                        "teacher's frozen mapping network), z (its own), auto (w for a stylegan2 "
                                        "student)")
    truncation_psi: float = setting(1.0, "teachers with a mapping network: W truncated towards the mean W, psi in "
                                         "(0, 1] (1: none); a W-space student keeps it")
    real_data: str | None = setting(None, "real images for the real side of the adversarial term (default: the "
                                          "teacher's images, data-free)")
    data: str | None = setting(None, "translator teachers: the input-domain images (a folder or a data set name); "
                                     "for a noise teacher, the old name of --real-data")
    input_source: str = setting("auto", "translator teachers: where the input images come from: teacher-data (the "
                                        "data set it records or --teacher-data), folder (--data), augment (--data "
                                        "with flips, crops and colour jitter); auto: folder with --data")
    input_limit: int = setting(0, "translator teachers: train on only the first N input images (0: all)")
    aligned: bool = setting(False, "translator teachers: --data is a folder of side-by-side A|B images (pix2pix's "
                                   "format); the input halves are used")
    input_size: int = setting(0, "translator teachers: the side input images are resized to and the student's "
                                 "nominal resolution (0: the teacher's)")
    data_dir: str | None = setting(None, "where a built-in --real-data set's files are, when not in the default "
                                         "place")
    out: str = setting("runs/student", "run directory to write")
    discriminator_width: float = setting(0.0, "the adversarial term's discriminator: a fresh one of this width, "
                                              "trained from scratch beside the student (0: a copy of the "
                                              "teacher's, when it has one of the student's family)")
    init: str = setting("auto", "the student's initial weights: prune (the teacher's most important channels per "
                                "layer, same family only), random, or auto (prune when the student is of the "
                                "teacher's white-box family, else random)")
    prune_criterion: str = setting("activation", "which channels --init prune keeps: magnitude (L1 of weights), "
                                                 "activation (mean |activation| on teacher samples) or diversity "
                                                 "(what tells samples apart, DCP-style); see docs/pruning.md")
    svs: bool = setting(False, "--init prune: rescale each pruned weight's singular values to their square roots "
                               "at equal Frobenius norm (SVS-style)")
    target_macs: str | None = setting(None, "choose the student's channels per layer for this many MACs per sample: "
                                            "a reduction (50x) or a count (2.5M); replaces --width")
    target_params: str | None = setting(None, "choose the student's channels per layer for this many parameters: "
                                              "a reduction (20x) or a count (100k); replaces --width")
    target_latency: float | None = setting(None, "choose the student's channels per layer for this latency in ms "
                                                 "per forward pass at --latency-batch, timed on this machine")
    latency_batch: int = setting(1, "the batch --target-latency is timed at")
    budget_floor: float = setting(1.0, "a --target-* budget leaves no layer under this share of the channels the "
                                       "uniform width meeting it keeps (1: the measured best; lower lets the "
                                       "importance scores thin a layer further)")
    elastic: str | None = setting(None, "train one elastic student whose channel-sliced sub-networks at these widths "
                                        "(e.g. 0.125,0.25,0.5) each match the teacher (sandwich rule); replaces "
                                        "--width; sample/eval/bench/export --width W pick one")

    def validate(self, teacher_object: bool = False) -> None:
        """``teacher_object``: the Python API was handed the teacher itself (then neither path may be set)."""
        require(bool(self.teacher) + bool(self.teacher_module) + teacher_object == 1,
                "distill needs exactly one teacher: --teacher DIR_OR_CHECKPOINT, --teacher-module pkg.module:factory "
                "or (Python) distill(config, teacher=model)")
        require(self.latent_dim is None or self.latent_dim >= 1, f"latent_dim must be >= 1, got {self.latent_dim}")
        require(self.num_classes >= 0, f"num_classes must be >= 0, got {self.num_classes}")
        self.validate_student()
        require(self.width > 0, f"width must be positive, got {self.width}")
        require(self.perceptual_net in ("auto", "perceptual", "classifier", "discriminator") or ":" in self.perceptual_net,
                f"perceptual_net must be auto, perceptual, classifier, discriminator or an entry point pkg.module:factory, "
                f"got {self.perceptual_net!r}")
        require(self.bank_size >= 0, f"bank_size must be >= 0, got {self.bank_size}")
        require(self.truncation == 0 or self.truncation >= 0.5,
                f"truncation must be 0 (none) or at least 0.5 (smaller values leave almost no latent to draw), "
                f"got {self.truncation}")
        require(self.latent_space in ("auto", "w", "z"),
                f"latent_space must be auto, w or z, got {self.latent_space!r}")
        require(0 < self.truncation_psi <= 1, f"--truncation-psi must be in (0, 1] (1: no truncation; 0 would "
                f"collapse every sample to the mean W), got {self.truncation_psi}")
        require(self.input_source in ("auto", "teacher-data", "folder", "augment"),
                f"input_source must be auto, teacher-data, folder or augment, got {self.input_source!r}")
        require(self.input_limit >= 0, f"input_limit must be >= 0 (0: all), got {self.input_limit}")
        require(self.input_size >= 0, f"input_size must be >= 0 (0: the teacher's), got {self.input_size}")
        targets = [t for t in ("target_macs", "target_params", "target_latency") if getattr(self, t) is not None]
        require(len(targets) <= 1, f"give one budget, not {' and '.join('--' + t.replace('_', '-') for t in targets)}")
        require(self.target_latency is None or self.target_latency > 0,
                f"target_latency must be positive (ms), got {self.target_latency}")
        require(self.latency_batch >= 1, f"latency_batch must be >= 1, got {self.latency_batch}")
        require(0 < self.budget_floor <= 1, f"budget_floor must be in (0, 1], got {self.budget_floor}")
        require(not (targets and self.elastic), "--elastic trains every width of one student; drop the --target-* "
                "budget (or --elastic)")
        require(not targets or self.init != "random", "a --target-* budget keeps the teacher's most important "
                "channels per layer; it needs --init prune or auto, not random")
        require(self.init in ("auto", "prune", "random"), f"init must be auto, prune or random, got {self.init!r}")
        require(self.prune_criterion in ("magnitude", "activation", "diversity"),
                f"prune_criterion must be magnitude, activation or diversity, got {self.prune_criterion!r}")
        require(self.discriminator_width >= 0, f"discriminator_width must be >= 0 (0: the teacher's), got "
                f"{self.discriminator_width}")
        from gantransfer.models.family import family_names
        require(self.student_arch is None or self.student_arch in family_names(),
                f"student_arch must be one of {', '.join(family_names())}, got {self.student_arch!r}")

    def inapplicable(self) -> dict[str, str]:
        out = super().inapplicable()
        if not self.teacher_module:
            out.update(latent_dim="applies only to --teacher-module teachers (a directory or checkpoint records it)",
                       num_classes="applies only to --teacher-module teachers")
        if not self.real_data and not self.data:
            out["data_dir"] = "applies only with --real-data or --data"
        if self.terms != "auto" and not self.term_weights.get("adversarial"):
            out["discriminator_width"] = "applies only with an adversarial term in --terms"
        return out


@dataclass
class FuseConfig(StudentTraining):
    """``gantransfer fuse``: one student generator of several teachers' combined distribution, data-free."""

    teachers: list[str] = setting(help="teachers (generator or run directories, or DCGAN checkpoints); 2 or more",
                                  factory=list)
    labels: str = setting("teacher", "student labels: teacher (the teacher id) or merge (the union of the "
                                     "teachers' class names)")
    unconditional: bool = setting(False, "no labels: the student picks a teacher per sample from its last latent "
                                         "coordinate (--weights)")
    weights: list[float] | None = setting(None, "share of each teacher, comma-separated (default: equal)")
    conditioning: str = setting("embed", "how labels enter the student: embed (learned embedding) or affine "
                                         "(per-label latent affine)")
    student_arch: str | None = setting(None, "model family of the student (default: dcgan; for translators the "
                                             "first teacher's family)")
    width: float = setting(0.5, "width multiplier of the student, 1/16 .. 2")
    data: str | None = setting(None, "translator teachers: their input-domain images (a folder or a data set name)")
    input_size: int = setting(0, "translator teachers: the image side they are run at (default: their trained one)")
    input_limit: int = setting(0, "translator teachers: train on only the first N input images (0: all)")
    latent_dim: int | None = setting(None, "student latent size (default: the largest teacher's, +1 for "
                                           "--unconditional)")
    resolution: int | None = setting(None, "student image side (default: the largest teacher's)")
    channels: int | None = setting(None, "student channels (default: the largest teacher's)")
    out: str = setting("runs/fused", "run directory to write")

    def validate(self) -> None:
        require(len(self.teachers) >= 2, f"fuse needs at least two teachers (--teacher A --teacher B); got "
                f"{len(self.teachers)}. To compress one teacher, use `gantransfer distill`")
        require(len(set(map(os.path.realpath, self.teachers))) == len(self.teachers),
                f"the same teacher is given twice: {self.teachers}")
        require(self.labels in ("teacher", "merge"), f"labels must be teacher or merge, got {self.labels!r}")
        require(not (self.unconditional and self.labels == "merge"), "--labels merge needs a conditional student; "
                "drop --unconditional")
        require(self.weights is None or len(self.weights) == len(self.teachers),
                f"--weights has {len(self.weights or [])} values for {len(self.teachers)} teachers; give one each")
        require(self.weights is None or (all(w >= 0 for w in self.weights) and sum(self.weights) > 0),
                f"--weights must be non-negative and sum to a positive number, got {self.weights}")
        require(self.weights is None or all(w > 0 for w in self.weights),
                f"every teacher needs a positive weight (drop a teacher rather than give it 0), got {self.weights}")
        require(self.conditioning in ("embed", "affine"),
                f"conditioning must be embed or affine, got {self.conditioning!r}")
        require(self.latent_dim is None or self.latent_dim >= 1, f"latent_dim must be >= 1, got {self.latent_dim}")
        require(self.width > 0, f"width must be positive, got {self.width}")
        weights = self.validate_student()
        require(not weights.get("feature"), "the feature term needs one teacher's hidden layers; fuse supports "
                "pixel, pixel_l2, perceptual and adversarial")
        require(self.perceptual_net in ("auto", "perceptual", "classifier") or ":" in self.perceptual_net,
                f"perceptual_net must be auto, perceptual, classifier or pkg.module:factory for fusion, got {self.perceptual_net!r}")
        from gantransfer.models.family import family_names
        require(self.input_size >= 0 and self.input_limit >= 0, "input_size and input_limit must be >= 0")
        require(self.student_arch is None or self.student_arch in family_names(),
                f"student_arch must be one of {', '.join(family_names())}, got {self.student_arch!r}")

    def inapplicable(self) -> dict[str, str]:
        out = super().inapplicable()
        if self.unconditional:
            out["conditioning"] = "does not apply with --unconditional (the student has no labels)"
        return out


@dataclass
class AdaptConfig(EngineSettings):
    """``gantransfer adapt``: a generator for a new domain from a few images, transferred from pretrained sources."""

    ALIASES: ClassVar[dict[str, str]] = {"loss": "adversarial_loss"}

    sources: list[str] = setting(help="source generator/run directories (several: minegan only)", factory=list)
    data: str = setting("", "target images: a built-in data set or an image folder")
    data_dir: str | None = setting(None, "directory holding the data set's files")
    classes: list[int] | None = setting(None, "comma-separated class indices of the target, e.g. 5,7,9")
    limit: int | None = setting(None, "the few target images: a seeded subset of N")
    method: str = setting("finetune", "finetune, freezed (first --freeze-d D blocks frozen), l2sp, minegan (miner, "
                                      "then joint) or scratch (the baseline)")
    freeze_d: int | None = setting(None, "discriminator blocks to keep frozen (freezed: 2 unless given)")
    diffaugment: str = setting("", "DiffAugment policies for D's inputs: any of color,translation,cutout")
    l2sp: float = setting(0.01, "weight of the L2 pull towards the source weights (method l2sp)")
    miner_steps: int | None = setting(None, "minegan: steps of stage one, the miner alone (default: a quarter of "
                                            "--steps)")
    selector_lr: float = setting(0.01, "minegan with several sources: learning rate of the selector over sources "
                                       "(the rest use --lr)")
    miner_space: str = setting("z", "minegan: where the miners steer, z (the sources' latents) or w (after a "
                                    "stylegan2 source's mapping network)")
    adversarial_loss: str = setting("nonsaturating", "adversarial loss: nonsaturating or hinge")
    r1: float = setting(0.0, "R1 gradient penalty gamma (0: off)")
    aligned: bool = setting(False, "translator sources: --data holds pix2pix's aligned A|B images (else A/ and B/)")
    lambda_l1: float = setting(100.0, "translator sources: weight of the L1 term against the target images "
                                         "(pix2pix's lambda)")
    held_out: int = setting(1000, "training-split images outside --limit used to choose the best step")
    eval_n: int = setting(2000, "samples for the held-out and final evaluations")
    out: str = setting("runs/adapt", "run directory to write")
    lr: float | None = override(5e-4)  # the sweep's most robust rate over N = 10-1,000 (docs/results.md)
    steps: int = override(2000)
    eval_every: int = override(250)    # held-out FID every N steps; the best generator is kept (0: never)
    ema_beta: float = override(0.99)

    def validate(self) -> None:
        require(len(self.sources) >= 1, "adapt needs a pretrained source: --source DIR")
        require(bool(self.data), "adapt needs target images: --data NAME_OR_FOLDER")
        require(self.method in ADAPT_METHODS, f"method must be one of {', '.join(ADAPT_METHODS)}, got {self.method!r}")
        require(len(self.sources) == 1 or self.method == "minegan",
                f"{len(self.sources)} sources were given; only --method minegan steers several (a learned selector)")
        require(self.freeze_d is None or self.freeze_d >= 0, f"freeze_d must be >= 0, got {self.freeze_d}")
        require(self.l2sp >= 0, f"l2sp must be >= 0, got {self.l2sp}")
        require(self.selector_lr > 0, f"selector_lr must be > 0, got {self.selector_lr}")
        require(self.miner_space in ("z", "w"), f"miner_space must be z or w, got {self.miner_space!r}")
        require(self.miner_steps is None or 0 <= self.miner_steps <= self.steps,
                f"miner_steps must be between 0 and --steps ({self.steps}), got {self.miner_steps}")
        require(self.adversarial_loss in ADVERSARIAL_LOSSES,
                f"adversarial_loss must be nonsaturating or hinge, got {self.adversarial_loss!r}")
        require(self.r1 >= 0, f"r1 must be >= 0, got {self.r1}")
        require(self.lambda_l1 >= 0, f"lambda_l1 must be >= 0, got {self.lambda_l1}")
        require(self.held_out >= 0, "held_out must be >= 0")
        require(self.eval_n >= 10, f"eval_n must be >= 10, got {self.eval_n}")
        require(self.limit is None or self.limit >= 2, f"limit must be >= 2, got {self.limit}")
        from gantransfer.losses.augment import diff_augment
        try:
            diff_augment(self.diffaugment)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        self.validate_engine()

    def inapplicable(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.method != "l2sp":
            out["l2sp"] = "applies only to --method l2sp"
        if self.method != "minegan":
            out.update(miner_steps="applies only to --method minegan",
                       selector_lr="applies only to --method minegan with several sources",
                       miner_space="applies only to --method minegan")
        if self.method == "scratch":
            out["freeze_d"] = "does not apply to --method scratch (its discriminator is trained from scratch)"
        if not self.eval_every:
            out["held_out"] = "is used only with --eval-every N"
        return out


EXTEND_METHODS = ("replay", "finetune", "joint", "ewc")


@dataclass
class ExtendConfig(EngineSettings):
    """``gantransfer extend``: a generator learns new classes or a new modality from a base, without forgetting
    the old labels (data-free replay by default)."""

    base: str = setting("", "the generator to extend: a generator or run directory")
    data: str = setting("", "the new data: a built-in data set or an image folder")
    data_dir: str | None = setting(None, "directory holding a built-in data set's files")
    classes: list[int] | None = setting(None, "the new data's classes to learn, e.g. 2,3 (default: all of them)")
    as_class: str | None = setting(None, "learn all the new images as one label of this name (e.g. a folder of "
                                         "one modality)")
    limit: int | None = setting(None, "keep a seeded subset of N new images")
    method: str = setting("replay", "replay (old labels matched to a frozen copy of the base, data-free), "
                                    "finetune (new data only: forgets), joint (all data so far; needs --old-data) "
                                    "or ewc (new data with elastic weight consolidation)")
    old_data: list[str] | None = setting(None, "real data sets of the old labels, comma-separated (replay: the "
                                               "real side of the discriminator for old labels; joint: required)")
    terms: str = setting("pixel=1,perceptual=1", "replay: weighted matching terms on the old labels' share "
                                                 "(pixel, pixel_l2, perceptual, feature)")
    perceptual_net: str = setting("discriminator", "replay's perceptual features: discriminator (the frozen base "
                                                   "discriminator's; not the evaluation protocol's) or "
                                                   "classifier (the protocol's: then grading uses a network a "
                                                   "loss used)")
    old_share: float | None = setting(None, "share of each batch given to the old labels (replay, joint; "
                                            "default: their share of all labels)")
    ewc: float = setting(10.0, "weight of the EWC term (method ewc)")
    fisher_n: int = setting(1024, "samples for the Fisher estimate (method ewc)")
    adversarial_loss: str = setting("nonsaturating", "adversarial loss: nonsaturating or hinge")
    r1: float = setting(1.0, "R1 gradient penalty gamma (0: off)")
    eval_n: int = setting(1000, "samples per label for the forgetting measures after the run (0: skip)")
    out: str = setting("runs/extend", "run directory to write")
    steps: int = override(2000)
    ema_beta: float = override(0.99)
    checkpoint_every: int = override(500)

    def validate(self) -> None:
        require(bool(self.base), "extend needs a generator to extend: --base DIR")
        self.validate_extension()

    @functools.cached_property
    def term_weights(self) -> dict[str, float]:
        """Replay's ``terms``, parsed once: what extend uses."""
        return parse_extension_terms(self.terms)

    def validate_extension(self) -> None:
        """Checks shared with extend-sequence (which names the base and the data per step itself)."""
        self.validate_engine()
        require(self.method in EXTEND_METHODS, f"method must be one of {', '.join(EXTEND_METHODS)}, "
                f"got {self.method!r}")
        require(self.method != "joint" or bool(self.old_data),
                "--method joint trains on all the data seen so far and needs the old labels' real data: pass "
                "--old-data NAME (e.g. the base's data set), or use --method replay, which needs none")
        weights = self.term_weights
        require(not weights.get("adversarial"), "adversarial is always on for the new data; drop it from --terms")
        require(self.perceptual_net in ("discriminator", "classifier"),
                f"perceptual_net must be discriminator or classifier, got {self.perceptual_net!r}")
        require(self.old_share is None or 0 < self.old_share < 1, f"old_share must be in (0, 1), got {self.old_share}")
        require(self.ewc >= 0, f"ewc must be >= 0, got {self.ewc}")
        require(self.fisher_n >= 1, f"fisher_n must be >= 1, got {self.fisher_n}")
        require(self.adversarial_loss in ADVERSARIAL_LOSSES,
                f"adversarial_loss must be nonsaturating or hinge, got {self.adversarial_loss!r}")
        require(self.r1 >= 0, f"r1 must be >= 0, got {self.r1}")
        require(self.eval_n == 0 or self.eval_n >= 10, f"eval_n must be 0 (skip) or >= 10, got {self.eval_n}")
        require(self.limit is None or self.limit >= 2, f"limit must be >= 2, got {self.limit}")
        require(self.as_class is None or bool(self.as_class.strip()), "--as-class needs a name")

    def inapplicable(self) -> dict[str, str]:
        out: dict[str, str] = {"eval_every": "does not apply: extend measures every label at the end (--eval-n)"}
        if self.method != "replay":
            out.update(terms="applies only to --method replay", perceptual_net="applies only to --method replay")
        if self.method not in ("replay", "joint"):
            out["old_share"] = "applies only to --method replay or joint"
            out["old_data"] = "applies only to --method replay (real replay) or joint"
        if self.method != "ewc":
            out.update(ewc="applies only to --method ewc", fisher_n="applies only to --method ewc")
        return out


def parse_extension_terms(text: str) -> dict[str, float]:
    """Replay's matching terms, parsed as ``parse_loss_weights`` does."""
    return parse_loss_weights(text)


@dataclass
class ExtendSequenceConfig(ExtendConfig):
    """``gantransfer extend-sequence``: a sequence of extensions, one run per step, measured after each."""

    steps_of: str = setting("", "the sequence: the classes of each step of --data, steps separated by colons, "
                                "e.g. 2,3:4,5:6,7")
    sequence: str | None = setting(None, "a JSON file of the steps instead: [{\"data\": NAME, \"classes\": [..], "
                                         "\"as_class\": NAME}, ...]")
    out: str = override("runs/extend-sequence")

    def validate(self) -> None:
        require(bool(self.base), "extend-sequence needs a generator to start from: --base DIR")
        require(bool(self.steps_of) != bool(self.sequence),
                "extend-sequence needs its steps: --steps-of 2,3:4,5 (classes of --data) or --sequence FILE.json, "
                "one of them")
        require(not self.sequence or not (self.data or self.classes or self.as_class),
                "--sequence names the data of every step; drop --data/--classes/--as-class")
        require(not self.steps_of or bool(self.data), "--steps-of needs --data NAME (the data set of every step)")
        require(not self.classes, "--classes does not apply to extend-sequence: the steps name their classes")
        self.validate_extension()


# ---- the built-in tasks (the registry: gantransfer/task_registry.py; readers import task/tasks from here) ----
_TEACHER_FLAG = RepeatedFlag("teachers", "--teacher", "a teacher (generator or run directory, or DCGAN checkpoint); "
                             "repeat for each")
register_task(Task(
    "train", TrainConfig, "gantransfer.tasks.train:train", "train a GAN or a translator from scratch on a data set",
    "Train a GAN (DCGAN for images, MLP for 2-D points) on the one engine, or with --task pix2pix / cyclegan an "
    "image-to-image translator on paired / unpaired images.",
    resolve="gantransfer.tasks.train:resolve_train_config"))
register_train_task(TrainTask("gan", "gantransfer.tasks.train:train_gan", "gantransfer.tasks.train:resolve_gan_config",
                              "images", "a noise-to-image GAN on a data set",
                              fields=(*TrainConfig.GAN_FIELDS, "adversarial_loss", "d_arch_options")))
register_train_task(TrainTask("pix2pix", "gantransfer.tasks.pix2pix:train_pix2pix",
                              "gantransfer.tasks.translation_setup:resolve_translation_config", "paired",
                              "a paired image-to-image translator (conditional PatchGAN + L1), e.g. on fmnist-edges",
                              fields=("direction", "aligned", "lambda_l1", "adversarial_loss")))
register_train_task(TrainTask("cyclegan", "gantransfer.tasks.cyclegan:train_cyclegan",
                              "gantransfer.tasks.translation_setup:resolve_translation_config", "unpaired",
                              "two unpaired image-to-image translators (LSGAN, cycle and identity L1), e.g. on "
                              "fmnist-stripes", fields=("direction", "aligned", "lambda_cycle", "lambda_identity")))
register_task(Task(
    "distill", DistillConfig, "gantransfer.tasks.distill:distill",
    "compress a teacher generator into a smaller student (data-free)",
    "Distil a teacher into a student of --width, matching it on the same latents with pixel, perceptual and "
    "adversarial terms (--loss pixel=1,perceptual=1).", produced="student",
    summary="gantransfer.report.page:distill_summary", figures="gantransfer.report.figures:teacher_vs_student",
    figures_heading="Teacher and student on the same latents", cost_reference="teacher"))
register_task(Task(
    "fuse", FuseConfig, "gantransfer.tasks.fuse:fuse", "fuse several teacher generators into one student (data-free)",
    "Fuse teachers (--teacher A --teacher B ...) into one student of --width, conditional on the teacher id "
    "(default), on merged class labels, or unconditional with --weights.", produced="fused student",
    repeated=(_TEACHER_FLAG,), summary="gantransfer.report.page:fuse_summary",
    figures="gantransfer.report.figures:per_teacher", figures_heading="Per teacher"))
register_task(Task(
    "adapt", AdaptConfig, "gantransfer.tasks.adapt:adapt",
    "bootstrap a generator for a new domain from a few images and pretrained sources",
    "Transfer --source generators to the target images in --data (--limit N of them) with --method finetune, "
    "freezed, l2sp, minegan or scratch (the baseline); --diffaugment combines with each.",
    produced="adapted generator",
    repeated=(RepeatedFlag("sources", "--source", "a pretrained source (generator or run directory); repeat for "
                           "several (minegan)"),
              RepeatedFlag("sources", "--teacher", "the same as --source (a translator to adapt, say)")),
    summary="gantransfer.report.page:adapt_summary", figures="gantransfer.report.figures:adaptation",
    figures_heading="Training images and samples"))
register_task(Task(
    "baseline", BaselineConfig, "gantransfer.tasks.baseline:baseline",
    "brute-force fusion baseline: sample a data set from the teachers, train one GAN on it",
    "Sample --n images from all teachers (--teacher A --teacher B ...) and train one GAN from scratch on them with "
    "train's settings.", produced="baseline generator", resolve="gantransfer.tasks.train:resolve_train_config",
    repeated=(RepeatedFlag("teachers", "--teacher", "a teacher; repeat for each"),),
    no_flag=BaselineConfig.DATA_FIELDS + ("task",) + TrainConfig.TRANSLATION_FIELDS,
    summary="gantransfer.report.page:baseline_summary"))
register_task(Task(
    "extend", ExtendConfig, "gantransfer.tasks.extend:extend",
    "teach a generator new classes or a new modality without forgetting the old ones",
    "Grow --base's label space with the new data (--data, --classes or --as-class) and train with --method replay "
    "(data-free: the frozen base is matched on the old labels), finetune, joint (needs --old-data) or ewc; every "
    "label is measured at the end (report/forgetting.*).", produced="extended generator"))
register_task(Task(
    "extend-sequence", ExtendSequenceConfig, "gantransfer.tasks.extend_sequence:extend_sequence",
    "a sequence of extensions with forgetting curves after every step",
    "Run one extend per step of --steps-of 2,3:4,5 (classes of --data) or --sequence FILE, each from the step "
    "before, in OUT/step-K; measure every label after each step (OUT/report/forgetting.png, .json, .md); --resume "
    "continues after a kill.",
    done="one run per step in {run}/step-*, forgetting curves and table in {run}/report", no_flag=("classes",)))

TASK_CONFIGS = {t.name: t.config for t in tasks()}  # command -> config class (read from the registry)


def upgrade_run_config(cls: type, recorded: dict[str, Any]) -> dict[str, Any]:
    """A run.json config of an earlier version, in today's names, with today's defaults for fields it lacks
    (so that resuming an older run compares like with like)."""
    data = rename_aliases(cls, recorded, warn=False)
    for f in dataclasses.fields(cls):
        if f.name not in data:
            data[f.name] = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore
    return data
