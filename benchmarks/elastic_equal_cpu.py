"""One elastic student against students distilled alone, at equal total CPU time (issue 31, item 3).

On the shipped Fashion-MNIST DCGAN teacher, with the recipe of ``prune_init.py`` (pixel + perceptual +
adversarial 0.1 against a fresh width-0.25 discriminator, batch 32, a bank of 16,384 latents, ``--init auto``:
pruned by activation):

1. one ``distill --elastic 0.125,0.25,0.5`` student trained for ``--steps`` steps; its process's CPU seconds
   (``/usr/bin/time -v``, user + system, end-of-run evaluation off) are the budget T;
2. each width distilled alone: two short calibration runs per width (``CALIBRATION`` steps) give its CPU seconds
   per step c_w and its fixed cost o_w (start-up, the bank, the preview); the three separate students then train
   the same number of steps N = (T - sum o_w) / sum c_w, so together they spend T, split in proportion to their
   per-step costs. When they spent more than 5% off T (calibration on a shared machine is noisy), c_w is re-read
   from their own runs and the three are run again at the corrected N (at most ``MAX_ROUNDS`` rounds; the JSON
   keeps every round's steps and CPU seconds);
3. every width's student (the elastic one's sub-network via ``models.elastic.subnetwork``, batch-norm statistics
   re-estimated; the separate ones as saved) is scored under both Fashion-MNIST protocols on ``--eval-n``
   samples, as is the teacher, and the FID ratios are written to ``--results``.

    python benchmarks/elastic_equal_cpu.py --steps 2000 --eval-n 2000

One torch thread per process, one process at a time; runs whose output exists are reused.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from demo_recipes import TEACHER, cpu_time
from harness import add_run_options, run_all, write_results
from prune_init import DEMO

WIDTHS = (0.125, 0.25, 0.5)
CALIBRATION = (20, 120)
MAX_ROUNDS = 3  # calibrations on a shared machine are noisy: the separate runs' own costs correct the next round


def distill_cmd(exe: list[str], runs: Path, name: str, size: list[str], steps: int, seed: int) -> list[str]:
    """A timed ``distill`` with the benchmark's recipe, evaluation off."""
    out = runs / name
    return ["/usr/bin/time", "-v", "-o", str(runs / f"{name}.time")] + exe + [
        "distill", "--teacher", TEACHER, *size, *DEMO, "--steps", str(steps), "--seed", str(seed), "--eval-n", "0",
        "--no-progress", "--sample-every", str(steps), "--checkpoint-every", str(steps), "--device", "cpu",
        "--out", str(out)]


def job(exe: list[str], runs: Path, name: str, size: list[str], steps: int, seed: int):
    """A run_all job: done when the run's generator is saved."""
    return (name, distill_cmd(exe, runs, name, size, steps, seed), runs / name / "generator" / "config.json",
            runs / f"{name}.log")


def cpu(runs: Path, name: str) -> float:
    t = cpu_time(runs / f"{name}.time")
    if t is None:
        raise SystemExit(f"[elastic] {name} has no timing; see {runs / (name + '.log')}")
    return t["cpu_seconds"]


