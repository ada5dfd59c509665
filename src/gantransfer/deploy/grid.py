"""``bench`` across backends, batch sizes and thread counts, every figure also a ratio against the reference
(the teacher in ``eager``) measured in the same run. Rounds interleave every generator and backend so that load
from other processes falls on all of them alike."""
from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import torch

from gantransfer.errors import ConfigError
from gantransfer.budget import check_generator
from gantransfer.models.sampling import probe_finite
from gantransfer.models.store import load_generator
from gantransfer.deploy.backends import Subject, check_backends, memory_probe, scratch_dir, warm
from gantransfer.models.cost import count_macs, count_params
from gantransfer.deploy.machine import describe, matmul_peak_gflops, peak_extra_mib

REFERENCE_BACKEND = "eager"


def _percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def _names(paths: list[str]) -> list[str]:
    names = []
    for p in paths:
        base = Path(p).name if Path(p).name != "generator" else Path(p).parent.name
        name, k = base, 2
        while name in names:
            name, k = f"{base}-{k}", k + 1
        names.append(name)
    return names


def bench_grid(paths: list[str], against: str | None = None, backends: list[str] | None = None,
               batches: list[int] | None = None, threads: list[int] | None = None, repeats: int = 10,
               rounds: int = 3) -> dict[str, Any]:
    """Latency (median, p90), throughput, peak memory, MACs, params and achieved GFLOP/s of each generator
    (and ``against``, the reference) per backend, batch and thread count, with ratios against the reference in
    ``eager`` at the same batch and thread count."""
    backends = backends or ["eager", "compile", "onnx", "onnx-int8"]
    batches, threads = batches or [1, 64, 256], threads or [1, 2]
    check_backends(backends)
    if min(batches) < 1 or min(threads) < 1 or repeats < 1 or rounds < 1:
        raise ConfigError("--batch, --threads, --repeats and --rounds must be positive")
    sources = ([against] if against else []) + [p for p in paths if p != against]
    names = _names(sources)
    t_start = time.perf_counter()
    before = torch.get_num_threads()
    with scratch_dir() as tmp:
        subjects = []
        for name, src in zip(names, sources):
            module, cfg = load_generator(src)
            probe_finite(module, cfg, f"generator {src}")  # no timing of a generator of NaN images
            check_generator(cfg, f"bench --batch {max(batches)} of {src}", batch=max(batches), force=True)
            subjects.append((Subject(name, module, cfg, Path(tmp)), src))
        ref = subjects[0][0]
        info = {s.name: {"path": src, "params": count_params(s.module), "macs": count_macs(s.module, s.cfg)}
                for s, src in subjects}
        for s, _ in subjects:
            info[s.name]["macs_reduction"] = info[ref.name]["macs"] / info[s.name]["macs"]
            info[s.name]["params_reduction"] = info[ref.name]["params"] / info[s.name]["params"]
        plan = [(s, src, b) for s, src in subjects for b in dict.fromkeys([REFERENCE_BACKEND, *backends])]
        machine = {**describe(), "matmul_peak_gflops": {}}
        samples: dict[tuple, list[float]] = {}
        extra: dict[tuple, dict] = {}
        try:
            for t in threads:
                torch.set_num_threads(t)
                peak_before = matmul_peak_gflops(t)
                for batch in batches:
                    calls = {}
                    for s, src, b in plan:
                        call = s.call(b, t, batch, src)
                        first = warm(call)
                        key = (s.name, b, batch, t)
                        extra[key] = {"first_call_s": first}
                        if t == threads[0]:
                            extra[key]["peak_extra_mib"] = peak_extra_mib(memory_probe(s, b, t, batch, src))
                        calls[key] = call
                        samples[key] = []
                    for _ in range(rounds):
                        for key, call in calls.items():
                            for _ in range(repeats):
                                t0 = time.perf_counter()
                                call()
                                samples[key].append(time.perf_counter() - t0)
                # the best of before and after: a peak measured while another process ran would be too low
                machine["matmul_peak_gflops"][t] = max(peak_before, matmul_peak_gflops(t))
        finally:
            torch.set_num_threads(before)
        exports = {s.name: s.exports for s, _ in subjects}
    rows = []
    for (name, b, batch, t), times in samples.items():
        med = statistics.median(times)
        macs = info[name]["macs"]
        rows.append({"generator": name, "backend": b, "batch": batch, "threads": t,
                     "latency_ms_median": med * 1e3, "latency_ms_p90": _percentile(times, 0.9) * 1e3,
                     "throughput_per_s": batch / med, "timed_calls": len(times),
                     "gflops": 2 * macs * batch / med / 1e9,
                     "peak_fraction": 2 * macs * batch / med / 1e9 / machine["matmul_peak_gflops"][t],
                     **extra[(name, b, batch, t)]})
    by_key = {(r["generator"], r["backend"], r["batch"], r["threads"]): r for r in rows}
    for r in rows:
        base = by_key[(ref.name, REFERENCE_BACKEND, r["batch"], r["threads"])]
        r["speedup_vs_reference"] = base["latency_ms_median"] / r["latency_ms_median"]  # = throughput ratio
        if r.get("peak_extra_mib") and base.get("peak_extra_mib"):
            r["memory_ratio_vs_reference"] = r["peak_extra_mib"] / base["peak_extra_mib"]
    return {"reference": {"generator": ref.name, "backend": REFERENCE_BACKEND}, "generators": info,
            "machine": machine, "settings": {"backends": backends, "batches": batches, "threads": threads,
                                             "repeats": repeats, "rounds": rounds},
            "exports": exports, "rows": rows, "seconds": round(time.perf_counter() - t_start, 1)}


def format_grid(result: dict[str, Any]) -> str:
    """The printed table of ``bench_grid``'s result."""
    ref = result["reference"]
    peak = result["machine"]["matmul_peak_gflops"]
    lines = [f"reference: {ref['generator']} in {ref['backend']} (x ref: its latency / this latency, same batch and "
             f"threads); matmul peak " + ", ".join(f"{t} thread{'s' if t > 1 else ''} {v:.0f} GFLOP/s"
                                                   for t, v in peak.items())]
    for name, g in result["generators"].items():
        lines.append(f"  {name}: {g['params']:,} params, {g['macs']:,} MACs/sample ({g['macs_reduction']:.1f}x fewer "
                     f"than the reference)")
    head = f"{'generator':<28} {'backend':<12} {'thr':>3} {'batch':>5} {'median ms':>10} {'p90 ms':>9} " \
           f"{'samples/s':>10} {'x ref':>6} {'GFLOP/s':>8} {'%peak':>6} {'+MiB':>6}"
    lines += [head, "-" * len(head)]
    for r in sorted(result["rows"], key=lambda r: (r["threads"], r["batch"], r["generator"], r["backend"])):
        mib = r.get("peak_extra_mib")
        lines.append(f"{r['generator'][:28]:<28} {r['backend']:<12} {r['threads']:>3} {r['batch']:>5} "
                     f"{r['latency_ms_median']:>10.3f} {r['latency_ms_p90']:>9.3f} {r['throughput_per_s']:>10.0f} "
                     f"{r['speedup_vs_reference']:>6.2f} {r['gflops']:>8.1f} {100 * r['peak_fraction']:>5.1f}% "
                     f"{'' if mib is None else format(mib, '.1f'):>6}")
    return "\n".join(lines)
