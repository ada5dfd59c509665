"""Prototype (session 18): the adversarial term's small discriminator pruned from the teacher's instead of fresh.

`distill --discriminator-width 0.25` trains a fresh width-0.25 DCGAN discriminator beside the student; the
teacher's own discriminator (full width, 2.5x the step time) already knows the data. Here the small one starts
as the teacher's, channel-pruned: per block the output channels with the largest mean |weight| of their
convolution filters are kept (with their batch norm and the next block's input slices, and the head's weights
of those channels' 4x4 positions). The demo's recipe otherwise (pixel 1, perceptual 3, adversarial 0.1, pruned
student, batch 32, lr 3e-3, a bank of 16,384 latents, 5,000 samples per protocol).

    OMP_NUM_THREADS=1 python benchmarks/pruned_discriminator.py --width 0.2 --out runs/bench/prunedD-w0.2 \
        --results benchmarks/results/pruned_discriminator.json
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


def pruned_discriminator(teacher_d: nn.Module, student_d: nn.Module) -> nn.Module:
    """``student_d`` (a DCGAN discriminator narrower than ``teacher_d``) loaded with the teacher's channels of
    largest filter magnitude, block by block."""
    t_state, s_state = teacher_d.state_dict(), student_d.state_dict()
    out = {}
    keep_in = None
    for b, (tb, sb) in enumerate(zip(teacher_d.blocks, student_d.blocks)):
        conv_t, conv_s = tb[0], sb[0]
        w = conv_t.weight.detach()
        if keep_in is not None:
            w = w[:, keep_in]
        score = w.abs().flatten(1).mean(1)
        keep = torch.sort(torch.argsort(score, descending=True)[:conv_s.out_channels]).values
        out[f"blocks.{b}.0.weight"] = w[keep]
        if conv_t.bias is not None:
            out[f"blocks.{b}.0.bias"] = conv_t.bias.detach()[keep]
        if len(tb) == 3:
            for k in ("weight", "bias", "running_mean", "running_var"):
                out[f"blocks.{b}.1.{k}"] = t_state[f"blocks.{b}.1.{k}"][keep]
            out[f"blocks.{b}.1.num_batches_tracked"] = t_state[f"blocks.{b}.1.num_batches_tracked"]
        keep_in = keep
    head = t_state["head.weight"].reshape(1, -1, 16)[:, keep_in].reshape(1, -1)
    out["head.weight"], out["head.bias"] = head, t_state["head.bias"]
    missing = set(s_state) - set(out)
    if missing:
        raise ValueError(f"cannot prune this discriminator: {sorted(missing)} not handled")
    student_d.load_state_dict(out)
    return student_d


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--width", type=float, default=0.2)
    ap.add_argument("--d-width", type=float, default=0.25)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--results", required=True)
    args = ap.parse_args()
    import gantransfer.tasks.distill as distill_task
    from gantransfer.config import DistillConfig
    from gantransfer.teachers import load_teacher
    teacher_d = load_teacher(TEACHER).discriminator
    fresh = distill_task.build_discriminator
    distill_task.build_discriminator = lambda scfg, w: pruned_discriminator(teacher_d, fresh(scfg, w)).train()
    out = Path(args.out)
    seconds = None
    if not (out / "eval.json").is_file():
        cfg = DistillConfig(teacher=TEACHER, width=args.width, init="prune",
                            terms="pixel=1,perceptual=3,adversarial=0.1", discriminator_width=args.d_width,
                            bank_size=16384, batch_size=32, lr=3e-3, steps=args.steps, eval_n=5000, seed=args.seed,
                            device="cpu", progress=False, sample_every=args.steps, checkpoint_every=args.steps,
                            out=str(out))
        t0 = time.perf_counter()
        distill_task.distill(cfg)
        seconds = round(time.perf_counter() - t0, 1)
    ev = json.loads((out / "eval.json").read_text())
    row = {"run": out.name, "width": args.width, "d_width": args.d_width, "steps": args.steps, "seed": args.seed,
           "wall_seconds": seconds, "fid_ratio": ev["fid_ratio"], "psnr_fresh": ev["fidelity"]["fresh"]["psnr"]}
    merge_row(args.results, row, {"script": "benchmarks/pruned_discriminator.py", "teacher": TEACHER})
    print(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()
