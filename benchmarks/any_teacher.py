"""The any-teacher benchmark on the no-classifier fixture domain (colourised 64x64 RGB Fashion-MNIST,
``any_teacher_fixture.py``): the default-loss (``--terms auto``) student against a pixel-only student and explicit
alternatives, each under the same wall-clock budget, by two-sample accuracy and teacher-relative FD/KID, with
size and speed ratios; then the cost of the two-sample test and the features at 64x64 for ``--cost-n`` samples
a side.

    python benchmarks/any_teacher.py --out benchmarks/results/any_teacher.json

Every stage is skipped when its output exists under --work (re-run to continue after an interruption).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
STUDENTS = {"auto (default)": "auto", "pixel only": "pixel=1", "pixel+adversarial": "pixel=1,adversarial=0.1",
            "pixel+perceptual(D)": "pixel=1,perceptual=1"}


def gantransfer(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "gantransfer", *args], check=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--work", default="runs/any-teacher/bench")
    p.add_argument("--images", type=int, default=6000)
    p.add_argument("--teacher-width", type=float, default=0.25)
    p.add_argument("--teacher-seconds", type=float, default=600)
    p.add_argument("--student-width", type=float, default=0.125)
    p.add_argument("--student-seconds", type=float, default=150)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--cost-n", type=int, default=5000)
    args = p.parse_args()
    sys.path.insert(0, str(HERE))
    from any_teacher_fixture import write_images
    work = Path(args.work)
    images = work / "images"
    if not images.is_dir():
        write_images(images, args.images)
    teacher = work / "teacher"
    if not (teacher / "generator" / "model.safetensors").is_file():
        gantransfer("train", "--data", str(images), "--resolution", "64", "--channels", "3", "--width",
                    str(args.teacher_width), "--steps", "100000", "--batch-size", str(args.batch), "--max-seconds",
                    str(args.teacher_seconds), "--checkpoint-every", "25", "--sample-every", "100", "--no-progress",
                    "--out", str(teacher))
    from gantransfer.deploy.bench import count_params
    from gantransfer.metrics.teacher_relative import (STUDENT_SEED, TEACHER_SEED, distribution_figures,
                                                      evaluate_against, sampler_of)
    from gantransfer.models.store import load_generator
    from gantransfer.teachers import load_teacher
    device = torch.device("cpu")
    t = load_teacher(teacher)
    result: dict = {"fixture": "colourised 64x64 RGB Fashion-MNIST (benchmarks/any_teacher_fixture.py), "
                               f"{args.images} images", "teacher": {
                        "width": args.teacher_width, "params": count_params(t.module),
                        "train_steps": json.loads((teacher / "generator" / "config.json").read_text())
                        ["meta"].get("train_steps"), "train_seconds_budget": args.teacher_seconds},
                    "student_width": args.student_width, "student_seconds_budget": args.student_seconds,
                    "batch": args.batch, "n": args.n,
                    "machine": "2 CPU cores shared with ~6 other jobs (contended): seconds are not idle figures",
                    "students": {}}
    for name, terms in STUDENTS.items():
        out = work / ("student-" + terms.replace("=", "").replace(",", "_").replace(".", ""))
        if not (out / "generator" / "model.safetensors").is_file():
            gantransfer("distill", "--teacher", str(teacher), "--width", str(args.student_width), "--terms", terms,
                        "--steps", "100000", "--max-seconds", str(args.student_seconds), "--batch-size",
                        str(args.batch), "--eval-n", "0", "--no-progress", "--checkpoint-every", "25",
                        "--out", str(out), "--overwrite")
        rel = evaluate_against(str(out), str(teacher), args.n, device)
        run = json.loads((out / "run.json").read_text())
        g, cfg = load_generator(out)
        steps = json.loads((out / "generator" / "config.json").read_text())["meta"].get("train_steps")
        z = torch.randn(256, cfg.latent_dim)
        with torch.inference_mode():
            t0 = time.perf_counter(); t(z); tt = time.perf_counter() - t0
            t0 = time.perf_counter(); g(z); ts = time.perf_counter() - t0
        result["students"][name] = {
            "terms": run["config"]["terms"], "terms_chosen": run.get("terms_chosen"), "steps": steps,
            "steps_per_s": steps / args.student_seconds if steps else None,
            "params": count_params(g), "params_ratio": count_params(t.module) / count_params(g),
            "sample_speed_ratio": tt / ts, "two_sample": rel["two_sample"], "fd": rel["fd"], "kid": rel["kid"],
            "fidelity_fresh": rel["fidelity_fresh"], "space": rel["space"]}
        print(name, json.dumps(result["students"][name]), flush=True)
    # the cost of the figures at 64x64: cost-n samples a side, the space already cached beside the teacher
    from gantransfer.metrics.teacher_space import teacher_space
    from gantransfer.metrics.teacher_relative import hash_of_teacher
    draw_t = sampler_of(t, t.config, device)
    encoder, record = teacher_space(lambda k: draw_t(k, 777), hash_of_teacher(t, draw_t), str(teacher), None)
    g, cfg = load_generator(work / "student-auto")
    tx, sx = draw_t(args.cost_n, TEACHER_SEED), sampler_of(g, cfg, device)(args.cost_n, STUDENT_SEED)
    cost = distribution_figures(tx, sx, encoder)
    result["cost_at_64px"] = {"n_per_side": args.cost_n, "two_sample_seconds": cost["two_sample"]["seconds"],
                              "features_fd_kid_seconds": cost["feature_seconds"],
                              "space_fit_seconds": next((r["space"]["fit_seconds"] for r in result["students"].values()
                                                         if "fit_seconds" in r["space"]), None),
                              "space_cached_beside_teacher": record.get("where"),
                              "threads": torch.get_num_threads()}
    print(json.dumps(result["cost_at_64px"]), flush=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
