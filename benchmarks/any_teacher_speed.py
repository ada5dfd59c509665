"""Where a distillation step of a 64x64 RGB teacher of a few million parameters goes, and the CPU seconds of a
step of whole runs, before and after the bank cache (teacher images, hidden features, perceptual targets).

The teacher is a DCGAN at width 1 (3.6M parameters, discriminator 2.8M) at its random initialisation: step time
does not depend on the weights. Components are timed one at a time at the run's batch size. Whole runs are short
``distill`` runs, each in a process of its own, with ``--terms auto`` (white-box + discriminator: pixel, feature,
perceptual on the teacher's discriminator); with ``--before-src DIR`` each is run on that source tree too (the
code before the change), interleaved with this one, so that the ratio is measured under the same load. A step's
CPU seconds are the process time between two draws of the sampler (everything a step does), median over the
steps after the cache has filled. ``--demo`` adds the shipped Fashion-MNIST demo recipe (``--width 0.2 --terms
pixel=1,perceptual=1 --bank-size 16384``) with the perceptual targets cached or not, and with a budget that
holds the whole bank.

    python benchmarks/any_teacher_speed.py --out benchmarks/results/any_teacher_speed.json
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import torch

from harness import clock, timed, write_results

cpu_clock = clock("cpu")


def cpu_seconds(fn: Callable[[], Any]) -> float:
    """Median CPU seconds (process time, all threads: robust to other jobs on a shared machine) of ``fn()`` over
    3 calls, after one warm-up call."""
    return timed(fn, repeats=3, warmup=1, clock_kind="cpu")[1]


def make_teacher(root: Path) -> Path:
    """A width-1 64x64 RGB DCGAN generator with its discriminator beside it (random init, seeded)."""
    from gantransfer.models.config import (GeneratorConfig, build_discriminator, build_generator,
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
    """CPU seconds of each part of one step at ``batch``, and of the perceptual term on the first k blocks of the
    teacher's discriminator (the candidate for a cheaper perceptual network)."""
    from gantransfer.losses.distillation import _unit
    from gantransfer.models.config import build_generator
    from gantransfer.tasks.distill import feature_matching_adapters
    from gantransfer.teachers import load_teacher
    t = load_teacher(teacher_dir)
    scfg = dataclasses.replace(t.config, width=width)
    s = build_generator(scfg)
    adapters = feature_matching_adapters(t, s, scfg, torch.device("cpu"))
    d = t.discriminator
    z = torch.randn(batch, 100)
    with torch.no_grad():
        timg = t(z)
        targets = d.features(timg)

    def student_step() -> None:
        x, fs = s.forward_features(z)
        loss = (x - timg).abs().mean() + sum(a(f).pow(2).mean() for a, f in zip(adapters, fs))
        loss.backward()

    def through_d(k: int):
        def step() -> None:
            x = s(z)
            h, loss = x, 0.0
            for block, target in zip(list(d.blocks)[:k], targets):
                h = block(h)
                loss = loss + _unit(h).sub(_unit(target)).pow(2).sum(1).mean()
            loss.backward()
        return step

    out = {"teacher_forward": cpu_seconds(lambda: t(z)),
           "teacher_forward_features": cpu_seconds(lambda: t.module.forward_features(z)),
           "student_forward_backward_pixel_feature": cpu_seconds(student_step),
           "student_forward_backward_through_discriminator": cpu_seconds(through_d(len(d.blocks))),
           "student_forward_backward_alone": cpu_seconds(lambda: s(z).pow(2).mean().backward())}
    with torch.no_grad():
        out["discriminator_features_teacher_images_no_grad"] = cpu_seconds(lambda: d.features(timg))
    out["perceptual_on_first_k_blocks"] = {k: cpu_seconds(through_d(k)) for k in range(1, len(d.blocks) + 1)}
    out["discriminator_block_shapes"] = [list(f.shape[1:]) for f in targets]
    return out


