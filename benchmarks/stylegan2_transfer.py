"""Transfer from a StyleGAN2 teacher: distillation in W and Z space to StyleGAN2 students (1/2, 1/4, 1/8 of the
teacher's channels) and a DCGAN student; fusion of the StyleGAN2 teacher with a DCGAN teacher; MineGAN in W
against Z at 100 target images. Every run is a `gantransfer` command (recorded in the results), small budgets.

    python benchmarks/stylegan2_transfer.py --teacher runs/sg2-teacher --runs runs/bench/sg2-transfer \
        --out benchmarks/results/stylegan2_transfer.json

Figures per student, from the distillation run's own end-of-run evaluation (``eval.json``: the student and the
teacher under the protocol on the same n and seed, PSNR on the training bank and on fresh latents, with the
teacher's stored noise on both sides for StyleGAN2 students) plus CPU latency (batch 1) and throughput (batch
256) of student and teacher measured back to back in this process (one torch thread; the machine is shared, so
only ratios within one run mean anything). The perceptual term uses the teacher's discriminator, never the
protocol classifier that grades the students; fusion matches pixels only, for the same reason.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DCGAN_TEACHER = ROOT / "src" / "gantransfer" / "assets" / "teachers" / "fashion-mnist-dcgan"

# (name, extra distill flags): widths are absolute; the teacher is width 0.5, so 0.25 / 0.125 / 0.0625 are 1/2,
# 1/4 and 1/8 of its channels at every resolution (the channel cap scales with the width)
STUDENTS = [
    ("w-1/2", ["--latent-space", "w", "--width", "0.25"]),
    ("w-1/4", ["--latent-space", "w", "--width", "0.125"]),
    ("w-1/8", ["--latent-space", "w", "--width", "0.0625"]),
    ("z-1/4", ["--latent-space", "z", "--width", "0.125"]),
    ("dcgan-0.25", ["--student-arch", "dcgan", "--width", "0.25"]),
]
HEADLINE = "w-1/4"


def run(cmd: list[str], log: Path) -> float:
    """Run a gantransfer command (one torch thread), its output to ``log``; seconds taken."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    with open(log, "w") as f:
        subprocess.run([sys.executable, "-m", "gantransfer", *cmd], check=True, env=env, stdout=f, stderr=f)
    return time.perf_counter() - t0


def protocol(metrics: dict) -> dict:
    """FID / KID / precision / recall of a metrics dict (whatever protocol key they carry)."""
    pick = lambda p: next((v for k, v in metrics.items() if k.startswith(p + "/")), None)  # noqa: E731
    return {k: pick(k) for k in ("fid", "kid", "precision", "recall")}


def speed(path: Path) -> dict:
    import torch
    from gantransfer import load
    from gantransfer.deploy.bench import measure
    torch.set_num_threads(1)
    g, cfg = load(path)
    return measure(g, cfg, repeats=10, throughput_batch=256)


def distil_rows(args, runs: Path, earlier: list[dict]) -> tuple[list[dict], dict]:
    """One row per student (and per extra seed of the headline student); a run whose eval.json exists is read,
    not trained again (its earlier wall time kept)."""
    rows = []
    before = {(r["student"], r["seed"]): r for r in earlier}
    names = args.students or [name for name, _ in STUDENTS]
    jobs = [(name, flags, seed) for name, flags in STUDENTS if name in names
            for seed in (args.headline_seeds if name == HEADLINE else [0])]
    teacher_speed = speed(Path(args.teacher))
    for name, flags, seed in jobs:
        out = runs / f"distill-{name.replace('/', '_')}-s{seed}"
        cmd = ["distill", "--teacher", args.teacher, *flags, "--terms", args.terms, "--perceptual-net",
               "discriminator", "--steps", str(args.steps),
               "--batch-size", str(args.batch_size), "--bank-size", str(args.bank_size), "--eval-n",
               str(args.eval_n), "--seed", str(seed), "--sample-every", str(args.steps), "--checkpoint-every",
               str(args.steps), "--no-progress", "--out", str(out)]
        seconds = run(cmd, runs / f"{out.name}.log") if not (out / "eval.json").is_file() else \
            before.get((name, seed), {}).get("wall_seconds")
        ev = json.loads((out / "eval.json").read_text())
        s_speed = speed(out)
        row = {"student": name, "seed": seed, "command": "gantransfer " + " ".join(cmd), "wall_seconds": seconds,
               "student_protocol": protocol(ev["student"]), "teacher_protocol": protocol(ev["teacher_metrics"]),
               "fid_ratio": ev_ratio(ev), "psnr_fresh": ev["fidelity"]["fresh"]["psnr"],
               "psnr_bank": ev["fidelity"].get("bank", {}).get("psnr"), "noise": ev.get("noise"),
               "params": ev["cost"]["student_params"], "macs": ev["cost"]["student_macs"],
               "macs_reduction": ev["cost"]["macs_reduction"], "params_reduction": ev["cost"]["params_reduction"],
               "latency_ms_batch1": s_speed["latency_ms_batch1"],
               "latency_reduction": teacher_speed["latency_ms_batch1"] / s_speed["latency_ms_batch1"],
               "throughput_speedup": s_speed["throughput_per_s_batch256"] / teacher_speed["throughput_per_s_batch256"]}
        rows.append(row)
        print(json.dumps({k: row[k] for k in ("student", "seed", "fid_ratio", "macs_reduction", "psnr_fresh")}),
              flush=True)
    return rows, teacher_speed


