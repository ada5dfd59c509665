"""The limited-data protocol of a translator adapted from a few paired examples: held-out pairs outside the few
training ones pick the best step (L1 against their target images), and the test pairs are used only at the end:
PSNR, SSIM and L1 of the kept translator's outputs against the target images, and the FD/KID against those target
images in a space learned from them alone, beside the same figures of the unadapted source."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from gantransfer.metrics.held_out import BestStep, kept_generator
from gantransfer.metrics.translator_distill import MIN_DISTRIBUTION, fidelity_to_teacher, outputs
from gantransfer.models.config import GeneratorConfig


class PairedBestStep(BestStep):
    """Keeps the step whose EMA translator has the lowest mean L1 against the held-out pairs' target images."""

    metric = "held_out_l1"

    def __init__(self, a: torch.Tensor, b: torch.Tensor, gcfg: GeneratorConfig, device: torch.device) -> None:
        super().__init__(None, None, gcfg, len(a), device)  # type: ignore[arg-type]
        self.a, self.b = a, b

    def score(self, g: torch.nn.Module) -> float:
        was = g.training
        g.eval()
        try:
            return float((outputs(g, self.a, self.device) - self.b).abs().mean())
        finally:
            g.train(was)


def target_figures(outs: dict[str, torch.Tensor], target: torch.Tensor, run: Path) -> dict[str, Any]:
    """Per translator (``outs``: name -> its outputs on the test inputs): fidelity to ``target`` and, with enough
    images, FD/KID against them in a space learned from the target images alone."""
    from gantransfer.metrics.teacher_relative import distribution_figures, images_key
    from gantransfer.metrics.teacher_space import teacher_space
    result: dict[str, Any] = {name: {"fidelity": fidelity_to_teacher(y, target)} for name, y in outs.items()}
    if len(target) < MIN_DISTRIBUTION:
        result["distribution"] = {"skipped": f"{len(target)} test pairs: the FD against the target images needs at "
                                             f"least {MIN_DISTRIBUTION}"}
        return result
    encoder, record = teacher_space(lambda n: target[:n], images_key(target), "", run)
    result["space"] = {**record, "learned_from": "the test pairs' target images alone (never trained on)"}
    for name, y in outs.items():
        result[name]["against_target"] = distribution_figures(target, y, encoder)
    return result


def paired_final_evaluation(run: Path, best: PairedBestStep | None, source: torch.nn.Module,
                            test: tuple[torch.Tensor, torch.Tensor], train_pairs: int, device: torch.device
                            ) -> dict[str, Any]:
    """eval.json of a translator adaptation: which step was kept and why, and the kept translator against the
    unadapted ``source`` on the test pairs (``target_figures``)."""
    g, _, kept = kept_generator(run, best, device, score="best_held_out_l1")
    x, target = test
    result: dict[str, Any] = {**kept, "train_pairs": train_pairs, "test_pairs": len(x)}
    outs = {"adapted": outputs(g, x, device), "source": outputs(source, x, device)}
    result["test"] = target_figures(outs, target, run)
    return result
