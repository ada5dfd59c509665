"""CPU throughput of image-to-image translators, eager PyTorch against ONNX Runtime (fp32 and int8), at batch 1 and
64, in images per second, and each translator's ratio against ``resnet_9blocks`` measured in the same run.

Translators: pix2pix/CycleGAN ``resnet_9blocks`` (ngf 64), a U-Net of the depth the size allows (64 px: 6
downsamplings, ``unet_64``; 256 px: pix2pix's ``unet_256``, 8) at ngf 64, and ``mobile-resnet`` ngf 16 (9 separable
blocks, the compact student). Backends: ``eager`` (batch norm folded, inference mode), ``onnx`` (the fp32 export,
parity-checked) and ``onnx-int8`` (the static int8 export, calibrated on 32 input images, PSNR-checked against
fp32), all on one thread. Main size 64 px at batch 1 and 64; 256 px at batch 1 only (eager and fp32 ONNX): a
batch of 64 at 256 px is 3.2 TMACs per call for resnet_9blocks, minutes per timed call on one thread.

Timing is interleaved: every round times each (translator, backend) once, so that the machine's load, shared with
other jobs, falls on all of them alike; the median of the rounds is reported. Exports are made (and checked) once
per translator; the ONNX files take any size, so the 64 px exports also run the 256 px ResNets.

    python benchmarks/translators_throughput.py --out benchmarks/results/translators_throughput.json
"""
from __future__ import annotations

import argparse
import dataclasses
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from harness import Stopwatch, markdown_table, write_results

TEACHER = "resnet_9blocks"
MODELS = {  # name -> (arch, options, sizes it runs at: the U-Net's depth depends on the size)
    "resnet_9blocks": ("resnet", {"ngf": 64, "n_blocks": 9, "norm": "instance"}),
    "unet": ("unet", {"ngf": 64, "norm": "batch"}),
    "mobile-resnet ngf 16": ("mobile-resnet", {"ngf": 16, "n_blocks": 9, "norm": "instance"}),
}
UNET_DOWNS = {64: 6, 256: 8}


def unet_name(size: int) -> str:
    return f"unet_{2 ** UNET_DOWNS[size]}"


def build(name: str, size: int, root: Path):
    """(module, config, saved directory) of translator ``name`` at ``size`` px, seeded."""
    from gantransfer.models.config import GeneratorConfig, build_generator
    from gantransfer.models.store import save_generator
    arch, options = MODELS[name]
    if arch == "unet":
        options = {**options, "num_downs": UNET_DOWNS[size]}
    cfg = GeneratorConfig(arch=arch, latent_dim=0, input_channels=3, channels=3, resolution=size, options=options)
    torch.manual_seed(0)
    g = build_generator(cfg).eval()
    path = save_generator(g, cfg, root / f"{arch}-{size}")
    return g, cfg, path


def forward(run, x: torch.Tensor):
    """A no-argument call running one forward pass of ``run`` (a module or an ONNX runtime) on ``x``."""
    if hasattr(run, "run_numpy"):
        xn = np.ascontiguousarray(x.numpy())
        return lambda: run.run_numpy(xn)

    def call():
        with torch.inference_mode():
            return run(x)
    return call