def ev_ratio(ev: dict) -> float:
    return protocol(ev["student"])["fid"] / protocol(ev["teacher_metrics"])["fid"]


def fusion_row(args, runs: Path) -> dict:
    out = runs / "fuse-sg2-dcgan"
    cmd = ["fuse", "--teacher", args.teacher, "--teacher", str(DCGAN_TEACHER), "--width", "0.5", "--terms",
           "pixel=1", "--steps",
           str(args.steps), "--batch-size", str(args.batch_size), "--eval-n", str(args.eval_n), "--sample-every",
           str(args.steps), "--checkpoint-every", str(args.steps), "--no-progress", "--out", str(out)]
    seconds = run(cmd, runs / "fuse.log") if not (out / "eval.json").is_file() else None
    return {"command": "gantransfer " + " ".join(cmd), "wall_seconds": seconds,
            "eval": json.loads((out / "eval.json").read_text())}


def minegan_rows(args, runs: Path) -> list[dict]:
    rows = []
    for space in ("z", "w"):
        out = runs / f"minegan-{space}"
        cmd = ["adapt", "--source", args.teacher, "--data", "mnist-5k", "--limit", "100", "--method", "minegan",
               "--miner-space", space, "--diffaugment", "color,translation,cutout", "--steps",
               str(args.adapt_steps), "--eval-every", str(args.adapt_steps // 2), "--eval-n",
               str(args.adapt_eval_n),
               "--held-out", "500", "--batch-size", "32", "--sample-every", str(args.adapt_steps),
               "--checkpoint-every", str(args.adapt_steps), "--no-progress", "--out", str(out)]
        seconds = run(cmd, runs / f"minegan-{space}.log") if not (out / "eval.json").is_file() else None
        ev = json.loads((out / "eval.json").read_text())
        rows.append({"miner_space": space, "command": "gantransfer " + " ".join(cmd), "wall_seconds": seconds,
                     "eval": ev})
        print(json.dumps({"minegan": space, "seconds": seconds}), flush=True)
    return rows


def table(result: dict) -> str:
    """The docs' markdown table of the distillation rows (mean and spread over seeds where there are several)."""
    import statistics
    groups: dict[str, list[dict]] = {}
    for r in result["distillation"]:
        groups.setdefault(r["student"], []).append(r)
    lines = ["| student | seeds | FID (teacher) | FID ratio | PSNR bank / fresh | params | MACs (reduction) | "
             "latency b1 | throughput b256 |", "|---|---|---|---|---|---|---|---|---|"]
    for name, rows in groups.items():
        fid = [r["student_protocol"]["fid"] for r in rows]
        ratio = [r["fid_ratio"] for r in rows]
        spread = lambda v: f" +- {statistics.stdev(v):.2f}" if len(v) > 1 else ""  # noqa: E731
        r = rows[0]
        lines.append(f"| {name} | {len(rows)} | {statistics.mean(fid):.2f}{spread(fid)} "
                     f"({r['teacher_protocol']['fid']:.2f}) | {statistics.mean(ratio):.2f}x{spread(ratio)} | "
                     f"{statistics.mean(x['psnr_bank'] for x in rows):.2f} / "
                     f"{statistics.mean(x['psnr_fresh'] for x in rows):.2f} dB | {r['params']:,} | "
                     f"{r['macs']:,} ({r['macs_reduction']:.1f}x) | {r['latency_reduction']:.2f}x | "
                     f"{r['throughput_speedup']:.2f}x |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--teacher", required=True, help="the StyleGAN2 teacher (a generator or run directory)")
    ap.add_argument("--runs", default="runs/bench/sg2-transfer")
    ap.add_argument("--out", default="benchmarks/results/stylegan2_transfer.json")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--adapt-steps", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--bank-size", type=int, default=4096)
    ap.add_argument("--eval-n", type=int, default=2000)
    ap.add_argument("--terms", default="pixel=1,perceptual=1,feature=1")
    ap.add_argument("--headline-seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--students", nargs="+", choices=[name for name, _ in STUDENTS], default=None,
                    help="only these students (default: all); several processes can train disjoint sets, then one "
                         "run without --students reads their results and measures every speed in one process")
    ap.add_argument("--adapt-eval-n", type=int, default=1000)
    ap.add_argument("--parts", nargs="+", default=["distill", "fusion", "minegan"])
    ap.add_argument("--table", action="store_true", help="print the markdown table of --out and stop")
    args = ap.parse_args()
    if args.table:
        print(table(json.loads(Path(args.out).read_text())))
        return
    runs = Path(args.runs)
    runs.mkdir(parents=True, exist_ok=True)
    result: dict = {"teacher": args.teacher, "settings": {k: v for k, v in vars(args).items() if k != "parts"},
                    "hardware": f"{os.cpu_count()} CPU cores shared with other jobs, one torch thread per run"}
    out = Path(args.out)
    if out.is_file():
        result = {**json.loads(out.read_text()), **result}
    if "distill" in args.parts:
        result["distillation"], result["teacher_speed"] = distil_rows(args, runs, result.get("distillation", []))
    if "fusion" in args.parts:
        result["fusion"] = fusion_row(args, runs)
    if "minegan" in args.parts:
        result["minegan"] = minegan_rows(args, runs)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