def scores(g, cfg, n: int) -> dict[str, float]:
    """FID per protocol of an in-memory generator on ``n`` samples."""
    from gantransfer.metrics.evaluate import evaluate_generator
    m = evaluate_generator(g, cfg, "fashion-mnist", n, classes=cfg.trained_classes)["metrics"]
    return {k.split("/")[1]: v for k, v in m.items() if k.startswith("fid/")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=2000, help="steps of the elastic student")
    ap.add_argument("--eval-n", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    add_run_options(ap, "runs/bench/elastic-equal-cpu", "benchmarks/results/elastic_equal_cpu.json")
    args = ap.parse_args()
    runs, exe, seed = Path(args.runs), [sys.executable, "-m", "gantransfer.cli"], args.seed
    widths = ",".join(f"{w:g}" for w in WIDTHS)
    elastic = f"elastic-{args.steps}-s{seed}"
    jobs = [job(exe, runs, elastic, ["--elastic", widths], args.steps, seed)]
    jobs += [job(exe, runs, f"cal-w{w:g}-{k}-s{seed}", ["--width", f"{w:g}"], k, seed)
             for w in WIDTHS for k in CALIBRATION]
    if not args.collect_only:
        run_all(jobs, 1)
    budget = cpu(runs, elastic)
    per_step, fixed = {}, {}
    for w in WIDTHS:
        a, b = (cpu(runs, f"cal-w{w:g}-{k}-s{seed}") for k in CALIBRATION)
        per_step[w] = (b - a) / (CALIBRATION[1] - CALIBRATION[0])
        fixed[w] = a - CALIBRATION[0] * per_step[w]
    calibrated, rounds = dict(per_step), []
    for _ in range(MAX_ROUNDS):  # until the separate students together spent the elastic one's CPU time (+-5%)
        steps = max(1, int((budget - sum(fixed.values())) / sum(per_step.values())))
        alone = {w: f"alone-w{w:g}-{steps}-s{seed}" for w in WIDTHS}
        if not args.collect_only:
            run_all([job(exe, runs, alone[w], ["--width", f"{w:g}"], steps, seed) for w in WIDTHS], 1)
        spent = sum(cpu(runs, alone[w]) for w in WIDTHS)
        rounds.append({"steps_each": steps, "cpu_seconds": round(spent, 1)})
        if abs(spent - budget) <= 0.05 * budget:
            break
        per_step = {w: (cpu(runs, alone[w]) - fixed[w]) / steps for w in WIDTHS}  # the real runs' own cost

    from gantransfer.metrics.distillation import fid_ratios
    from gantransfer.models.cost import count_macs
    from gantransfer.models.elastic import subnetwork
    from gantransfer.models.store import load_generator
    t, tcfg = load_generator(TEACHER)
    teacher_fid = scores(t, tcfg, args.eval_n)
    teacher_macs = count_macs(t, tcfg)
    g, gcfg = load_generator(runs / elastic)
    rows = []
    for w in WIDTHS:
        sub, sub_cfg = subnetwork(g, gcfg, w)
        s, scfg = load_generator(runs / alone[w])
        for kind, (net, cfg) in (("elastic", (sub, sub_cfg)), ("alone", (s, scfg))):
            fid = scores(net, cfg, args.eval_n)
            rows.append({"width": w, "student": kind, "macs_reduction": round(teacher_macs / count_macs(net, cfg), 2),
                         "fid": fid, "fid_ratio": {p: round(v, 3) for p, v in fid_ratios(
                             {f"fid/{p}/{args.eval_n}": x for p, x in fid.items()},
                             {f"fid/{p}/{args.eval_n}": x for p, x in teacher_fid.items()}).items()}})
    by = {(r["width"], r["student"]): r for r in rows}
    relative = {f"{w:g}": {p: round(by[(w, "elastic")]["fid"][p] / by[(w, "alone")]["fid"][p], 3)
                           for p in teacher_fid} for w in WIDTHS}
    command = "python " + " ".join(a for a in sys.argv if a != "--collect-only")
    result = {"command": command, "teacher": TEACHER, "recipe": " ".join(DEMO),
              "init": "auto (pruned by activation)", "widths": list(WIDTHS), "elastic_steps": args.steps,
              "alone_steps_each": steps, "alone_rounds": rounds, "eval_n": args.eval_n, "seed": seed,
              "cpu_seconds": {"elastic": budget,
                              "alone": {f"{w:g}": cpu(runs, alone[w]) for w in WIDTHS},
                              "alone_total": round(sum(cpu(runs, alone[w]) for w in WIDTHS), 1),
                              "calibration_per_step": {f"{w:g}": round(calibrated[w], 4) for w in WIDTHS},
                              "per_step_last_round": {f"{w:g}": round(per_step[w], 4) for w in WIDTHS},
                              "calibration_fixed": {f"{w:g}": round(fixed[w], 1) for w in WIDTHS}},
              "teacher_fid": teacher_fid, "rows": rows, "elastic_over_alone_fid": relative,
              "target": "each width within 1.1x of the FID of the student distilled alone",
              "machine": f"shared {os.cpu_count()}-core machine (other jobs running); one torch thread per "
                         "process, one process at a time; CPU seconds from /usr/bin/time -v"}
    write_results(Path(args.results), result)
    for r in rows:
        ratios = " | ".join(f"{p} {v:.2f}" for p, v in r["fid_ratio"].items())
        print(f"| {r['width']:g} | {r['student']} | {r['macs_reduction']}x | {ratios} |")
    print("elastic / alone FID:", relative)


if __name__ == "__main__":
    main()
