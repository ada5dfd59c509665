"""The StyleGAN2 students' recipe and its ablation: a W-space StyleGAN2 student at 1/4 of the teacher's channels
(the teacher's mapping network copied and frozen), pruned from the teacher, trained on pixel (L1-type) +
perceptual + StyleKD's latent-direction term; each piece taken out (or the adversarial term added) in turn, 3 seeds
each, FID ratio to the teacher under both Fashion-MNIST protocols from each run's own end-of-run evaluation.

    python benchmarks/stylegan2_recipe.py --teacher /work/runs/sg2-teacher-90m --runs runs/bench/sg2-recipe \
        --steps 1000 --seeds 0 1 2 --jobs 2 --results benchmarks/results/stylegan2_recipe.json

The perceptual term uses the shipped perceptual network (``--perceptual-net auto``: ``fashion-mnist-perceptual-v1``),
which neither protocol uses. Runs are ``<condition>-<steps>-s<seed>`` under ``--runs``; a run whose eval.json
exists is reused; rows merge into ``--results``; prints a Markdown table of means (and the worst seed).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from statistics import mean
from typing import Any

from demo_recipes import cpu_time
from harness import add_run_options, markdown_table, run_all, write_results

RECIPE = {"init": "prune", "space": "w", "terms": {"pixel": 1.0, "perceptual": 1.0, "latent_direction": 1.0}}
CONDITIONS = {  # name: (what it changes, the change)
    "default": ("the default kept after the ablation: pruned start, W space (frozen mapping), pixel + perceptual",
                {"terms": {"latent_direction": 0}}),
    "recipe": ("pruned start, W space (frozen mapping), pixel + perceptual + latent direction", {}),
    "no-prune": ("random start", {"init": "random"}),
    "no-direction": ("without the latent-direction term", {"terms": {"latent_direction": 0}}),
    "no-perceptual": ("without the perceptual term", {"terms": {"perceptual": 0}}),
    "z-space": ("the student's own mapping network (Z space), no latent-direction term",
                {"space": "z", "terms": {"latent_direction": 0}}),
    "adversarial": ("+ adversarial (0.1; a fresh discriminator at width 1/32, 16-128 channels, trained beside the "
                    "student: a copy of the teacher's made a step 3.4x dearer than the recipe's, this one 2x)",
                    {"terms": {"adversarial": 0.1}, "flags": ["--discriminator-width", "0.03125"]}),
}


def condition_flags(name: str, width: float, lr: float, lr_decay: str = "none") -> list[str]:
    """The distill flags of condition ``name``."""
    change = CONDITIONS[name][1]
    terms = {**RECIPE["terms"], **change.get("terms", {})}
    text = ",".join(f"{k}={v:g}" for k, v in terms.items() if v > 0)
    return ["--latent-space", change.get("space", RECIPE["space"]), "--width", str(width),
            "--init", change.get("init", RECIPE["init"]), "--terms", text, "--perceptual-net", "auto",
            "--lr", str(lr), "--lr-decay", lr_decay, *change.get("flags", [])]


def job(teacher: str, runs: Path, name: str, flags: list[str], steps: int, seed: int, eval_n: int,
        batch: int) -> tuple[str, list[str], Path, Path]:
    """A ``run_all`` job: one ``distill`` run, timed by ``/usr/bin/time -v`` into ``runs/name.time``."""
    out = runs / name
    return (name, ["/usr/bin/time", "-v", "-o", str(runs / f"{name}.time"), sys.executable, "-m", "gantransfer.cli",
                   "distill", "--teacher", teacher, *flags, "--steps", str(steps), "--seed", str(seed),
                   "--batch-size", str(batch), "--eval-n", str(eval_n), "--no-progress", "--sample-every",
                   str(steps), "--checkpoint-every", str(steps), "--device", "cpu", "--out", str(out)],
            out / "eval.json", runs / f"{name}.log")


def row(run: Path, condition: str, seed: int, command: list[str]) -> dict[str, Any]:
    """One run's figures: FID per protocol (student and teacher), their ratio, sizes, PSNR, CPU time."""
    ev = json.loads((run / "eval.json").read_text())
    info = json.loads((run / "run.json").read_text())
    fid = {k.split("/")[1]: v for k, v in ev["student"].items() if k.startswith("fid/")}
    teacher_fid = {k.split("/")[1]: v for k, v in ev["teacher_metrics"].items() if k.startswith("fid/")}
    return {"condition": condition, "seed": seed, "run": run.name, "command": "gantransfer " + " ".join(command[7:]),
            "student_fid": fid, "teacher_fid": teacher_fid, "fid_ratio": ev.get("fid_ratio"),
            "psnr_fresh": ev["fidelity"]["fresh"]["psnr"], "size": info["student_size"],
            "init": (info.get("student_init") or {}).get("init"),
            "time": cpu_time(run.parent / f"{run.name}.time")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--teacher", required=True, help="the StyleGAN2 teacher (a run directory)")
    ap.add_argument("--conditions", nargs="+", default=[c for c in CONDITIONS if c != "default"],
                    choices=list(CONDITIONS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--width", type=float, default=0.25, help="the student's share of the teacher's channels")
    ap.add_argument("--lr", type=float, default=0.003)
    ap.add_argument("--lr-decay", default="none", choices=["none", "cosine"])
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--eval-n", type=int, default=5000)
    add_run_options(ap, "runs/bench/sg2-recipe", "benchmarks/results/stylegan2_recipe.json")
    args = ap.parse_args()
    runs = Path(args.runs)
    jobs = {(c, s): job(args.teacher, runs, f"{c}-{args.steps}-s{s}", condition_flags(c, args.width, args.lr, args.lr_decay),
                        args.steps, s, args.eval_n, args.batch_size)
            for s in args.seeds for c in args.conditions}  # seed by seed: an early stop leaves whole seeds
    if not args.collect_only:
        run_all(list(jobs.values()), args.jobs)
    before = json.loads(Path(args.results).read_text()) if Path(args.results).exists() else {}
    rows = {r["run"]: r for r in before.get("rows", [])}
    for (c, s), (name, cmd, marker, log) in jobs.items():
        if marker.exists():
            rows[name] = row(runs / name, c, s, cmd)
        else:
            print(f"[sg2-recipe] {name} has no results; see {log}")
    command = "python " + " ".join(sys.argv)
    invocations = [c for c in before.get("invocations", []) if c != command] + [command]
    result = {"command": command, "invocations": invocations, "teacher": args.teacher, "steps": args.steps,
              "width": args.width, "lr": args.lr, "lr_decay": args.lr_decay, "batch_size": args.batch_size, "eval_n": args.eval_n,
              "conditions": {k: v[0] for k, v in CONDITIONS.items()}, "threads_per_run": 1,
              "parallel_runs": args.jobs, "machine_cpus": os.cpu_count(), "rows": list(rows.values())}
    write_results(args.results, result)
    table = []
    for c in CONDITIONS:
        got = [r for r in result["rows"] if r["condition"] == c and r.get("fid_ratio")]
        if not got:
            continue
        protocols = sorted(got[0]["fid_ratio"])
        table.append([c, CONDITIONS[c][0], len(got), f"{got[0]['size']['macs_reduction']:.1f}x",
                      " / ".join(f"{mean(r['fid_ratio'][p] for r in got):.2f}" for p in protocols),
                      " / ".join(f"{max(r['fid_ratio'][p] for r in got):.2f}" for p in protocols),
                      f"{mean(r['psnr_fresh'] for r in got):.1f}"])
    print(markdown_table(["condition", "what", "seeds", "MACs fewer", "FID / teacher (mean), classifier / judge",
                          "worst seed", "PSNR fresh"], table))


if __name__ == "__main__":
    main()
