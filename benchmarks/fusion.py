"""Fusion benchmark: teachers on disjoint class groups (and across data sets) fused into one student, against the
brute-force baseline (sample a data set from the teachers, train one GAN) given the same wall time.

    python benchmarks/fusion.py --settings fmnist3 fmnist2 cross --jobs 2

Per setting: teachers are trained (`gantransfer train`, reused when done), `gantransfer fuse` distils them into a
student narrower than the largest teacher, `gantransfer baseline` trains the same architecture on --baseline-n
teacher samples for the fused run's training time, and `gantransfer eval --teachers` measures both the same way
(teacher shares by a teacher-domain classifier, per-teacher FID against each teacher's real classes, union FID).
Each process runs one torch thread, --jobs at a time. Writes --results and prints a markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from harness import accelerator, add_run_options, log_beside, run_all, Stopwatch, teacher_jobs, train_seconds, write_results

SHIPPED = "src/gantransfer/assets/teachers/fashion-mnist-dcgan"
SETTINGS = {"fmnist3": ["fm-tops", "fm-footwear", "fm-rest"], "fmnist2": ["fm-0-4", "fm-5-9"],
            "cross": ["shipped", "mnist"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    ap.add_argument("--teacher-width", type=float, default=0.5)
    ap.add_argument("--teacher-steps", type=int, default=2500)
    ap.add_argument("--width", type=float, default=0.4375, help="student width (fewer parameters than a teacher)")
    ap.add_argument("--cross-width", type=float, default=0.75,
                    help="student width in `cross`, whose largest teacher is the full-width shipped one")
    ap.add_argument("--loss", default="pixel=1,perceptual=1")
    ap.add_argument("--fuse-steps", type=int, default=2000)
    ap.add_argument("--baseline-n", type=int, default=30000)
    ap.add_argument("--eval-n", type=int, default=5000)
    ap.add_argument("--variants", action=argparse.BooleanOptionalAction, default=True,
                    help="also fuse fmnist3 with affine conditioning and fmnist2 unconditionally with weights 0.7,0.3")
    ap.add_argument("--seconds", type=float, default=0.0,
                    help="train the fused students and the baselines side by side for this many seconds each "
                         "(0: the fused students run --fuse-steps and each baseline then gets its fused run's time)")
    ap.add_argument("--device", default="auto", help="device of every run and evaluation (auto: CUDA when available)")
    add_run_options(ap, "runs/bench/fusion", "benchmarks/results/fusion.json")
    args = ap.parse_args()
    runs = Path(args.runs)
    exe = [sys.executable, "-m", "gantransfer.cli"]
    watch = Stopwatch()

    def launch(batch: list) -> None:
        if not args.collect_only:
            run_all(batch, args.jobs)

    def teacher_path(name: str) -> str:
        return SHIPPED if name == "shipped" else str(runs / "teachers" / name)

    needed = sorted({t for s in args.settings for t in SETTINGS[s] if t != "shipped"})
    jobs = teacher_jobs(needed, runs / "teachers", args.teacher_width, args.teacher_steps, exe)
    launch(jobs)

    variants = {"fused": []}
    if args.variants:  # the other way to inject the teacher id, and an unconditional student with unequal weights
        variants.update({"fused-affine": ["--conditioning", "affine"],
                         "fused-unconditional": ["--unconditional", "--weights", "0.7,0.3"]})

    def width_of(setting: str) -> float:
        return args.cross_width if setting == "cross" else args.width

    fuse_jobs = []
    for setting in args.settings:
        for method, extra in variants.items():
            if method == "fused-unconditional" and len(SETTINGS[setting]) != 2:
                continue
            if method != "fused" and setting != {"fused-affine": "fmnist3"}.get(method, "fmnist2"):
                continue
            out = runs / setting / method
            steps = ["--steps", "1000000", "--max-seconds", f"{args.seconds:g}", "--checkpoint-every", "5000",
                     "--sample-every", "1000000"] if args.seconds else ["--steps", str(args.fuse_steps),
                                                                      "--sample-every", str(args.fuse_steps)]
            cmd = exe + ["fuse", *sum((["--teacher", teacher_path(t)] for t in SETTINGS[setting]), []),
                         "--width", str(width_of(setting)), "--terms", args.loss, *steps, "--device", args.device,
                         "--eval-n", str(args.eval_n), "--no-progress", "--out", str(out), *extra]
            if setting == "cross":  # no common protocol: the Fashion-MNIST classifier as the perceptual network
                cmd += ["--teacher-data", "fashion-mnist"]
            fuse_jobs.append((f"{setting}/{method}", cmd, out / "eval.json", log_beside(out)))
    if not args.seconds:  # each baseline gets its fused run's measured time, so the fused runs go first
        launch(fuse_jobs)

    base_jobs = []
    for setting in args.settings:
        out = runs / setting / "baseline"
        budget = args.seconds or train_seconds(runs / setting / "fused")
        teachers = [teacher_path(t) for t in SETTINGS[setting]]
        cmd = exe + ["baseline", *sum((["--teacher", t] for t in teachers), []), "--n", str(args.baseline_n),
                     "--width", str(width_of(setting)), "--steps", "1000000", "--max-seconds", f"{budget:.0f}",
                     "--seed", "0", "--checkpoint-every", "5000", "--sample-every", "1000000", "--no-progress",
                     "--device", args.device, "--out", str(out)]
        # the final checkpoint (and generator/) is written when the time limit strikes
        base_jobs.append((f"{setting}/baseline", cmd, out / "generator" / "config.json", log_beside(out)))
    launch(base_jobs if not args.seconds else fuse_jobs + base_jobs)  # side by side: the same contention
    eval_jobs = []
    for setting in args.settings:
        base = runs / setting / "baseline"
        teachers = ",".join(teacher_path(t) for t in SETTINGS[setting])
        eval_jobs.append((f"{setting}/baseline-eval", [*exe, "eval", str(base), "--teachers", teachers, "--n",
                                                       str(args.eval_n), "--device", args.device, "--out",
                                                       str(base / "eval.json")],
                          base / "eval.json", log_beside(base, "-eval")))
    launch(eval_jobs)

    rows = []
    for setting in args.settings:
        for method in ("fused", "fused-affine", "fused-unconditional", "baseline"):
            run = runs / setting / method
            if not (run / "eval.json").exists():
                if run.exists():
                    print(f"[fusion] {setting}/{method} has no results; see {log_beside(run)}", flush=True)
                continue
            ev = json.loads((run / "eval.json").read_text())
            union = ev.get("union", {}).get("metrics", {})
            fid = next((v for k, v in union.items() if k.startswith("fid/")), None)
            mix = next((v for k, v in ev.get("teachers_mixture", {}).items() if k.startswith("fid/")), None)
            rows.append({
                "setting": setting, "method": method, "teachers": ev["teachers"],
                "requested_weights": ev["requested_weights"],
                "train_seconds": round(train_seconds(run), 1),
                "steps": json.loads((run / "logs" / "metrics.jsonl").read_text().splitlines()[-1])["step"],
                "union_fid": fid, "teachers_mixture_fid": mix,
                "union_fid_by_protocol": {k.split("/")[1]: v for k, v in union.items() if k.startswith("fid/")},
                "teachers_mixture_fid_by_protocol": {k.split("/")[1]: v for k, v in ev.get("teachers_mixture", {}).items()
                                                     if k.startswith("fid/")},
                "union_recall": next((v for k, v in union.items() if k.startswith("recall/")), None),
                "teacher_shares": ev["teacher_shares"], "share_over_weight": ev["share_over_weight"],
                "domain_classifier_accuracy": ev["domain_classifier_accuracy"],
                "per_teacher": ev["per_teacher"], "params_vs_largest": ev["cost"]["params_vs_largest"],
                "params_vs_sum": ev["cost"]["params_vs_sum"], "student_params": ev["cost"]["student_params"],
                "teachers_params": ev["cost"]["teachers_params"]})
    before = json.loads(Path(args.results).read_text()) if args.collect_only and Path(args.results).exists() else {}
    result = {"command": before.get("command", "python " + " ".join(sys.argv)), "threads_per_run": 1,
              "parallel_runs": args.jobs, "machine_cpus": os.cpu_count(), "teacher_width": args.teacher_width,
              "teacher_steps": args.teacher_steps, "student_width": args.width, "cross_width": args.cross_width,
              "loss": args.loss, "fuse_steps": None if args.seconds else args.fuse_steps,
              "seconds_per_run": args.seconds or None, "gpu": before.get("gpu", accelerator(args.device)),
              "baseline_n": args.baseline_n, "eval_n": args.eval_n,
              "seconds": before.get("seconds", round(watch.elapsed(), 1)), "rows": rows}
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    write_results(args.results, result)
    print("| setting | method | train s | union FID | teachers' mixture FID | shares / weight | "
          "per-teacher FID / teacher's | params vs largest |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        ratio = ", ".join(f"{k} {v:.2f}" for k, v in r["share_over_weight"].items())
        per = ", ".join(f"{k} {v['fid_ratio_to_teacher']:.2f}" for k, v in r["per_teacher"].items()
                        if "fid_ratio_to_teacher" in v)
        fmt = lambda v: "" if v is None else f"{v:.3f}"  # noqa: E731
        print(f"| {r['setting']} | {r['method']} | {r['train_seconds']:.0f} | {fmt(r['union_fid'])} | "
              f"{fmt(r['teachers_mixture_fid'])} | {ratio} | {per} | {r['params_vs_largest']:.2f} |")


if __name__ == "__main__":
    main()
