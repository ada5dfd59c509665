"""``gantransfer fuse``: several teacher generators become one student of their combined distribution, data-free.

Setup only. Every step draws samples from every teacher in proportion to the weights (``FusionSampler``), in the
student's image space; the student is conditioned on the teacher id (default), on the union of the teachers'
class names (``--labels merge``), or picks the teacher itself from its last latent coordinate
(``--unconditional``). The matching terms and phases are distillation's; the one engine trains.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from gantransfer.config import FuseConfig, parse_loss_weights
from gantransfer.engine.loop import Engine, EngineConfig, TrainingTask, resolve_device
from gantransfer.errors import ConfigError
from gantransfer.losses.base import LossTerm, StepContext
from gantransfer.models.registry import GeneratorConfig, build_discriminator, build_generator
from gantransfer.models.sampling import RecalibratedSnapshot, sample_classes
from gantransfer.models.store import save_generator
from gantransfer.report.grid import save_image_grid
from gantransfer.tasks.matching import matching_terms, perceptual_features, student_phases
from gantransfer.tasks.rundir import prepare_run_dir, write_run_config
from gantransfer.teachers import Teacher, load_teacher


def to_image_space(x: torch.Tensor, resolution: int, channels: int) -> torch.Tensor:
    """Images in [-1, 1] converted to ``channels`` (gray <-> RGB by luminance) and ``resolution`` (antialiased
    bilinear resampling)."""
    if x.shape[1] != channels:
        if x.shape[1] == 1 and channels == 3:
            x = x.expand(-1, 3, -1, -1)
        elif x.shape[1] == 3 and channels == 1:
            x = (x * torch.tensor([0.299, 0.587, 0.114], device=x.device).view(1, 3, 1, 1)).sum(1, keepdim=True)
        else:
            raise ConfigError(f"cannot convert {x.shape[1]}-channel images to {channels} channels")
    if x.shape[-1] != resolution:
        x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False,
                          antialias=x.shape[-1] > resolution)
    return x.clamp(-1, 1)


def teacher_name(t: Teacher) -> str:
    p = Path(t.source)
    return p.parent.name if p.name == "generator" else (p.stem if p.suffix else p.name)


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
        x = to_image_space(x.float(), self.student.resolution, self.student.channels)
        return z.to(device), (None if self.mode == "unconditional" else s_labels.to(device)), x


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
            only = cfg.meta.get("classes") or []
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


def load_teacher_set(cfg: FuseConfig, device: torch.device) -> TeacherSet:
    """Load the teachers and work out the student: the largest latent, resolution and channel count unless given."""
    teachers = [load_teacher(p, device) for p in cfg.teachers]
    for p, t in zip(cfg.teachers, teachers):
        if t.config.kind != "image":
            raise ConfigError(f"teacher {p} makes 2-D points; fuse works on image generators")
    names = [teacher_name(t) for t in teachers]
    if len(set(names)) < len(names):
        names = [f"{n}#{i}" for i, n in enumerate(names)]
    weights = torch.tensor(cfg.weights or [1.0] * len(teachers), dtype=torch.float32)
    weights = weights / weights.sum()
    latent = cfg.latent_dim or max(t.config.latent_dim for t in teachers) + (1 if cfg.unconditional else 0)
    short = [n for n, t in zip(names, teachers) if t.config.latent_dim > latent - (1 if cfg.unconditional else 0)]
    if short:
        raise ConfigError(f"--latent-dim {latent} is smaller than the latent of teacher(s) {', '.join(short)}"
                          + (" plus the selector coordinate of --unconditional" if cfg.unconditional else ""))
    datasets = {t.config.dataset for t in teachers}
    common = datasets.pop() if len(datasets) == 1 else ""
    dataset = cfg.dataset or common
    # the real classes the union covers: only meaningful when every teacher models the same data set
    data_classes = sorted({c for t in teachers for c in (t.config.meta.get("classes") or [])}) if common else []
    if cfg.unconditional:
        mode, class_names, label_map = "unconditional", names, [{c: k for c in _teacher_classes(t)}
                                                                 for k, t in enumerate(teachers)]
    elif cfg.labels == "merge":
        mode = "merge"
        class_names, label_map = merged_labels(teachers, names)
    else:
        mode, class_names, label_map = "teacher", names, [{c: k for c in _teacher_classes(t)}
                                                          for k, t in enumerate(teachers)]
    num_classes = 0 if mode == "unconditional" else len(class_names)
    label_weights = [float(weights[k]) / len(m) for k, m in enumerate(label_map) for _ in m] if mode == "merge" \
        else weights.tolist()
    student = GeneratorConfig(
        arch="dcgan", latent_dim=latent, resolution=cfg.resolution or max(t.config.resolution for t in teachers),
        channels=cfg.channels or max(t.config.channels for t in teachers), width=cfg.width, num_classes=num_classes,
        class_names=list(class_names), dataset=dataset, conditioning=cfg.conditioning,
        mixture=weights.tolist() if mode == "unconditional" else [],
        meta={"teachers": [t.source for t in teachers], "teacher_names": names, "labels": mode,
              "weights": weights.tolist(), "data_classes": data_classes or None,
              **({"label_weights": _merge_order(label_weights, label_map)} if num_classes else {})})
    try:
        student.validate()
    except ValueError as e:
        raise ConfigError(f"the fused student cannot be built: {e}") from None
    return TeacherSet(teachers, names, weights, student, label_map, mode)


def _teacher_classes(t: Teacher) -> list[int]:
    return sample_classes(t.config) if t.config.num_classes else [0]


def _merge_order(per_entry: list[float], label_map: list[dict[int, int]]) -> list[float]:
    """Label weights indexed by student label."""
    out = [0.0] * sum(len(m) for m in label_map)
    flat = [label for m in label_map for label in m.values()]
    for w, label in zip(per_entry, flat):
        out[label] = w
    return out


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


class FusionSampler:
    """Every step covers every teacher in proportion to its weight; no state beyond the engine's generator."""

    def __init__(self, tset: TeacherSet, batch_size: int) -> None:
        self.tset, self.counts = tset, balanced_counts(tset.weights, max(batch_size, len(tset.teachers)))

    def next(self, rng: torch.Generator, device: torch.device) -> dict[str, torch.Tensor]:
        zs, labels, images, ids = [], [], [], []
        for k, n in enumerate(self.counts):
            z, y, x = self.tset.draw(k, n, rng, device)
            zs.append(z), images.append(x), ids.append(torch.full((n,), k, device=device))
            if y is not None:
                labels.append(y)
        batch = {"z": torch.cat(zs), "teacher": torch.cat(images), "teacher_ids": torch.cat(ids)}
        batch["real"] = batch["teacher"]
        if labels:
            batch["labels"] = torch.cat(labels)
        return batch

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None


