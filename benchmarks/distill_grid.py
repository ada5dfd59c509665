"""Distillation benchmark: student widths x loss sets, from-scratch baselines at equal wall time, seed spread.

    python benchmarks/distill_grid.py --steps 1000 --jobs 2                       # the grid (16 runs) + baselines
    python benchmarks/distill_grid.py --widths 0.125 --losses ppa --seeds 1 2 --no-baselines   # + 2 more seeds
    python benchmarks/distill_grid.py --collect-only        # gather what is done (rows merge into --results)

Each run is a `gantransfer distill` (or, for baselines, `gantransfer train --max-seconds T` on real Fashion-MNIST
with T the wall time of the distilled student of that width) in its own process with one torch thread, ``--jobs``
at a time; runs whose eval.json exists are reused. Costs (params, MACs, CPU latency at batch 1 and throughput at
batch 256 against the teacher) are measured afterwards, one model pair at a time, with nothing else running.
Writes the rows to ``--results`` and prints a markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from gantransfer.engine.schedules import LR_SCHEDULES
from harness import add_run_options, run_all, Stopwatch, train_seconds, write_results

TEACHER = "src/gantransfer/assets/teachers/fashion-mnist-dcgan"
LOSS_SETS = {"p": "pixel=1", "pp": "pixel=1,perceptual=1", "ppa": "pixel=1,perceptual=1,adversarial=0.1",
             "ppaf": "pixel=1,perceptual=1,adversarial=0.1,feature=1", "ppc": "pixel=1,perceptual=1"}
# the perceptual network of each loss set: ppc is pp with the first protocol's classifier as the perceptual net
# (this grid's perceptual runs before the perceptual network was shipped); the others take the default (auto)
PERCEPTUAL_NET = {"ppc": "classifier"}
PROTOCOL = "fashion-mnist-classifier-v1/10k"
JUDGE = "fashion-mnist-judge-v1/10k"  # the second, independent protocol: its figures are named *_judge


def run_name(width: float, key: str, seed: int, lr_decay: str = "none") -> str:
    return f"w{width:g}-{key}{'' if lr_decay == 'none' else '-' + lr_decay[:3]}-s{seed}"


def metric(metrics: dict, name: str, protocol: str = PROTOCOL) -> float | None:
    """The figure ``name`` of ``protocol`` (its name; the sample count is not compared) in ``metrics``."""
    for k, v in metrics.items():
        parts = k.split("/")
        if parts[0] == name and len(parts) > 1 and parts[1] == protocol.split("/")[0]:
            return v
    return None


def row_of(run: Path, kind: str, width: float, key: str, seed: int, costs: dict | None) -> dict:
    ev = json.loads((run / "eval.json").read_text())
    s, t = ev.get("student", ev.get("metrics", {})), ev.get("teacher_metrics", {})
    row = {"run": run.name, "kind": kind, "width": width, "losses": LOSS_SETS.get(key, "from scratch on real data"),
           "perceptual_net": PERCEPTUAL_NET.get(key, "auto") if "perceptual" in LOSS_SETS.get(key, "") else None,
           "loss_networks": ev.get("loss_networks"),
           "seed": seed, "steps": json.loads((run / "logs" / "metrics.jsonl").read_text().splitlines()[-1])["step"],
           "train_seconds": round(train_seconds(run), 1)}
    for name in ("fid", "kid", "precision", "recall", "coverage"):
        row[name] = metric(s, name)
        if t:
            row[f"teacher_{name}"] = metric(t, name)
    if row.get("teacher_fid"):
        row["fid_vs_teacher"] = row["fid"] / row["teacher_fid"]
    for name in ("fid", "kid", "precision", "recall", "coverage"):  # the independent protocol, when measured
        v = metric(s, name, JUDGE)
        if v is not None:
            row[f"{name}_judge"] = v
            if t:
                row[f"teacher_{name}_judge"] = metric(t, name, JUDGE)
    if row.get("teacher_fid_judge"):
        row["fid_vs_teacher_judge"] = row["fid_judge"] / row["teacher_fid_judge"]
    for where, fid in ev.get("fidelity", {}).items():
        row[f"psnr_{where}"], row[f"ssim_{where}"] = fid["psnr"], fid["ssim"]
    if costs:
        row.update({k: v for k, v in costs.items()})
    return row


def measure_costs(run: Path, teacher: str) -> dict:
    import torch

    from gantransfer.api import bench
    torch.set_num_threads(1)
    r = bench(run, against=teacher, repeats=20)
    return {"params": r["generator"]["params"], "macs": r["generator"]["macs"],
            **{k: round(v, 3) for k, v in r["ratios"].items()}}


def fmt(v, spec=".3f") -> str:
    return "" if v is None else format(v, spec)


def table(rows: list[dict]) -> str:
    judge = any("fid_judge" in r for r in rows)
    if judge:  # both protocols side by side
        head = ("| width | losses | perceptual net | seed | steps | train s | FID classifier | /teacher | FID judge | "
                "/teacher | R classifier | R judge | PSNR fresh |")
        out = [head, "|" + "---|" * (head.count("|") - 1)]
        for r in rows:
            out.append(f"| {r['width']:g} | {r['losses']} | {r.get('perceptual_net') or ''} | {r['seed']} | "
                       f"{r['steps']} | {r['train_seconds']:.0f} | {fmt(r['fid'])} | "
                       f"{fmt(r.get('fid_vs_teacher'), '.2f')} | {fmt(r.get('fid_judge'))} | "
                       f"{fmt(r.get('fid_vs_teacher_judge'), '.2f')} | {fmt(r['recall'], '.2f')} | "
                       f"{fmt(r.get('recall_judge'), '.2f')} | {fmt(r.get('psnr_fresh'), '.1f')} |")
        return "\n".join(out)
    head = ("| width | losses | seed | steps | train s | FID | FID/teacher | KID | P | R | PSNR bank | PSNR fresh | "
            "MACs red. | params red. | latency b1 speed-up | throughput b256 speed-up |")
    out = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        decay = f" ({r['lr_decay']} lr)" if r.get("lr_decay") not in (None, "none") else ""
        out.append(f"| {r['width']:g} | {r['losses']}{decay} | {r['seed']} | {r['steps']} | {r['train_seconds']:.0f} | "
                   f"{fmt(r['fid'])} | {fmt(r.get('fid_vs_teacher'), '.2f')} | {fmt(r['kid'], '.4f')} | "
                   f"{fmt(r['precision'], '.2f')} | {fmt(r['recall'], '.2f')} | {fmt(r.get('psnr_bank'), '.1f')} | "
                   f"{fmt(r.get('psnr_fresh'), '.1f')} | {fmt(r.get('macs_reduction'), '.1f')} | "
                   f"{fmt(r.get('params_reduction'), '.1f')} | {fmt(r.get('latency_ms_batch1_reduction'), '.2f')} | "
                   f"{fmt(r.get('throughput_per_s_batch256_speedup'), '.2f')} |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--teacher", default=TEACHER)
    ap.add_argument("--widths", type=float, nargs="+", default=[0.5, 0.25, 0.125, 0.0625])
    ap.add_argument("--losses", nargs="+", default=list(LOSS_SETS), choices=list(LOSS_SETS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--bank-size", type=int, default=16384)
    ap.add_argument("--lr-decay", default="none", choices=list(LR_SCHEDULES),
                    help="the students' learning-rate schedule (cosine runs are named w..-KEY-cos-s..)")
    ap.add_argument("--eval-n", type=int, default=10000)
    ap.add_argument("--baselines", action=argparse.BooleanOptionalAction, default=True,
                    help="train each width from scratch on real data for the wall time of its slowest distilled run")
    ap.add_argument("--rescore", action="store_true",
                    help="re-measure finished runs whose eval.json lacks a shipped protocol's figures")
    ap.add_argument("--costs", action=argparse.BooleanOptionalAction, default=True,
                    help="measure CPU costs per width (off: the rows carry no cost columns)")
    ap.add_argument("--baseline-losses", nargs="+", choices=list(LOSS_SETS),
                    help="give the baseline the wall time of these loss sets' runs (default: the slowest of --losses)")
    add_run_options(ap, "runs/bench/distill", "benchmarks/results/distill_grid.json")
    args = ap.parse_args()
    runs = Path(args.runs)
    exe = [sys.executable, "-m", "gantransfer.cli"]
    jobs = []
    for width in args.widths:
        for key in args.losses:
            for seed in args.seeds:
                out = runs / run_name(width, key, seed, args.lr_decay)
                jobs.append((out.name, exe + ["distill", "--teacher", args.teacher, "--width", str(width),
                                              "--terms", LOSS_SETS[key], "--steps", str(args.steps),
                                              *(["--perceptual-net", PERCEPTUAL_NET[key]] if key in PERCEPTUAL_NET
                                                else []),
                                              "--bank-size", str(args.bank_size), "--seed", str(seed),
                                              "--lr-decay", args.lr_decay,
                                              "--eval-n", str(args.eval_n), "--no-progress",
                                              "--sample-every", str(args.steps), "--out", str(out)],
                             out / "eval.json", runs / f"{out.name}.log"))
    watch = Stopwatch()
    if not args.collect_only:
        run_all(jobs, args.jobs)
    if args.rescore:
        from demo_recipes import needs_rescore, rescore
        for name, *_ in jobs:
            if needs_rescore(runs / name):
                print(f"[grid] rescoring {name}", flush=True)
                rescore(runs / name, args.eval_n)
    baseline_jobs = []
    if args.baselines:
        for width in args.widths:
            done = [runs / run_name(width, k, s, args.lr_decay) for k in (args.baseline_losses or args.losses)
                    for s in args.seeds]
            finished = [train_seconds(r) for r in done if (r / "eval.json").exists()]
            if not finished:
                continue
            budget = max(finished)
            out = runs / f"w{width:g}-scratch-s0"
            baseline_jobs.append((out.name, exe + ["train", "--data", "fashion-mnist", "--arch", "dcgan",
                                                   "--width", str(width), "--steps", "1000000",
                                                   "--max-seconds", f"{budget:.0f}", "--seed", "0",
                                                   "--sample-every", "100000", "--checkpoint-every", "2000",
                                                   "--no-progress", "--out", str(out)],
                                  out / "generator" / "config.json", runs / f"{out.name}.log"))
        if not args.collect_only:
            run_all(baseline_jobs, args.jobs)
        for name, *_ in baseline_jobs:  # the same protocol as the distilled students
            if not (runs / name / "eval.json").exists() and (runs / name / "generator" / "config.json").exists():
                subprocess.run(exe + ["eval", str(runs / name), "--n", str(args.eval_n), "--device", "cpu",
                                      "--out", str(runs / name / "eval.json")], check=True,
                               stdout=subprocess.DEVNULL)
    wall = watch.elapsed()
    rows, costs = [], {}
    for name, *_ in jobs + baseline_jobs:
        run = runs / name
        if not (run / "eval.json").exists():
            print(f"[grid] {name} has no results; see {runs / (name + '.log')}", flush=True)
            continue
        width = float(name.split("-")[0][1:])
        key, seed = name.split("-")[1], int(name.split("-")[-1][1:])
        if width not in costs:  # the same architecture costs the same, whatever trained it
            costs[width] = measure_costs(run, args.teacher) if args.costs else None
        rows.append(row_of(run, "scratch" if key == "scratch" else "distilled", width, key, seed, costs[width]))
        rows[-1]["lr_decay"] = json.loads((run / "run.json").read_text())["config"].get("lr_decay", "none") \
            if key != "scratch" else None
    teacher_fid = next((r["teacher_fid"] for r in rows if r.get("teacher_fid")), None)
    for r in rows:
        if r["kind"] == "scratch" and teacher_fid:
            r["teacher_fid"], r["fid_vs_teacher"] = teacher_fid, r["fid"] / teacher_fid
    before = json.loads(Path(args.results).read_text()) if Path(args.results).exists() else {}
    previous = before.get("rows", [])
    merged = {r["run"]: r for r in previous}
    merged.update({r["run"]: r for r in rows})
    result = {"command": "python " + " ".join(sys.argv), "teacher": args.teacher, "protocol": PROTOCOL,
              "judge_protocol": JUDGE,
              "threads_per_run": 1, "parallel_runs": args.jobs, "machine_cpus": os.cpu_count(),
              "last_invocation_seconds": round(wall, 1),
              "invocations": before.get("invocations", []) + ["python " + " ".join(sys.argv)],
              "rows": sorted(merged.values(), key=lambda r: r["run"])}
    seeds = {}
    for r in result["rows"]:
        if r["kind"] == "distilled":
            seeds.setdefault((r["width"], r["losses"], r.get("lr_decay") or "none", r.get("perceptual_net")),
                             []).append(r["fid"])
    result["seed_spread"] = [{"width": w, "losses": ls, "lr_decay": d, **({"perceptual_net": pn} if pn else {}),
                              "n": len(v), "fid_mean": statistics.mean(v), "fid_std": statistics.stdev(v)}
                             for (w, ls, d, pn), v in seeds.items() if len(v) > 1]
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    write_results(args.results, result)
    print(table(result["rows"]))
    print(json.dumps(result["seed_spread"], indent=2))


if __name__ == "__main__":
    main()
