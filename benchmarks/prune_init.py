"""Pruned against random student initialisation on the shipped Fashion-MNIST DCGAN teacher: each criterion of
``distill --init prune`` (magnitude, activation, diversity), with and without ``--svs``, against ``--init random``,
at the demo's width and recipe (pixel + perceptual + adversarial 0.1 against a fresh width-0.25 discriminator,
batch 32, a bank of 16,384 latents) for a short step budget, scored under both Fashion-MNIST protocols.

    python benchmarks/prune_init.py --steps 1000 --eval-n 2000 --seeds 0 1
    python benchmarks/prune_init.py --conditions activation --target-macs 50x --steps 1000   # per-layer budget

A condition reads ``random``, ``<criterion>`` or ``<criterion>-svs``; runs are ``<size>-<steps>-<condition>-
s<seed>`` (size: ``w<width>`` or ``macs<target>``), one torch thread, one at a time, under ``/usr/bin/time -v``;
runs whose eval.json exists are reused. Rows (per run) and the
mean FID ratio of each condition over its seeds merge into ``--results``; prints a table.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from statistics import mean

from demo_recipes import TEACHER, cpu_time
from harness import add_run_options, run_all, train_seconds

CONDITIONS = ("random", "magnitude", "magnitude-svs", "activation", "activation-svs", "diversity", "diversity-svs")
DEMO = ["--terms", "pixel=1,perceptual=1,adversarial=0.1", "--discriminator-width", "0.25", "--batch-size", "32",
        "--bank-size", "16384"]


def init_flags(condition: str) -> list[str]:
    """The --init flags of a condition name."""
    if condition == "random":
        return ["--init", "random"]
    criterion, _, svs = condition.partition("-")
    if criterion not in ("magnitude", "activation", "diversity") or svs not in ("", "svs"):
        raise SystemExit(f"unknown condition {condition!r}; choose from {', '.join(CONDITIONS)}")
    return ["--init", "prune", "--prune-criterion", criterion] + (["--svs"] if svs else [])


def distill_job(runs: Path, name: str, student: list[str], steps: int, seed: int,
                eval_n: int) -> tuple[str, list[str], Path, Path]:
    """A ``run_all`` job: ``distill`` of the shipped teacher with the demo's recipe, the student's size and init
    flags ``student``, into ``runs/name``, timed by ``/usr/bin/time -v`` into ``runs/name.time``."""
    out = runs / name
    exe = [sys.executable, "-m", "gantransfer.cli"]
    return (name, ["/usr/bin/time", "-v", "-o", str(runs / f"{name}.time")] + exe + [
        "distill", "--teacher", TEACHER, *student, *DEMO, "--steps", str(steps), "--seed", str(seed),
        "--eval-n", str(eval_n), "--no-progress", "--sample-every", str(steps), "--checkpoint-every", str(steps),
        "--device", "cpu", "--out", str(out)], out / "eval.json", runs / f"{name}.log")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--conditions", nargs="+", default=list(CONDITIONS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--width", type=float, default=0.2)
    ap.add_argument("--target-macs", default=None, help="choose channels per layer for this budget (e.g. 50x) "
                    "instead of --width")
    ap.add_argument("--eval-n", type=int, default=2000)
    add_run_options(ap, "runs/bench/prune-init", "benchmarks/results/prune_init.json")
    args = ap.parse_args()
    runs = Path(args.runs)
    jobs = []
    for condition in args.conditions:
        for seed in args.seeds:
            size = f"macs{args.target_macs}" if args.target_macs else f"w{args.width:g}"
            student = ["--target-macs", args.target_macs] if args.target_macs else ["--width", str(args.width)]
            jobs.append(distill_job(runs, f"{size}-{args.steps}-{condition}-s{seed}",
                                    student + init_flags(condition), args.steps, seed, args.eval_n))
    if not args.collect_only:
        run_all(jobs, 1)
    before = json.loads(Path(args.results).read_text()) if Path(args.results).exists() else {}
    rows = {r["run"]: {"size": r["run"].split("-")[0], **r} for r in before.get("rows", [])}
    for name, *_ in jobs:
        run = runs / name
        if not (run / "eval.json").exists():
            print(f"[prune-init] {name} has no results; see {runs / (name + '.log')}")
            continue
        ev = json.loads((run / "eval.json").read_text())
        info = json.loads((run / "run.json").read_text())
        size, steps, *rest = name.split("-")
        budget = (info.get("student_init") or {}).get("budget")
        rows[name] = {"run": name, "size": size, "steps": int(steps), "condition": "-".join(rest[:-1]),
                      "channels": budget["channels"] if budget else None,
                      "seed": int(rest[-1][1:]), "student_init": info.get("student_init"),
                      "train_seconds": round(train_seconds(run), 1), "time": cpu_time(runs / f"{name}.time"),
                      "student_fid": {k.split("/")[1]: v for k, v in ev["student"].items() if k.startswith("fid/")},
                      "fid_ratio": ev.get("fid_ratio"), "psnr_fresh": ev["fidelity"]["fresh"]["psnr"],
                      "macs_reduction": ev.get("cost", {}).get("macs_reduction")}
    groups: dict[tuple, list[dict]] = {}
    for r in rows.values():
        groups.setdefault((r["size"], r["steps"], r["condition"]), []).append(r)
    summary = []
    for (size, steps, condition), rs in sorted(groups.items()):
        protocols = sorted({p for r in rs for p in (r.get("fid_ratio") or {})})
        summary.append({"size": size, "steps": steps, "macs_reduction": rs[0].get("macs_reduction"), "condition": condition, "seeds": sorted(r["seed"] for r in rs),
                        "mean_fid_ratio": {p: round(mean(r["fid_ratio"][p] for r in rs), 3) for p in protocols},
                        "mean_psnr_fresh": round(mean(r["psnr_fresh"] for r in rs), 2)})
    command = "python " + " ".join(sys.argv)
    invocations = [c for c in before.get("invocations", []) if c != command] + [command]
    result = {"command": command, "invocations": invocations, "teacher": TEACHER, "eval_n": args.eval_n,
              "recipe": " ".join(DEMO), "threads_per_run": 1, "parallel_runs": 1, "machine_cpus": os.cpu_count(),
              "machine_shared": "yes: other helpers' jobs ran on the same cores; CPU seconds per run, not wall time, "
                                "are the comparable cost",
              "summary": summary, "rows": sorted(rows.values(), key=lambda r: r["run"])}
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    Path(args.results).write_text(json.dumps(result, indent=2) + "\n")
    for s in summary:
        ratios = " | ".join(f"{p} {v:.2f}" for p, v in s["mean_fid_ratio"].items())
        print(f"| {s['size']} {s['steps']} steps | {s['condition']} | seeds {s['seeds']} | {ratios} | "
              f"PSNR {s['mean_psnr_fresh']:.2f} |")


if __name__ == "__main__":
    main()