class TeacherPixelGap(LossTerm):
    """Monitor (weight 0): the L1 gap between student and teacher images on one teacher's share of the batch."""

    def __init__(self, k: int, name: str) -> None:
        super().__init__(0.0)
        self.k, self.name = k, f"pixel@{name}"

    def compute(self, ctx: StepContext) -> torch.Tensor:
        mine = ctx["teacher_ids"] == self.k
        return (ctx["student"][mine] - ctx["teacher"][mine]).detach().abs().mean()


def fuse(config: FuseConfig, resume: bool = False) -> Path:
    """Fuse ``config.teachers`` into one student; returns the run directory."""
    cfg = config
    cfg.validate()
    weights = parse_loss_weights(cfg.loss)
    device = resolve_device(cfg.device)
    tset = load_teacher_set(cfg, device)
    scfg = tset.student
    resolved = dataclasses.asdict(cfg)
    run = prepare_run_dir(cfg.out, resolved, resume)
    torch.manual_seed(cfg.seed)
    student = build_generator(scfg)
    terms, providers = matching_terms(weights, student, lambda: perceptual_features(
        cfg.perceptual_net, scfg.dataset, None, device))
    terms += [TeacherPixelGap(k, name) for k, name in enumerate(tset.names)]
    s_opt = torch.optim.Adam(student.parameters(), lr=cfg.lr, betas=(0.5, 0.999))
    modules: dict[str, torch.nn.Module] = {"G": student}
    optimizers: dict[str, torch.optim.Optimizer] = {"G": s_opt}
    d = d_opt = None
    if weights.get("adversarial", 0) > 0:
        d = build_discriminator(scfg, max(cfg.width, 0.25))
        d_opt = torch.optim.Adam(d.parameters(), lr=cfg.lr / 5, betas=(0.5, 0.999))
        modules["D"], optimizers["D"] = d, d_opt
    phases = student_phases(student, s_opt, terms, providers, weights.get("adversarial", 0), d, d_opt)
    sampler = FusionSampler(tset, cfg.batch_size)
    preview_rng = torch.Generator().manual_seed(1234)
    preview_inputs = [tset.draw(k, 8, preview_rng, device) for k in range(len(tset.teachers))]
    snapshot = RecalibratedSnapshot(lambda: modules["G_ema"], scfg, seed=cfg.seed)

    def export(run_dir: Path, step: int) -> None:
        save_generator(snapshot.at(step), dataclasses.replace(scfg, meta={**scfg.meta, "train_steps": step,
                                                                         "fuse_config": resolved}),
                       run_dir / "generator")

    def preview(run_dir: Path, step: int) -> None:
        s = snapshot.at(step)
        rows = []
        with torch.inference_mode():
            for z, y, x in preview_inputs:  # per teacher: its images, then the student's on the same inputs
                rows += [x.cpu(), s(z, y).cpu()]
        save_image_grid(torch.cat(rows), run_dir / "samples" / f"step-{step:07d}.png", nrow=8)

    task = TrainingTask(modules=modules, optimizers=optimizers, phases=phases, sampler=sampler,
                        ema=("G", "G_ema"), export=export, preview=preview)
    engine = Engine(task, EngineConfig.from_task_config(cfg), run)
    write_run_config(run, "fuse", resolved, {"generator": scfg.to_dict(), "teachers": tset.names})
    engine.fit(resume=resume)
    if cfg.eval_n:
        from gantransfer.metrics.fusion import evaluate_fusion
        from gantransfer.io import write_json
        write_json(run / "eval.json", evaluate_fusion(run, cfg.teachers, cfg.eval_n, device=device))
    return run
