"""The no-classifier fixture domain: the default-loss student (``--terms auto``, no loss flags) against a
pixel-only student and an explicit loss, at the same CPU budget each, judged by teacher-relative figures.

The teacher is a ``gantransfer train`` run on colourised 64x64 RGB Fashion-MNIST (``any_teacher_fixture.py``):
its data set is a folder path, so gantransfer ships no perceptual network or classifier for it and ``auto`` picks
from what the teacher offers. Each recipe's CPU seconds per step are measured first (a short run, one thread,
steady state after the bank has filled), its steps set to spend ``--cpu-minutes``, and its whole training
process's CPU time recorded. Every student is then judged by ``gantransfer eval --against TEACHER`` (two-sample
accuracy, FD/KID in the teacher's learned space, one space for all: ``$GANTRANSFER_CACHE``) and measured by
``gantransfer bench --against TEACHER`` (params, MACs, latency ratios). None of those networks is used by a loss.

    python benchmarks/any_teacher.py --teacher runs/any-teacher/teacher --out benchmarks/results/any_teacher_fixture.json

``--wall-minutes M`` gives each student a time limit of M minutes instead (``distill --max-seconds``, no
calibration: with a big bank the fill dominates a short calibration); run one such process a core.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

from harness import Stopwatch, write_results

RECIPES = {  # name: extra distill flags (the loss); everything else is shared
    "auto": [],
    "pixel": ["--terms", "pixel=1"],
    "auto+adversarial": ["--terms", "pixel=1,feature=1,perceptual=1,adversarial=0.1",
                         "--perceptual-net", "discriminator"],
    "pixel+feature": ["--terms", "pixel=1,feature=1"],
    # the defaults before session 10: for a white-box teacher with its discriminator, perceptual on that
    # discriminator added to pixel + feature; for a black-box one (samples only: no layers, no discriminator),
    # adversarial with a fresh discriminator of the teacher's width (what `--black-box` alone resolved to then)
    "auto-before": ["--terms", "pixel=1,feature=1,perceptual=1", "--perceptual-net", "discriminator"],
    "black-box auto-before": ["--black-box", "--terms", "pixel=1,adversarial=0.1"],
    "pixel+feature+adversarial": ["--terms", "pixel=1,feature=1,adversarial=0.1"],
    "black-box auto": ["--black-box"],  # today: pixel=1, the same as "pixel"
    # adversarial against a small discriminator of the student's own (as the Fashion-MNIST demo does)
    "black-box small-D adversarial": ["--black-box", "--terms", "pixel=1,adversarial=0.1",
                                      "--discriminator-width", "0.25"],
}
CPU_SPEED = Path(__file__).with_name("any_teacher_speed.py")


def child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def cli(args: list[str], env: dict) -> tuple[subprocess.CompletedProcess, float, float]:
    """``gantransfer ARGS`` in a process of its own: the result, its CPU seconds and wall seconds."""
    cpu, wall = child_cpu(), Stopwatch()
    res = subprocess.run([sys.executable, "-m", "gantransfer", *args], env=env, capture_output=True, text=True)
    if res.returncode:
        raise SystemExit(f"gantransfer {' '.join(args)} failed:\n{res.stderr[-3000:]}")
    return res, child_cpu() - cpu, wall.elapsed()


def step_cost(teacher: str, terms: str, bank: int, batch: int, width: float, env: dict, work: Path,
              perceptual_net: str = "auto", black_box: bool = False, seed: int = 0) -> float:
    """Steady-state CPU seconds per step of a recipe (any_teacher_speed.py's one-run measurement)."""
    spec = {"label": terms, "src": env["PYTHONPATH"], "teacher": teacher, "bank": bank, "terms": terms,
            "steps": 12, "batch": batch, "width": width, "threads": 1, "skip": 6, "out": str(work),
            "perceptual_net": perceptual_net, "black_box": black_box, "seed": seed}
    res = subprocess.run([sys.executable, str(CPU_SPEED), "--one-run", json.dumps(spec)], env=env,
                         capture_output=True, text=True)
    if res.returncode:
        raise SystemExit(f"calibration of {terms} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])["cpu_s_per_step"]


MAX_STEPS = 10_000_000  # the cap of a time-limited run: the limit stops it first


def last_step(run: Path) -> int:
    """The last step a run logged (where its time limit stopped it)."""
    lines = (run / "logs" / "metrics.jsonl").read_text().splitlines()
    return int(json.loads(lines[-1])["step"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--teacher", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--work", default="runs/any-teacher/fixture")
    p.add_argument("--width", type=float, default=0.125, help="the student's width multiplier (absolute: "
                   "distill is given it as a fraction of the teacher's width)")
    p.add_argument("--bank", type=int, default=2048)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--cpu-minutes", type=float, default=8.0, help="each student's CPU budget: steps calibrated")
    p.add_argument("--wall-minutes", type=float, default=0.0,
                   help="instead: each student's time limit (--max-seconds; one thread, one process a core)")
    p.add_argument("--n", type=int, default=2000, help="samples a side for the teacher-relative figures")
    p.add_argument("--recipes", default="auto,pixel,auto+adversarial,pixel+feature")
    p.add_argument("--seed", type=int, default=0, help="the students' seed (a key's suffix when not 0)")
    args = p.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": src, "OMP_NUM_THREADS": "1",
           "GANTRANSFER_CACHE": str((work / "cache").resolve())}
    out = Path(args.out)
    result = json.loads(out.read_text()) if out.is_file() else {}
    result.update({"teacher": args.teacher, "student_width": args.width, "bank_size": args.bank,
                   "batch": args.batch, "cpu_minutes_each": None if args.wall_minutes else args.cpu_minutes,
                   "wall_minutes_each": args.wall_minutes, "n_per_side": args.n,
                   "threads": 1, "machine": f"2 CPU cores shared with other jobs (load average "
                                            f"{os.getloadavg()[0]:.1f} at the start)"})
    students = result.setdefault("students", {})
    from gantransfer.models.store import load_config
    fraction = args.width / load_config(args.teacher).width  # distill --width: a fraction of the teacher's
    for name in args.recipes.split(","):
        flags = RECIPES[name]
        terms = flags[flags.index("--terms") + 1] if "--terms" in flags else "auto"
        net = flags[flags.index("--perceptual-net") + 1] if "--perceptual-net" in flags else "auto"
        if args.wall_minutes:  # a time limit: no calibration (a big bank's fill would dominate a short one)
            per_step, steps, limit = None, MAX_STEPS, ["--max-seconds", str(args.wall_minutes * 60)]
        else:
            per_step = step_cost(args.teacher, terms, args.bank, args.batch, fraction, env, work / f"calib-{name}",
                                 net, "--black-box" in flags, args.seed)
            steps, limit = int(args.cpu_minutes * 60 / per_step), []
        key = name if args.seed == 0 else f"{name} seed {args.seed}"
        run = work / key.replace(" ", "-")
        argv = ["distill", "--teacher", args.teacher, "--width", f"{fraction:g}", "--bank-size", str(args.bank),
                "--batch-size", str(args.batch), "--steps", str(steps), "--eval-n", "0", "--log-every", "100",
                "--checkpoint-every", str(steps), "--sample-every", str(steps), "--no-progress", "--overwrite",
                "--seed", str(args.seed), *limit, "--out", str(run), *flags]
        res, cpu, wall = cli(argv, env)
        chosen = json.loads((run / "run.json").read_text())
        if args.wall_minutes:  # the step the time limit stopped at
            steps = last_step(run)
        students[key] = {"command": "gantransfer " + " ".join(argv), "calibrated_cpu_s_per_step": per_step,
                          "steps": steps, "train_cpu_s": cpu, "train_wall_s": wall,
                          "terms": chosen["config"]["terms"], "perceptual_net": chosen["config"]["perceptual_net"],
                          "seed": args.seed, "terms_chosen": chosen.get("terms_chosen"), "stderr_head": res.stderr[:1500]}
        print(json.dumps({key: students[key]}, indent=2), flush=True)
        write_results(out, result)
    for name, s in students.items():  # judge and measure, the teacher against itself as the floor
        if "bench" in s:  # judged in an earlier invocation (--recipes adds students to the same file)
            continue
        gen = str(work / name.replace(" ", "-"))
        res, cpu, wall = cli(["eval", gen, "--against", args.teacher, "--n", str(args.n), "--json",
                              "--device", "cpu"], env)
        s["against_teacher"], s["eval_cpu_s"] = json.loads(res.stdout), cpu
        res, _, _ = cli(["bench", gen, "--against", args.teacher, "--threads", "1", "--json"], env)
        s["bench"] = json.loads(res.stdout)
        print(json.dumps({name: {k: s[k] for k in ("against_teacher", "bench")}}, indent=2), flush=True)
        write_results(out, result)
    if "teacher_against_itself" not in result:
        res, cpu, _ = cli(["eval", args.teacher, "--against", args.teacher, "--n", str(args.n), "--json",
                           "--device", "cpu"], env)
        result["teacher_against_itself"] = {**json.loads(res.stdout), "eval_cpu_s": cpu}
    write_results(out, result)


if __name__ == "__main__":
    main()
