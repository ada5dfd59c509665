"""StyleGAN2 at the size people download (config-f, 256 and 1024 px) on CPU: import, sampling, ONNX export,
distillation steps to a 1/4-width W-space student, peak memory.

    python benchmarks/stylegan2_scale.py --work /tmp/sg2scale --out benchmarks/results/stylegan2_scale.json

No pretrained file can be downloaded here, so the checkpoints are made from gantransfer's own StyleGAN2 with
seeded random weights (config-f: 512-d z and W, 8 mapping layers, channel_base 32768 = width 2, channel_max 512)
and written in rosinality's ``.pt`` layout and NVlabs' ``.pkl`` layout by the writers the importer's tests use
(``tests/test_stylegan2_import.py``: ``to_rosinality``, ``to_nvlabs``); generators only (no discriminator).
The files go under ``--work`` and are never committed.

Every measurement runs in its own subprocess (``child KIND ARGS``) with a timeout and reports its own peak RSS
(``resource.getrusage``), wall and CPU seconds. The largest distillation batch is probed by doubling from 8, one
step per probe; a probe is not started when the RSS extrapolated from the last two exceeds ``--rss-cap`` GiB or
what the machine has free, nor when its predicted time exceeds ``--probe-seconds`` (the figure is then a lower
bound, with the extrapolated batch at the cap given beside it).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from harness import markdown_table, write_results  # noqa: E402

CONFIG_F = dict(latent_dim=512, channels=3, width=2.0, w_dim=512, mapping_layers=8)  # channel_base 16384 x 2
LAYOUTS = {"rosinality": ".pt", "nvlabs": ".pkl"}
GIB = 2 ** 30


# ---------------------------------------------------------------- children (one measurement each)


def _config_f(resolution: int, seed: int):
    import torch
    from gantransfer.models.stylegan2 import StyleGAN2Generator
    torch.manual_seed(seed)
    g = StyleGAN2Generator(resolution=resolution, **CONFIG_F).eval()
    with torch.no_grad():  # non-zero noise strengths and biases, and a mean W, so that every path matters
        for name, p in g.named_parameters():
            if name.endswith(("noise_strength", "bias")):
                p.add_(0.1 * torch.randn_like(p))
        g.mapping.w_avg.copy_(g.mapping(torch.randn(256, 512))[:, 0].mean(0))
    return g


def child_make(a: dict) -> dict:
    """Write a config-f generator in one layout with the importer tests' writers."""
    import pickle
    from unittest import mock
    import torch
    sys.path.insert(0, str(ROOT / "tests"))
    from test_stylegan2_import import nvlabs_stand_in_modules, to_nvlabs, to_rosinality
    g = _config_f(a["resolution"], a["seed"])
    path = Path(a["path"])
    if a["layout"] == "rosinality":
        torch.save({"g_ema": to_rosinality(g), "latent_avg": g.mapping.w_avg.clone()}, path)
    else:
        with mock.patch.dict(sys.modules, nvlabs_stand_in_modules()), open(path, "wb") as fh:
            pickle.dump({"G_ema": to_nvlabs(g), "training_set_kwargs": {"resolution": a["resolution"]}}, fh)
    return {"params": sum(p.numel() for p in g.parameters()), "file_bytes": path.stat().st_size}


def child_import(a: dict) -> dict:
    from gantransfer.cli import main
    rc = main(["import", a["file"], "--out", a["out"]])
    return {"rc": rc}


def child_sample(a: dict) -> dict:
    """Images per second of the imported generator (``noise_mode`` random, as ``gantransfer sample``)."""
    import statistics
    import torch
    from gantransfer.models.store import load_generator
    g, _ = load_generator(a["generator"])
    out = {}
    gen = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        g(torch.randn(1, 512, generator=gen))  # warm-up
        for batch, repeats in ((1, 2), (8, 1)):
            times = []
            for _ in range(repeats):
                z = torch.randn(batch, 512, generator=gen)
                t0 = time.perf_counter()
                g(z)
                times.append(time.perf_counter() - t0)
            out[f"images_per_s_batch{batch}"] = batch / statistics.median(times)
    return out


