"""The end-of-run evaluation of a fused translator (``eval.json``): on held-out input images no step trained on,
per teacher k, the student's mapping k against teacher k's outputs (PSNR, SSIM, L1; the teacher-relative FD/KID in
a space learned from teacher k's outputs alone), and the cost of the one student against the sum of the teachers'.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from gantransfer.image_space import convert_images
from gantransfer.metrics.teacher_relative import distribution_figures, images_key
from gantransfer.metrics.teacher_space import teacher_space
from gantransfer.metrics.translator_distill import MIN_DISTRIBUTION, fidelity_to_teacher, outputs
from gantransfer.models.cost import count_macs, count_params


def teacher_outputs(teacher, x: torch.Tensor, channels: int, device: torch.device) -> torch.Tensor:
    """A teacher's outputs on ``x`` in the student's channels (float32, CPU)."""
    return convert_images(outputs(teacher.module, x, device), x.shape[-1], channels)


def fusion_cost(student: torch.nn.Module, scfg, teachers: list, names: list[str]) -> dict[str, Any]:
    """Parameters and MACs per image at the run's size of the student, of each teacher and of their sum, and
    sum / student."""
    per = {name: {"params": count_params(t.module),
                  "macs": count_macs(t.module, dataclasses.replace(t.config, resolution=scfg.resolution))}
           for name, t in zip(names, teachers)}
    sp, sm = count_params(student), count_macs(student, scfg)
    tp, tm = sum(v["params"] for v in per.values()), sum(v["macs"] for v in per.values())
    return {"student_params": sp, "student_macs": sm, "teachers": per, "teachers_params_sum": tp,
            "teachers_macs_sum": tm, "params_reduction_vs_sum": tp / sp if sp else None,
            "macs_reduction_vs_sum": tm / sm if sm else None, "resolution": scfg.resolution}


def evaluate_fused_translator(run: Path, teachers: list, names: list[str], held_out: torch.Tensor,
                              device: torch.device) -> dict[str, Any]:
    """eval.json of a translator fusion: per-teacher fidelity and distribution figures on ``held_out``, and cost."""
    from gantransfer.models.store import load_generator
    student, scfg = load_generator(run, device)
    per: dict[str, Any] = {}
    for k, (t, name) in enumerate(zip(teachers, names)):
        t_out = teacher_outputs(t, held_out, scfg.channels, device)
        s_out = outputs(student, held_out, device, label=k)
        row: dict[str, Any] = {"label": k, "fidelity": fidelity_to_teacher(s_out, t_out)}
        if len(held_out) < MIN_DISTRIBUTION:
            row["teacher_relative"] = {"skipped": f"{len(held_out)} held-out inputs: the distribution figure needs "
                                                  f"at least {MIN_DISTRIBUTION}"}
        else:
            encoder, record = teacher_space(lambda n, out=t_out: out[:n], images_key(t_out), t.source, run)
            row["teacher_relative"] = {"n": len(held_out),
                                       "space": {**record, "learned_from": f"teacher {name}'s outputs on the "
                                                                           "held-out inputs"},
                                       **distribution_figures(t_out, s_out, encoder)}
        per[name] = row
    return {"held_out_inputs": len(held_out), "teachers": list(names), "per_teacher": per,
            "cost": fusion_cost(student, scfg, teachers, names)}
