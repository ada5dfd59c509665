"""Cost of image-to-image translators at the size people download: a pix2pix/CycleGAN ``resnet_9blocks`` (ngf 64,
256x256 RGB, e.g. horse2zebra's ``latest_net_G.pth``) against the compact ``mobile-resnet`` family, plus pix2pix's
``unet_256`` for reference.

For each: parameters, MACs per 256x256 image (the project's counter, ``models.cost.count_macs``: torch's
FlopCounterMode / 2) and CPU latency at batch 1 (median). For the resnet_9blocks teacher, also the time to import
a junyanz-layout state-dict file of that size (``torch.save`` of a randomly initialised network with the same
keys; import cost does not depend on the weights).

    python benchmarks/translators_cost.py --out benchmarks/results/translators_cost.json --threads 1
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from pathlib import Path

import torch
from harness import Stopwatch, write_results

VARIANTS = [  # (name, arch, options)
    ("resnet_9blocks ngf 64 (teacher)", "resnet", {"ngf": 64, "n_blocks": 9, "norm": "instance"}),
    ("mobile-resnet ngf 64", "mobile-resnet", {"ngf": 64, "n_blocks": 9, "norm": "instance"}),
    ("mobile-resnet ngf 32", "mobile-resnet", {"ngf": 32, "n_blocks": 9, "norm": "instance"}),
    ("mobile-resnet ngf 16", "mobile-resnet", {"ngf": 16, "n_blocks": 9, "norm": "instance"}),
    ("unet_256 ngf 64 (pix2pix)", "unet", {"ngf": 64, "num_downs": 8, "norm": "batch"}),
]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3, help="timed calls at batch 1 (after one warm-up)")
    p.add_argument("--resolution", type=int, default=256)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    from gantransfer.deploy.bench import time_batch
    from gantransfer.models.cost import count_macs, count_params
    from gantransfer.models.config import GeneratorConfig, build_generator
    from gantransfer.models.translator_import import import_translator
    rows = []
    for name, arch, options in VARIANTS:
        cfg = GeneratorConfig(arch=arch, latent_dim=0, input_channels=3, channels=3, resolution=args.resolution,
                              options=options)
        torch.manual_seed(0)
        g = build_generator(cfg).eval()
        row = {"name": name, "arch": arch, "options": options, "params": count_params(g),
               "macs_per_image": count_macs(g, cfg),
               "latency_s_batch1": time_batch(g, cfg, 1, args.repeats, warmup=1)}
        if arch == "resnet":
            with tempfile.TemporaryDirectory() as d:
                path = Path(d) / "latest_net_G.pth"
                torch.save(g.state_dict(), path)
                with Stopwatch() as wall, Stopwatch("cpu") as cpu:
                    imported, icfg = import_translator(path)
                row["import"] = {"file_mb": round(path.stat().st_size / 2 ** 20, 1), "wall_s": round(wall.seconds, 3),
                                 "cpu_s": round(cpu.seconds, 3), "detected": icfg.meta["junyanz_arch"]}
                x = torch.rand(1, 3, 64, 64) * 2 - 1
                with torch.no_grad():
                    row["import"]["max_abs_difference_64px"] = (imported(x) - g(x)).abs().max().item()
        rows.append(row)
        print(f"{name}: {row['params'] / 1e6:.2f} M params, {row['macs_per_image'] / 1e9:.2f} GMACs, "
              f"{row['latency_s_batch1']:.2f} s", file=sys.stderr)
    teacher = rows[0]
    for r in rows:
        r["macs_reduction_vs_teacher"] = round(teacher["macs_per_image"] / r["macs_per_image"], 2)
        r["params_reduction_vs_teacher"] = round(teacher["params"] / r["params"], 2)
        r["latency_speedup_vs_teacher"] = round(teacher["latency_s_batch1"] / r["latency_s_batch1"], 2)
    result = {"command": "python benchmarks/translators_cost.py --out " + args.out + f" --threads {args.threads}",
              "resolution": args.resolution, "threads": args.threads, "repeats": args.repeats,
              "torch": torch.__version__, "machine": platform.machine(),
              "note": "published figures for CycleGAN resnet_9blocks at 256x256: 11.4M parameters, 56.8 GMACs "
                      "(GAN Compression, Li et al. 2020). The parameters agree; the MACs differ by convention only: "
                      "torch's counter charges a stride-2 transposed convolution per input pixel, the published "
                      "figure per output pixel (4x as much): 49.55 + 3 x (2 x 1.21) = 56.8 G. Latency: 2 CPU cores "
                      "shared with other jobs, so wall times are noisy and inflated",
              "variants": rows}
    write_results(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
