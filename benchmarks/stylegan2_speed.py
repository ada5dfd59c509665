"""Resampling and modulated-convolution cost against rosinality's native CPU path, and generation throughput.

    python benchmarks/stylegan2_speed.py --rosinality /tmp/sg2scratch/ros_cpu --out benchmarks/results/stylegan2_speed.json

Same inputs on both sides, 2 torch threads, median of repeated timings: the toRGB skip upsampling (upfirdn2d up=2)
and an upsampling modulated 3x3 convolution (rosinality's ModulatedConv2d(upsample=True): grouped transposed conv +
native upfirdn2d blur) at 64 and 256 px output, batch 8; then images/s of gantransfer's generator at batch 1 and 64.
"""
from __future__ import annotations

import argparse
import json
import sys

import torch

from harness import timed, write_results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rosinality", required=True)
    ap.add_argument("--out", default="benchmarks/results/stylegan2_speed.json")
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(2)
    sys.path.insert(0, a.rosinality)
    from model import ModulatedConv2d, Upsample
    from gantransfer.models import stylegan2_ops as ops
    from gantransfer.models.config import GeneratorConfig, build_generator
    rows = []
    with torch.inference_mode():
        for out_size, ch in ((64, 256), (256, 64)):
            x = torch.randn(8, ch, out_size // 2, out_size // 2)
            img = torch.randn(8, 3, out_size // 2, out_size // 2)
            up = Upsample([1, 3, 3, 1])
            f = ops.setup_filter()
            t_ref = timed(lambda: up(img), a.repeats, warmup=1)[1]
            t_own = timed(lambda: ops.upsample2d(img, f), a.repeats, warmup=1)[1]
            conv = ModulatedConv2d(ch, ch, 3, 512, upsample=True)
            style = torch.randn(8, 512)
            s = conv.modulation(style)
            w = conv.weight[0] * conv.scale
            c_ref = timed(lambda: conv(x, style), a.repeats, warmup=1)[1]
            c_own = timed(lambda: ops.modulated_conv2d(x, w, s, up=2, f=f), a.repeats, warmup=1)[1]
            rows.append({"output_px": out_size, "channels": ch, "batch": 8,
                         "upsample_ms": {"rosinality_native": 1e3 * t_ref, "gantransfer": 1e3 * t_own},
                         "modulated_up_conv_ms": {"rosinality_native": 1e3 * c_ref, "gantransfer": 1e3 * c_own}})
            print(json.dumps(rows[-1]))
        gen = []
        for res, width in ((64, 1.0), (256, 1.0)):
            cfg = GeneratorConfig(arch="stylegan2", latent_dim=512, resolution=res, channels=3, width=width)
            g = build_generator(cfg).eval()
            for batch in (1, 64):
                z = torch.randn(batch, 512)
                reps = max(2, a.repeats // (4 if batch > 1 else 1))
                t = timed(lambda: g(z, noise_mode="const"), reps, warmup=1)[1]
                gen.append({"resolution": res, "width": width, "batch": batch, "images_per_s": batch / t})
                print(json.dumps(gen[-1]))
    write_results(a.out, {"threads": 2, "torch": torch.__version__, "kernels": rows, "generation": gen})


if __name__ == "__main__":
    main()
