"""Adapting a translator to a new paired task from a few examples, against training one from scratch on them.

Source: ``--source`` (a translator), or the items -> edges teacher of ``translator_fusion.py`` (``translator_tasks.py``;
trained here when absent). Target task: Fashion-MNIST items -> emboss (a relief: ``translator_tasks.emboss``) on
items the source never saw (600 from index 10,000: the fixed split puts 100 in test, 500 in training). The few:
``--limit`` (8) training pairs, the same for every run (a seeded subset that does not depend on the run's seed);
100 other training pairs pick the best step (held-out L1, every 50 steps); the 100 test pairs are used only at the
end. Methods: ``freezed`` (fine-tune, the first 2 PatchGAN blocks frozen), ``finetune`` and ``scratch`` (the
source's architecture, fresh weights), the same steps, batch and seeds. Figures are eval.json's: PSNR/SSIM/L1 of the
kept translator against the test targets, and the FD against them in a space learned from those targets alone.

    python benchmarks/translator_adapt.py --out benchmarks/results/translator_adapt.json
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
from translator_tasks import teacher_record, train_teacher, write_pairs

METHODS = ("freezed", "finetune", "scratch")


def adapt(source: str, data: Path, method: str, limit: int, steps: int, seed: int, out: Path) -> dict:
    """One adapt run through the command line; its eval.json figures and CPU seconds."""
    from gantransfer.cli import main
    argv = ["adapt", "--teacher", source, "--data", str(data), "--method", method, "--limit", str(limit),
            "--held-out", "100", "--eval-n", "100", "--steps", str(steps), "--eval-every", "50", "--batch-size", "8",
            "--seed", str(seed), "--log-every", "50", "--checkpoint-every", str(steps), "--no-progress",
            "--out", str(out)]
    with Stopwatch("cpu") as sw:
        code = main(argv)
    if code:
        raise SystemExit(f"{' '.join(argv)} failed ({code})")
    ev = json.loads((out / "eval.json").read_text())
    test = ev["test"]
    row = {"method": method, "seed": seed, "cpu_seconds": round(sw.seconds, 1), "best_step": ev["best_step"],
           "train_pairs": ev["train_pairs"], "test_pairs": ev["test_pairs"]}
    for who in ("adapted", "source"):
        row[who] = {**test[who]["fidelity"], "fd": test[who].get("against_target", {}).get("fd")}
    return row


def mean_sd(values: list[float]) -> str:
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}" if len(values) > 1 \
        else f"{values[0]:.2f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", default=None, help="a translator (default: the edges teacher, trained if absent)")
    p.add_argument("--teachers-work", default="build/bench/translator_fusion", help="where the edges teacher is")
    p.add_argument("--work", default="build/bench/translator_adapt")
    p.add_argument("--out", default="benchmarks/results/translator_adapt.json")
    p.add_argument("--limit", type=int, default=8)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--seeds", default="0,1,2")
    a = p.parse_args()
    torch.set_num_threads(1)
    work = Path(a.work)
    os.environ["GANTRANSFER_CACHE"] = str(work / "cache")  # one space learned from the test targets, shared
    source = a.source or str(train_teacher(Path(a.teachers_work), "edges", 800))
    data = write_pairs(work / "pairs-emboss", "emboss", 600, offset=10_000)
    seeds = [int(s) for s in a.seeds.split(",")]
    rows = []
    for seed in seeds:
        for method in METHODS:
            rows.append(adapt(source, data, method, a.limit, a.steps, seed, work / f"{method}-s{seed}"))
            print(json.dumps(rows[-1]), file=sys.stderr)
    table_rows = []
    for method in METHODS:
        mine = [r for r in rows if r["method"] == method]
        table_rows.append([method, mean_sd([r["adapted"]["psnr"] for r in mine]),
                           mean_sd([r["adapted"]["ssim"] for r in mine]), mean_sd([r["adapted"]["l1"] for r in mine]),
                           mean_sd([r["adapted"]["fd"] for r in mine]),
                           ", ".join(str(r["best_step"]) for r in mine)])
    src = rows[0]["source"]
    table_rows.append(["source, unadapted", f"{src['psnr']:.2f}", f"{src['ssim']:.2f}", f"{src['l1']:.2f}",
                       f"{src['fd']:.2f}", "-"])
    table = markdown_table(["translator", "PSNR dB", "SSIM", "L1", "FD to target", "kept step per seed"], table_rows)
    write_results(a.out, {
        "source": {**teacher_record(Path(source)),
                   "made": "given with --source" if a.source else
                   ("trained here: Fashion-MNIST items -> edges (benchmarks/translator_tasks.py), resnet ngf 16, 3 "
                    "blocks, 32 x 32 grey, adapt --method scratch on 2000 pairs, 800 steps, seed 0")},
        "target_task": "Fashion-MNIST items -> emboss, items 10000..10599: fixed split 500 train / 100 test",
        "few_pairs": a.limit, "held_out_pairs": 100, "test_pairs": 100, "steps": a.steps, "batch_size": 8,
        "eval_every": 50, "lr": 5e-4, "lambda_l1": 100, "seeds": seeds, "threads": 1,
        "machine": "shared (2 cores, other jobs running)", "rows": rows, "table": table})
    print(table)


if __name__ == "__main__":
    main()
