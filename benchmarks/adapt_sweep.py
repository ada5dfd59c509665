"""Limited-data learning-rate sweep: every method x lr x seed on one target size, chosen by the held-out split.

    python benchmarks/adapt_sweep.py --device cuda --jobs 12        # footwear, N=100, 4 methods x 3 lr x 3 seeds

The half-of-scratch target compares the best transfer method with scratch, so each gets its best learning rate
here: a setting (method, lr, R1) is chosen by its mean best held-out FID over the seeds (the held-out split is
training-split images outside the N), then reported by its test FID. Same protocol as benchmarks/adapt.py
(DiffAugment, 500 steps, held-out checks at every quarter). Writes --results and prints a markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

from adapt import TARGETS, common_args, protocol_figures
from harness import accelerator, add_run_options, log_beside, run_all, Stopwatch, train_seconds, write_results

METHODS = ("finetune", "freezed", "l2sp", "scratch")


def run_name(target: str, n: int, method: str, lr: float, r1: float, seed: int) -> str:
    return f"{target}-n{n}-{method}-lr{lr:g}-gamma{r1:g}-s{seed}"


def summarise(rows: list[dict]) -> list[dict]:
    """Per setting (method, lr, r1): held-out and test FID over seeds (mean, sd, values)."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["method"], r["lr"], r["r1"]), []).append(r)
    out = []
    for (method, lr, r1), rs in sorted(groups.items()):
        held, test = [r["held_out_fid"] for r in rs], [r["fid"] for r in rs]
        sd = lambda v: statistics.stdev(v) if len(v) > 1 else 0.0  # noqa: E731
        out.append({"method": method, "lr": lr, "r1": r1, "seeds": [r["seed"] for r in rs],
                    "held_out_fid_mean": statistics.mean(held), "fid_mean": statistics.mean(test), "fid_sd": sd(test),
                    "fid_values": test, "recall_mean": statistics.mean(r["recall"] for r in rs),
                    "memorised_max": max(r["memorised_share"] for r in rs)})
    return out


def choose(settings: list[dict]) -> dict:
    """Each method's setting with the lowest mean held-out FID, and the best transfer method against scratch."""
    best = {}
    for s in settings:
        if s["method"] not in best or s["held_out_fid_mean"] < best[s["method"]]["held_out_fid_mean"]:
            best[s["method"]] = s
    transfer = [s for m, s in best.items() if m != "scratch"]
    verdict = {"per_method": best}
    if transfer and "scratch" in best:
        top = min(transfer, key=lambda s: s["held_out_fid_mean"])
        verdict.update({"best_transfer": top["method"],
                        "test_fid_ratio_to_scratch": top["fid_mean"] / best["scratch"]["fid_mean"]})
    return verdict


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", default="runs/bench/fusion/teachers/fm-0-4")
    ap.add_argument("--target", default="footwear", choices=list(TARGETS))
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    ap.add_argument("--lrs", type=float, nargs="+", default=[2e-4, 5e-4, 1e-3])
    ap.add_argument("--r1s", type=float, nargs="+", default=[0.0], help="R1 penalty weights (0: off)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--diffaugment", default="color,translation,cutout")
    ap.add_argument("--eval-n", type=int, default=1000)
    ap.add_argument("--device", default="auto")
    add_run_options(ap, "runs/bench/adapt-sweep", "benchmarks/results/adapt_sweep.json")
    args = ap.parse_args()
    runs, exe, watch = Path(args.runs), [sys.executable, "-m", "gantransfer.cli"], Stopwatch()
    grid = [(m, lr, r1, seed) for seed in args.seeds for m in args.methods for lr in args.lrs for r1 in args.r1s]
    jobs = []
    for method, lr, r1, seed in grid:
        out = runs / run_name(args.target, args.n, method, lr, r1, seed)
        cmd = exe + ["adapt", "--source", args.source, *TARGETS[args.target], "--limit", str(args.n),
                     *common_args(args.steps, args.diffaugment, args.eval_n), "--method", method,
                     "--lr", f"{lr:g}", "--r1", f"{r1:g}", "--seed", str(seed), "--device", args.device,
                     "--out", str(out)]  # after common_args: the last --lr counts
        jobs.append((out, cmd, out / "eval.json", log_beside(out)))
    if not args.collect_only:
        run_all([(out.name, *rest) for out, *rest in jobs], args.jobs)
    rows = []
    for (method, lr, r1, seed), (out, *_) in zip(grid, jobs):
        if not (out / "eval.json").exists():
            print(f"[sweep] {out.name} has no results; see {log_beside(out)}", flush=True)
            continue
        ev = json.loads((out / "eval.json").read_text())
        rows.append({"run": out.name, "method": method, "lr": lr, "r1": r1, "seed": seed,
                     "held_out_fid": ev["best_held_out_fid"], **protocol_figures(ev.get("test", {})),
                     "memorised_share": ev.get("memorisation", {}).get("memorised_share"),
                     "best_step": ev["best_step"], "train_seconds": round(train_seconds(out), 1)})
    settings = summarise(rows)
    before = json.loads(Path(args.results).read_text()) if args.collect_only and Path(args.results).exists() else {}
    result = {"command": before.get("command", "python " + " ".join(sys.argv)), "source": args.source,
              "target": args.target, "n": args.n, "steps": args.steps, "diffaugment": args.diffaugment,
              "eval_n": args.eval_n, "parallel_runs": args.jobs, "machine_cpus": os.cpu_count(),
              "gpu": before.get("gpu", accelerator(args.device)),
              "seconds": before.get("seconds", round(watch.elapsed(), 1)),
              "rows": rows, "settings": settings, "chosen": choose(settings)}
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    write_results(args.results, result)
    print("| method | lr | R1 | seeds | held-out FID | test FID | recall | memorised (max) |")
    print("|---|---|---|---|---|---|---|---|")
    for s in settings:
        print(f"| {s['method']} | {s['lr']:g} | {s['r1']:g} | {len(s['seeds'])} | {s['held_out_fid_mean']:.2f} | "
              f"{s['fid_mean']:.2f} +- {s['fid_sd']:.2f} | {s['recall_mean']:.2f} | {s['memorised_max']:.3f} |")
    print(json.dumps({k: v for k, v in result["chosen"].items() if k != "per_method"}))


if __name__ == "__main__":
    main()
