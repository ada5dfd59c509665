"""Where a distillation step of a 64x64 RGB teacher of a few million parameters goes, and steps/s of whole runs.

The teacher is a DCGAN at width 1 (3.6M parameters, discriminator 2.8M) at its random initialisation: step time
does not depend on the weights. Components are timed one at a time at the run's batch size; whole runs are short
``distill`` runs with ``--terms auto`` (white-box + discriminator: pixel, feature, perceptual on the teacher's
discriminator) and the given bank sizes.

    python benchmarks/any_teacher_speed.py --out benchmarks/results/any_teacher_speed.json
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch


def timed(fn, repeats: int = 3) -> float:
    """Median CPU seconds (process time, all threads: robust to other jobs on a shared machine) of ``fn()`` over
    ``repeats`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return sorted(times)[len(times) // 2]


def make_teacher(root: Path) -> Path:
    """A width-1 64x64 RGB DCGAN generator with its discriminator beside it (random init, seeded)."""
    from gantransfer.models.registry import (GeneratorConfig, build_discriminator, build_generator,
                                             discriminator_config_for)
    from gantransfer.models.store import save_discriminator, save_generator
    if (root / "model.safetensors").is_file():
        return root
    torch.manual_seed(0)
    cfg = GeneratorConfig(latent_dim=100, resolution=64, channels=3, width=1.0, dataset="")
    save_generator(build_generator(cfg), cfg, root)
    dcfg = discriminator_config_for(cfg)
    save_discriminator(build_discriminator(dcfg), dcfg, root / "discriminator")
    return root


def components(teacher_dir: Path, batch: int, width: float) -> dict[str, float]:
    """Seconds of each part of one step at ``batch``."""
    from gantransfer.models.registry import build_generator
    from gantransfer.tasks.distill import feature_matching_adapters
    from gantransfer.teachers import load_teacher
    import dataclasses
    t = load_teacher(teacher_dir)
    scfg = dataclasses.replace(t.config, width=width)
    s = build_generator(scfg)
    adapters = feature_matching_adapters(t, s, scfg, torch.device("cpu"))
    d = t.discriminator
    z = torch.randn(batch, 100)
    with torch.no_grad():
        timg = t(z)

    def student_step() -> None:
        x, fs = s.forward_features(z)
        loss = (x - timg).abs().mean() + sum(a(f).pow(2).mean() for a, f in zip(adapters, fs))
        loss.backward()

    def student_and_d() -> None:
        x = s(z)
        sum(f.pow(2).mean() for f in d.features(x)).backward()

    out = {"teacher_forward": timed(lambda: t(z)),
           "teacher_forward_features": timed(lambda: t.module.forward_features(z)),
           "student_forward_backward_pixel_feature": timed(student_step),
           "student_forward_backward_through_discriminator": timed(student_and_d)}
    with torch.no_grad():
        out["discriminator_features_teacher_images_no_grad"] = timed(lambda: d.features(timg))
    return out


def run_rate(teacher_dir: Path, work: Path, bank: int, steps: int, batch: int, width: float, terms: str) -> dict:
    """steps/s of a short distill run (from its logged seconds per step, first logged window dropped)."""
    from gantransfer.config import DistillConfig
    from gantransfer.tasks.distill import distill
    out = work / f"run-bank{bank}-{terms.replace('=', '').replace(',', '_')}"
    start = time.perf_counter()
    distill(DistillConfig(teacher=str(teacher_dir), width=width, steps=steps, batch_size=batch, bank_size=bank,
                          terms=terms, eval_n=0, progress=False, log_every=max(1, steps // 4),
                          checkpoint_every=steps, sample_every=steps, out=str(out)), overwrite=True)
    wall = time.perf_counter() - start
    logs = [json.loads(line) for line in (out / "logs" / "metrics.jsonl").read_text().splitlines()]
    per_step = [r["time/sec_per_step"] for r in logs if "time/sec_per_step" in r][1:]
    sec = sum(per_step) / len(per_step) if per_step else wall / steps
    run = json.loads((out / "run.json").read_text())
    return {"bank_size": bank, "steps": steps, "terms_requested": terms,
            "terms_used": run["config"]["terms"], "sec_per_step": sec, "steps_per_sec": 1 / sec, "wall_s": wall}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--work", default="runs/any-teacher/speed")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--width", type=float, default=0.25)
    p.add_argument("--steps", type=int, default=24)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", default="0:auto,512:auto", help="bank:terms pairs")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(args.work)
    teacher_dir = make_teacher(work / "teacher")
    from gantransfer.teachers import load_teacher
    t = load_teacher(teacher_dir)
    result = {"teacher_params": sum(p.numel() for p in t.module.parameters()),
              "discriminator_params": sum(p.numel() for p in t.discriminator.parameters()),
              "batch": args.batch, "student_width": args.width, "threads": args.threads,
              "machine": "2 CPU cores shared with ~6 other jobs (contended): compare ratios within this file",
              "components_cpu_s": components(teacher_dir, args.batch, args.width)}
    print(json.dumps(result, indent=2), flush=True)
    result["runs"] = []
    for spec in filter(None, args.runs.split(",")):
        bank, terms = spec.split(":")
        result["runs"].append(run_rate(teacher_dir, work, int(bank), args.steps, args.batch, args.width, terms))
        print(json.dumps(result["runs"][-1]), flush=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
