"""The CUDA paths CPU tests cannot run, in one pass that writes a results JSON (``benchmarks/gpu_check.sh`` runs it).

    benchmarks/gpu_check.sh                      # on a machine with a GPU: about 5 minutes
    benchmarks/gpu_check.sh --dry                # (or GANTRANSFER_GPU_DRY=1) the same paths on CPU at tiny sizes

Checks, each recorded with its figures or why it did not run:

- ``precision``: ``gantransfer distill`` steps of the shipped DCGAN teacher in fp32, bf16 autocast and fp16
  autocast with the gradient scaler (fp16 needs CUDA: skipped in the dry mode); seconds per step and whether the
  losses stayed finite;
- ``inference``: channels-last and ``torch.compile`` (where this torch offers it) against eager, for the DCGAN
  teacher and a StyleGAN2 at 256 px (dry: 32 px): max abs difference and images per second;
- ``distributed``: ``torchrun`` distillation with one process, and two when two devices exist (NCCL on CUDA,
  gloo in the dry mode);
- ``stylegan2_256``: distillation steps per second of a config-f-sized StyleGAN2 at 256 px (random weights, made
  here) into a 1/4-width W-space student (dry: 32 px, few channels);
- ``pytest_cuda``: the test suite's CUDA-marked tests (``pytest -m cuda``; they skip without CUDA).

Every check runs in a subprocess with a timeout; a failure is recorded (exit status and the tail of its output)
and the next check still runs. The JSON says whether it was a dry run and on what device.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from harness import write_results  # noqa: E402

TEACHER = ROOT / "src" / "gantransfer" / "assets" / "teachers" / "fashion-mnist-dcgan"


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}


def run(cmd: list[str], timeout: float) -> dict[str, Any]:
    """Run ``cmd``; its exit status, wall seconds and, on failure, the tail of its output."""
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env(), cwd=str(ROOT))
    except subprocess.TimeoutExpired:
        return {"rc": None, "error": f"timed out after {timeout:g} s", "wall_s": time.perf_counter() - t0}
    out = {"rc": p.returncode, "wall_s": round(time.perf_counter() - t0, 2)}
    if p.returncode:
        out["error"] = (p.stdout + p.stderr)[-1500:]
    return out


def step_figures(run_dir: Path) -> dict[str, Any]:
    """Seconds per step (the engine's own, last record) and whether every logged loss was finite."""
    rows = [json.loads(x) for x in (run_dir / "logs" / "metrics.jsonl").read_text().splitlines()]
    timed = [r for r in rows if "time/sec_per_step" in r]
    losses = [v for r in rows for k, v in r.items() if k.startswith("loss/")]
    sec = timed[-1]["time/sec_per_step"] if timed else None
    return {"sec_per_step": sec, "steps_per_s": 1 / sec if sec else None,
            "losses_finite": bool(losses) and all(v == v and abs(v) != float("inf") for v in losses)}


def distill_cmd(teacher: Path, out: Path, device: str, steps: int, batch: int, extra: list[str]) -> list[str]:
    return ["-m", "gantransfer", "distill", "--teacher", str(teacher), "--steps", str(steps), "--batch-size",
            str(batch), "--eval-n", "0", "--no-progress", "--device", device, "--log-every", "1",
            "--sample-every", str(10 * steps), "--checkpoint-every", str(10 * steps), "--out", str(out), *extra]


def check_precision(a: argparse.Namespace, work: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for precision in ("fp32", "bf16", "fp16"):
        if precision == "fp16" and a.device != "cuda":
            out[precision] = {"skipped": "fp16 autocast with the gradient scaler needs CUDA (dry run on CPU)"}
            continue
        d = work / f"precision-{precision}"
        r = run([sys.executable, *distill_cmd(TEACHER, d, a.device, a.steps, a.batch,
                                              ["--width", "0.5", "--precision", precision])], a.timeout)
        out[precision] = {**r, **(step_figures(d) if r["rc"] == 0 else {})}
        if precision == "fp16" and r["rc"] == 0:
            out[precision]["gradient_scaler"] = "torch.amp.GradScaler('cuda') (engine/loop.py)"
    return out


def make_stylegan2(a: argparse.Namespace, work: Path) -> Path:
    """A StyleGAN2 generator directory with seeded random weights: config-f at 256 px, or a tiny one (dry)."""
    dest = work / f"stylegan2-{a.sg2_resolution}"
    code = (
        "import sys, torch\n"
        "from gantransfer.models.config import GeneratorConfig, build_generator\n"
        "from gantransfer.models.store import save_generator\n"
        f"cfg = GeneratorConfig(arch='stylegan2', latent_dim={a.sg2_latent}, resolution={a.sg2_resolution}, "
        f"channels=3, width={a.sg2_width}, options={a.sg2_options!r})\n"
        "torch.manual_seed(0)\n"
        "g = build_generator(cfg).eval()\n"
        "with torch.no_grad():\n"
        "    g.mapping.w_avg.copy_(g.mapping(torch.randn(256, cfg.latent_dim))[:, 0].mean(0))\n"
        f"save_generator(g, cfg, {str(dest)!r})\n")
    if not dest.exists():
        r = run([sys.executable, "-c", code], a.timeout)
        if r["rc"] != 0:
            raise RuntimeError(r.get("error", "could not write the StyleGAN2 generator"))
    return dest


INFERENCE_CODE = r"""
import json, sys, time, torch
from gantransfer.deploy.backends import compiled
from gantransfer.deploy.inference import prepare_for_inference
from gantransfer.models.store import load_generator
path, device, batch, repeats, dry = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1"
g, cfg = load_generator(path, device)
z = torch.randn(batch, cfg.latent_dim, generator=torch.Generator().manual_seed(0)).to(device)
kw = {}  # StyleGAN2's random noise is seeded from W in eval mode: every variant gets the same images
def timed(f):
    with torch.inference_mode():
        f(); f()
        if device == "cuda": torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(repeats): y = f()
        if device == "cuda": torch.cuda.synchronize()
    return y, batch * repeats / (time.perf_counter() - t0)
ref, ips = timed(lambda: g(z, **kw))
out = {"eager": {"images_per_s": ips}}
cl, _ = prepare_for_inference(g, cfg, channels_last=True)
y, ips = timed(lambda: cl(z, **kw))
out["channels_last"] = {"images_per_s": ips, "max_abs_diff": float((y - ref).abs().max())}
if hasattr(torch, "compile"):
    try:
        # dry: dynamo's tracing with the eager backend (the path, without minutes of C++ compilation on CPU)
        c = torch.compile(g, backend="eager", dynamic=False) if dry else compiled(g)
        t0 = time.perf_counter()
        with torch.inference_mode(): c(z, **kw)
        first = time.perf_counter() - t0
        y, ips = timed(lambda: c(z, **kw))
        out["compile"] = {"images_per_s": ips, "max_abs_diff": float((y - ref).abs().max()), "compile_s": first,
                          "backend": "eager (dry)" if dry else "inductor"}
    except Exception as e:
        out["compile"] = {"error": f"{type(e).__name__}: {str(e)[:300]}"}
else:
    out["compile"] = {"skipped": "torch.compile is not offered by this torch"}
print("RESULT " + json.dumps(out))
"""


def check_inference(a: argparse.Namespace, work: Path, sg2: Path | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, path, batch in (("dcgan_teacher", TEACHER, a.batch), (f"stylegan2_{a.sg2_resolution}px", sg2, 1)):
        if path is None:
            out[name] = {"skipped": "the StyleGAN2 generator could not be written"}
            continue
        cmd = [sys.executable, "-c", INFERENCE_CODE, str(path), a.device, str(batch), str(a.repeats),
               "1" if a.dry else "0"]
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout, env=_env(), cwd=str(ROOT))
        line = next((x for x in p.stdout.splitlines() if x.startswith("RESULT ")), None)
        out[name] = json.loads(line[7:]) if line else {"rc": p.returncode, "error": (p.stdout + p.stderr)[-1500:]}
        out[name]["batch"], out[name]["wall_s"] = batch, round(time.perf_counter() - t0, 2)
    return out


def check_distributed(a: argparse.Namespace, work: Path) -> dict[str, Any]:
    backend = "nccl" if a.device == "cuda" else "gloo"
    out: dict[str, Any] = {"backend": backend}
    for procs in (1, 2):
        if procs == 2 and a.device_count < 2:
            out["2_processes"] = {"skipped": f"{a.device_count} {a.device} device(s): two processes need two"}
            continue
        d = work / f"torchrun-{procs}"
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(procs),
               *distill_cmd(TEACHER, d, a.device, a.steps, a.batch, ["--width", "0.5"])]
        r = run(cmd, a.timeout)
        out[f"{procs}_process{'es' if procs > 1 else ''}"] = {**r, **(step_figures(d) if r["rc"] == 0 else {})}
    return out


def check_stylegan2(a: argparse.Namespace, work: Path, sg2: Path | None) -> dict[str, Any]:
    if sg2 is None:
        return {"skipped": "the StyleGAN2 generator could not be written"}
    d = work / "sg2-distill"
    r = run([sys.executable, *distill_cmd(sg2, d, a.device, a.sg2_steps, a.sg2_batch,
                                          ["--width", str(a.sg2_width / 4), "--latent-space", "w"])], a.timeout)
    return {"resolution": a.sg2_resolution, "batch": a.sg2_batch, "steps": a.sg2_steps, **r,
            **(step_figures(d) if r["rc"] == 0 else {})}


def check_pytest(a: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "pytest", "-q", "-m", "cuda", "-p", "no:cacheprovider", str(ROOT / "tests")]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout, env=_env(), cwd=str(ROOT))
    summary = next((x for x in reversed(p.stdout.splitlines()) if " in " in x and ("passed" in x or "skipped" in x
                                                                                     or "failed" in x)), "")
    out = {"rc": p.returncode, "summary": summary.strip("= "), "wall_s": round(time.perf_counter() - t0, 2)}
    if p.returncode not in (0, 5):  # 5: nothing collected
        out["error"] = (p.stdout + p.stderr)[-1500:]
    if a.device != "cuda":
        out["note"] = "no CUDA device: the CUDA-marked tests skip themselves"
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry", action="store_true", help="the same paths on CPU at tiny sizes (also "
                    "GANTRANSFER_GPU_DRY=1)")
    ap.add_argument("--out", default=None, help="results JSON (default: benchmarks/results/gpu_check.json, "
                    "gpu_check_dry.json in the dry mode)")
    ap.add_argument("--work", default=None, help="scratch folder (default: a temporary one)")
    ap.add_argument("--timeout", type=float, default=240.0, help="seconds per check")
    a = ap.parse_args()
    a.dry = a.dry or os.environ.get("GANTRANSFER_GPU_DRY", "") not in ("", "0")
    import torch
    cuda = torch.cuda.is_available() and not a.dry
    a.device = "cuda" if cuda else "cpu"
    a.device_count = torch.cuda.device_count() if cuda else 1
    if not cuda and not a.dry:
        raise SystemExit("gpu_check: no CUDA device here; run it with --dry (or GANTRANSFER_GPU_DRY=1) to check the "
                         "paths on CPU")
    if a.dry:  # tiny: the paths, not the figures
        a.steps, a.batch, a.repeats, a.sg2_steps, a.sg2_batch = 2, 8, 2, 2, 2
        a.sg2_resolution, a.sg2_latent, a.sg2_width = 32, 16, 0.25
        a.sg2_options = {"w_dim": 16, "mapping_layers": 2, "channel_max": 16}
    else:
        a.steps, a.batch, a.repeats, a.sg2_steps, a.sg2_batch = 50, 64, 20, 20, 8
        a.sg2_resolution, a.sg2_latent, a.sg2_width = 256, 512, 2.0
        a.sg2_options = {"w_dim": 512, "mapping_layers": 8, "channel_max": 512}
    out_path = Path(a.out or HERE / "results" / ("gpu_check_dry.json" if a.dry else "gpu_check.json"))
    results: dict[str, Any] = {
        "dry": a.dry, "device": a.device, "device_count": a.device_count,
        "device_names": [torch.cuda.get_device_name(i) for i in range(a.device_count)] if cuda else [platform.processor()
                                                                                                     or "cpu"],
        "torch": torch.__version__, "cuda": torch.version.cuda, "python": platform.python_version(),
        "command": "benchmarks/gpu_check.sh" + (" --dry" if a.dry else ""),
        "note": "dry: tiny sizes on CPU, the figures check the paths only" if a.dry else
                "figures of one run; other jobs on the machine were not controlled"}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gantransfer-gpu-check-") as tmp:
        work = Path(a.work) if a.work else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        print(f"gpu_check: {'dry run on CPU' if a.dry else a.device}; results -> {out_path}", flush=True)
        results["precision"] = check_precision(a, work)
        print("gpu_check: precision done", flush=True)
        try:
            sg2: Path | None = make_stylegan2(a, work)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            sg2, results["stylegan2_error"] = None, str(e)[-1500:]
        results["inference"] = check_inference(a, work, sg2)
        print("gpu_check: inference done", flush=True)
        results["distributed"] = check_distributed(a, work)
        print("gpu_check: distributed done", flush=True)
        results[f"stylegan2_{a.sg2_resolution}px_distill"] = check_stylegan2(a, work, sg2)
        print("gpu_check: stylegan2 done", flush=True)
        results["pytest_cuda"] = check_pytest(a)
    results["wall_s"] = round(time.perf_counter() - t0, 1)
    failed = [k for k, v in results.items() if isinstance(v, dict) and _failed(v)]
    results["failed_checks"] = failed
    write_results(out_path, results)
    print(f"gpu_check: wrote {out_path} in {results['wall_s']} s; failed: {', '.join(failed) or 'none'}")
    sys.exit(1 if failed else 0)


def _failed(v: dict) -> bool:
    if "error" in v:
        return True
    return any(_failed(x) for x in v.values() if isinstance(x, dict))


if __name__ == "__main__":
    main()
