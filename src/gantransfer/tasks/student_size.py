"""What a distilled student costs against its teacher, stated before training starts and kept in run.json."""
from __future__ import annotations

import sys
import warnings

import torch
from torch import nn

from gantransfer.models.config import GeneratorConfig
from gantransfer.models.cost import count_macs, count_params
from gantransfer.report.format import number, si


def quiet_macs(module: nn.Module, cfg: GeneratorConfig) -> int | None:
    """MACs of one sample of ``module``, counted without changing it: eval mode (no batch-norm statistics or mean
    W updated), the global random streams restored; None when the module cannot be counted (a black box)."""
    was = module.training
    module.eval()
    try:
        with torch.random.fork_rng():
            return int(count_macs(module, cfg))
    except Exception:  # a black-box teacher torch cannot trace: its MACs are unknown, not an error
        return None
    finally:
        module.train(was)


def _times(teacher: float, student: float, what: str) -> str:
    if not teacher or not student:
        return ""
    r = teacher / student
    return f"{number(round(r, 1))}x fewer {what}" if r >= 1 else f"{number(round(1 / r, 1))}x more {what}"


def size_summary(student: nn.Module, scfg: GeneratorConfig, teacher_module: nn.Module,
                 teacher_cfg: GeneratorConfig) -> dict:
    """Print one line, the student's parameters and MACs against the teacher's (stderr), warn when the student is
    not smaller, and return the figures for run.json (``student_size``)."""
    rec = {"student_params": count_params(student), "student_macs": quiet_macs(student, scfg),
           "teacher_params": count_params(teacher_module), "teacher_macs": quiet_macs(teacher_module, teacher_cfg)}
    for what in ("params", "macs"):
        t, s = rec[f"teacher_{what}"], rec[f"student_{what}"]
        rec[f"{what}_reduction"] = round(t / s, 3) if t and s else None
    line = f"student {si(rec['student_params'])} params"
    if rec["student_macs"] is not None:
        line += f", {si(rec['student_macs'], 'MACs')}"
    against = [x for x in (_times(rec["teacher_params"], rec["student_params"], "params"),
                           _times(rec["teacher_macs"] or 0, rec["student_macs"] or 0, "MACs")) if x]
    if against:
        line += f": {', '.join(against)} than the teacher"
    print(f"gantransfer distill: {line}", file=sys.stderr)
    if rec["teacher_params"] and rec["student_params"] >= rec["teacher_params"]:
        warnings.warn(f"the student ({rec['student_params']:,} parameters) is not smaller than its teacher "
                      f"({rec['teacher_params']:,})")
    return rec