def child_export(a: dict) -> dict:
    from gantransfer.deploy.export import export_generator
    report = export_generator(a["generator"], "onnx", a["out"])
    size = Path(a["out"]).stat().st_size
    Path(a["out"]).unlink()  # the benchmark keeps the figure, not the file
    return {"seconds": report["seconds"], "parity": report["parity"], "parity_latents": report["parity_latents"],
            "file_bytes": size}


def child_distill(a: dict) -> dict:
    """``gantransfer distill`` for ``steps`` steps at ``batch``; seconds per step from the run's own log."""
    from gantransfer.cli import main
    from gantransfer.engine.logger import read_log
    import gantransfer.report.build as report_build
    report_build.write_run_report = lambda run, measure=True: None  # the end-of-run report is no part of a step
    if a.get("probe"):  # batch probes: the smallest side-by-side preview, so that the peak is the steps'
        import gantransfer.tasks.distill as distill_task
        distill_task.preview_count = lambda scfg: 8
    args = ["distill", "--teacher", a["teacher"], "--width", "0.125", "--latent-space", "w", "--batch-size",
            str(a["batch"]), "--steps", str(a["steps"]), "--eval-n", "0", "--out", a["out"], "--log-every", "1",
            "--sample-every", "100000", "--checkpoint-every", "100000", "--no-progress", "--device", "cpu"]
    import contextlib
    import io
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main(args)
    sys.stderr.write(err.getvalue())
    if rc:  # the command's own one-line error (e.g. out of memory), not a missing run.json
        lines = [x for x in err.getvalue().splitlines() if x.strip()]
        return {"rc": rc, "command": "gantransfer " + " ".join(args), "error": lines[-1][:400] if lines else ""}
    log = [r for r in read_log(Path(a["out"]) / "logs" / "metrics.jsonl") if "time/sec_per_step" in r]
    steps = [r["time/sec_per_step"] * r["step"] for r in log]  # cumulative seconds after each step
    per = [b - c for b, c in zip(steps, [0.0] + steps[:-1])]
    from gantransfer.models.store import load_generator
    run = json.loads((Path(a["out"]) / "run.json").read_text())
    student, _ = load_generator(Path(a["out"]) / "generator")
    return {"rc": rc, "command": "gantransfer " + " ".join(args), "seconds_per_step": per,
            "terms": run.get("terms_chosen", {}).get("terms"),
            "student_init": {k: v for k, v in (run.get("student_init") or {}).items() if k in ("init", "criterion",
                                                                                                "svs", "samples")},
            "student_trained_params": sum(p.numel() for n, p in student.named_parameters()
                                          if not n.startswith("mapping."))}


CHILDREN = {"make": child_make, "import": child_import, "sample": child_sample, "export": child_export,
            "distill": child_distill}


def run_child(kind: str, args: dict) -> None:
    import torch
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    t0, c0 = time.perf_counter(), time.process_time()
    result = CHILDREN[kind](args)
    vm = next((int(x.split()[1]) for x in Path("/proc/self/status").read_text().splitlines()
               if x.startswith("VmPeak:")), 0)
    result.update(wall_s=time.perf_counter() - t0, cpu_s=time.process_time() - c0,
                  peak_rss_gib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB,
                  peak_address_space_gib=vm * 1024 / GIB)
    print("RESULT " + json.dumps(result), flush=True)


# ---------------------------------------------------------------- the parent


def _address_space_cap(gib: float):
    """A preexec_fn capping the child's address space (RLIMIT_AS) at ``gib``: allocations past it fail."""
    def cap() -> None:
        nbytes = int(gib * GIB)
        resource.setrlimit(resource.RLIMIT_AS, (nbytes, nbytes))
    return cap


