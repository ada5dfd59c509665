"""Figures of every width of an elastic student (``distill --elastic``): each sub-network as ``--width`` gives it
(standalone, batch-norm statistics re-estimated), against the teacher: cost, fidelity on new latents and, where
the data set has a shipped protocol, FID and its ratio to the teacher's."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from gantransfer.models.cost import count_macs, count_params
from gantransfer.models.elastic import elastic_widths, subnetwork
from gantransfer.models.sampling import draw_inputs


def width_figures(run: Path, teacher, teacher_metrics: dict[str, Any] | None, n: int, device: torch.device,
                  truncation: float = 0.0) -> dict[str, dict[str, Any]]:
    """{width: figures} for the elastic student saved in ``run``; ``teacher_metrics``: the teacher's protocol
    metrics on the same count (None: no FID)."""
    from gantransfer.metrics.distillation import FIDELITY_SEED, fid_ratios
    from gantransfer.metrics.evaluate import evaluate_generator
    from gantransfer.metrics.fidelity import fidelity
    from gantransfer.models.store import load_generator
    g, cfg = load_generator(run, device)
    t_module = teacher.module
    t_macs = count_macs(t_module, teacher.config) if any(True for _ in t_module.parameters()) else None
    z, y = draw_inputs(cfg, n, torch.Generator().manual_seed(FIDELITY_SEED), truncation=truncation)
    out: dict[str, dict[str, Any]] = {}
    for w in elastic_widths(cfg) or []:
        sub, sub_cfg = subnetwork(g, cfg, w)
        macs = count_macs(sub, sub_cfg)
        fig: dict[str, Any] = {"family_width": sub_cfg.width, "params": count_params(sub), "macs": macs,
                               "macs_reduction": t_macs / macs if t_macs else None,
                               "fidelity_fresh": fidelity(sub, teacher, sub_cfg, z, y, device=device)}
        if teacher_metrics:
            fig["student"] = evaluate_generator(sub, sub_cfg, cfg.dataset, n, classes=cfg.trained_classes,
                                                device=device, desc=f"evaluating width {w:g}")["metrics"]
            fig["fid_ratio"] = fid_ratios(fig["student"], teacher_metrics)
        out[f"{w:g}"] = fig
    return out
