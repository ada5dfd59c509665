"""Candidate recipes for `gantransfer demo`'s student: width, loss terms, steps, learning-rate schedule, EMA,
batch and the adversarial term's discriminator, each scored against the teacher under both Fashion-MNIST
protocols on the demo's 5,000 samples, with its CPU time.

    python benchmarks/demo_recipes.py --recipes w0.2-pp-5000 w0.2-pp-5000-cos --jobs 1

A recipe name reads ``w<width>-<loss set>-<steps>[-<option>...]`` (loss sets as in distill_grid.py: p, pp, ppa,
ppaf). Options: ``cos`` (cosine learning-rate decay to 0 at the last step), ``ema<beta>`` (the exported moving
average's decay, default 0.99), ``b<n>`` (batch size, default 64), ``lr<rate>`` (default 1e-3), ``dw<width>``
(the adversarial term's discriminator: a fresh one of this width rather than a copy of the teacher's full-width
one), ``adv<weight>`` (the adversarial weight instead of the loss set's 0.1), ``pw<weight>`` (the perceptual
weight instead of 1), ``px<weight>`` (the pixel weight instead of 1), ``mom<beta1>`` (Adam's first beta,
default distill's 0.5), ``s<seed>`` (default 0), ``prune`` (the student starts channel-pruned from the teacher,
``--init prune``; without it ``--init random``, as every recipe before pruning). Each is a `gantransfer distill` of
the shipped teacher with the demo's other settings (a bank of 16,384 latents, seed 0), one torch thread per run,
``--jobs`` at a time, under ``/usr/bin/time -v`` (user + system CPU seconds, which depend less on the other
jobs sharing the machine than wall time does; compare recipes by their ratio to a reference run of the same
invocation); runs whose eval.json exists are reused. ``--step-cost`` measures CPU seconds per step instead, from
two short runs of each recipe (50 and 450 steps, no evaluation, one at a time). Rows merge into ``--results``;
prints a table.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from distill_grid import LOSS_SETS
from harness import add_run_options, run_all, train_seconds, write_results

TEACHER = "src/gantransfer/assets/teachers/fashion-mnist-dcgan"


def parse(name: str) -> dict:
    """The settings a recipe name stands for (see the module's docstring)."""
    parts = name.split("-")
    r = {"width": float(parts[0][1:]), "losses": parts[1], "steps": int(parts[2]), "lr_decay": "none",
         "ema_beta": 0.99, "batch_size": 64, "lr": 1e-3, "discriminator_width": 0.0, "adversarial": None,
         "init": "random", "beta1": 0.5, "seed": 0, "perceptual": None, "pixel": None}
    for opt in parts[3:]:
        for prefix, key, kind in (("ema", "ema_beta", float), ("b", "batch_size", int), ("lr", "lr", float),
                                  ("dw", "discriminator_width", float), ("adv", "adversarial", float),
                                  ("pw", "perceptual", float), ("px", "pixel", float),
                                  ("mom", "beta1", float), ("s", "seed", int)):
            if opt.startswith(prefix) and opt[len(prefix):].replace(".", "", 1).replace("e-", "", 1).isdigit():
                r[key] = kind(opt[len(prefix):])
                break
        else:
            if opt not in ("cos", "prune"):
                raise SystemExit(f"recipe {name}: unknown option {opt!r} (cos, prune, ema<beta>, b<n>, lr<rate>, "
                                 "dw<width>, adv<weight>, pw<weight>, px<weight>, mom<beta1>, s<seed>)")
            r["lr_decay" if opt == "cos" else "init"] = "cosine" if opt == "cos" else "prune"
    return r


def terms(r: dict) -> str:
    """The --terms of a parsed recipe: its loss set, with ``adv<weight>``, ``px<weight>`` and ``pw<weight>``
    replacing the adversarial, pixel and perceptual weights."""
    t = LOSS_SETS[r["losses"]]
    t = t if r["adversarial"] is None else t.replace("adversarial=0.1", f"adversarial={r['adversarial']:g}")
    t = t if r.get("pixel") is None else t.replace("pixel=1", f"pixel={r['pixel']:g}")
    return t if r.get("perceptual") is None else t.replace("perceptual=1", f"perceptual={r['perceptual']:g}")


def cpu_time(path: Path) -> dict | None:
    """User, system and wall seconds and peak memory from a ``/usr/bin/time -v`` report, when there is one."""
    if not path.exists():
        return None
    fields = dict(line.strip().rsplit(": ", 1) for line in path.read_text().splitlines() if ": " in line)
    h, _, rest = fields["Elapsed (wall clock) time (h:mm:ss or m:ss)"].rpartition(":")
    wall = float(rest) + sum(float(x) * 60 ** (i + 1) for i, x in enumerate(reversed(h.split(":"))) if x)
    user, system = float(fields["User time (seconds)"]), float(fields["System time (seconds)"])
    return {"user_seconds": user, "system_seconds": system, "cpu_seconds": round(user + system, 1),
            "wall_seconds": round(wall, 1), "max_rss_kb": int(fields["Maximum resident set size (kbytes)"])}


def rescore(run: Path, n: int) -> None:
    """Re-measure student and teacher in ``run`` under every shipped protocol (for a run that finished before a
    protocol was shipped): same samples, seed and count as distillation's own evaluation; fidelity and costs kept."""
    from gantransfer.metrics.distillation import fid_ratios
    from gantransfer.metrics.evaluate import evaluate_generator
    from gantransfer.metrics.protocols import mark_loss_networks
    from gantransfer.models.store import load_generator
    ev = json.loads((run / "eval.json").read_text())
    s, scfg = load_generator(run)
    t, tcfg = load_generator(TEACHER)
    ev["student"] = evaluate_generator(s, scfg, "fashion-mnist", n, classes=scfg.trained_classes)["metrics"]
    ev["teacher_metrics"] = evaluate_generator(t, tcfg, "fashion-mnist", n, classes=scfg.trained_classes)["metrics"]
    ev["fid_ratio"] = fid_ratios(ev["student"], ev["teacher_metrics"])
    ev["rescored"] = "student and teacher metrics re-measured after the run by benchmarks/demo_recipes.py --rescore"
    write_results(run / "eval.json", mark_loss_networks(ev, list(scfg.loss_networks)))


def needs_rescore(run: Path) -> bool:
    """A finished run whose eval.json lacks the figures of a shipped Fashion-MNIST protocol."""
    from gantransfer.metrics.protocols import protocols_for
    if not (run / "eval.json").exists():
        return False
    held = json.loads((run / "eval.json").read_text())["student"]
    return any(not any(k.split("/")[1] == p.name for k in held) for p in protocols_for("fashion-mnist"))


STEP_COST_STEPS = (50, 450)


def step_cost(runs: Path, name: str) -> float | None:
    """CPU seconds per training step of a recipe, from its two short runs (``--step-cost``), when both exist."""
    times = [cpu_time(runs / f"{name}.s{steps}.time") for steps in STEP_COST_STEPS]
    if None in times:
        return None
    return round((times[1]["cpu_seconds"] - times[0]["cpu_seconds"]) / (STEP_COST_STEPS[1] - STEP_COST_STEPS[0]), 4)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipes", nargs="+", required=True)
    ap.add_argument("--eval-n", type=int, default=5000)
    ap.add_argument("--rescore", action="store_true",
                    help="re-measure finished runs whose eval.json lacks a shipped protocol's figures")
    ap.add_argument("--step-cost", action="store_true",
                    help="measure each recipe's CPU seconds per step instead of training it in full: two short "
                         "runs (50 and 450 steps, no evaluation) under /usr/bin/time, the difference over 400 "
                         "steps, one at a time")
    add_run_options(ap, "runs/bench/demo-recipes", "benchmarks/results/demo_recipes.json")
    args = ap.parse_args()
    runs = Path(args.runs)
    exe = [sys.executable, "-m", "gantransfer.cli"]
    jobs, cost_jobs = [], []
    for name in args.recipes:
        r, out = parse(name), runs / name
        extra = ["--discriminator-width", str(r["discriminator_width"])] if r["discriminator_width"] else []
        jobs.append((name, ["/usr/bin/time", "-v", "-o", str(runs / f"{name}.time")] + exe + [
            "distill", "--teacher", TEACHER, "--width", str(r["width"]), "--terms", terms(r),
            "--steps", str(r["steps"]), "--bank-size", "16384", "--seed", str(r["seed"]), "--lr-decay", r["lr_decay"],
            "--ema-beta", str(r["ema_beta"]), "--batch-size", str(r["batch_size"]), "--lr", str(r["lr"]), *extra,
            "--init", r["init"], "--betas", f"{r['beta1']:g},0.999",
            "--eval-n", str(args.eval_n), "--no-progress", "--sample-every", str(r["steps"]),
            "--checkpoint-every", str(r["steps"]), "--device", "cpu", "--out", str(out)],
            out / "eval.json", runs / f"{name}.log"))
        if args.step_cost:
            for steps in STEP_COST_STEPS:
                cmd = jobs[-1][1]
                at = lambda flag: cmd.index(flag) + 1  # noqa: E731
                short = [*cmd[:3], str(runs / f"{name}.s{steps}.time"), *cmd[4:]]
                short[at("--steps")], short[at("--eval-n")] = str(steps), "0"
                short[at("--out")] = str(runs / "step-cost" / f"{name}.s{steps}")
                cost_jobs.append((f"{name} ({steps} steps)", short, runs / f"{name}.s{steps}.time",
                                  runs / "step-cost" / f"{name}.s{steps}.log"))
    if not args.collect_only:
        run_all(cost_jobs, 1) if args.step_cost else run_all(jobs, args.jobs)  # short timed runs: one at a time
    if args.rescore:
        for name, *_ in jobs:
            if needs_rescore(runs / name):
                print(f"[recipes] rescoring {name}", flush=True)
                rescore(runs / name, args.eval_n)
    before = json.loads(Path(args.results).read_text()) if Path(args.results).exists() else {}
    rows = {r["recipe"]: r for r in before.get("rows", [])}
    for name, *_ in jobs:
        run = runs / name
        if not (run / "eval.json").exists():
            if step_cost(runs, name) is not None:  # measured for its cost only
                rows[name] = {**rows.get(name, {"recipe": name, **parse(name), "terms": terms(parse(name))}),
                              "cpu_seconds_per_step": step_cost(runs, name)}
            else:
                print(f"[recipes] {name} has no results; see {runs / (name + '.log')}")
            continue
        ev = json.loads((run / "eval.json").read_text())
        fid = {k.split("/")[1]: v for k, v in ev["student"].items() if k.startswith("fid/")}
        rows[name] = {"recipe": name, **parse(name), "terms": terms(parse(name)),
                      "train_seconds": round(train_seconds(run), 1), "time": cpu_time(runs / f"{name}.time"),
                      "cpu_seconds_per_step": step_cost(runs, name),
                      "loss_networks": ev.get("loss_networks"),
                      "student_fid": fid, "fid_ratio": ev.get("fid_ratio"),
                      "recall": {k.split("/")[1]: v for k, v in ev["student"].items() if k.startswith("recall/")},
                      "two_sample_accuracy": ((ev.get("teacher_relative") or {}).get("two_sample") or {}).get(
                          "accuracy"),
                      "psnr_fresh": ev["fidelity"]["fresh"]["psnr"],
                      "macs_reduction": ev.get("cost", {}).get("macs_reduction")}
    command = "python " + " ".join(sys.argv)
    invocations = [c for c in before.get("invocations", [before["command"]] if "command" in before else [])
                   if c != command] + [command]
    result = {"command": command, "invocations": invocations, "teacher": TEACHER, "eval_n": args.eval_n,
              "threads_per_run": 1, "parallel_runs": args.jobs, "machine_cpus": os.cpu_count(),
              "rows": sorted(rows.values(), key=lambda r: r["recipe"])}
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    write_results(args.results, result)
    print("| recipe | train s (1 thread, shared) | CPU s (user + sys) | CPU s per step | " + " | ".join(
        f"FID/teacher {p}" for p in sorted({p for r in rows.values() for p in (r.get('fid_ratio') or {})})) + " |")
    fmt = lambda v, f: "" if v is None else format(v, f)  # noqa: E731
    for r in result["rows"]:
        ratios = r.get("fid_ratio") or {}
        print(f"| {r['recipe']} | {fmt(r.get('train_seconds'), '.0f')} | "
              f"{fmt((r.get('time') or {}).get('cpu_seconds'), '.0f')} | {fmt(r.get('cpu_seconds_per_step'), '.3f')} | "
              + " | ".join(f"{ratios[p]:.2f}" for p in sorted(ratios)) + " |")

if __name__ == "__main__":
    main()
