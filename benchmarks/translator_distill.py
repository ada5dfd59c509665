"""Distilling a translator: student family and matching terms, and what training on a handful of inputs costs.

Teacher (documented exactly): a pix2pix/CycleGAN ResnetGenerator resnet_6blocks, ngf 16, instance norm, 3 -> 3
channels, with pix2pix's random initialisation (normal, std 0.02; torch seed 0), saved as a junyanz-layout
``latest_net_G.pth`` and imported by ``gantransfer distill --teacher FILE`` itself. Untrained: a fixed, non-linear,
structured image-to-image map (instance norm keeps every layer's activations at unit spread), not a learned task.
Inputs: Fashion-MNIST training images as RGB (grey repeated), 32 x 32 (``--data fashion-mnist``), 2,000 for
training and 200 held out (never trained on) for the figures. Students at ``--width 0.25`` (ngf 4): resnet (6
blocks) and mobile-resnet (6 depthwise-separable blocks). Figures are eval.json's: PSNR/SSIM against the teacher
on the held-out inputs, FD in a space learned from the teacher's held-out outputs (no pretrained network), and
the MACs reduction.

    python benchmarks/translator_distill.py --out benchmarks/results/translator_distill.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import torch
from harness import Stopwatch, markdown_table, write_results

RECIPES = {"pixel": "pixel=1", "pixel+feature": "pixel=1,feature=1", "pixel+feature/100": "pixel=1,feature=0.01",
           "pixel+feature+structure": "pixel=1,feature=1,ssim=1,tv=0.01",
           "pixel+feature+adversarial": "pixel=1,feature=1,adversarial=0.05"}


def make_teacher(path: Path) -> None:
    """The junyanz-layout resnet_6blocks file (gantransfer's resnet family has the same keys)."""
    from gantransfer.models.config import GeneratorConfig, build_generator
    cfg = GeneratorConfig(arch="resnet", latent_dim=0, input_channels=3, channels=3, resolution=32,
                          options={"ngf": 16, "n_blocks": 6, "norm": "instance"})
    torch.manual_seed(0)
    torch.save(build_generator(cfg).state_dict(), path)


def run(teacher: Path, out: Path, arch: str, terms: str, steps: int, extra: list[str]) -> dict:
    """One distillation through the command line; its eval.json figures and CPU seconds."""
    from gantransfer.cli import main
    argv = ["distill", "--teacher", str(teacher), "--data", "fashion-mnist", "--student-arch", arch,
            "--width", "0.25", "--input-size", "32", "--terms", terms, "--steps", str(steps), "--batch-size", "16",
            "--eval-n", "200",
            "--input-limit", "2000", "--log-every", "100", "--checkpoint-every", str(steps), "--out", str(out),
            "--seed", "0", *extra]
    with Stopwatch("cpu") as sw:
        code = main(argv)
    if code:
        raise SystemExit(f"{' '.join(argv)} failed ({code})")
    ev = json.loads((out / "eval.json").read_text())
    return {"arch": arch, "terms": terms, "steps": steps, "cpu_seconds": round(sw.seconds, 1),
            "psnr": ev["fidelity"]["psnr"], "ssim": ev["fidelity"]["ssim"], "l1": ev["fidelity"]["l1"],
            "fd": ev["teacher_relative"].get("fd"), "macs_reduction": ev["cost"]["macs_reduction"],
            "params_reduction": ev["cost"]["params_reduction"], "extra": extra}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="benchmarks/results/translator_distill.json")
    p.add_argument("--steps", type=int, default=300)
    a = p.parse_args()
    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        os.environ["GANTRANSFER_CACHE"] = str(tmp_path / "cache")  # one learned space for every run
        teacher = tmp_path / "latest_net_G.pth"
        make_teacher(teacher)
        for arch in ("mobile-resnet", "resnet"):
            for name, terms in RECIPES.items():
                if arch == "resnet" and name not in ("pixel", "pixel+feature"):
                    continue
                rows.append({"recipe": name, **run(teacher, tmp_path / f"{arch}-{name}", arch, terms, a.steps, [])})
                print(rows[-1], file=sys.stderr)
        for source in ("folder", "augment"):  # 16 training inputs only
            rows.append({"recipe": f"pixel, 16 inputs, {source}",
                         **run(teacher, tmp_path / f"few-{source}", "mobile-resnet", RECIPES["pixel"],
                               a.steps, ["--input-limit", "16", "--input-source", source])})
            print(rows[-1], file=sys.stderr)
    table = markdown_table(["student", "recipe", "PSNR dB", "SSIM", "FD", "MACs reduction", "CPU s"],
                           [[r["arch"], r["recipe"], f"{r['psnr']:.2f}", f"{r['ssim']:.3f}", f"{r['fd']:.2f}",
                             f"{r['macs_reduction']:.1f}x", r["cpu_seconds"]] for r in rows])
    write_results(a.out, {"teacher": "resnet_6blocks ngf 16 instance, pix2pix random init (seed 0), junyanz .pth",
                          "inputs": "fashion-mnist as RGB 32x32: 2000 train (or 16), 200 held out",
                          "steps": a.steps, "batch_size": 16, "seed": 0, "threads": 1, "rows": rows,
                          "table": table})
    print(table)


if __name__ == "__main__":
    main()
