"""A user-module teacher (``benchmarks/user_dcgan.py``: a DCGAN written outside gantransfer, loaded by
``--teacher-module``): pixel alone against pixel + feature matching at the taps found automatically by forward
hooks (the last module output at 4x4, 8x8 and 16x16), scored under both Fashion-MNIST protocols (issue 31).

    python benchmarks/module_teacher_taps.py --steps 800 --eval-n 2000 --seeds 0 1 2

Student: a DCGAN at ``--width`` 0.25 of the teacher's channels, random start (a user module cannot be pruned),
batch 32, fresh latents every step; one torch thread, one run at a time; runs whose eval.json exists are reused.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from statistics import mean

from demo_recipes import cpu_time
from harness import add_run_options, run_all, write_results

HERE = Path(__file__).resolve().parent
MODULE = "user_dcgan:teacher"
CONDITIONS = {"pixel": "pixel=1", "pixel-feature": "pixel=1,feature=1"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--width", type=float, default=0.25)
    ap.add_argument("--eval-n", type=int, default=2000)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    add_run_options(ap, "runs/bench/module-teacher-taps", "benchmarks/results/module_teacher_taps.json")
    args = ap.parse_args()
    os.environ["PYTHONPATH"] = os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])
    runs, exe = Path(args.runs), [sys.executable, "-m", "gantransfer.cli"]
    jobs = []
    for condition, terms in CONDITIONS.items():
        for seed in args.seeds:
            name = f"w{args.width:g}-{args.steps}-{condition}-s{seed}"
            out = runs / name
            jobs.append((name, ["/usr/bin/time", "-v", "-o", str(runs / f"{name}.time")] + exe + [
                "distill", "--teacher-module", MODULE, "--teacher-data", "fashion-mnist", "--width", str(args.width),
                "--terms", terms, "--batch-size", "32", "--steps", str(args.steps), "--seed", str(seed),
                "--eval-n", str(args.eval_n), "--no-progress", "--sample-every", str(args.steps),
                "--checkpoint-every", str(args.steps), "--device", "cpu", "--out", str(out)],
                out / "eval.json", runs / f"{name}.log"))
    if not args.collect_only:
        run_all(jobs, 1)
    rows = []
    for name, *_ in jobs:
        run = runs / name
        if not (run / "eval.json").exists():
            print(f"[module-taps] {name} has no results; see {runs / (name + '.log')}")
            continue
        ev, info = (json.loads((run / f).read_text()) for f in ("eval.json", "run.json"))
        _, steps, *rest = name.split("-")
        rows.append({"run": name, "condition": "-".join(rest[:-1]), "seed": int(rest[-1][1:]),
                     "terms": info["terms_chosen"]["terms"], "teacher_taps": info.get("teacher_taps"),
                     "student_fid": {k.split("/")[1]: v for k, v in ev["student"].items() if k.startswith("fid/")},
                     "fid_ratio": ev.get("fid_ratio"), "psnr_fresh": ev["fidelity"]["fresh"]["psnr"],
                     "macs_reduction": ev.get("cost", {}).get("macs_reduction"),
                     "time": cpu_time(runs / f"{name}.time")})
    summary = []
    for condition in CONDITIONS:
        rs = [r for r in rows if r["condition"] == condition]
        if rs:
            summary.append({"condition": condition, "seeds": [r["seed"] for r in rs],
                            "mean_fid_ratio": {p: round(mean(r["fid_ratio"][p] for r in rs), 3)
                                               for p in rs[0]["fid_ratio"]},
                            "mean_psnr_fresh": round(mean(r["psnr_fresh"] for r in rs), 2),
                            "mean_cpu_seconds": round(mean(r["time"]["cpu_seconds"] for r in rs), 1)})
    write_results(Path(args.results), {
        "command": "python " + " ".join(sys.argv), "teacher_module": MODULE, "width": args.width,
        "steps": args.steps, "eval_n": args.eval_n, "init": "random (a user module cannot be pruned)",
        "machine": f"shared {os.cpu_count()}-core machine; one torch thread per run, one run at a time",
        "summary": summary, "rows": rows})
    for s in summary:
        ratios = " | ".join(f"{p} {v:.2f}" for p, v in s["mean_fid_ratio"].items())
        print(f"| {s['condition']} | seeds {s['seeds']} | {ratios} | PSNR {s['mean_psnr_fresh']:.2f} |")


if __name__ == "__main__":
    main()
