"""The report's sample grids, made from what a run directory holds: teacher vs student on the same latents,
per teacher for fusion, per label for conditional generators, training images and nearest training images for
adaptation, input | teacher | student rows for translator runs (``translation_rows.py``), and the grids written
during training."""
from __future__ import annotations

import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from gantransfer.grid import save_image_grid
from gantransfer.report.runs import Run
from gantransfer.report.translation_rows import HEADING, IMAGE, rows_caption, rows_record

SEED = 1234  # the report's own inputs, the same as the training previews'


@dataclass
class Figure:
    """An image beside the page: its file name, what it shows, and whether it is a pixel grid (crisp scaling)."""

    src: str
    caption: str
    pixels: bool = True
    widest: int = 1160  # shown at most this wide (px)


def copy_asset(src: Path, out: Path, name: str) -> str:
    """Copy ``src`` to ``out/name`` (nothing to do when it is that file already); returns ``name``."""
    dest = out / name
    if not (dest.exists() and dest.resolve() == src.resolve()):
        shutil.copyfile(src, dest)
    return name


def training_grids(run: Run, out: Path, prefix: str = "") -> list[Figure]:
    """The grids the run wrote while training, newest first (at most four, evenly spread)."""
    grids = run.samples
    rows = rows_record(run.path)
    if len(grids) > 4:
        picks = sorted({round(i * (len(grids) - 1) / 3) for i in range(4)})
        grids = [grids[i] for i in picks]
    what = {"distill": "rows alternate teacher / student on the same latents",
            "fuse": "two rows per teacher (" + ", ".join(map(str, run.record.get("teachers", []))) +
                    "): its images, then the student's on the same inputs"}.get(run.command, "samples on fixed inputs")
    if rows is not None:  # a translator run: its rows on fixed inputs, named by its record
        what = f"rows {' | '.join(rows['rows'])} on fixed inputs"
    pixels = bool(run.generator.get("resolution"))  # a scatter plot of 2-D points is not a pixel grid
    return [Figure(copy_asset(p, out, f"{prefix}samples-step-{step:07d}.png"), f"step {step:,}: {what}", pixels,
                   widest=370) for step, p in reversed(grids)]


def translator_rows(run: Run, out: Path, device: torch.device, prefix: str = "") -> list[Figure]:
    """A translator run: its rows (input | teacher | student, | ground truth) on fixed held-out inputs."""
    record = rows_record(run.path)
    if record is None:
        return []
    return [Figure(copy_asset(run.path / "report" / IMAGE, out, f"{prefix}{IMAGE}"), rows_caption(record))]


def _generator(run: Run, device: torch.device):
    from gantransfer.models.store import load_generator
    return load_generator(run.path, device)


def per_label(run: Run, out: Path, device: torch.device, prefix: str = "", per_class: int = 8) -> list[Figure]:
    """For a conditional generator: ``per_class`` samples of each label, one figure per label."""
    g, cfg = _generator(run, device)
    if not cfg.num_classes or cfg.kind != "image":
        return []
    names = cfg.class_names or [str(i) for i in range(cfg.num_classes)]
    rng = torch.Generator().manual_seed(SEED)
    figures = []
    for label in range(cfg.num_classes):
        z = torch.randn(per_class, cfg.latent_dim, generator=rng)
        y = torch.full((per_class,), label, dtype=torch.long)
        with torch.inference_mode():
            x = g(z.to(device), y.to(device)).cpu()
        name = f"{prefix}label-{label:02d}.png"
        save_image_grid(x, out / name, nrow=4, scale=2)
        text = names[label] if label < len(names) else str(label)
        figures.append(Figure(name, f"label {label}" + ("" if text == str(label) else f": {text}")))
    return figures


def teacher_vs_student(run: Run, out: Path, device: torch.device, prefix: str = "") -> list[Figure]:
    """Distillation: the end-of-run grid of teacher (top) and student (bottom) on the same latents."""
    p = run.path / "report" / "teacher_vs_student.png"
    if not p.is_file():
        return []
    return [Figure(copy_asset(p, out, f"{prefix}teacher_vs_student.png"),
                   "top row: the teacher, bottom row: the student, on the same 16 latents (never trained on)")]