def one_run(spec: dict) -> dict:
    """A short distill run of ``spec``; CPU seconds of each step from the sampler's draws."""
    from gantransfer.config import DistillConfig
    from gantransfer.tasks import samplers
    from gantransfer.tasks.distill import distill
    torch.set_num_threads(spec["threads"])
    stamps: list[float] = []
    plain_next, plain_init = samplers.TeacherLatentSampler.next, samplers.TeacherLatentSampler.__init__

    def next_timed(self, rng, device):
        stamps.append(cpu_clock())
        return plain_next(self, rng, device)

    def init(self, *a, **k):
        plain_init(self, *a, **k)
        if spec.get("targets_off"):
            self.targets = None
    samplers.TeacherLatentSampler.next = next_timed
    samplers.TeacherLatentSampler.__init__ = init
    if spec.get("budget_bytes"):
        samplers.TeacherLatentSampler.BANK_CACHE_BYTES = spec["budget_bytes"]
    out = Path(spec["out"])
    start = cpu_clock()
    distill(DistillConfig(teacher=spec["teacher"], width=spec["width"], steps=spec["steps"],
                          batch_size=spec["batch"], bank_size=spec["bank"], terms=spec["terms"], eval_n=0,
                          perceptual_net=spec.get("perceptual_net", "auto"),
                          black_box=spec.get("black_box", False), seed=spec.get("seed", 0), progress=False, log_every=spec["steps"], checkpoint_every=spec["steps"],
                          sample_every=spec["steps"], out=str(out)), overwrite=True)
    total = cpu_clock() - start
    per_step = [b - a for a, b in zip(stamps, stamps[1:])]
    steady = sorted(per_step[spec["skip"]:])
    run = json.loads((out / "run.json").read_text())
    sec = steady[len(steady) // 2]
    return {**{k: spec[k] for k in ("label", "src", "bank", "steps", "batch", "width", "terms")},
            "targets_cached": not spec.get("targets_off"), "budget_bytes": spec.get("budget_bytes"),
            "terms_used": run["config"]["terms"], "perceptual_net": run["config"]["perceptual_net"],
            "cpu_s_per_step": sec, "steps_per_cpu_s": 1 / sec,
            "cpu_s_per_step_mean": sum(steady) / len(steady),
            "cpu_s_first_steps": per_step[:spec["skip"]], "cpu_s_whole_process": total}


def spawn(spec: dict, src: str) -> dict:
    env = {**os.environ, "PYTHONPATH": src, "OMP_NUM_THREADS": str(spec["threads"])}
    res = subprocess.run([sys.executable, __file__, "--one-run", json.dumps({**spec, "src": src})], env=env,
                         capture_output=True, text=True)
    if res.returncode:
        raise SystemExit(f"run {spec['label']} on {src} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out")
    p.add_argument("--work", default="runs/any-teacher/speed")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--width", type=float, default=0.25)
    p.add_argument("--steps", type=int, default=16)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--runs", default="0:auto,512:auto", help="bank:terms pairs of the 64x64 runs")
    p.add_argument("--before-src", help="source tree of the code before the change (its src/ directory)")
    p.add_argument("--demo", action="store_true", help="also the Fashion-MNIST demo recipe")
    p.add_argument("--demo-steps", type=int, default=80)
    p.add_argument("--repeats", type=int, default=1, help="rounds over every run (interleaved), for the median")
    p.add_argument("--no-components", action="store_true", help="skip the per-part timings")
    p.add_argument("--one-run", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one_run:
        print(json.dumps(one_run(json.loads(args.one_run))), flush=True)
        return
    if not args.out:
        p.error("--out is required")
    torch.set_num_threads(args.threads)
    work = Path(args.work)
    teacher_dir = make_teacher(work / "teacher")
    from gantransfer.teachers import load_teacher
    t = load_teacher(teacher_dir)
    here = str(Path(__file__).resolve().parents[1] / "src")
    result = {"teacher_params": sum(p.numel() for p in t.module.parameters()),
              "discriminator_params": sum(p.numel() for p in t.discriminator.parameters()),
              "batch": args.batch, "student_width": args.width, "threads": args.threads,
              "machine": f"2 CPU cores shared with other jobs (load average {os.getloadavg()[0]:.1f} at the "
                         "start): CPU seconds at one thread; compare ratios within this file",
              "repeats": args.repeats}
    if not args.no_components:
        result["components_cpu_s"] = components(teacher_dir, args.batch, args.width)
    print(json.dumps(result, indent=2), flush=True)
    result["runs"] = []
    srcs = [s for s in (args.before_src, here) if s]
    plans: list[tuple[dict, str, str]] = []
    for pair in filter(None, args.runs.split(",")):
        bank, terms = int(pair.split(":")[0]), pair.split(":", 1)[1]
        for src in srcs:
            spec = {"label": f"64x64 {terms}, bank {bank}", "teacher": str(teacher_dir), "bank": bank,
                    "terms": terms, "steps": args.steps, "batch": args.batch, "width": args.width,
                    "threads": args.threads, "skip": 3}
            plans.append((spec, src, "before" if src == args.before_src else "after"))
    if args.demo:
        from gantransfer.demo import shipped
        demo = {"teacher": str(shipped("teachers", "fashion-mnist-dcgan")), "bank": 16384,
                "terms": "pixel=1,perceptual=1", "steps": args.demo_steps, "batch": 64, "width": 0.2,
                "threads": args.threads, "skip": args.demo_steps // 2}
        for label, extra in [("demo recipe, images cached (as before: no targets)", {"targets_off": True}),
                             ("demo recipe, images + perceptual targets within 1 GiB", {}),
                             ("demo recipe, budget holding the whole bank (4 GiB)", {"budget_bytes": 4 << 30})]:
            plans.append(({**demo, **extra, "label": label}, here, "after"))
    for r in range(args.repeats):  # interleaved rounds: every run sees the same mix of load
        for spec, src, code in plans:
            spec = {**spec, "out": str(work / f"run-{len(result['runs'])}")}
            result["runs"].append({**spawn(spec, src), "code": code, "round": r})
            print(json.dumps(result["runs"][-1]), flush=True)
    summary: dict[str, dict] = {}
    for row in result["runs"]:
        key = f"{row['label']} [{row['code']}]"
        summary.setdefault(key, {"cpu_s_per_step": []})["cpu_s_per_step"].append(row["cpu_s_per_step"])
    for v in summary.values():
        xs = sorted(v["cpu_s_per_step"])
        v["median"] = xs[len(xs) // 2]
        v["steps_per_cpu_s"] = 1 / v["median"]
    result["summary"] = summary
    write_results(args.out, result)


if __name__ == "__main__":
    main()
