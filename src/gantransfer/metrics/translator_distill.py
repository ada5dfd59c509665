"""The end-of-run evaluation of a translator student (``eval.json``): on held-out input images no step trained on,

- fidelity to the teacher: mean per-image PSNR (capped), SSIM and L1 of the student's outputs against the
  teacher's (``metrics/translation.py``);
- a distribution figure needing no pretrained network: FD and KID (and the two-sample test when there are enough
  images) in a feature space learned from the teacher's outputs on those inputs alone (``teacher_relative.py``);
- cost: parameters and multiply-accumulates per image at the nominal size, and their ratios to the teacher's.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from gantransfer.metrics.teacher_relative import distribution_figures, images_key
from gantransfer.metrics.teacher_space import teacher_space
from gantransfer.metrics.translation import PairSums
from gantransfer.models.cost import count_macs, count_params

BATCH = 64
MIN_DISTRIBUTION = 10  # held-out images below which no feature space is learned (a spread needs several)


@torch.inference_mode()
def outputs(g: torch.nn.Module, x: torch.Tensor, device: torch.device, label: int | None = None) -> torch.Tensor:
    """``g``'s outputs on images ``x`` (float32, CPU), in batches; ``label``: the mapping of a fused translator."""
    def run(xb: torch.Tensor) -> torch.Tensor:
        xb = xb.to(device)
        y = None if label is None else torch.full((len(xb),), label, dtype=torch.long, device=device)
        return (g(xb) if y is None else g(xb, y)).float().cpu()
    return torch.cat([run(x[i:i + BATCH]) for i in range(0, len(x), BATCH)])


def fidelity_to_teacher(student_out: torch.Tensor, teacher_out: torch.Tensor) -> dict[str, float]:
    """Mean per-image PSNR (dB, capped), SSIM and L1 of the student's outputs against the teacher's."""
    sums = PairSums()
    for i in range(0, len(student_out), BATCH):
        sums.add(student_out[i:i + BATCH], teacher_out[i:i + BATCH])
    return sums.means()


def cost_ratios(student: torch.nn.Module, scfg, teacher) -> dict[str, Any]:
    """Parameters and MACs per image at the nominal size of student and teacher, and teacher / student."""
    sp, tp = count_params(student), count_params(teacher.module)
    sm, tm = count_macs(student, scfg), count_macs(teacher.module, teacher.config)
    return {"student_params": sp, "teacher_params": tp, "student_macs": sm, "teacher_macs": tm,
            "params_reduction": tp / sp if sp else None, "macs_reduction": tm / sm if sm else None,
            "resolution": scfg.resolution}


def evaluate_translator_student(run: Path, teacher, held_out: torch.Tensor, device: torch.device
                                ) -> dict[str, Any]:
    """eval.json of a translator distillation: fidelity, the distribution figure and the cost, on ``held_out``."""
    from gantransfer.models.store import load_generator
    student, scfg = load_generator(run, device)
    t_out, s_out = outputs(teacher.module, held_out, device), outputs(student, held_out, device)
    result: dict[str, Any] = {"held_out_inputs": len(held_out),
                              "fidelity": fidelity_to_teacher(s_out, t_out),
                              "cost": cost_ratios(student, scfg, teacher)}
    if len(held_out) < MIN_DISTRIBUTION:
        result["teacher_relative"] = {"skipped": f"{len(held_out)} held-out inputs: the distribution figure needs "
                                                 f"at least {MIN_DISTRIBUTION}"}
        return result
    encoder, record = teacher_space(lambda k: t_out[:k], images_key(t_out), teacher.source, run)
    result["teacher_relative"] = {"n": len(held_out),
                                  "space": {**record, "learned_from": "the teacher's outputs on the held-out inputs"},
                                  **distribution_figures(t_out, s_out, encoder)}
    return result