def measure(kind: str, args: dict, threads: int, timeout: float, cap_gib: float | None = None) -> dict:
    """Run one child; its result, or what went wrong (timeout, exit status and the tail of its output).
    ``cap_gib``: the child's address space is capped there (a real allocation failure, not an estimate)."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    cmd = [sys.executable, str(Path(__file__).resolve()), "child", kind, json.dumps(args)]
    print(f"[scale] {kind} {args}" + (f" (address space capped at {cap_gib:g} GiB)" if cap_gib else ""), flush=True)
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                           preexec_fn=_address_space_cap(cap_gib) if cap_gib else None)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:g} s"}
    line = next((x for x in reversed(p.stdout.splitlines()) if x.startswith("RESULT ")), None)
    if p.returncode or line is None:
        return {"error": f"exit {p.returncode}", "tail": (p.stdout + p.stderr)[-800:]}
    out = json.loads(line[len("RESULT "):])
    print(f"[scale]   -> {json.dumps(out)[:400]}", flush=True)
    return out


def commit() -> str:
    """The measured code's commit (``+dirty`` with uncommitted changes under src/)."""
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "src"], capture_output=True, text=True)
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def keep(row: dict, key: str, value: dict) -> None:
    """``row[key] = value``, an earlier figure under that key moved to ``row["earlier"][key]`` (before/after)."""
    if key in row:
        row.setdefault("earlier", {}).setdefault(key, []).append(row[key])
    row[key] = {**value, "commit": commit()}


def available_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024 / GIB
    return 0.0


def probe_batches(teacher: Path, work: Path, threads: int, a: argparse.Namespace, first: dict) -> dict:
    """Largest distillation batch that fits: doubling from 8, one step each (see the module docstring)."""
    points = [(4, first["peak_rss_gib"], first["seconds_per_step"][0])] if "error" not in first else []
    tried, batch, stop = [], 8, ""
    while True:
        if len(points) >= 2:
            (b1, r1, s1), (b2, r2, s2) = points[-2], points[-1]
            rss_next = r2 + (r2 - r1) / (b2 - b1) * (batch - b2)
            sec_next = s2 * batch / b2
            limit = min(a.rss_cap, available_gib() - 2.0)  # never crowd out the machine's other jobs
            if rss_next > limit:
                stop = f"batch {batch} not tried: extrapolated RSS {rss_next:.1f} GiB > {limit:.1f} GiB"
                break
            if sec_next > a.probe_seconds:
                stop = f"batch {batch} not tried: predicted {sec_next:.0f} s per step > --probe-seconds"
                break
        r = measure("distill", {"teacher": str(teacher), "batch": batch, "steps": 1, "probe": True,
                                "out": str(work / f"probe-{teacher.name}-b{batch}")}, threads, a.timeout)
        tried.append({"batch": batch, **{k: r.get(k) for k in ("peak_rss_gib", "seconds_per_step", "error")}})
        if "error" in r:
            stop = f"batch {batch} failed: {r['error']}"
            break
        points.append((batch, r["peak_rss_gib"], r["seconds_per_step"][0]))
        if r["peak_rss_gib"] > a.rss_cap:
            stop = f"batch {batch} used {r['peak_rss_gib']:.1f} GiB > {a.rss_cap} GiB"
            break
        batch *= 2
    fits = [t["batch"] for t in tried if not t.get("error") and t["peak_rss_gib"] <= a.rss_cap]
    out: dict[str, Any] = {"tried": tried, "stopped": stop, "largest_measured": max(fits, default=4)}
    if len(points) >= 2:
        (b1, r1, _), (b2, r2, _) = points[-2], points[-1]
        slope = (r2 - r1) / (b2 - b1)
        if slope > 0:
            out["rss_gib_per_sample"] = slope
            out["extrapolated_batch_at_24gib"] = int(b2 + (24 - r2) / slope)
    return out


