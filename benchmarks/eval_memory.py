"""Peak memory of `gantransfer eval` on the shipped teacher, streaming against the old one-shot computation.

    python benchmarks/eval_memory.py                      # n = 10000 and 50000, new and old, on CPU
    python benchmarks/eval_memory.py --n 10000 --modes new

Each (mode, n) runs in a fresh Python subprocess, which reports its own peak resident set size
(``resource.getrusage(RUSAGE_SELF).ru_maxrss`` and ``VmHWM`` of /proc/self/status), once right after the imports
(the baseline) and once after the evaluation. Modes:

- ``new``: ``gantransfer.metrics.evaluate.evaluate`` as ``gantransfer eval`` runs it: images generated, classified
  and reduced batch by batch; KID/PRDC on the first ``KID_PRDC_SAMPLES`` samples.
- ``old``: the memory profile of the computation as it was before streaming: generate all n images
  (``models.sampling.generate``), extract all features (``metrics.classifier.extract``), then reduce them with
  the same accumulator without a cap (KID and PRDC on all n).

Writes benchmarks/results/eval_memory.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
from pathlib import Path

from harness import Stopwatch, write_results

ROOT = Path(__file__).resolve().parents[1]
TEACHER = "src/gantransfer/assets/teachers/fashion-mnist-dcgan"


def peak_mib() -> dict[str, float]:
    """Peak RSS of this process so far, in MiB, from getrusage (KiB on Linux) and /proc/self/status."""
    out = {"ru_maxrss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(("VmHWM:", "VmRSS:")):
                out[line.split(":")[0] + "_mib"] = round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return out


def one_shot(g, gcfg, n: int, seed: int, batch_size: int) -> dict:
    """The pre-streaming evaluation's memory profile: every image, then every feature, in memory at once, reduced
    by the same accumulator with no cap (so the figures are computed by the same code)."""
    from gantransfer.metrics.classifier import extract, load_classifier
    from gantransfer.metrics.evaluate import FeatureAccumulator, reference_for
    from gantransfer.metrics.protocols import count_label
    from gantransfer.models.sampling import generate

    clf = load_classifier("fashion-mnist", "cpu")
    ref = reference_for("fashion-mnist", None)
    images, _ = generate(g, gcfg, n, seed=seed, batch_size=batch_size, device="cpu")
    feats, probs = extract(clf, images)
    acc = FeatureAccumulator(clf, ref, list(clf.cfg.meta.get("class_names") or []),
                             f"{clf.cfg.protocol}/{count_label(n)}", seed, cap=n)
    acc.add(feats, probs)
    return acc.result()


def child(mode: str, n: int, seed: int, batch_size: int, threads: int | None) -> None:
    import torch

    from gantransfer.config import EvalConfig
    from gantransfer.metrics.evaluate import evaluate
    from gantransfer.models.store import load_generator
    if threads:
        torch.set_num_threads(threads)
    baseline = peak_mib()
    watch = Stopwatch()
    if mode == "new":
        res = evaluate(EvalConfig(generator=TEACHER, n=n, seed=seed, batch_size=batch_size, device="cpu"))
    else:
        g, gcfg = load_generator(TEACHER, "cpu")
        res = one_shot(g, gcfg, n, seed, batch_size)
    seconds = watch.elapsed()
    print(json.dumps({"mode": mode, "n": n, "seconds": round(seconds, 2), "torch_threads": torch.get_num_threads(),
                      "baseline_after_imports": baseline, "peak": peak_mib(),
                      "kid_prdc_samples": res["kid_prdc_samples"], "metrics": res["metrics"]}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, nargs="+", default=[10000, 50000])
    ap.add_argument("--modes", nargs="+", choices=["new", "old"], default=["new", "old"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/eval_memory.json"))
    ap.add_argument("--child", choices=["new", "old"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.n[0], args.seed, args.batch_size, args.threads)
        return
    runs = []
    for n in args.n:
        for mode in args.modes:
            cmd = [sys.executable, __file__, "--child", mode, "--n", str(n), "--seed", str(args.seed),
                   "--batch-size", str(args.batch_size)] + (["--threads", str(args.threads)] if args.threads else [])
            done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr}")
            run = json.loads(done.stdout.strip().splitlines()[-1])
            runs.append(run)
            fid = next(v for k, v in run["metrics"].items() if k.startswith("fid/"))
            print(f"{mode:>3} n={n:<6} peak RSS {run['peak']['ru_maxrss_mib']:8.1f} MiB "
                  f"(after imports {run['baseline_after_imports']['ru_maxrss_mib']:.1f}), {run['seconds']:6.1f} s, "
                  f"FID {fid:.6f}, KID/PRDC on {run['kid_prdc_samples']}", flush=True)
    argv = " ".join(sys.argv[1:])
    result = {"command": f"python benchmarks/eval_memory.py{' ' + argv if argv else ''}",
              "generator": TEACHER, "device": "cpu", "batch_size": args.batch_size, "seed": args.seed,
              "cpu_count": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version(),
              "torch": __import__("torch").__version__,
              "note": "peak = ru_maxrss / VmHWM of a fresh subprocess per run; old = generate all, extract all, "
                      "KID/PRDC on all n; new = streaming, KID/PRDC on the first kid_prdc_samples",
              "runs": runs}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_results(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
