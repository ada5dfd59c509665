"""Prototype (session 18): a DCGAN student whose upsampling blocks are depthwise-separable, to buy more channels
per MAC at 50x fewer MACs than the shipped Fashion-MNIST teacher.

Each hidden block after the first is a 1x1 convolution at the input resolution (the channel mixing), batch norm,
LeakyReLU, then a depthwise 4x4 stride-2 transposed convolution (one filter per channel: the upsampling), batch
norm, ReLU; the first layer (latent -> 4x4) and the last (-> image) are the DCGAN's. Channels ``--plan 64,64,16``
cost 332 k MACs (52.6x fewer than the teacher) against width 1/8's 32/16/8 at 346 k (50.4x). The family is
registered from here (``dcgan-sep``, the registry's extension point) and distilled with the demo's recipe (pixel 1,
perceptual 3, adversarial 0.1 against a fresh width-0.25 discriminator, batch 32, lr 3e-3, a bank of 16,384
latents). Its layout is not the teacher's, so it starts random: compare it with the width-1/8 DCGAN started at
random (``--init random``) as well as pruned.

    OMP_NUM_THREADS=1 python benchmarks/separable_student.py --plan 64,64,16 --out runs/sep-64-64-16 \
        --results benchmarks/results/separable_student.json
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

from torch import nn

from harness import merge_row

TEACHER = "src/gantransfer/assets/teachers/fashion-mnist-dcgan"


def register_family() -> None:
    """Register ``dcgan-sep``: the DCGAN family with separable upsampling blocks (no channel groups: no pruning)."""
    from gantransfer.models import dcgan
    from gantransfer.models.family import register

    class SeparableGenerator(dcgan.DCGANGenerator):
        def __init__(self, *args, **kw) -> None:
            super().__init__(*args, **kw)
            layers = list(self.main)
            plan = [m.out_channels for m in layers if isinstance(m, nn.ConvTranspose2d)][:-1]
            blocks, c = layers[:3], plan[0]
            for c_next in plan[1:]:
                blocks += [nn.Conv2d(c, c_next, 1, bias=False), nn.BatchNorm2d(c_next), nn.LeakyReLU(0.2, True),
                           nn.ConvTranspose2d(c_next, c_next, 4, 2, 1, groups=c_next, bias=False),
                           nn.BatchNorm2d(c_next), nn.ReLU(True)]
                c = c_next
            self.main = nn.Sequential(*blocks, *layers[-2:])

    def build(cfg):
        o = cfg.options
        g = SeparableGenerator(cfg.latent_dim, cfg.resolution, cfg.channels, cfg.width, cfg.num_classes,
                               conditioning=o.conditioning, start=o.start_resolution, plan=list(o.channels) or None)
        dcgan.init_dcgan_weights(g)
        return g

    base = dcgan.FAMILY
    register(dataclasses.replace(base, name="dcgan-sep", build_generator=build, channel_groups=None,
                                 channel_plan=None,
                                 capabilities=dataclasses.replace(base.capabilities, feature_taps=False)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plan", default="64,64,16", help="channels of the hidden blocks at 4, 8 and 16 px")
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--results", required=True)
    args = ap.parse_args()
    register_family()
    from gantransfer.config import DistillConfig
    from gantransfer.tasks.distill import distill
    plan = [int(c) for c in args.plan.split(",")]
    out = Path(args.out)
    seconds = None
    if not (out / "eval.json").is_file():
        cfg = DistillConfig(teacher=TEACHER, student_arch="dcgan-sep", student_options={"channels": plan}, width=1.0,
                            init="random", terms="pixel=1,perceptual=3,adversarial=0.1", discriminator_width=0.25,
                            bank_size=16384, batch_size=32, lr=args.lr, steps=args.steps, eval_n=5000,
                            seed=args.seed, device="cpu", progress=False, sample_every=args.steps,
                            checkpoint_every=args.steps, out=str(out))
        t0 = time.perf_counter()
        distill(cfg)
        seconds = round(time.perf_counter() - t0, 1)
    ev = json.loads((out / "eval.json").read_text())
    row = {"run": out.name, "plan": plan, "steps": args.steps, "lr": args.lr, "seed": args.seed,
           "wall_seconds": seconds, "cost": ev["cost"], "fid_ratio": ev["fid_ratio"],
           "psnr_fresh": ev["fidelity"]["fresh"]["psnr"]}
    merge_row(args.results, row, {"script": "benchmarks/separable_student.py", "teacher": TEACHER})
    print(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()
