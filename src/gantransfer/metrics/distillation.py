"""The end-of-run evaluation of a distilled student: student and teacher under the same protocol, fidelity on
bank and fresh latents, cost ratios and a side-by-side grid (``run/eval.json``, ``run/report/``)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from gantransfer.models.sampling import draw_inputs

FIDELITY_SEED = 4242  # latents never used in training


def fid_ratios(student: dict[str, Any], teacher: dict[str, Any]) -> dict[str, float]:
    """Student FID over teacher FID per protocol: {protocol: ratio} from two metric dicts
    (keys ``fid/<protocol>/<count>``)."""
    out = {}
    for k, t in teacher.items():
        s = student.get(k)
        if k.startswith("fid/") and isinstance(s, float) and isinstance(t, float) and t > 0:
            out[k.split("/")[1]] = s / t
    return out


def evaluate_distillation(run: Path, teacher, bank: torch.Tensor | None, n: int, device: torch.device,
                          truncation: float = 0.0) -> dict[str, Any]:
    """Figures of the student in ``run`` against ``teacher`` (a Teacher); ``bank``: the latent bank trained on."""
    from gantransfer.models.cost import count_macs, count_params
    from gantransfer.metrics.classifier import ships
    from gantransfer.metrics.evaluate import evaluate_generator
    from gantransfer.metrics.fidelity import fidelity
    from gantransfer.models.store import load_generator
    from gantransfer.grid import save_image_grid
    student, scfg = load_generator(run, device)
    rng = torch.Generator().manual_seed(FIDELITY_SEED)
    z, y = draw_inputs(scfg, n, rng, truncation=truncation)  # fidelity on the latents' training distribution
    s_call, t_call, noise = same_noise(student, scfg, teacher)
    result: dict[str, Any] = {"teacher": teacher.source, "n": n, "truncation": truncation, "noise": noise,
                              "fidelity": {"fresh": fidelity(s_call, t_call, scfg, z, y, device=device)}}
    if bank is not None:
        zb = bank[:n]
        yb = None if y is None else y[:len(zb)]
        result["fidelity"]["bank"] = fidelity(s_call, t_call, scfg, zb, yb, device=device)
    t_module = teacher.module
    if isinstance(t_module, torch.nn.Module) and any(True for _ in t_module.parameters()):
        t_params, s_params = count_params(t_module), count_params(student)
        t_macs, s_macs = count_macs(t_module, teacher.config), count_macs(student, scfg)
        result["cost"] = {"teacher_params": t_params, "student_params": s_params, "params_reduction": t_params / s_params,
                          "teacher_macs": t_macs, "student_macs": s_macs, "macs_reduction": t_macs / s_macs}
    dataset = scfg.dataset
    if ships(dataset):
        classes = scfg.trained_classes
        result["student"] = evaluate_generator(student, scfg, dataset, n, classes=classes, device=device,
                                               desc="evaluating the student")["metrics"]
        result["teacher_metrics"] = evaluate_generator(teacher.module, teacher.config, dataset, n, classes=classes,
                                                       device=device, desc="evaluating the teacher")["metrics"]
        result["fid_ratio"] = fid_ratios(result["student"], result["teacher_metrics"])
    with torch.inference_mode():
        k = min(16, n)
        zi, yi = z[:k].to(device), None if y is None else y[:k].to(device)
        pair = torch.cat([teacher(zi, yi).cpu(), student(zi, yi).cpu()])
    save_image_grid(pair, run / "report" / "teacher_vs_student.png", nrow=k)
    return result


def same_noise(student: torch.nn.Module, scfg, teacher) -> tuple[Any, Any, str]:
    """Student and teacher callables for the fidelity figures: when both take noise inputs (StyleGAN2; the student
    was given the teacher's stored noise buffers), both use those stored buffers, so PSNR measures what the
    student learnt, not two draws of per-layer noise; otherwise the plain calls."""
    if not (scfg.family.capabilities.noise_inputs and teacher.capabilities.noise_inputs):
        return student, teacher, "as sampled"
    def s_call(z, y):
        return student(z, y, noise_mode="const")
    def t_call(z, y):
        return teacher.module(z, y, noise_mode="const")
    return s_call, t_call, "const (the teacher's stored noise on both sides)"
