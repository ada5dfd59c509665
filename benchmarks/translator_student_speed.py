"""The compact translator students against a real-size pix2pix/CycleGAN ``resnet_9blocks`` (ngf 64) at 256 px: MACs
and ONNX Runtime latency at batch 1 on one thread, interleaved, median of ``--rounds``. Random weights (latency does
not depend on them; every export is parity-checked). Students at the ngf ``--width 0.25`` gives of that teacher:
``mobile-resnet`` ngf 16 (instance norm, GAN Compression's student) and ``shuffle-resnet`` ngf 16 (batch norm,
folded at export).

    python benchmarks/translator_student_speed.py --rounds 7 --out benchmarks/results/translator_student_speed.json
"""
from __future__ import annotations

import argparse
import platform
import sys
import tempfile
from pathlib import Path

import torch
from harness import Stopwatch, write_results
from translators_throughput import forward, measure

MODELS = {  # name -> (arch, options)
    "resnet_9blocks ngf 64": ("resnet", {"ngf": 64, "n_blocks": 9, "norm": "instance"}),
    "mobile-resnet ngf 16": ("mobile-resnet", {"ngf": 16, "n_blocks": 9, "norm": "instance"}),
    "shuffle-resnet ngf 16, batch norm": ("shuffle-resnet", {"ngf": 16, "n_blocks": 9, "norm": "batch"}),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--out", default="benchmarks/results/translator_student_speed.json")
    a = p.parse_args()
    torch.set_num_threads(1)
    from gantransfer.deploy.backends import Subject
    from gantransfer.models.config import GeneratorConfig, build_generator
    from gantransfer.models.cost import count_macs
    from gantransfer.models.store import save_generator
    calls, macs, parity = {}, {}, {}
    with tempfile.TemporaryDirectory(prefix="student-speed-") as tmp, Stopwatch() as wall:
        root = Path(tmp)
        for name, (arch, options) in MODELS.items():
            cfg = GeneratorConfig(arch=arch, latent_dim=0, input_channels=3, channels=3, resolution=a.size,
                                  options=options)
            torch.manual_seed(0)
            g = build_generator(cfg).eval()
            slug = name.replace(" ", "_").replace(",", "")
            src = save_generator(g, cfg, root / slug)
            subject = Subject(slug, g, cfg, root)
            run = subject.runner("onnx", 1, str(src))
            parity[name] = subject.exports["onnx"]["parity"]
            macs[name] = count_macs(g, cfg)
            x = torch.rand(1, 3, a.size, a.size, generator=torch.Generator().manual_seed(0)) * 2 - 1
            calls[name] = forward(run, x)
            print(f"{name} ready", file=sys.stderr)
        seconds = measure(list(MODELS), calls, a.rounds)
    teacher = next(iter(MODELS))
    rows = [{"translator": n, "arch": MODELS[n][0], "options": MODELS[n][1], "gmacs": macs[n] / 1e9,
             "macs_reduction": macs[teacher] / macs[n], "ms_batch1": seconds[n] * 1e3,
             "speedup_vs_resnet_9blocks": seconds[teacher] / seconds[n], "parity": parity[n]} for n in MODELS]
    write_results(a.out, {"command": "python " + " ".join(sys.argv), "size": a.size, "batch": 1, "threads": 1,
                          "backend": "onnxruntime", "rounds": a.rounds, "wall_s": round(wall.seconds, 1),
                          "machine": platform.processor() or platform.machine(), "rows": rows})
    for r in rows:
        print(f"| {r['translator']} | {r['gmacs']:.3g} | {r['macs_reduction']:.1f}x | {r['ms_batch1']:.1f} | "
              f"{r['speedup_vs_resnet_9blocks']:.1f}x |")


if __name__ == "__main__":
    main()
