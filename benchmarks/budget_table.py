"""Compression to a budget on the shipped Fashion-MNIST DCGAN teacher: ``distill --target-macs`` at 25x, 50x and
100x fewer MACs with the demo's recipe as prune_init.py runs it (``--init`` left at its default), then per student
the channels the search chose (run.json), the achieved MACs and parameter reductions, the FID ratio to the teacher
under both Fashion-MNIST protocols (eval.json), and the ONNX Runtime speed-up over the teacher at batch 1 and 256
from ONE ``gantransfer bench STUDENT --against TEACHER --backends onnx`` run per student (teacher and student timed
interleaved, one thread).

    python benchmarks/budget_table.py --targets 25x 50x 100x --steps 500 --eval-n 2000 --seed 0

Runs are ``macs<target>-<steps>-s<seed>`` under ``--runs``, one at a time; a run whose eval.json exists and a
bench whose JSON exists are reused. A budget the tool refuses is recorded with its message. Rows merge into
``--results``; prints a Markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from demo_recipes import TEACHER, cpu_time
from harness import add_run_options, launch, markdown_table, run_all, write_results
from prune_init import DEMO, distill_job


def bench_command(run: Path, batches: str, repeats: int, rounds: int) -> list[str]:
    """``gantransfer bench`` of run ``run``'s student against the teacher in ONNX Runtime, one thread, its JSON
    written beside the run."""
    return [sys.executable, "-m", "gantransfer.cli", "bench", str(run), "--against", TEACHER, "--backends", "onnx",
            "--batch", batches, "--threads", "1", "--repeats", str(repeats), "--rounds", str(rounds),
            "--out", str(run.parent / f"{run.name}.bench.json"), "--overwrite"]


def refusal(log: Path) -> str | None:
    """The tool's one-line error in a failed run's log, if any."""
    if not log.exists():
        return None
    lines = [ln.strip() for ln in log.read_text().splitlines() if "error:" in ln]
    return lines[-1] if lines else None


def onnx_speedups(bench: dict[str, Any], student: str) -> dict[str, dict[str, float]]:
    """Per batch: the teacher's ONNX latency over the student's (both from the one bench run), each one's median
    latency in ms and share of the machine's matmul peak."""
    teacher = bench["reference"]["generator"]
    got = {(r["generator"], r["batch"]): r for r in bench["rows"] if r["backend"] == "onnx"}
    return {str(b): {"speedup": round(got[(teacher, b)]["latency_ms_median"] / got[(student, b)]["latency_ms_median"],
                                      3),
                     **{f"{who}_ms": round(got[(g, b)]["latency_ms_median"], 4) for who, g in
                        (("teacher", teacher), ("student", student))},
                     **{f"{who}_peak_fraction": round(got[(g, b)]["peak_fraction"], 3) for who, g in
                        (("teacher", teacher), ("student", student))}}
            for b in sorted({b for _, b in got}) if (student, b) in got and (teacher, b) in got}