def probe_to_failure(teacher: Path, work: Path, threads: int, a: argparse.Namespace) -> dict:
    """Largest distillation batch that fits under an address-space cap of ``--cap-gib``, probed to failure: one
    step per probe, doubling from 4 until a probe fails, then bisecting between the last fit and the first
    failure (to a gap of one). Nothing is extrapolated: every batch reported was run."""
    def run(batch: int) -> dict:
        out = work / f"capped-{teacher.name}-b{batch}"
        shutil.rmtree(out, ignore_errors=True)
        r = measure("distill", {"teacher": str(teacher), "batch": batch, "steps": 1, "probe": True, "out": str(out)},
                    threads, a.timeout, cap_gib=a.cap_gib)
        shutil.rmtree(out, ignore_errors=True)
        row = {"batch": batch, **{k: r.get(k) for k in ("peak_rss_gib", "peak_address_space_gib",
                                                         "seconds_per_step", "error")}}
        if "error" in r and "tail" in r:
            row["message"] = next((x for x in reversed(r["tail"].splitlines()) if x.strip()), "")[:300]
        tried.append(row)
        return r
    tried: list[dict] = []
    fit, fail, batch = 1, 0, 4  # distill takes batches of 2 and more
    while not fail and batch <= a.max_batch:
        if "error" in run(batch):
            fail = batch
        else:
            fit, batch = batch, batch * 2
    while fail and fail - fit > 1:
        mid = (fit + fail) // 2
        if "error" in run(mid):
            fail = mid
        else:
            fit = mid
    return {"cap_gib": a.cap_gib, "limit": "RLIMIT_AS (address space) of the distill process", "tried": tried,
            "largest_fitting": fit, "smallest_failing": fail or None,
            "student_init": "auto (pruned from the teacher, activation criterion)",
            "command": f"python benchmarks/stylegan2_scale.py --capped-probe --cap-gib {a.cap_gib:g} --sizes "
                       f"{teacher.name.split('-')[1]}"}


def table(results: dict) -> str:
    """The Markdown table docs/stylegan2.md quotes, from the result JSON."""
    def fig(d: dict | None, key: str, fmt: str) -> str:
        return "n/a" if not d or d.get(key) is None else format(d[key], fmt)

    rows = []
    for res, row in sorted(results.get("sizes", {}).items(), key=lambda kv: int(kv[0])):
        imp = " / ".join(fig(row[layout]["import"], "wall_s", ".1f") for layout in LAYOUTS)
        rss_imp = max(row[layout]["import"].get("peak_rss_gib", 0) for layout in LAYOUTS)
        s, e, d = row.get("sample", {}), row.get("export_onnx"), row.get("distill_batch4", {})
        steps = d.get("seconds_per_step") or []
        later = steps[1:] or steps  # the first step pays first-call costs
        step = sum(later) / len(later) if later else None
        big = row.get("largest_batch", {})
        rows.append([res, f"{row['params'] / 1e6:.2f}M", imp, f"{rss_imp:.2f}",
                     f"{fig(s, 'images_per_s_batch1', '.2f')} / {fig(s, 'images_per_s_batch8', '.2f')}",
                     fig(s, "peak_rss_gib", ".1f"),
                     "n/a" if not e or "error" in e else f"{e['seconds']:.0f} s, {e['file_bytes'] / 1e6:.0f} MB, "
                     f"{max(e['parity'].values()):.1e}", "n/a" if step is None else f"{step:.1f}",
                     fig(d, "peak_rss_gib", ".1f"), f"{big.get('largest_measured', 'n/a')}"
                     + (f" (~{big['extrapolated_batch_at_24gib']} at 24 GiB)" if "extrapolated_batch_at_24gib" in big
                        else "")])
    return markdown_table(["px", "G params", "import s (.pt / .pkl)", "import GiB", "images/s (batch 1 / 8)",
                           "sample GiB", "ONNX export (time, size, max error)", "s/step (batch 4)", "distill GiB",
                           "largest batch"], rows)


