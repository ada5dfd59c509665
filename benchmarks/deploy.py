"""Deployment benchmark: the shipped teacher and students on this CPU in every backend, int8 quality, and whether
a resize + convolution student quantizes better than a transposed-convolution one.

    python benchmarks/deploy.py                       # all three parts -> benchmarks/results/deploy.json
    python benchmarks/deploy.py --part grid --rounds 5 --repeats 10
    python benchmarks/deploy.py --part int8 --n 10000
    python benchmarks/deploy.py --part upsample --steps 600

Parts:
- ``grid``: ``gantransfer bench`` of the teacher and the two shipped students, backends eager-plain (as loaded),
  eager (batch norm folded), eager-cl (and channels-last), eager-conv (transposed convolutions rewritten exactly
  as convolutions + pixel shuffle), compile, torchscript, onnx, onnx-int8; batch 1/64/256;
  threads 1 and 2. Rounds interleave all generators and backends, so load from other processes on this shared
  2-core machine falls on all of them alike; every ratio is against the teacher in eager measured in the same run.
- ``int8``: for each generator, the int8 export's PSNR against fp32 and FID of fp32 and int8 files on the same
  ``--n`` latents under the protocol (``fid/fashion-mnist-classifier-v1``).
- ``profile``: onnxruntime's per-node profile (fp32 and int8, batch 256, threads 1 and 2) and each
  convolution's MACs: where the time goes.
- ``upsample``: two width-1/8 students distilled alike (``--steps``, pixel + perceptual, the demo's bank of latents)
  from the shipped teacher, one with the DCGAN's transposed convolutions and one where each stride-2 transposed
  convolution is nearest-neighbour resize + 3x3 convolution (a family registered here, for the measurement only);
  then fp32 and int8 FID, int8 PSNR, and ONNX fp32/int8 latency at batch 256 of both.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from harness import Stopwatch, markdown_table, timed, write_results

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "src/gantransfer/assets"
TEACHER = ASSETS / "teachers/fashion-mnist-dcgan"
STUDENTS = [ASSETS / "students/fashion-mnist-dcgan-w0.125", ASSETS / "students/fashion-mnist-dcgan-w0.2"]
OUT = ROOT / "benchmarks/results/deploy.json"
BACKENDS = ["eager-plain", "eager", "eager-cl", "eager-conv", "compile", "torchscript", "onnx", "onnx-int8"]


def part_grid(args) -> dict:
    from gantransfer.api import bench_backends
    from gantransfer.deploy.grid import format_grid
    result = bench_backends([str(p) for p in STUDENTS], against=str(TEACHER), backends=BACKENDS,
                            batches=[1, 64, 256], threads=[1, 2], repeats=args.repeats, rounds=args.rounds)
    print(format_grid(result), flush=True)
    return result


def int8_quality(src: Path, n: int, workdir: Path) -> dict:
    from gantransfer.api import export
    report = export(src, "onnx", workdir / f"{src.name}.int8.onnx", int8=True, fid_n=n)
    q = report["int8"]
    return {"psnr_vs_fp32_db": q["psnr_vs_fp32_db"], "fid": q["fid"], "kernels": q["kernels"],
            "calibration_latents": q["calibration_latents"], "parity_fp32": report["parity"]}


def part_int8(args) -> dict:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for src in [TEACHER, *STUDENTS]:
            out[src.name] = int8_quality(src, args.n, Path(tmp))
            print(src.name, json.dumps({k: v for k, v in out[src.name].items() if k != "kernels"}), flush=True)
    return out


def register_resize_family() -> None:
    """``dcgan-resize``: the DCGAN generator with every stride-2 ConvTranspose2d replaced by nearest-neighbour
    upsampling and a 3x3 convolution of the same channels (the DCGAN discriminator)."""
    import dataclasses

    from torch import nn

    from gantransfer.models import dcgan
    from gantransfer.models.family import ModelFamily, register

    def build(cfg):
        g = dcgan._build_generator(cfg)
        for i, m in enumerate(g.main):
            if isinstance(m, nn.ConvTranspose2d) and m.stride == (2, 2):
                conv = nn.Conv2d(m.in_channels, m.out_channels, 3, 1, 1, bias=m.bias is not None)
                nn.init.normal_(conv.weight, 0.0, 0.02)
                if conv.bias is not None:
                    nn.init.zeros_(conv.bias)
                g.main[i] = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), conv)
        return g
    base = dcgan.FAMILY
    register(dataclasses.replace(base, name="dcgan-resize", build_generator=build,
                                 description="measurement only: resize + 3x3 convolution upsampling"))


def onnx_latency(path: Path, batch: int, threads: int, repeats: int) -> float:
    import numpy as np

    from gantransfer.deploy.runtime import OnnxGenerator
    g = OnnxGenerator(path, threads=threads, spin=True)
    z = np.random.default_rng(0).standard_normal((batch, g.latent_dim)).astype(np.float32)
    return timed(lambda: g.run_numpy(z), repeats, warmup=3)[1] * 1e3


def part_upsample(args) -> dict:
    from gantransfer.api import load
    from gantransfer.config import DistillConfig
    from gantransfer.models.cost import count_macs, count_params
    from gantransfer.deploy.export import export_generator
    from gantransfer.tasks.distill import distill
    register_resize_family()
    runs = ROOT / "runs" / "deploy-upsample"
    runs.mkdir(parents=True, exist_ok=True)
    out = {"steps": args.steps, "width": 0.125, "terms": "pixel=1,perceptual=1", "bank_size": 16384}
    students = {}
    for arch in ("dcgan", "dcgan-resize"):
        run = runs / arch
        if not (run / "generator" / "config.json").is_file() or args.retrain:
            watch = Stopwatch()
            distill(DistillConfig(teacher=str(TEACHER), student_arch=arch if arch != "dcgan" else None, width=0.125,
                                  terms="pixel=1,perceptual=1", bank_size=16384, steps=args.steps, eval_n=0,
                                  device="cpu", progress=False, sample_every=args.steps,
                                  checkpoint_every=args.steps, out=str(run)), overwrite=True)
            out[f"{arch}_train_seconds"] = round(watch.elapsed(), 1)
        else:
            out[f"{arch}_trained_by"] = "an earlier run of this part with --retrain (same --steps)"
        students[arch] = run
    with tempfile.TemporaryDirectory() as tmp:
        for arch, run in students.items():
            module, cfg = load(run)
            row = {"params": count_params(module), "macs": count_macs(module, cfg)}
            fp32, int8 = Path(tmp) / f"{arch}.onnx", Path(tmp) / f"{arch}.int8.onnx"
            export_generator(run, "onnx", fp32)
            row.update(int8_quality(run, args.n, Path(tmp)))
            for t in (1, 2):
                a = [onnx_latency(fp32, 256, t, args.repeats) for _ in range(args.rounds)]
                b = [onnx_latency(Path(tmp) / f"{run.name}.int8.onnx", 256, t, args.repeats)
                     for _ in range(args.rounds)]
                row[f"onnx_fp32_ms_batch256_threads{t}"] = statistics.median(a)
                row[f"onnx_int8_ms_batch256_threads{t}"] = statistics.median(b)
                row[f"int8_speedup_threads{t}"] = statistics.median(a) / statistics.median(b)
            out[arch] = row
            print(arch, json.dumps({k: v for k, v in row.items() if k != "kernels"}), flush=True)
    return out


def onnx_profile(path: Path, batch: int, threads: int, runs: int) -> dict:
    """Per-node time of an ONNX file in onnxruntime's profiler: mean microseconds per run by node, with op type."""
    import numpy as np
    import onnxruntime as ort

    from gantransfer.deploy.runtime import session_options
    so = session_options(threads, spin=True)
    so.enable_profiling = True
    so.profile_file_prefix = str(path.with_suffix(""))
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    z = np.random.default_rng(0).standard_normal((batch, 100)).astype(np.float32)
    for _ in range(3):
        sess.run(None, {"z": z})
    with Stopwatch() as watch:
        for _ in range(runs):
            sess.run(None, {"z": z})
    wall = watch.seconds / runs * 1e6
    trace = json.loads(Path(sess.end_profiling()).read_text())
    nodes: dict[str, dict] = {}
    for ev in trace:
        if ev.get("cat") == "Node" and ev["name"].endswith("_kernel_time"):
            name = ev["name"][: -len("_kernel_time")]
            d = nodes.setdefault(name, {"op": ev.get("args", {}).get("op_name", ""), "us": 0.0})
            d["us"] += ev["dur"]
    total_runs = runs + 3
    for d in nodes.values():
        d["us"] /= total_runs
    kernels = sum(d["us"] for d in nodes.values())
    return {"batch": batch, "threads": threads, "wall_us_per_run": wall, "kernel_us_per_run": kernels,
            "nodes": dict(sorted(nodes.items(), key=lambda kv: -kv[1]["us"]))}


