"""Incremental-extension benchmark: Fashion-MNIST in 5 steps of 2 classes, every method at the same budget.

    python benchmarks/extend.py --jobs 2        # base, then one extend-sequence per method, then MNIST-5k

1. The base: a class-conditional DCGAN trained on Fashion-MNIST classes 0,1 (`gantransfer train`).
2. For each method (replay: data-free; finetune; joint: with the real old data; ewc) `gantransfer
   extend-sequence --steps-of 2,3:4,5:6,7:8,9` with the same --steps and batch per step; every label is measured
   after every step (protocol-classifier accuracy on its samples, per-label FID, precision/recall).
3. With --mnist: a second modality. Each method extends the 10-label Fashion-MNIST generator of the joint
   sequence (the best one, so that every method starts alike) with all ten MNIST-5k digits (labels 10-19).

Each process runs one torch thread, --jobs at a time; finished runs are skipped and interrupted sequences
resumed. Writes --results: per method and step the mean accuracy and FID of old and new labels, and after the
last step the ratios against joint's (the targets: old accuracy >= 0.9x joint's, old FID <= 1.2x, new FID <= 1.2x).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from jobs import add_run_options, run_all, train_seconds

METHODS = ("replay", "finetune", "joint", "ewc")
STEPS_OF = "2,3:4,5:6,7:8,9"


def base_job(runs: Path, exe: list[str], a) -> tuple:
    out = runs / "base"
    cmd = exe + ["train", "--data", "fashion-mnist", "--classes", "0,1", "--conditional", "--width", str(a.width),
                 "--steps", str(a.base_steps), "--seed", str(a.seed), "--checkpoint-every", "250",
                 "--sample-every", str(a.base_steps), "--no-progress", "--out", str(out)]
    if (out / "run.json").is_file():
        cmd.append("--resume")
    return ("base", cmd, out / "state" / f"step-{a.base_steps:07d}", runs / "logs" / f"{out.name}.log")


def method_args(method: str, a) -> list[str]:
    args = ["--method", method, "--steps", str(a.steps), "--seed", str(a.seed), "--eval-n", str(a.eval_n),
            "--checkpoint-every", "100", "--sample-every", str(a.steps), "--no-progress"]
    if method == "joint":
        args += ["--old-data", "fashion-mnist"]
    return args


def sequence_jobs(runs: Path, exe: list[str], a) -> list[tuple]:
    jobs = []
    for m in a.methods:
        out = runs / f"seq-{m}"
        cmd = exe + ["extend-sequence", "--base", str(runs / "base"), "--data", "fashion-mnist", "--steps-of",
                     STEPS_OF, "--out", str(out), *method_args(m, a)]
        if (out / "run.json").is_file():
            cmd.append("--resume")
        jobs.append((f"seq-{m}", cmd, out / "step-4" / "eval.json", runs / "logs" / f"{out.name}.log"))
    return jobs


def mnist_jobs(runs: Path, exe: list[str], a) -> list[tuple]:
    jobs = []
    for m in a.methods:
        out = runs / f"mnist-{m}"
        cmd = exe + ["extend", "--base", str(runs / "seq-joint" / "step-4"), "--data", "mnist-5k", "--out", str(out),
                     *method_args(m, a)]
        if (out / "run.json").is_file():
            cmd.append("--resume")
        jobs.append((f"mnist-{m}", cmd, out / "eval.json", runs / "logs" / f"{out.name}.log"))
    return jobs


def ratios(summary: dict, joint: dict) -> dict:
    div = lambda a, b: None if a is None or not b else a / b  # noqa: E731
    return {"old_accuracy_vs_joint": div(summary["old_accuracy"], joint["old_accuracy"]),
            "old_fid_vs_joint": div(summary["old_fid"], joint["old_fid"]),
            "new_accuracy_vs_joint": div(summary["new_accuracy"], joint["new_accuracy"]),
            "new_fid_vs_joint": div(summary["new_fid"], joint["new_fid"])}


def collect(runs: Path, a) -> dict:
    out: dict = {"sequence": {}, "mnist": {}}
    for m in a.methods:
        report = runs / f"seq-{m}" / "report" / "forgetting.json"
        if report.is_file():
            table = json.loads(report.read_text())
            seconds = sum(train_seconds(runs / f"seq-{m}" / f"step-{k}") for k in range(1, 5))
            out["sequence"][m] = {"summary": table["summary"], "train_seconds": round(seconds, 1),
                                  "final_labels": {k: {x: v[x][-1] if v[x] else None for x in
                                                       ("accuracy", "fid", "precision", "recall",
                                                        "accuracy_drop_from_best")}
                                                   for k, v in table["labels"].items()}}
        ev = runs / f"mnist-{m}" / "eval.json"
        if ev.is_file():
            e = json.loads(ev.read_text())
            out["mnist"][m] = {"summary": e["summary"], "train_seconds": round(train_seconds(runs / f"mnist-{m}"), 1)}
    for part in ("sequence", "mnist"):
        joint = out[part].get("joint")
        if joint is None:
            continue
        jl = joint["summary"][-1] if part == "sequence" else joint["summary"]
        for m, r in out[part].items():
            last = r["summary"][-1] if part == "sequence" else r["summary"]
            r["vs_joint"] = ratios(last, jl)
            r["targets_met"] = None if m == "joint" else {
                "old_accuracy>=0.9x": r["vs_joint"]["old_accuracy_vs_joint"] is not None
                and r["vs_joint"]["old_accuracy_vs_joint"] >= 0.9,
                "old_fid<=1.2x": r["vs_joint"]["old_fid_vs_joint"] is not None
                and r["vs_joint"]["old_fid_vs_joint"] <= 1.2,
                "new_fid<=1.2x": r["vs_joint"]["new_fid_vs_joint"] is not None
                and r["vs_joint"]["new_fid_vs_joint"] <= 1.2}
    return out


def plot_methods(results: dict, path: Path) -> None:
    """Mean accuracy and FID of the old labels after every step, one line per method."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6))
    for m, r in results["sequence"].items():
        rows = [s for s in r["summary"] if s["old_accuracy"] is not None]
        a1.plot([s["step"] for s in rows], [s["old_accuracy"] for s in rows], marker="o", label=m)
        a2.plot([s["step"] for s in rows], [s["old_fid"] for s in rows], marker="o", label=m)
    a1.set(xlabel="step", ylabel="old labels: mean classifier accuracy", ylim=(0, 1))
    a2.set(xlabel="step", ylabel="old labels: mean per-label FID")
    for ax in (a1, a2):
        ax.grid(alpha=0.3)
        ax.set_xticks(range(5))
    a1.legend()
    fig.suptitle("Fashion-MNIST in 5 steps of 2 classes (" + f"{results['settings']['steps_per_extension']} steps each)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def summarise_seeds(paths: list[str], out: str) -> dict:
    """Mean and spread over seeds of each method's last-step figures and ratios against joint (same seed)."""
    import statistics
    runs = [json.loads(Path(p).read_text()) for p in paths]
    methods = sorted(set.intersection(*(set(r["sequence"]) for r in runs)))
    table: dict = {"sources": paths, "seeds": [r["settings"]["seed"] for r in runs], "methods": {}}
    for m in methods:
        rows = {}
        for key in ("old_accuracy", "old_fid", "new_accuracy", "new_fid"):
            vals = [r["sequence"][m]["summary"][-1][key] for r in runs]
            rows[key] = {"mean": statistics.mean(vals), "std": statistics.stdev(vals), "values": vals}
        for key in ("old_accuracy_vs_joint", "old_fid_vs_joint", "new_fid_vs_joint"):
            vals = [r["sequence"][m]["vs_joint"][key] for r in runs]
            rows[key] = {"mean": statistics.mean(vals), "std": statistics.stdev(vals), "values": vals}
        table["methods"][m] = rows
    Path(out).write_text(json.dumps(table, indent=2) + "\n")
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_options(ap, "runs/bench-extend", "benchmarks/results/extend.json")
    ap.add_argument("--methods", type=lambda s: s.split(","), default=list(METHODS))
    ap.add_argument("--width", type=float, default=0.25)
    ap.add_argument("--base-steps", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=200, help="training steps of every extension step")
    ap.add_argument("--eval-n", type=int, default=500, help="samples per label for each measurement")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--figure", default=None, help="also draw the methods' old-label curves into this PNG")
    ap.add_argument("--mnist", action="store_true", help="also the second modality (MNIST-5k after Fashion-MNIST)")
    ap.add_argument("--summarise", type=lambda s: s.split(","), default=None,
                    help="only combine these results files (one per seed) into --results")
    a = ap.parse_args()
    if a.summarise:
        print(json.dumps(summarise_seeds(a.summarise, a.results), indent=2))
        return
    runs = Path(a.runs)
    exe = [sys.executable, "-m", "gantransfer"]
    t0 = time.perf_counter()
    if not a.collect_only:
        run_all([base_job(runs, exe, a)], 1)
        if not base_job(runs, exe, a)[2].exists():
            sys.exit(f"the base did not finish; see {runs / 'logs' / 'base.log'}")
        run_all(sequence_jobs(runs, exe, a), a.jobs)
        if a.mnist and "joint" in a.methods:
            run_all(mnist_jobs(runs, exe, a), a.jobs)
    results = {"command": "python benchmarks/extend.py " + " ".join(sys.argv[1:]),
               "settings": {"width": a.width, "d_width": a.width / 2, "base_steps": a.base_steps,
                            "steps_per_extension": a.steps, "batch_size": 64, "eval_n_per_label": a.eval_n,
                            "seed": a.seed, "steps_of": STEPS_OF, "methods": a.methods,
                            "protocols": ["fashion-mnist-classifier-v1", "mnist-5k-classifier-v1"]},
               "machine": "2 CPU cores shared with other jobs (one torch thread per process)",
               "wall_seconds": round(time.perf_counter() - t0, 1), **collect(runs, a)}
    if a.collect_only and Path(a.results).is_file():  # keep the command and time of the run that made them
        earlier = json.loads(Path(a.results).read_text())
        results.update(command=earlier["command"], wall_seconds=earlier["wall_seconds"])
    Path(a.results).parent.mkdir(parents=True, exist_ok=True)
    Path(a.results).write_text(json.dumps(results, indent=2) + "\n")
    if a.figure and results["sequence"]:
        plot_methods(results, Path(a.figure))
    print(json.dumps({k: {m: r.get("vs_joint") for m, r in v.items()} for k, v in results.items()
                      if k in ("sequence", "mnist")}, indent=2))


if __name__ == "__main__":
    main()
