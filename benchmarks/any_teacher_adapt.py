"""Adaptation on a domain gantransfer ships nothing for: from the fixture's colour-garment teacher
(``any_teacher.py``) to colourised MNIST digits (64x64 RGB, an image folder), N training images, judged by
``eval.json``'s ``data_relative`` block (the adapted generator and the unadapted source against the folder's test
split, in a space learned from those images alone; no pretrained network, none used by a loss).

    python benchmarks/any_teacher_adapt.py --source runs/any-teacher/teacher --out benchmarks/results/any_teacher_adapt.json

Each run is one process with one torch thread, ``--jobs`` at a time (``harness.run_all``).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from any_teacher_fixture import colourise  # noqa: E402
from harness import log_beside, run_all, train_seconds, write_results  # noqa: E402


def write_digits(out: Path, n: int, seed: int = 1) -> Path:
    """``n`` colourised MNIST digits (the 5k subset's training split) as 64x64 RGB PNGs in ``out``."""
    from PIL import Image
    from gantransfer.data.registry import load_dataset
    data = load_dataset("mnist-5k", "train", limit=n, seed=seed, resolution=32)
    out.mkdir(parents=True, exist_ok=True)
    for i, im in enumerate(colourise(data.x, seed)):
        Image.fromarray(im.permute(1, 2, 0).numpy()).save(out / f"{i:05d}.png")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--work", default="runs/any-teacher/adapt")
    p.add_argument("--images", type=int, default=3600, help="folder size (1/6 is its test split)")
    p.add_argument("--n", type=int, default=100, help="training images (--limit)")
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--eval-n", type=int, default=500)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--methods", nargs="+", default=["finetune", "scratch"])
    p.add_argument("--jobs", type=int, default=2)
    args = p.parse_args()
    work = Path(args.work)
    folder = work / "digits"
    if not folder.is_dir():
        write_digits(folder, args.images)
    jobs, runs = [], {}
    for method in args.methods:
        run = work / method
        cmd = [sys.executable, "-m", "gantransfer", "adapt", "--source", args.source, "--data", str(folder),
               "--limit", str(args.n), "--method", method, "--batch-size", str(args.batch_size), "--steps", str(args.steps), "--diffaugment",
               "color,translation,cutout", "--eval-n", str(args.eval_n), "--no-progress", "--out", str(run)]
        jobs.append((method, cmd, run / "eval.json", log_beside(run)))
        runs[method] = (run, cmd)
    run_all(jobs, args.jobs)
    result = {"source": args.source, "target": f"{folder} ({args.images} colourised MNIST digits, 64x64 RGB)",
              "train_images": args.n, "steps": args.steps, "eval_n": args.eval_n, "threads": 1, "runs": {}}
    for method, (run, cmd) in runs.items():
        ev = json.loads((run / "eval.json").read_text())
        result["runs"][method] = {"command": " ".join(cmd[2:]), "train_seconds": train_seconds(run),
                                  "data_relative": ev["data_relative"], "memorisation": ev.get("memorisation")}
        fig = ev["data_relative"]
        print(method, {k: (fig[k]["fd"], fig[k]["kid"], fig[k]["two_sample"]["accuracy"])
                       for k in ("adapted", "source")}, flush=True)
    write_results(args.out, result)


if __name__ == "__main__":
    main()
