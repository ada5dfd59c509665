"""The fusion domain model: several teachers, their weights, the student they fuse into and its label map.

Shared by ``fuse`` (training), ``baseline`` (sampling a data set) and ``eval --teachers`` (per-teacher figures).
A fused student's config stores its ``FusionRecord`` (mode, teachers, weights, label map), so the set it came
from is rebuilt from the student alone plus the teachers' files.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch

from gantransfer.errors import ConfigError
from gantransfer.image_space import convert_images
from gantransfer.models.family import family
from gantransfer.models.config import FusionRecord, GeneratorConfig
from gantransfer.models.sampling import sample_classes
from gantransfer.teachers import Teacher, load_teacher

MODES = ("teacher", "merge", "unconditional")


def teacher_name(t: Teacher) -> str:
    """A short name of a teacher: its run directory's (also for a run's kept ``best/generator``) or file's name."""
    p = Path(t.source)
    if p.name == "generator":
        p = p.parent.parent if p.parent.name == "best" else p.parent
        return p.name
    return p.stem if p.suffix else p.name


@dataclass
class TeacherSet:
    """The teachers, their normalised weights, the student's config and how teacher labels map to its labels."""

    teachers: list[Teacher]
    names: list[str]
    weights: torch.Tensor
    student: GeneratorConfig
    label_map: list[dict[int, int]]  # per teacher: teacher class -> student label (teacher mode: everything -> k)
    mode: str                        # teacher | merge | unconditional

    def teacher_labels(self, k: int, n: int, rng: torch.Generator) -> tuple[torch.Tensor | None, torch.Tensor]:
        """Labels for teacher ``k`` (None when it is unconditional) and the matching student labels."""
        classes = list(self.label_map[k])
        pick = torch.tensor(classes)[torch.randint(len(classes), (n,), generator=rng)]
        student = torch.tensor([self.label_map[k][int(c)] for c in pick])
        return (pick if self.teachers[k].config.num_classes else None), student

    def latents_for(self, k: int, n: int, rng: torch.Generator) -> torch.Tensor:
        """Student latents; for an unconditional student the last coordinate lies in teacher ``k``'s bin."""
        z = torch.randn(n, self.student.latent_dim, generator=rng)
        if self.mode == "unconditional":
            edges = torch.cat([torch.zeros(1), torch.cumsum(self.weights, 0)])
            u = edges[k] + (edges[k + 1] - edges[k]) * torch.rand(n, generator=rng)
            z[:, -1] = math.sqrt(2) * torch.erfinv(2 * u.clamp(1e-6, 1 - 1e-6) - 1)
        return z

    @torch.no_grad()
    def draw(self, k: int, n: int, rng: torch.Generator, device: torch.device
             ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """(student latents, student labels, teacher k's images in the student's space) for ``n`` samples."""
        z = self.latents_for(k, n, rng)
        t_labels, s_labels = self.teacher_labels(k, n, rng)
        t = self.teachers[k]
        x = t(z[:, :t.config.latent_dim].to(device), None if t_labels is None else t_labels.to(device))
        x = convert_images(x.float(), self.student.resolution, self.student.channels)
        return z.to(device), (None if self.mode == "unconditional" else s_labels.to(device)), x

    def samples(self, k: int, n: int, seed: int, device: torch.device, batch: int = 500) -> torch.Tensor:
        """``n`` images of teacher ``k`` in the student's image space (CPU), seeded per teacher."""
        rng = torch.Generator().manual_seed(seed * 7919 + k)
        return torch.cat([self.draw(k, min(batch, n - i), rng, device)[2].cpu() for i in range(0, n, batch)])


def merged_labels(teachers: list[Teacher], names: list[str]) -> tuple[list[str], list[dict[int, int]]]:
    """The union of the teachers' class names; conditional teachers bring their classes, unconditional ones one
    class (their single trained class's name, or the teacher's name). A name made by two teachers is an error."""
    merged: list[str] = []
    owners: dict[str, str] = {}
    per_teacher: list[list[tuple[int, str]]] = []
    for t, name in zip(teachers, names):
        cfg = t.config
        if cfg.num_classes:
            items = [(c, cfg.class_names[c] if c < len(cfg.class_names) else f"{name}:{c}") for c in sample_classes(cfg)]
        else:
            only = cfg.trained_classes or []
            label = cfg.class_names[only[0]] if len(only) == 1 and only[0] < len(cfg.class_names) else name
            items = [(0, label)]
        for _, label in items:
            if label in owners:
                raise ConfigError(f"class {label!r} is made by teachers {owners[label]} and {name}; --labels merge "
                                  "needs disjoint classes (use --labels teacher)")
            owners[label] = name
            merged.append(label)
        per_teacher.append(items)
    return merged, [{c: merged.index(label) for c, label in items} for items in per_teacher]


def _teacher_classes(t: Teacher) -> list[int]:
    return sample_classes(t.config) if t.config.num_classes else [0]


def _merge_order(per_entry: list[float], label_map: list[dict[int, int]]) -> list[float]:
    """Label weights indexed by student label."""
    out = [0.0] * sum(len(m) for m in label_map)
    flat = [label for m in label_map for label in m.values()]
    for w, label in zip(per_entry, flat):
        out[label] = w
    return out


def _student_options(arch: str, conditioning: str, mixture: list[float]):
    """The student family's options with the fusion's conditioning and mixture weights, where it has them."""
    fam = family(arch)
    if mixture and not fam.capabilities.mixture_latent:
        raise ConfigError(f"an unconditional fused student picks its teacher from the last latent coordinate; "
                          f"{arch} cannot (use --student-arch dcgan or drop --unconditional)")
    opts = fam.options()
    for name, value in (("conditioning", conditioning), ("mixture", mixture)):
        if hasattr(opts, name):
            setattr(opts, name, value)
    return opts


def make_teacher_set(teachers: list[Teacher], weights: list[float] | None = None, mode: str = "teacher",
                     latent_dim: int | None = None, resolution: int | None = None, channels: int | None = None,
                     dataset: str | None = None, width: float = 0.5, conditioning: str = "embed",
                     arch: str = "dcgan") -> TeacherSet:
    """Work out the student of ``teachers``: the largest latent (+1 for an unconditional student), resolution and
    channel count unless given, its labels as ``mode`` says, and its config (with the fusion record)."""
    if mode not in MODES:
        raise ConfigError(f"fusion mode must be one of {', '.join(MODES)}, got {mode!r}")
    for t in teachers:
        if t.config.kind != "image":
            raise ConfigError(f"teacher {t.source} {t.config.what_it_makes}; fusion works on noise-to-image "
                              "generators")
    unconditional = mode == "unconditional"
    names = [teacher_name(t) for t in teachers]
    if len(set(names)) < len(names):
        names = [f"{n}#{i}" for i, n in enumerate(names)]
    w = torch.tensor(weights or [1.0] * len(teachers), dtype=torch.float32)
    w = w / w.sum()
    latent = latent_dim or max(t.config.latent_dim for t in teachers) + (1 if unconditional else 0)
    short = [n for n, t in zip(names, teachers) if t.config.latent_dim > latent - (1 if unconditional else 0)]
    if short:
        raise ConfigError(f"--latent-dim {latent} is smaller than the latent of teacher(s) {', '.join(short)}"
                          + (" plus the selector coordinate of --unconditional" if unconditional else ""))
    datasets = {t.config.dataset for t in teachers}
    common = datasets.pop() if len(datasets) == 1 else ""
    # the real classes the union covers: only meaningful when every teacher models the same data set
    data_classes = sorted({c for t in teachers for c in (t.config.trained_classes or [])}) if common else []
    if mode == "merge":
        class_names, label_map = merged_labels(teachers, names)
    else:
        class_names, label_map = names, [{c: k for c in _teacher_classes(t)} for k, t in enumerate(teachers)]
    num_classes = 0 if unconditional else len(class_names)
    # the share of each student label: a teacher's weight (teacher mode), split over its classes (merge mode)
    label_weights = _merge_order([float(w[k]) / len(m) for k, m in enumerate(label_map) for _ in m], label_map) \
        if mode == "merge" else w.tolist()
    student = GeneratorConfig(
        arch=arch, latent_dim=latent, resolution=resolution or max(t.config.resolution for t in teachers),
        channels=channels or max(t.config.channels for t in teachers), width=width, num_classes=num_classes,
        class_names=list(class_names), dataset=dataset or common,
        options=_student_options(arch, conditioning, w.tolist() if unconditional else []),
        data_classes=data_classes or None, label_weights=label_weights if num_classes else None,
        fusion=FusionRecord(mode=mode, teachers=[t.source for t in teachers], teacher_names=names,
                            weights=w.tolist(), label_map=[{str(c): s for c, s in m.items()} for m in label_map]))
    try:
        student.validate()
    except ValueError as e:
        raise ConfigError(f"the fused student cannot be built: {e}") from None
    return TeacherSet(teachers, names, w, student, label_map, mode)


def load_teacher_set(paths: list[str], device: torch.device, **options) -> TeacherSet:
    """Load the teachers in ``paths`` and make their set (``options``: those of ``make_teacher_set``)."""
    return make_teacher_set([load_teacher(p, device) for p in paths], **options)


def teacher_set_of(student: GeneratorConfig, paths: list[str], device: torch.device) -> tuple[TeacherSet, bool]:
    """The teacher set a fused student (or a baseline, or any image generator) is judged against; and whether the
    student was fused (then its labels or latent bins select teachers, as recorded in its config)."""
    record = student.fusion
    fused = record is not None and record.mode in MODES
    tset = load_teacher_set(
        paths, device, weights=record.weights if record is not None else None,
        mode=record.mode if fused else "teacher", latent_dim=student.latent_dim if fused else None,
        resolution=student.resolution, channels=student.channels, dataset=student.dataset or None,
        width=student.width)
    if fused and tset.names != record.teacher_names:
        raise ConfigError(f"this student was fused from {record.teacher_names}, not {tset.names}; "
                          "pass its teachers in the same order")
    return tset, fused


def balanced_counts(weights: torch.Tensor, n: int) -> list[int]:
    """Samples per teacher in one batch: proportional to ``weights`` (largest remainder), at least one each."""
    raw = weights * n
    counts = raw.floor().long().clamp(min=1)
    while counts.sum() < n:
        counts[int(torch.argmax(raw - counts))] += 1
    while counts.sum() > n:  # take back from those above their share, never below one
        excess = (counts - raw).masked_fill(counts <= 1, float("-inf"))
        counts[int(torch.argmax(excess))] -= 1
    return counts.tolist()