def per_teacher(run: Run, out: Path, device: torch.device, prefix: str = "", n: int = 8) -> list[Figure]:
    """Fusion: for each teacher, its images over the student's on the same inputs (translators: the grid the run
    saved, inputs then teacher / student rows per teacher)."""
    from gantransfer.teacher_set import teacher_set_of
    teachers = run.config.get("teachers") or []
    if not teachers:
        return []
    if run.generator.get("input_channels"):
        p = run.path / "report" / "per_teacher.png"
        return [Figure(copy_asset(p, out, f"{prefix}per_teacher.png"), "top row: held-out inputs; then, per teacher "
                       f"({', '.join(map(str, run.record.get('teachers', [])))}), its outputs over the fused "
                       "student's with that teacher's label")] if p.is_file() else []
    g, cfg = _generator(run, device)
    try:
        tset, fused = teacher_set_of(cfg, list(teachers), device)
    except Exception as e:  # noqa: BLE001 - teachers moved or unreadable: the report says so and goes on
        warnings.warn(f"per-teacher grids left out: the teachers could not be loaded ({e})")
        return []
    if not fused:
        return []
    rng = torch.Generator().manual_seed(SEED)
    figures = []
    for k, name in enumerate(tset.names):
        z, y, x = tset.draw(k, n, rng, device)
        with torch.inference_mode():
            s = g(z, y).float()
        name_file = f"{prefix}teacher-{k}.png"
        save_image_grid(torch.cat([x.cpu(), s.cpu()]), out / name_file, nrow=n, scale=2)
        figures.append(Figure(name_file, f"teacher {name}: its images (top), the student's on the same inputs "
                                         "(bottom)"))
    return figures


def adaptation(run: Run, out: Path, device: torch.device, prefix: str = "", n: int = 16) -> list[Figure]:
    """Adaptation: the few training images, the kept generator's samples, and (when memorisation was measured)
    each sample over its nearest training image."""
    from gantransfer.config import AdaptConfig, from_dict, upgrade_run_config
    from gantransfer.data.splits import target_splits
    from gantransfer.models.sampling import generate
    from gantransfer.models.store import load_generator
    if run.generator.get("input_channels"):  # a translator: the grid its run saved on test pairs
        p = run.path / "report" / "adapted_rows.png"
        return [Figure(copy_asset(p, out, f"{prefix}adapted_rows.png"), "rows: test inputs, their target images, "
                       "the unadapted source's outputs, the kept translator's outputs")] if p.is_file() else []
    ev = run.evaluation or {}
    kept = run.path / "best" if (run.path / "best" / "generator").is_dir() and ev.get("best_step") else run.path
    g, gcfg = load_generator(kept, device)
    cfg = from_dict(AdaptConfig, upgrade_run_config(AdaptConfig, run.config))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the conversion warning was given when the run was made
        train_set = target_splits(cfg, gcfg.resolution, gcfg.channels)[0]
    real = train_set.as_float()
    figures = [Figure(f"{prefix}training-images.png", f"the {len(real)} training images"
                                                       + (" (the first 32)" if len(real) > 32 else ""))]
    save_image_grid(real[:32], out / figures[0].src, nrow=8, scale=2)
    x, _ = generate(g, gcfg, n, seed=1, device=device)
    x = x.cpu().float()
    step = ev.get("best_step") if kept != run.path else ev.get("last_step")
    save_image_grid(x, out / f"{prefix}adapted-samples.png", nrow=8, scale=2)
    figures.append(Figure(f"{prefix}adapted-samples.png", f"{n} samples of the kept generator"
                          + (f" (step {step:,})" if isinstance(step, int) else "")))
    if "memorisation" in ev:
        d = torch.cdist(x.flatten(1), real.flatten(1))
        dist, idx = d.min(1)
        rms = dist / x[0].numel() ** 0.5
        pairs = torch.cat([x[:8], real[idx[:8]], x[8:16], real[idx[8:16]]])
        save_image_grid(pairs, out / f"{prefix}nearest-training-images.png", nrow=8, scale=2)
        threshold = ev["memorisation"].get("near_copy_threshold")
        close = int((rms < threshold).sum()) if isinstance(threshold, float) else None
        figures.append(Figure(f"{prefix}nearest-training-images.png",
                              "rows 1 and 3: samples; rows 2 and 4: the nearest training image of each (RMS pixel "
                              "distance)" + (f"; {close} of {len(x)} closer than the near-copy threshold"
                                             if close is not None else "")))
    return figures


def run_figures(run: Run, out: Path, prefix: str = "", device: str = "cpu") -> list[tuple[str, list[Figure]]]:
    """(heading, figures) groups of sample grids for ``run``, written into ``out``: the task's own figures
    (``figures(run, out, device, prefix)`` of its registration; a translator run's rows instead when it wrote
    them), per label, during training."""
    from gantransfer.config import task, task_names
    from gantransfer.registry import resolve
    dev = torch.device(device)
    groups: list[tuple[str, list[Figure]]] = []
    spec = task(run.command) if run.command in task_names() else None
    rows = translator_rows(run, out, dev, prefix)
    if rows:  # a translator run, whatever its command: inputs and outputs, not noise samples
        groups.append((HEADING, rows))
    elif spec is not None and spec.figures is not None:  # the task's own figures (its registration names them)
        groups.append((spec.figures_heading, resolve(spec.figures)(run, out, dev, prefix)))
    if run.generator.get("num_classes"):
        groups.append(("Per label", per_label(run, out, dev, prefix)))
    groups.append(("During training", training_grids(run, out, prefix)))
    return [(h, f) for h, f in groups if f]