def layer_macs(src: Path) -> list[dict]:
    """MACs per sample of each convolution of a generator, in order."""
    import torch
    from torch import nn

    from gantransfer.api import load
    module, cfg = load(src)
    rows = []

    def hook(m, args, out):
        x = args[0]
        k = m.kernel_size[0] * m.kernel_size[1]
        if isinstance(m, nn.ConvTranspose2d):
            macs = x.shape[2] * x.shape[3] * k * m.in_channels * m.out_channels
        else:
            macs = out.shape[2] * out.shape[3] * k * m.in_channels * m.out_channels
        rows.append({"layer": type(m).__name__, "in": list(x.shape[1:]), "out": list(out.shape[1:]), "macs": macs})
    hooks = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    with torch.no_grad():
        module(torch.randn(1, cfg.latent_dim))
    for h in hooks:
        h.remove()
    return rows


def part_profile(args) -> dict:
    from gantransfer.deploy.export import export_generator
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for src in [TEACHER, *STUDENTS]:
            row = {"layers": layer_macs(src)}
            for tag, int8 in (("fp32", False), ("int8", True)):
                f = Path(tmp) / f"{src.name}.{tag}.onnx"
                export_generator(src, "onnx", f, int8=int8, fid_n=0 if int8 else None)
                row[tag] = {f"threads{t}": onnx_profile(f, 256, t, args.repeats) for t in (1, 2)}
            out[src.name] = row
            print(src.name, json.dumps({t: {k: round(v["us"]) for k, v in list(p["nodes"].items())[:6]}
                                        for t, p in row["fp32"].items()}), flush=True)
    return out


