"""The StyleGAN2 teacher of the StyleGAN2 rows: trained on Fashion-MNIST (32 px) within a wall-clock budget on one
CPU thread, its FID curve under both protocols (the run's own ``--eval-every`` evaluations), its final figures on
10,000 samples (``gantransfer eval``), and a plot of the curve.

    OMP_NUM_THREADS=1 gantransfer train --data fashion-mnist --arch stylegan2 --width 0.5 --d-width 0.0625 \
        --arch-options '{"channel_base": 2048, "channel_max": 64, "w_dim": 64, "mapping_layers": 4}' --r1 0.1 \
        --lr 0.002 --betas 0,0.99 --batch-size 32 --steps 20000 --max-seconds 5400 --checkpoint-every 500 \
        --sample-every 1000 --log-every 50 --eval-every 1000 --eval-n 2000 --seed 0 --device cpu --no-progress \
        --on-nan rollback --out runs/sg2-teacher-90m
    python benchmarks/stylegan2_teacher.py --run runs/sg2-teacher-90m \
        --results benchmarks/results/teacher-fashion-mnist-stylegan2-90m.json --plot docs/stylegan2-teacher-curve.png

Since session 18 a fresh discriminator takes its generator's channel cap (64 here); the teacher was trained with
the earlier default of 512, which ``--d-arch-options '{"channel_max": 512}'`` added to the command rebuilds.

The run itself stays out of the package (``runs/`` is not shipped); its command is in its run.json and here.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness import write_results


def curve(run: Path) -> dict[str, list[tuple[int, float]]]:
    """Per protocol, (step, FID) of the run's periodic evaluations (``eval/fid/<protocol>/<n>`` in its log)."""
    got: dict[str, list[tuple[int, float]]] = {}
    for line in (run / "logs" / "metrics.jsonl").read_text().splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        for key, value in rec.items():
            if key.startswith("eval/fid/"):
                got.setdefault(key.split("/")[2], []).append((int(rec["step"]), float(value)))
    return got


def sec_per_step(run: Path) -> list[float]:
    """The run's logged seconds per step."""
    out = []
    for line in (run / "logs" / "metrics.jsonl").read_text().splitlines():
        rec = json.loads(line) if line.strip() else {}
        if "time/sec_per_step" in rec:
            out.append(float(rec["time/sec_per_step"]))
    return out


def plot(points: dict[str, list[tuple[int, float]]], path: Path) -> None:
    """The FID curve, one line per protocol, log scale."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for protocol, pts in sorted(points.items()):
        ax.plot([s for s, _ in pts], [f for _, f in pts], marker="o", label=protocol)
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("FID (2,000 samples)")
    ax.set_title("StyleGAN2 teacher, Fashion-MNIST 32 px, one CPU thread")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="the teacher's run directory")
    ap.add_argument("--n", type=int, default=10000, help="samples of the final evaluation")
    ap.add_argument("--results", default="benchmarks/results/teacher-fashion-mnist-stylegan2-90m.json")
    ap.add_argument("--plot", default="docs/stylegan2-teacher-curve.png")
    args = ap.parse_args()
    run = Path(args.run)
    info = json.loads((run / "run.json").read_text())
    eval_cmd = [sys.executable, "-m", "gantransfer.cli", "eval", str(run), "--n", str(args.n), "--json"]
    done = subprocess.run(eval_cmd, check=True, capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")})
    final: dict[str, Any] = json.loads(done.stdout)
    points = curve(run)
    plot(points, Path(args.plot))
    times = sec_per_step(run)
    steps = max((s for pts in points.values() for s, _ in pts), default=0)
    write_results(args.results, {
        "command": "python " + " ".join(sys.argv), "training_command": info.get("command"),
        "eval_command": "gantransfer eval " + " ".join(eval_cmd[4:]), "fid_curve_n": 2000,
        "fid_curve": {p: [{"step": s, "fid": f} for s, f in pts] for p, pts in points.items()},
        "last_evaluated_step": steps, "sec_per_step_median": sorted(times)[len(times) // 2] if times else None,
        "threads": 1, "final": final, "plot": args.plot})
    for protocol, pts in sorted(points.items()):
        print(protocol, " ".join(f"{s}:{f:.2f}" for s, f in pts))


if __name__ == "__main__":
    main()
