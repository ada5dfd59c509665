"""Limited-data benchmark: every adaptation method x target size, from a source trained on Fashion-MNIST 0-4.

    python benchmarks/adapt.py --jobs 2      # trains the sources (as benchmarks/fusion.py does) unless they exist

Targets: Fashion-MNIST footwear (classes 5, 7, 9) and MNIST (the 5k subset), with N in --ns images. Every
method runs with DiffAugment (color,translation,cutout) for the same number of steps; the held-out split picks
the best step and the test split scores it (FID/KID/precision/recall under the target's protocol, memorisation
share). --seeds repeats N=100. Multi-source MineGAN: sources on tops and on footwear, target footwear; the
selector should prefer footwear. Each process runs one torch thread, --jobs at a time. Writes --results.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

from harness import add_run_options, log_beside, run_all, Stopwatch, teacher_jobs, TEACHERS, train_seconds, write_results

TARGETS = {"footwear": ["--data", "fashion-mnist", "--classes", "5,7,9"], "mnist": ["--data", "mnist-5k"]}
METHODS = ("finetune", "freezed", "l2sp", "minegan", "scratch")


def protocol_figures(metrics: dict) -> dict:
    """FID, KID, precision and recall from a metrics dict keyed by protocol (None where absent): the first
    protocol's at the top, every protocol's (the independent judge too) under ``by_protocol``."""
    names = ("fid", "kid", "precision", "recall")
    pick = lambda prefix: next((v for k, v in metrics.items() if k.startswith(prefix)), None)  # noqa: E731
    protocols = list(dict.fromkeys(k.split("/")[1] for k in metrics if k.startswith("fid/")))
    return {**{name: pick(name + "/") for name in names},
            "by_protocol": {p: {name: pick(f"{name}/{p}/") for name in names} for p in protocols}}


def common_args(steps: int, diffaugment: str, eval_n: int) -> list[str]:
    """`gantransfer adapt` options every benchmark run shares: lr 2e-4 (adapt_sweep.py gives its own, later on
    the command line), held-out checks at each quarter of the steps."""
    return ["--steps", str(steps), "--lr", "2e-4", "--diffaugment", diffaugment, "--eval-every", str(steps // 4),
            "--eval-n", str(eval_n), "--sample-every", str(steps), "--no-progress"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", default="runs/bench/fusion/teachers/fm-0-4")
    ap.add_argument("--multi-sources", nargs=2, default=["runs/bench/fusion/teachers/fm-tops",
                                                         "runs/bench/fusion/teachers/fm-footwear"])
    ap.add_argument("--targets", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    ap.add_argument("--ns", type=int, nargs="+", default=[10, 100, 1000], help="target sizes for footwear")
    ap.add_argument("--mnist-ns", type=int, nargs="+", default=[100], help="target sizes for MNIST")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0], help="seeds for N=100 (others: seed 0)")
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--diffaugment", default="color,translation,cutout")
    ap.add_argument("--eval-n", type=int, default=1000)
    ap.add_argument("--teacher-width", type=float, default=0.5, help="for sources trained here")
    ap.add_argument("--teacher-steps", type=int, default=2000, help="for sources trained here")
    ap.add_argument("--multi", action=argparse.BooleanOptionalAction, default=True,
                    help="also run the multi-source MineGAN (footwear, N=100)")
    add_run_options(ap, "runs/bench/adapt", "benchmarks/results/adapt.json")
    args = ap.parse_args()
    runs, exe, watch = Path(args.runs), [sys.executable, "-m", "gantransfer.cli"], Stopwatch()
    common = common_args(args.steps, args.diffaugment, args.eval_n)
    sources = [Path(s) for s in [args.source, *args.multi_sources]]
    missing = [s for s in sources if not (s / "generator" / "config.json").exists() and s.name in TEACHERS]
    # the fusion benchmark's teachers, trained here when that benchmark has not run
    run_all([j for s in missing for j in teacher_jobs([s.name], s.parent, args.teacher_width, args.teacher_steps, exe)],
            args.jobs)
    jobs = []
    for target in args.targets:
        for n in (args.ns if target == "footwear" else args.mnist_ns):
            for method in args.methods:
                for seed in (args.seeds if n == 100 else [0]):
                    out = runs / f"{target}-n{n}-{method}-s{seed}"
                    cmd = exe + ["adapt", "--source", args.source, *TARGETS[target], "--limit", str(n), "--method",
                                 method, "--seed", str(seed), *common, "--out", str(out)]
                    jobs.append((out.name, cmd, out / "eval.json", log_beside(out)))
    multi = runs / "footwear-n100-minegan-multi-s0"
    if args.multi:
        jobs.append((multi.name, exe + ["adapt", *sum((["--source", s] for s in args.multi_sources), []),
                                        *TARGETS["footwear"], "--limit", "100", "--method", "minegan", *common,
                                        "--out", str(multi)], multi / "eval.json", log_beside(multi)))
    # references under the same evaluation (test split, --eval-n samples, seed 1): each source unadapted, and the
    # footwear source, a GAN trained on all ~18k footwear training images
    refs = [(f"{Path(src).name}-on-{target}", src, target) for target in args.targets for src in
            [args.source] + ([args.multi_sources[1]] if target == "footwear" else [])]
    ref_dir = runs / "references"
    ref_jobs = [(name, exe + ["eval", src, *TARGETS[target], "--n", str(args.eval_n), "--seed", "1", "--device",
                              "cpu", "--out", str(ref_dir / f"{name}.json")],
                 ref_dir / f"{name}.json", ref_dir / f"{name}.log") for name, src, target in refs]
    if not args.collect_only:  # the multi-source run and every setting's first seed before the repeats
        run_all(ref_jobs + sorted(jobs, key=lambda j: (not j[0].endswith("-s0"), "multi" not in j[0])), args.jobs)
    references = []
    for (name, src, target), (_, _, out, _) in zip(refs, ref_jobs):
        if out.exists():
            references.append({"name": name, "generator": src, "target": target,
                               **protocol_figures(json.loads(out.read_text())["metrics"])})
    rows = []
    for name, *_ in jobs:
        run = runs / name
        if not (run / "eval.json").exists():
            print(f"[adapt] {name} has no results; see {log_beside(run)}", flush=True)
            continue
        ev = json.loads((run / "eval.json").read_text())
        target, n, method, seed = name.split("-")[0], int(name.split("-")[1][1:]), name.split("-")[2], \
            int(name.split("-")[-1][1:])
        rows.append({"run": name, "target": target, "n": n, "method": method + ("-multi" if "multi" in name else ""),
                     "seed": seed, "train_seconds": round(train_seconds(run), 1),
                     **protocol_figures(ev.get("test", {})),
                     "memorised_share": ev.get("memorisation", {}).get("memorised_share"),
                     "best_step": ev["best_step"], "last_step": ev["last_step"],
                     "went_past_best": ev["went_past_best"], "source_probabilities": ev.get("source_probabilities")})
    spread = {}
    for r in rows:
        if r["n"] == 100 and r["fid"] is not None:
            spread.setdefault((r["target"], r["method"]), []).append(r["fid"])
    before = json.loads(Path(args.results).read_text()) if args.collect_only and Path(args.results).exists() else {}
    result = {"command": "python " + " ".join(sys.argv), "source": args.source, "steps": args.steps,
              "diffaugment": args.diffaugment, "eval_n": args.eval_n, "threads_per_run": 1,
              "parallel_runs": args.jobs, "machine_cpus": os.cpu_count(),
              "seconds": before.get("seconds", round(watch.elapsed(), 1)),
              "references": references, "rows": rows,
              "n100_seed_spread": [{"target": t, "method": m, "n": len(v), "fid_mean": statistics.mean(v),
                                    "fid_std": statistics.stdev(v) if len(v) > 1 else 0.0}
                                   for (t, m), v in spread.items()]}
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    write_results(args.results, result)
    print("| target | N | method | seed | FID | precision | recall | memorised | best step / last | s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    fmt = lambda v, f=".3f": "" if v is None else format(v, f)  # noqa: E731
    for r in rows:
        print(f"| {r['target']} | {r['n']} | {r['method']} | {r['seed']} | {fmt(r['fid'])} | {fmt(r['precision'], '.2f')}"
              f" | {fmt(r['recall'], '.2f')} | {fmt(r['memorised_share'], '.3f')} | {r['best_step']} / "
              f"{r['last_step']} | {r['train_seconds']:.0f} |")


if __name__ == "__main__":
    main()
