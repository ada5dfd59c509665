"""A translator student started from its pruned teacher (`distill --init prune`, each criterion) against a random
start (`--init random`), at equal steps, 3 seeds.

Teacher and inputs as ``translator_distill.py`` (resnet_6blocks ngf 16, instance norm, pix2pix's random
initialisation, a junyanz ``.pth``; Fashion-MNIST as RGB 32 x 32, 2,000 training inputs, 200 held out). Student:
the teacher's family at ``--width 0.25`` (ngf 4, 6 blocks), ``--terms pixel=1``. Figures: PSNR against the teacher
on the held-out inputs at the start (measured here on the same images, before any step) and after training
(eval.json), with FD in the space learned from the teacher's held-out outputs.

    python benchmarks/translator_prune.py --out benchmarks/results/translator_prune.json
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
from pathlib import Path

import torch
from harness import markdown_table, write_results
from translator_distill import make_teacher, run

INITS = {"random": ["--init", "random"], "prune magnitude": ["--init", "prune", "--prune-criterion", "magnitude"],
         "prune activation": ["--init", "prune", "--prune-criterion", "activation"],
         "prune diversity": ["--init", "prune", "--prune-criterion", "diversity"]}


def psnr_at_start(teacher_file: Path, init: str, seed: int) -> float:
    """PSNR (dB) of the student before its first step against the teacher, on the 200 held-out inputs."""
    from gantransfer.config import DistillConfig
    from gantransfer.data.translator_inputs import load_inputs
    from gantransfer.models.config import build_generator
    from gantransfer.models.translator_import import import_translator
    from gantransfer.tasks.distill_translator import student_config
    from gantransfer.tasks.student_init import prune_from_teacher
    from gantransfer.teachers import Teacher
    t, tcfg = import_translator(teacher_file)
    tcfg = dataclasses.replace(tcfg, resolution=32)
    teacher = Teacher(module=t.eval(), config=tcfg, source=str(teacher_file), white_box=True)
    scfg = student_config(DistillConfig(teacher=str(teacher_file), width=0.25), teacher)
    images = load_inputs("fashion-mnist", 3, 32, 200, 2000)
    torch.manual_seed(seed)
    s = build_generator(scfg).eval()
    if init != "random":
        prune_from_teacher(s, t, tcfg, scfg, init.split()[1], False, seed, inputs=images.train)
    x = images.held_out
    with torch.no_grad():
        mse = ((s(x).clamp(-1, 1) - t(x).clamp(-1, 1)) ** 2).flatten(1).mean(1)
    return float((10 * torch.log10(4.0 / mse.clamp(min=1e-10))).mean())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="benchmarks/results/translator_prune.json")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--seeds", type=int, default=3)
    a = p.parse_args()
    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        os.environ["GANTRANSFER_CACHE"] = str(tmp_path / "cache")  # one learned space for every run
        teacher = tmp_path / "latest_net_G.pth"
        make_teacher(teacher)
        for seed in range(a.seeds):
            for name, flags in INITS.items():  # interleaved: every init once per seed
                row = run(teacher, tmp_path / f"{name}-{seed}".replace(" ", "-"), "resnet", "pixel=1", a.steps,
                          [*flags, "--seed", str(seed)])
                rows.append({"init": name, "seed": seed, "psnr_at_start": psnr_at_start(teacher, name, seed), **row})
                print({k: rows[-1][k] for k in ("init", "seed", "psnr_at_start", "psnr", "fd")}, file=sys.stderr)
    summary = []
    for name in INITS:
        mine = [r for r in rows if r["init"] == name]
        summary.append({"init": name, **{f"{k}_mean": statistics.mean(r[k] for r in mine)
                                         for k in ("psnr_at_start", "psnr", "ssim", "fd", "cpu_seconds")},
                        "psnr_sd": statistics.stdev(r["psnr"] for r in mine) if len(mine) > 1 else 0.0})
    table = markdown_table(["start", "PSNR at step 0 (dB)", f"PSNR after {a.steps} steps (dB)", "SSIM", "FD",
                            "CPU s / run"],
                           [[s["init"], f"{s['psnr_at_start_mean']:.2f}",
                             f"{s['psnr_mean']:.2f} +- {s['psnr_sd']:.2f}", f"{s['ssim_mean']:.3f}",
                             f"{s['fd_mean']:.2f}", f"{s['cpu_seconds_mean']:.0f}"] for s in summary])
    write_results(a.out, {"command": f"python benchmarks/translator_prune.py --out {a.out}"
                                     + (f" --steps {a.steps}" if a.steps != 300 else "")
                                     + (f" --seeds {a.seeds}" if a.seeds != 3 else ""),
                          "teacher": "resnet_6blocks ngf 16 instance, pix2pix random init (seed 0), junyanz .pth",
                          "student": "resnet ngf 4 (width 0.25), 6 blocks, --terms pixel=1",
                          "inputs": "fashion-mnist as RGB 32x32: 2000 train, 200 held out",
                          "steps": a.steps, "seeds": a.seeds, "threads": 1, "shared_machine": True,
                          "note": "2 CPU cores shared with other jobs: CPU seconds are indicative only",
                          "rows": rows, "summary": summary, "table": table})
    print(table)


if __name__ == "__main__":
    main()