def fixes(results: dict) -> dict:
    """Before/after of each scaling fix: pass counts and batch sizes of the code before the fix (read from its
    constants, which are unchanged up to 64 px) against the code now, and the measured figures where a size was
    measured on both sides (a re-measured part keeps its earlier figure under ``earlier``)."""
    from gantransfer.deploy.bench import THROUGHPUT_BATCH, throughput_batch_for
    from gantransfer.deploy.parity import BATCHES, PARITY_LATENTS, parity_count
    from gantransfer.models.config import GeneratorConfig
    from gantransfer.tasks.distill import PREVIEW_LATENTS, preview_chunk, preview_count
    out: dict[str, Any] = {}
    for res, row in results.get("sizes", {}).items():
        cfg = GeneratorConfig(arch="stylegan2", latent_dim=512, resolution=int(res), channels=3, width=2.0)
        params = row.get("params") or 0
        f: dict[str, Any] = {
            "export_parity_renders": {"before": PARITY_LATENTS * (1 + len(BATCHES)), "after": parity_count(cfg) *
                                      (1 + len(BATCHES)), "largest_batch_before": max(BATCHES),
                                      "largest_batch_after": min(max(BATCHES), parity_count(cfg))},
            "export_inference_copy_check_renders": {"before": 2 * 64, "after": 0,
                                                    "teacher_copies_before": 2, "teacher_copies_after": 1},
            "report_teacher_throughput_batch": {"before": THROUGHPUT_BATCH, "after": throughput_batch_for(cfg)},
            "distill_preview": {"latents_before": PREVIEW_LATENTS, "latents_after": preview_count(cfg),
                                "batch_before": PREVIEW_LATENTS, "batch_after": preview_chunk(cfg)},
            "truncation_psi_teacher_copy_bytes": {"before": 4 * params, "after": 0}}
        earlier = row.get("earlier", {}).get("distill_batch4")
        if earlier and "distill_batch4" in row:
            f["distill_batch4_peak_rss_gib"] = {"before": earlier[-1].get("peak_rss_gib"),
                                                "after": row["distill_batch4"].get("peak_rss_gib"),
                                                "commits": [earlier[-1].get("commit"),
                                                            row["distill_batch4"].get("commit")]}
        earlier = row.get("earlier", {}).get("export_onnx")
        if earlier and "export_onnx" in row:
            f["onnx_file_bytes"] = {"before": earlier[-1].get("file_bytes"),
                                    "after": row["export_onnx"].get("file_bytes"), "weights_bytes": 4 * params,
                                    "commits": [earlier[-1].get("commit"), row["export_onnx"].get("commit")]}
        out[res] = f
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "gantransfer-stylegan2-scale"))
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/stylegan2_scale.json"))
    ap.add_argument("--sizes", default="256,1024")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per measurement")
    ap.add_argument("--steps", type=int, default=3, help="distillation steps at batch 4")
    ap.add_argument("--rss-cap", type=float, default=20.0, help="GiB a batch probe may use")
    ap.add_argument("--probe-seconds", type=float, default=90.0, help="longest predicted step a probe may take")
    ap.add_argument("--skip", default="", help="comma-separated parts to skip (their earlier figures "
                    "stay): sample, export, distill (the batch-4 steps), probe")
    ap.add_argument("--capped-probe", action="store_true", help="only probe the largest distillation batch to "
                    "failure under --cap-gib (needs the imported teacher under --work from an earlier run)")
    ap.add_argument("--cap-gib", type=float, default=3.0, help="address-space cap of --capped-probe's children")
    ap.add_argument("--max-batch", type=int, default=64, help="--capped-probe stops doubling here")
    ap.add_argument("--table", action="store_true", help="print the Markdown table of --out and stop")
    ap.add_argument("--summarise", action="store_true", help="recompute the before/after block of --out and stop")
    a = ap.parse_args()
    if a.table:
        print(table(json.loads(Path(a.out).read_text())))
        return
    if a.summarise:
        results = json.loads(Path(a.out).read_text())
        results["fixes"] = fixes(results)
        write_results(a.out, results)
        return
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    if a.capped_probe:
        results = json.loads(Path(a.out).read_text())
        for res in a.sizes.split(","):
            keep(results["sizes"][res], "largest_batch_under_cap",
                 probe_to_failure(work / f"imported-{res}-rosinality", work, a.threads, a))
            write_results(a.out, results)
        print(f"wrote {a.out}")
        return
    skip = set(filter(None, a.skip.split(",")))
    out_path = Path(a.out)
    results: dict[str, Any] = json.loads(out_path.read_text()) if out_path.exists() else {}
    import torch
    command = "python " + " ".join([str(Path(__file__).relative_to(ROOT))] + sys.argv[1:])
    earlier = results.get("commands", []) + ([results.pop("command")] if "command" in results else [])
    results["commands"] = [c for c in earlier if c != command] + [command]  # every run that wrote figures here
    results.update({"threads": a.threads, "torch": torch.__version__, "config": {**CONFIG_F, "channel_base": 32768,
                    "channel_max": 512}, "student": "width 0.25 (distill --width 0.125 of the width-2 teacher, a fraction "
                    "of its channels since session 12): a W-space student, the teacher's mapping reused and frozen, "
                    "its synthesis pruned from the teacher's (--init auto; each distill row's student_init says "
                    "which start it had; rows without one predate the pruned start)", "note": "distill children skip the end-of-run "
                    "report (its cost table times the teacher; not part of a step); batch probes render an 8-image "
                    "preview at setup instead of the 32 of <= 256 px runs, so that their peak RSS is the steps'"})
    sizes = results.setdefault("sizes", {})
    for res in (int(s) for s in a.sizes.split(",")):
        row: dict[str, Any] = sizes.get(str(res), {})  # parts skipped in this run keep their earlier figures
        for layout, suffix in LAYOUTS.items():
            f = work / f"config-f-{res}{suffix}"
            made = measure("make", {"resolution": res, "layout": layout, "path": str(f), "seed": 0}, a.threads,
                           a.timeout)
            dest = work / f"imported-{res}-{layout}"
            if dest.exists():
                shutil.rmtree(dest)
            imp = measure("import", {"file": str(f), "out": str(dest)}, a.threads, a.timeout)
            row[layout] = {"file": made, "import": imp}
        teacher = work / f"imported-{res}-rosinality"
        row["params"] = row["rosinality"]["file"].get("params")
        if "sample" not in skip:
            keep(row, "sample", measure("sample", {"generator": str(teacher)}, a.threads, a.timeout))
        if "export" not in skip:
            keep(row, "export_onnx", measure("export", {"generator": str(teacher), "out": str(work / f"g{res}.onnx")},
                                                 a.threads, a.timeout))
        if "distill" not in skip:
            shutil.rmtree(work / f"distill-{res}-b4", ignore_errors=True)
            keep(row, "distill_batch4", measure("distill", {"teacher": str(teacher), "batch": 4, "steps": a.steps,
                                                            "out": str(work / f"distill-{res}-b4")},
                                                a.threads, a.timeout))
        first = row.get("distill_batch4", {"error": "not measured"})
        if "probe" not in skip:
            for p in work.glob(f"probe-{teacher.name}-b*"):
                shutil.rmtree(p)
            keep(row, "largest_batch", probe_batches(teacher, work, a.threads, a, first))
        sizes[str(res)] = row
        results["fixes"] = fixes(results)
        write_results(out_path, results)
    print(f"wrote {out_path}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        run_child(sys.argv[2], json.loads(sys.argv[3]))
    else:
        main()
