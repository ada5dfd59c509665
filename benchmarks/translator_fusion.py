"""Fusing two translators into one against distilling them into two separate students.

Teachers: given with ``--teacher A --teacher B`` (translators of one input kind) and their inputs with ``--data``;
otherwise two are trained here (``translator_tasks.py``: Fashion-MNIST items -> edges and items -> stripes, resnet
ngf 16, 3 blocks, 32 x 32 grey, ``adapt --method scratch`` on 2,000 pairs, seed 0). Per seed, the same input
images (``--data``, 2,000 for training, 200 held out) and the same steps:

- fused: ``gantransfer fuse --teacher A --teacher B --width W`` (batch 2 x B: B inputs per teacher per step);
- separate: ``gantransfer distill --teacher A --width W`` and the same for B (batch B each).

Figures are the runs' eval.json: per teacher PSNR/SSIM/L1 and the teacher-relative FD on the held-out inputs (one
space per teacher, learned from its held-out outputs and shared by every run through ``GANTRANSFER_CACHE``), and
parameters and MACs of the fused student, of the two separate students together and of the two teachers together.

    python benchmarks/translator_fusion.py --out benchmarks/results/translator_fusion.json
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

import torch
from harness import Stopwatch, markdown_table, write_results
from translator_tasks import teacher_record, train_teacher


def cli(argv: list[str]) -> float:
    """Run one command in this process; its CPU seconds."""
    from gantransfer.cli import main
    with Stopwatch("cpu") as sw:
        code = main(argv)
    if code:
        raise SystemExit(f"{' '.join(argv)} failed ({code})")
    return sw.seconds


def common(data: str, steps: int, seed: int, out: Path) -> list[str]:
    return ["--data", data, "--input-limit", "2000", "--eval-n", "200", "--steps", str(steps), "--seed", str(seed),
            "--log-every", "100", "--checkpoint-every", str(steps), "--no-progress", "--out", str(out)]


def fused(teachers: list[str], data: str, width: float, batch: int, steps: int, seed: int, out: Path) -> dict:
    seconds = cli(["fuse", *[f for t in teachers for f in ("--teacher", t)], "--width", str(width),
                   "--batch-size", str(2 * batch), *common(data, steps, seed, out)])
    ev = json.loads((out / "eval.json").read_text())
    per = {name: figures(row["fidelity"], row["teacher_relative"]) for name, row in ev["per_teacher"].items()}
    c = ev["cost"]
    return {"per_teacher": per, "params": c["student_params"], "macs": c["student_macs"], "cpu_seconds": seconds,
            "teachers_params_sum": c["teachers_params_sum"], "teachers_macs_sum": c["teachers_macs_sum"]}


def separate(teachers: list[str], names: list[str], data: str, width: float, batch: int, steps: int, seed: int,
             out: Path) -> dict:
    per, params, macs, seconds = {}, 0, 0, 0.0
    for t, name in zip(teachers, names):
        run = out / name
        seconds += cli(["distill", "--teacher", t, "--width", str(width), "--terms", "pixel=1",
                        "--batch-size", str(batch), *common(data, steps, seed, run)])
        ev = json.loads((run / "eval.json").read_text())
        per[name] = figures(ev["fidelity"], ev["teacher_relative"])
        params += ev["cost"]["student_params"]
        macs += ev["cost"]["student_macs"]
    return {"per_teacher": per, "params": params, "macs": macs, "cpu_seconds": seconds}


def run_name(p: Path) -> str:
    """A teacher's name as fuse gives it: its run's (``run/generator``, ``run/best/generator``) or its own."""
    if p.name == "generator":
        return (p.parent.parent if p.parent.name == "best" else p.parent).name
    return p.stem if p.suffix else p.name


def figures(fidelity: dict, relative: dict) -> dict:
    return {"psnr": fidelity["psnr"], "ssim": fidelity["ssim"], "l1": fidelity["l1"], "fd": relative.get("fd")}


def mean_sd(values: list[float]) -> str:
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}" if len(values) > 1 \
        else f"{values[0]:.2f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--teacher", action="append", help="a translator (repeat: two of one input kind)")
    p.add_argument("--teacher-note", default="given with --teacher", help="what the given teachers are (recorded)")
    p.add_argument("--data", default="fashion-mnist", help="the teachers' input images (folder or data set)")
    p.add_argument("--work", default="build/bench/translator_fusion")
    p.add_argument("--out", default="benchmarks/results/translator_fusion.json")
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--teacher-steps", type=int, default=800)
    p.add_argument("--width", type=float, default=0.5)
    p.add_argument("--batch", type=int, default=8, help="inputs per teacher per step")
    p.add_argument("--seeds", default="0,1,2")
    a = p.parse_args()
    torch.set_num_threads(1)
    work = Path(a.work)
    os.environ["GANTRANSFER_CACHE"] = str(work / "cache")  # one learned space per teacher, shared by every run
    made_here = not a.teacher
    with Stopwatch("cpu") as teacher_clock:
        teachers = a.teacher or [str(train_teacher(work, task, a.teacher_steps)) for task in ("edges", "stripes")]
    names = [run_name(Path(t)) for t in teachers]
    seeds = [int(s) for s in a.seeds.split(",")]
    rows = []
    for seed in seeds:
        f = fused(teachers, a.data, a.width, a.batch, a.steps, seed, work / f"fused-s{seed}")
        s = separate(teachers, names, a.data, a.width, a.batch, a.steps, seed, work / f"separate-s{seed}")
        rows.append({"seed": seed, "fused": f, "separate": s})
        print(json.dumps(rows[-1]), file=sys.stderr)
    table_rows = []
    for name in names:
        for method in ("fused", "separate"):
            vals = [r[method]["per_teacher"][name] for r in rows]
            table_rows.append([name, method, mean_sd([v["psnr"] for v in vals]), mean_sd([v["ssim"] for v in vals]),
                               mean_sd([v["fd"] for v in vals])])
    first = rows[0]
    cost = {"fused_params": first["fused"]["params"], "fused_macs": first["fused"]["macs"],
            "separate_params_sum": first["separate"]["params"], "separate_macs_sum": first["separate"]["macs"],
            "teachers_params_sum": first["fused"]["teachers_params_sum"],
            "teachers_macs_sum": first["fused"]["teachers_macs_sum"]}
    cost_table = markdown_table(["model", "parameters", "MACs / image", "vs the two teachers' sum"], [
        ["the two teachers", f"{cost['teachers_params_sum']:,}", f"{cost['teachers_macs_sum']:,}", "1x"],
        ["two separate students", f"{cost['separate_params_sum']:,}", f"{cost['separate_macs_sum']:,}",
         f"{cost['teachers_params_sum'] / cost['separate_params_sum']:.1f}x fewer parameters, "
         f"{cost['teachers_macs_sum'] / cost['separate_macs_sum']:.1f}x fewer MACs (both run)"],
        ["one fused student", f"{cost['fused_params']:,}", f"{cost['fused_macs']:,}",
         f"{cost['teachers_params_sum'] / cost['fused_params']:.1f}x fewer parameters, "
         f"{cost['teachers_macs_sum'] / cost['fused_macs']:.1f}x fewer MACs (one mapping per call)"]])
    table = markdown_table(["teacher", "student", "PSNR dB", "SSIM", "FD (teacher-relative)"], table_rows)
    write_results(a.out, {
        "teachers": [teacher_record(Path(t)) for t in teachers],
        "teachers_made": ("trained here: Fashion-MNIST items -> edges and items -> stripes (benchmarks/"
                          "translator_tasks.py), resnet ngf 16, 3 blocks, 32 x 32 grey, adapt --method scratch on "
                          f"2000 pairs, {a.teacher_steps} steps, batch 16, lr 1e-3, seed 0") if made_here else
                         a.teacher_note,
        "teacher_training_cpu_seconds": round(teacher_clock.seconds, 1) if made_here else None,
        "inputs": f"{a.data}: 2000 training inputs, 200 held out (never trained on)",
        "steps": a.steps, "width": a.width, "inputs_per_teacher_per_step": a.batch, "seeds": seeds, "threads": 1,
        "terms": "pixel=1 (the translator default)", "machine": "shared (2 cores, other jobs running)",
        "rows": rows, "cost": cost, "table": table, "cost_table": cost_table})
    print(table)
    print(cost_table)


if __name__ == "__main__":
    main()
