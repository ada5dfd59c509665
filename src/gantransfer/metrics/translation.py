"""Figures of an image-to-image translator on a folder of inputs: PSNR, SSIM and L1 against ground truth (paired
tasks: a target folder with the same relative names) and against another translator's outputs on the same
inputs (a teacher). Images are compared in [-1, 1] at the translator's input size."""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

from gantransfer.data.image_files import EXTENSIONS, READ_ERRORS, first_line, list_image_files, read_image
from gantransfer.errors import ConfigError, DataError
from gantransfer.metrics.fidelity import PSNR_CEILING_DB
from gantransfer.deploy.translator_opener import open_any_translator
from gantransfer.models.translators import check_size

BATCH = 16


def match_targets(files: list[Path], target: Path) -> list[Path]:
    """The ground-truth file of each input: the same relative path and stem, any image suffix; DataError listing
    a few inputs without one."""
    found, missing = [], []
    for rel in files:
        hits = [target / rel.with_suffix(s) for s in EXTENSIONS if (target / rel.with_suffix(s)).is_file()]
        (found.append(hits[0]) if hits else missing.append(str(rel)))
    if missing:
        raise DataError(f"--target {target} has no image named like {len(missing)} of the {len(files)} inputs, "
                        f"e.g. {', '.join(missing[:3])}; a paired folder needs the same relative names")
    return found


class PairSums:
    """Running sums of per-image PSNR (capped), SSIM and L1."""

    def __init__(self) -> None:
        self.psnr = self.ssim = self.l1 = 0.0
        self.n = 0

    def add(self, a: torch.Tensor, b: torch.Tensor) -> None:
        a, b = a.float().clamp(-1, 1), b.float().clamp(-1, 1)
        per = peak_signal_noise_ratio(a, b, data_range=2.0, reduction="none", dim=(1, 2, 3))
        self.psnr += float(per.clamp(max=PSNR_CEILING_DB).sum())
        self.ssim += float(structural_similarity_index_measure(a, b, data_range=2.0, reduction="sum"))
        self.l1 += float((a - b).abs().mean(dim=(1, 2, 3)).sum())
        self.n += len(a)

    def means(self) -> dict[str, float]:
        return {"psnr": self.psnr / self.n, "ssim": self.ssim / self.n, "l1": self.l1 / self.n}


@torch.inference_mode()
def evaluate_translator(source: str | Path, input_dir: str | Path, target: str | Path | None = None,
                        against: str | Path | None = None, size: int | None = None,
                        device: str | torch.device = "cpu", label: str | int | None = None) -> dict[str, Any]:
    """Mean PSNR (dB, per image, capped at ``PSNR_CEILING_DB``), SSIM and L1 of the translator's outputs on every
    image under ``input_dir``: against ``target`` (ground truth) and against translator ``against``'s outputs.
    ``label``: the mapping of a fused translator (an index or a teacher's name)."""
    g, cfg = open_any_translator(source, device, fits="eval {} --data NAME", label=label)  # noise generator: its eval
    if target is None and against is None:
        raise ConfigError("evaluating a translator needs --target DIR (ground truth) or --against TEACHER")
    size = size or cfg.resolution
    check_size(size, cfg, g)
    teacher = None
    if against is not None:
        teacher, tcfg = open_any_translator(against, device, flag="--against", fits="eval {} --data NAME")
        if (tcfg.input_channels, tcfg.channels) != (cfg.input_channels, cfg.channels):
            raise ConfigError(f"--against {against} maps {tcfg.input_channels} to {tcfg.channels} channels, the "
                              f"translator {cfg.input_channels} to {cfg.channels}; they cannot be compared")
        check_size(size, tcfg, teacher)
    root = Path(input_dir)
    files = list_image_files(root)
    targets = match_targets(files, Path(target)) if target is not None else [None] * len(files)
    vs_target, vs_teacher, skipped = PairSums(), PairSums(), []
    batch: list[tuple[torch.Tensor, torch.Tensor | None]] = []
    for i, (rel, tpath) in enumerate(zip(files, targets)):
        try:
            x = read_image(root / rel, cfg.input_channels, size)
            y = None if tpath is None else read_image(tpath, cfg.channels, size)
            batch.append((x, y))
        except READ_ERRORS as e:
            skipped.append(f"{rel}: {first_line(e)}")
        if batch and (len(batch) == BATCH or i == len(files) - 1):
            xs = torch.stack([b[0] for b in batch]).to(device)
            out = g(xs).float().cpu()
            if tpath is not None:
                vs_target.add(out, torch.stack([b[1] for b in batch]))
            if teacher is not None:
                vs_teacher.add(out, teacher(xs).float().cpu())
            batch = []
    if skipped:
        warnings.warn(f"skipped {len(skipped)} unreadable image(s): {'; '.join(skipped[:3])}", UserWarning,
                      stacklevel=2)
    if not vs_target.n and not vs_teacher.n:
        raise DataError(f"no readable image pair in {root}")
    result: dict[str, Any] = {"translator": str(source), "input": str(root), "images": max(vs_target.n, vs_teacher.n),
                              "size": size, "skipped": len(skipped)}
    if label is not None:
        result["label"] = label
    if vs_target.n:
        result["target"] = {"path": str(target), **vs_target.means()}
    if vs_teacher.n:
        result["against"] = {"path": str(against), **vs_teacher.means()}
    return result
