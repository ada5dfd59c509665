"""A prototype measured against the demo's recipe: the adversarial term against a *projected* discriminator
(small trainable heads on the frozen Fashion-MNIST perceptual network's four feature maps, as Projected GANs do
with a pretrained network) instead of a fresh width-0.25 pixel-space one. Everything else is the demo's recipe
(pixel=1, perceptual=3, adversarial=0.1, pruned start, lr 3e-3, batch 32, a bank of 16,384 latents); the run's
own end-of-run evaluation scores it under both protocols (neither uses the perceptual network).

    python benchmarks/projected_discriminator.py --out runs/bench/projected-w0.2-s0 --steps 3000 --width 0.2 \
        --results benchmarks/results/projected_discriminator.json

Not a package feature: the discriminator is swapped in by replacing ``build_discriminator`` in the distill task
for this process only. A run whose eval.json exists is read, not re-run.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torch import nn

from harness import merge_row

TEACHER = "src/gantransfer/assets/teachers/fashion-mnist-dcgan"


class ProjectedDiscriminator(nn.Module):
    """Images -> logits (B,): a 3x3 conv, LeakyReLU and 1x1 conv head on each map of a frozen feature network,
    averaged over positions and summed over maps. ``features`` is a plain function (its layers are no submodule
    of this one), so the discriminator's optimiser trains the heads only."""

    def __init__(self, features, channels: list[int], hidden: int = 32) -> None:
        super().__init__()
        self.features = features
        self.heads = nn.ModuleList(nn.Sequential(nn.Conv2d(c, hidden, 3, 1, 1), nn.LeakyReLU(0.2, True),
                                                 nn.Conv2d(hidden, 1, 1)) for c in channels)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        maps = self.features(x)
        return sum(h(m).flatten(1).mean(1) for h, m in zip(self.heads, maps))


def run(out: Path, steps: int, width: float, seed: int) -> float:
    """Distil with the projected discriminator into ``out``; returns the seconds it took."""
    import gantransfer.tasks.distill as distill_task
    from gantransfer.config import DistillConfig
    from gantransfer.losses.distillation import feature_maps_of_classifier
    from gantransfer.metrics.classifier import load_classifier
    net = load_classifier("fashion-mnist", torch.device("cpu"), role="perceptual")
    features = feature_maps_of_classifier(net)
    channels = list(net.cfg.widths)
    distill_task.build_discriminator = lambda scfg, d_width: ProjectedDiscriminator(features, channels)
    cfg = DistillConfig(teacher=TEACHER, width=width, terms="pixel=1,perceptual=3,adversarial=0.1", init="prune",
                        bank_size=16384, steps=steps, lr=3e-3, discriminator_width=0.25, batch_size=32,
                        eval_n=5000, out=str(out), seed=seed, progress=False)
    t0 = time.perf_counter()
    distill_task.distill(cfg)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--width", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--results", required=True)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    seconds = None if (out / "eval.json").is_file() else round(run(out, args.steps, args.width, args.seed), 1)
    ev = json.loads((out / "eval.json").read_text())
    metrics = [json.loads(line) for line in (out / "logs" / "metrics.jsonl").read_text().splitlines() if line]
    row = {"run": out.name, "steps": args.steps, "width": args.width, "seed": args.seed,
           "discriminator": "projected: heads on fashion-mnist-perceptual-v1's maps", "wall_seconds": seconds,
           "sec_per_step": metrics[-1].get("time/sec_per_step"), "fid_ratio": ev["fid_ratio"],
           "final_losses": {k: v for k, v in metrics[-1].items() if k.startswith("loss/")}}
    merge_row(args.results, row, {"script": "benchmarks/projected_discriminator.py", "threads": args.threads})
    print(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()
