"""Validate the teacher-relative metrics on Fashion-MNIST: do they rank students as the protocol does, and do they
read ~0.5 / ~0 on two halves of one teacher's samples?

Students: the shipped ones (assets/students) and a few short distillations of the shipped teacher at different
widths, steps and terms. For each: the protocol's FID against the real test set and against the teacher's
samples (the protocol classifier's features), and the teacher-relative figures (two-sample accuracy, FD and KID
in the teacher's learned space). Spearman rank correlations between them are reported.

    python benchmarks/any_teacher_validate.py --out benchmarks/results/any_teacher_validation.json --n 500 --threads 1
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from harness import Stopwatch, write_results

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "src" / "gantransfer" / "assets"
SHORT = [  # (name, width, steps, terms)
    ("w0.0625-s30", 0.0625, 30, "pixel=1,perceptual=1"),
    ("w0.25-s30-pixel", 0.25, 30, "pixel=1"),
    ("w0.125-s60", 0.125, 60, "pixel=1,perceptual=1"),
]


def spearman(a: list[float], b: list[float]) -> float:
    """Spearman's rank correlation (no ties expected in these figures)."""
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--work", default="runs/any-teacher/validate")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    from gantransfer.config import DistillConfig
    from gantransfer.metrics.classifier import extract, load_classifier
    from gantransfer.metrics.evaluate import evaluate_generator
    from gantransfer.metrics.fid import fid_from_features
    from gantransfer.metrics.teacher_relative import (STUDENT_SEED, TEACHER_SEED, distribution_figures,
                                                      sampler_of, teacher_relative)
    from gantransfer.metrics.teacher_space import SpaceSettings, teacher_space
    from gantransfer.metrics.teacher_relative import hash_of_teacher
    from gantransfer.models.store import load_generator
    from gantransfer.tasks.distill import distill
    from gantransfer.teachers import load_teacher
    work = Path(args.work)
    device = torch.device("cpu")
    teacher_dir = ASSETS / "teachers" / "fashion-mnist-dcgan"
    teacher = load_teacher(teacher_dir, device)
    students = {name: ASSETS / "students" / name for name in ("fashion-mnist-dcgan-w0.125", "fashion-mnist-dcgan-w0.2")}
    train_seconds = {}
    for name, width, steps, terms in SHORT:
        out = work / name
        if not (out / "generator" / "model.safetensors").is_file():
            watch = Stopwatch()
            distill(DistillConfig(teacher=str(teacher_dir), width=width, steps=steps, terms=terms, batch_size=64,
                                  eval_n=0, progress=False, out=str(out), checkpoint_every=steps), overwrite=True)
            train_seconds[name] = watch.elapsed()
        students[name] = out
    clf = load_classifier("fashion-mnist", device)
    draw_t = sampler_of(teacher, teacher.config, device)
    teacher_x = draw_t(args.n, TEACHER_SEED)
    teacher_feats = extract(clf, teacher_x)[0]
    rows = {}
    for name, path in students.items():
        g, cfg = load_generator(path, device)
        watch = Stopwatch()
        rel = teacher_relative(g, cfg, teacher, args.n, device, None)
        rel_seconds = watch.elapsed()
        proto = evaluate_generator(g, cfg, "fashion-mnist", args.n, device=device)["metrics"]
        fid_real = next(v for k, v in proto.items() if k.startswith("fid/"))
        sx = sampler_of(g, cfg, device)(args.n, STUDENT_SEED)
        rows[name] = {"params": sum(p.numel() for p in g.parameters()), "protocol_fid_vs_real": fid_real,
                      "protocol_fid_vs_teacher": fid_from_features(extract(clf, sx)[0], teacher_feats),
                      "two_sample_accuracy": rel["two_sample"]["accuracy"], "two_sample_ci95": rel["two_sample"]["ci95"],
                      "teacher_space_fd": rel["fd"], "teacher_space_kid": rel["kid"],
                      "psnr_fresh": rel["fidelity_fresh"]["psnr"], "ssim_fresh": rel["fidelity_fresh"]["ssim"],
                      "space_key": rel["space"]["key"], "encoder_sha256": rel["space"]["encoder_sha256"],
                      "seconds": rel_seconds}
        print(name, json.dumps(rows[name]), flush=True)
    # two halves of one teacher's samples: the null reading
    encoder, _ = teacher_space(lambda k: draw_t(k, SpaceSettings().seed), hash_of_teacher(teacher, draw_t),
                               str(teacher_dir), None)
    halves = draw_t(2 * args.n, TEACHER_SEED + 1)
    null = distribution_figures(halves[:args.n], halves[args.n:], encoder)
    names = list(rows)
    corr = {}
    for proto_key in ("protocol_fid_vs_real", "protocol_fid_vs_teacher"):
        ref = [rows[k][proto_key] for k in names]
        corr[proto_key] = {m: spearman(ref, [rows[k][m] for k in names])
                           for m in ("two_sample_accuracy", "teacher_space_fd", "teacher_space_kid")}
        corr[proto_key]["psnr_fresh (negated)"] = spearman(ref, [-rows[k]["psnr_fresh"] for k in names])
    result = {"n": args.n, "teacher": str(teacher_dir.relative_to(ROOT)), "students": rows,
              "short_distillations": [dict(zip(("name", "width", "steps", "terms"), s)) for s in SHORT],
              "train_seconds": train_seconds, "two_halves_of_teacher": null, "spearman": corr,
              "threads": torch.get_num_threads(), "machine": "2 CPU cores shared with ~6 other jobs (contended)"}
    write_results(args.out, result)
    print(json.dumps({"spearman": corr, "null": {k: v for k, v in null.items() if k != "two_sample"},
                      "null_two_sample": null["two_sample"]}, indent=2))


if __name__ == "__main__":
    main()