def row(run: Path, target: str, log: Path) -> dict[str, Any]:
    """The table's row for one budget: the chosen channels, reductions, FID ratios and ONNX speed-ups, or the
    tool's refusal."""
    if not (run / "eval.json").exists():
        return {"target": target, "run": run.name, "error": refusal(log) or f"no eval.json; see {log}"}
    info = json.loads((run / "run.json").read_text())
    ev = json.loads((run / "eval.json").read_text())
    budget = info["student_init"]["budget"]
    size = info["student_size"]
    bench_file = run.parent / f"{run.name}.bench.json"
    bench = json.loads(bench_file.read_text()) if bench_file.exists() else None
    return {"target": target, "run": run.name, "channels": budget["channels"],
            "budget_floor": budget.get("floor_of_uniform"),
            "teacher_channels": budget["teacher_channels"], "macs": budget["measured"],
            "teacher_macs": budget["teacher"], "macs_reduction": round(budget["reduction"], 2),
            "params": size["student_params"], "params_reduction": size["params_reduction"],
            "student_fid": {k.split("/")[1]: v for k, v in ev["student"].items() if k.startswith("fid/")},
            "fid_ratio": ev.get("fid_ratio"), "psnr_fresh": ev["fidelity"]["fresh"]["psnr"],
            "time": cpu_time(run.parent / f"{run.name}.time"),
            "onnx": onnx_speedups(bench, run.name) if bench else None,
            "bench_seconds": bench["seconds"] if bench else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", nargs="+", default=["25x", "50x", "100x"], help="--target-macs budgets")
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-n", type=int, default=2000)
    ap.add_argument("--budget-floor", type=float, default=None, help="distill --budget-floor (default: the tool's)")
    ap.add_argument("--batches", default="1,256", help="bench batch sizes")
    ap.add_argument("--repeats", type=int, default=10, help="bench: timed calls per round")
    ap.add_argument("--rounds", type=int, default=3, help="bench: interleaved rounds")
    add_run_options(ap, "runs/bench/budget-table", "benchmarks/results/budget_table.json")
    ap.set_defaults(jobs=1)
    args = ap.parse_args()
    runs = Path(args.runs)
    floor = [] if args.budget_floor is None else ["--budget-floor", str(args.budget_floor)]
    jobs = [distill_job(runs, f"macs{t}-{args.steps}-s{args.seed}", ["--target-macs", t, *floor], args.steps,
                        args.seed, args.eval_n) for t in args.targets]
    if not args.collect_only:
        run_all(jobs, args.jobs)
        for name, _, marker, _ in jobs:
            bench_out = runs / f"{name}.bench.json"
            if marker.exists() and not bench_out.exists():
                print(f"[budget-table] bench {name}", flush=True)
                launch(bench_command(runs / name, args.batches, args.repeats, args.rounds),
                       runs / f"{name}.bench.log").wait()
    before = json.loads(Path(args.results).read_text()) if Path(args.results).exists() else {}
    rows = {r["run"]: r for r in before.get("rows", [])}
    for (name, _, _, log), target in zip(jobs, args.targets):
        rows[name] = row(runs / name, target, log)
    command = "python " + " ".join(sys.argv)
    invocations = [c for c in before.get("invocations", []) if c != command] + [command]
    result = {"command": command, "invocations": invocations, "teacher": TEACHER, "eval_n": args.eval_n,
              "recipe": " ".join(DEMO), "init": "default (--init auto: pruned, --prune-criterion default)",
              "bench": {"backend": "onnx", "batches": args.batches, "threads": 1, "repeats": args.repeats,
                        "rounds": args.rounds, "speedup": "teacher's ONNX median latency / student's, same run"},
              "threads_per_run": 1, "parallel_runs": args.jobs, "machine_cpus": os.cpu_count(),
              "machine_shared": "yes: other helpers' jobs ran on the same 2 cores; timings are ratios from one "
                                "interleaved bench run per student",
              "rows": list(rows.values())}
    write_results(args.results, result)
    batches = args.batches.split(",")
    table = []
    for r in result["rows"]:
        if "error" in r:
            table.append([r["target"], r["error"]] + [""] * (3 + len(batches)))
            continue
        fid = r["fid_ratio"] or {}
        onnx = r["onnx"] or {}
        table.append([r["target"], " / ".join(f"{c}/{r['teacher_channels'][n]}" for n, c in r["channels"].items()),
                      f"{r['macs_reduction']:.1f}x", f"{r['params_reduction']:.1f}x",
                      " / ".join(f"{fid[p]:.2f}" for p in sorted(fid)),
                      *(f"{onnx[b]['speedup']:.2f}x" if b in onnx else "-" for b in batches)])
    print(markdown_table(["asked", "channels", "MACs fewer", "params fewer", "FID / teacher",
                          *(f"ONNX x, batch {b}" for b in batches)], table))


if __name__ == "__main__":
    main()
