"""Long distillation: students of >= 20x fewer MACs trained for a fixed wall time (e.g. on a GPU), all at once,
against the same architecture trained from scratch on real Fashion-MNIST for the same time.

    python benchmarks/distill_long.py --device cuda --seconds 270 --no-costs     # train + evaluate (GPU machine)
    python benchmarks/distill_long.py --device cuda --seconds 200 --resume --no-costs   # 200 s more, same machine
    python benchmarks/distill_long.py --collect-only --seconds 470               # costs on this CPU, results JSON

Every run is data-free distillation with fresh latents each step (no bank: a long run would over-fit one), batch
64, lr 1e-3, stopped by ``--max-seconds``; all runs train at the same time, so each had the same share of the
machine. Evaluation is the grid's protocol (FID etc. on 10k samples; the teacher measured in the same run).
Costs (params, MACs, CPU latency/throughput ratios against the teacher) are measured here on the CPU afterwards.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from distill_grid import LOSS_SETS, TEACHER, measure_costs, row_of, table
from harness import log_beside, run_all, Stopwatch, write_results

RUNS = {  # name: (width, loss set, extra distill flags)
    "w0.2-ppaf": (0.2, "ppaf", ["--ema-beta", "0.99"]),
    "w0.2-ppaf-e999": (0.2, "ppaf", ["--ema-beta", "0.999"]),
    "w0.2-pp-e999": (0.2, "pp", ["--ema-beta", "0.999"]),
    "w0.2-p-e999": (0.2, "p", ["--ema-beta", "0.999"]),
    "w0.25r8-ppaf-e999": (0.25, "ppaf", ["--ema-beta", "0.999", "--start-resolution", "8"]),
    "w0.0625-ppaf-e999": (0.0625, "ppaf", ["--ema-beta", "0.999"]),
}
SCRATCH = ("w0.2-scratch", 0.2)  # trained on real data, discriminator at the teacher's width (a strong baseline)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--teacher", default=TEACHER)
    ap.add_argument("--seconds", type=float, default=330.0, help="training wall time of every run")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--eval-n", type=int, default=10000)
    ap.add_argument("--only", nargs="+", choices=list(RUNS) + [SCRATCH[0]], help="run only these")
    ap.add_argument("--costs", action=argparse.BooleanOptionalAction, default=True,
                    help="measure params/MACs/CPU speed ratios (off on the GPU machine; run --collect-only here)")
    ap.add_argument("--resume", action="store_true",
                    help="train every run --seconds more from its last checkpoint, then evaluate again")
    ap.add_argument("--collect-only", action="store_true")
    ap.add_argument("--runs", default="runs/bench/distill-long")
    ap.add_argument("--results", default="benchmarks/results/distill_long.json")
    args = ap.parse_args()
    runs, exe = Path(args.runs), [sys.executable, "-m", "gantransfer.cli"]
    common = ["--steps", "10000000", "--max-seconds", f"{args.seconds:g}", "--device", args.device,
              "--sample-every", "10000000", "--checkpoint-every", "5000", "--no-progress", "--seed", "0"]
    chosen = args.only or list(RUNS) + [SCRATCH[0]]
    jobs = []
    for name, (width, key, extra) in RUNS.items():
        if name in chosen:
            jobs.append((name, exe + ["distill", "--teacher", args.teacher, "--width", str(width), "--terms",
                                      LOSS_SETS[key], "--bank-size", "0", "--eval-n", str(args.eval_n),
                                      "--out", str(runs / name), *extra, *common],
                         runs / name / "eval.json", log_beside(runs / name)))
    scratch = runs / SCRATCH[0]
    if SCRATCH[0] in chosen:
        jobs.append((SCRATCH[0], exe + ["train", "--data", "fashion-mnist", "--arch", "dcgan", "--width",
                                        str(SCRATCH[1]), "--d-width", "1", "--out", str(scratch),
                                        *common],
                     scratch / "generator" / "config.json", log_beside(scratch)))
    if args.resume and not args.collect_only:
        jobs = [(name, cmd + ["--resume"], marker, log) for name, cmd, marker, log in jobs]
        for _, _, marker, _ in jobs:
            marker.unlink(missing_ok=True)
        (scratch / "eval.json").unlink(missing_ok=True)
    watch = Stopwatch()
    if not args.collect_only:
        run_all(jobs, len(jobs))
        if (scratch / "generator" / "config.json").exists() and not (scratch / "eval.json").exists():
            subprocess.run(exe + ["eval", str(scratch), "--n", str(args.eval_n), "--device", args.device,
                                  "--out", str(scratch / "eval.json")], check=True,
                           stdout=subprocess.DEVNULL)
    wall = watch.elapsed()
    rows = []
    costs: dict[str, dict] = {}
    for name, *_ in jobs:
        run = runs / name
        if not (run / "eval.json").exists():
            print(f"[long] {name} has no results; see {log_beside(run)}", flush=True)
            continue
        width = RUNS[name][0] if name in RUNS else SCRATCH[1]
        key = RUNS[name][1] if name in RUNS else "scratch"
        arch = name.split("-")[0]  # the same architecture costs the same, whatever trained it
        if args.costs and arch not in costs:
            costs[arch] = measure_costs(run, args.teacher)
        rows.append(row_of(run, "scratch" if key == "scratch" else "distilled", width, key, 0, costs.get(arch)))
        cfg = json.loads((run / "run.json").read_text())["config"]
        rows[-1].update({"ema_beta": cfg.get("ema_beta"), "start_resolution": cfg.get("start_resolution"),
                         "trained_on": cfg.get("device")})
    teacher_fid = next((r["teacher_fid"] for r in rows if r.get("teacher_fid")), None)
    for r in rows:
        if r["kind"] == "scratch" and teacher_fid:
            r["teacher_fid"], r["fid_vs_teacher"] = teacher_fid, r["fid"] / teacher_fid
    before = json.loads(Path(args.results).read_text()) if Path(args.results).exists() else {}
    command = "python " + " ".join(sys.argv)
    result = {"command": command, "invocations": before.get("invocations", []) + [command],
              "teacher": args.teacher, "seconds_per_run": args.seconds,
              "parallel_runs": len(jobs), "machine_cpus": os.cpu_count(), "last_invocation_seconds": round(wall, 1),
              "rows": rows}
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    write_results(args.results, result)
    print(table(rows))


if __name__ == "__main__":
    main()