def markdown(results: dict) -> str:
    """The docs tables from a results file: samples/s and speed-up against the teacher in eager, per backend."""
    grid = results["grid"]
    rows, lines = grid["rows"], []
    gens = list(grid["generators"])
    backends = list(dict.fromkeys(r["backend"] for r in rows))
    for t in grid["settings"]["threads"]:
        lines.append(f"\n{t} thread{'s' if t > 1 else ''} (matmul peak {grid['machine']['matmul_peak_gflops'][str(t)]:.0f} "
                     "GFLOP/s); samples/s (x the teacher in eager, same batch and threads) [% of matmul peak]\n")
        table = []
        for g in gens:
            for b in backends:
                cells = [g, b]
                for batch in grid["settings"]["batches"]:
                    r = next(r for r in rows if (r["generator"], r["backend"], r["batch"], r["threads"]) == (g, b, batch, t))
                    cells.append(f"{r['throughput_per_s']:,.0f} ({r['speedup_vs_reference']:.1f}x) "
                                 f"[{100 * r['peak_fraction']:.0f}%]")
                table.append(cells)
        lines.append(markdown_table(["generator", "backend", *(f"batch {b}" for b in grid["settings"]["batches"])],
                                    table))
    if "int8" in results:
        table = []
        for name, q in results["int8"].items():
            if not isinstance(q, dict) or "fid" not in q:
                continue
            f = q["fid"]
            table.append([name, f"{q['psnr_vs_fp32_db']:.2f}", f"{f['fp32']:.3f}", f"{f['int8']:.3f}",
                          f"{100 * f['relative_change']:+.1f}%", q["kernels"]["int8"], q["kernels"]["float"]])
        lines += ["", markdown_table(["generator", "int8 PSNR vs fp32 (dB)", "FID fp32", "FID int8", "change",
                                      "int8 kernels", "float"], table)]
    if "profile" in results:
        table = []
        for name, row in results["profile"].items():
            if not isinstance(row, dict) or "fp32" not in row:
                continue
            for tag in ("fp32", "int8"):
                for t, p in row[tag].items():
                    top = ", ".join(f"{k.split('/')[-1] or k} {v['op']} {v['us']:.0f}"
                                    for k, v in list(p["nodes"].items())[:5])
                    table.append([name, tag, p["threads"], f"{p['wall_us_per_run']:.0f}", top])
        lines += ["", markdown_table(["generator", "precision", "threads", "wall us/run", "top nodes (us/run)"], table)]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=["grid", "int8", "upsample", "profile", "all"], default="all")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--n", type=int, default=10000, help="samples for the FID figures")
    ap.add_argument("--steps", type=int, default=600, help="distillation steps of the upsample students")
    ap.add_argument("--retrain", action="store_true", help="retrain the upsample students")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--table", action="store_true", help="print the docs tables of --out and exit")
    ap.add_argument("--min-channels", type=int, default=None, help="int8: rewrite stride-2 transposed convolutions "
                    "with at least this many outputs (default: deploy/int8_layout.MIN_CHANNELS; 1: all of them)")
    args = ap.parse_args()
    if args.min_channels is not None:
        from gantransfer.deploy import int8_layout
        int8_layout.MIN_CHANNELS = args.min_channels
    if args.table:
        print(markdown(json.loads(args.out.read_text())))
        return
    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    parts = ["grid", "int8", "profile", "upsample"] if args.part == "all" else [args.part]
    for part in parts:
        watch = Stopwatch()
        results[part] = {"command": "python benchmarks/deploy.py " + " ".join(sys.argv[1:]),
                         "load_average_before": os.getloadavg(),
                         **{"grid": part_grid, "int8": part_int8, "upsample": part_upsample,
                               "profile": part_profile}[part](args)}
        results[part]["seconds"] = round(watch.elapsed(), 1)
        results[part]["load_average_after"] = os.getloadavg()
        write_results(args.out, results)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