def measure(plan: list[tuple[str, str, int, int]], calls: dict, rounds: int) -> dict[tuple, float]:
    """Median seconds per call of every (name, backend, size, batch) in ``plan``, interleaved over ``rounds``
    after one warm-up call each."""
    for key in plan:
        calls[key]()
    times: dict[tuple, list[float]] = {k: [] for k in plan}
    for r in range(rounds):
        for key in plan:
            t0 = time.perf_counter()
            calls[key]()
            times[key].append(time.perf_counter() - t0)
        print(f"round {r + 1}/{rounds} done", file=sys.stderr)
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--rounds", type=int, default=3, help="timed calls per configuration, interleaved")
    p.add_argument("--batches", default="1,64", help="batch sizes at the main size")
    p.add_argument("--size", type=int, default=64, help="main image side (px)")
    p.add_argument("--no-256", action="store_true", help="leave out the 256 px batch-1 rows")
    args = p.parse_args()
    torch.set_num_threads(1)
    from gantransfer.deploy.backends import Subject
    from gantransfer.models.cost import count_macs, count_params
    batches = [int(b) for b in args.batches.split(",")]
    backends = ("eager", "onnx", "onnx-int8")
    sizes = [args.size] + ([] if args.no_256 or args.size == 256 else [256])
    rows, calls, plan, exports = [], {}, [], {}
    with tempfile.TemporaryDirectory(prefix="translators-throughput-") as tmp, Stopwatch() as wall, \
            Stopwatch("cpu") as cpu:
        root = Path(tmp)
        subjects = {}
        for size in sizes:
            for name in MODELS:
                shown = unet_name(size) if name == "unet" else name
                if name != "unet" and size != args.size:  # the fully convolutional ResNets: the main export
                    subject, source = subjects[(name, args.size)]
                    g, cfg = subject.module, subject.cfg
                else:
                    g, cfg, source = build(name, size, root)
                    subject = Subject(shown.replace(" ", "_"), g, cfg, root)
                subjects[(name, size)] = (subject, source)
                size_cfg = dataclasses.replace(cfg, resolution=size)
                macs = count_macs(g, size_cfg)
                for backend in (backends if size == args.size else backends[:2]):
                    run = subject.runner(backend, 1, str(source))
                    for batch in (batches if size == args.size else [1]):
                        x = torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(batch)) * 2 - 1
                        key = (shown, backend, size, batch)
                        calls[key] = forward(run, x)
                        plan.append(key)
                        rows.append({"translator": shown, "arch": cfg.arch, "options": dataclasses.asdict(cfg.options),
                                     "backend": backend, "size": size, "batch": batch, "params": count_params(g),
                                     "macs_per_image": macs})
                if size == args.size or name == "unet":
                    exports[shown] = {b: {k: v for k, v in r.items() if k in ("parity", "int8", "seconds")}
                                      for b, r in subject.exports.items()}
                print(f"{shown} at {size} px ready", file=sys.stderr)
        seconds = measure(plan, calls, args.rounds)
    for row in rows:
        s = seconds[(row["translator"], row["backend"], row["size"], row["batch"])]
        row["seconds_per_call"] = round(s, 5)
        row["images_per_s"] = round(row["batch"] / s, 3)
    for row in rows:
        ref = next(r for r in rows if r["translator"] == TEACHER and
                   (r["backend"], r["size"], r["batch"]) == (row["backend"], row["size"], row["batch"]))
        row["speedup_vs_resnet_9blocks"] = round(row["images_per_s"] / ref["images_per_s"], 3)
        eager = next(r for r in rows if (r["translator"], r["size"], r["batch"], r["backend"]) ==
                     (row["translator"], row["size"], row["batch"], "eager"))
        row["speedup_vs_eager"] = round(row["images_per_s"] / eager["images_per_s"], 3)
    table = markdown_table(
        ["translator", "size", "batch", "backend", "GMACs/image", "images/s", "vs resnet_9blocks", "vs eager"],
        [[r["translator"], r["size"], r["batch"], r["backend"], f"{r['macs_per_image'] / 1e9:.3g}",
          f"{r['images_per_s']:.3g}", f"{r['speedup_vs_resnet_9blocks']:.2f}x", f"{r['speedup_vs_eager']:.2f}x"]
         for r in rows])
    print(table)
    command = "python benchmarks/translators_throughput.py --out " + args.out + \
        (f" --size {args.size}" if args.size != 64 else "") + (" --no-256" if args.no_256 else "") + \
        (f" --rounds {args.rounds}" if args.rounds != 3 else "") + \
        (f" --batches {args.batches}" if args.batches != "1,64" else "")
    write_results(args.out, {
        "command": command, "threads": 1, "rounds": args.rounds, "torch": torch.__version__,
        "onnxruntime": __import__("onnxruntime").__version__, "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "shared_machine": True,
        "note": "2 CPU cores shared with other jobs (five helpers and a lead): absolute images/s are noisy and low; "
                "the ratios come from one run with every configuration timed once per round, interleaved, median "
                "of the rounds. MACs: the project's counter (a stride-2 transposed convolution charged per input "
                "pixel). 256 px only at batch 1 and without int8: see the module docstring.",
        "wall_s": round(wall.seconds, 1), "cpu_s": round(cpu.seconds, 1), "exports": exports, "rows": rows,
        "table_markdown": table})


if __name__ == "__main__":
    main()
