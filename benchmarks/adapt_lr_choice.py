"""Which learning rate should `gantransfer adapt` default to? Reads the sweeps of benchmarks/adapt_sweep.py.

    python benchmarks/adapt_lr_choice.py

For every sweep cell (target x N) and method, each rate's mean held-out FID is divided by the best rate's; the
ratios are averaged over cells (and the worst cell kept), for the transfer methods (finetune, freezed, l2sp) and
for scratch. The test split plays no part. Writes --results and prints a markdown table.
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from harness import markdown_table, write_results

SWEEPS = ["adapt_sweep_n10", "adapt_sweep_mnist_n10", "adapt_sweep", "adapt_sweep_mnist", "adapt_sweep_n1000"]
TRANSFER = ("finetune", "freezed", "l2sp")


def ratios_to_best(sweeps: list[dict], key: str = "held_out_fid_mean") -> dict[tuple[str, float], list[float]]:
    """(method, lr) -> per sweep, that setting's ``key`` over the best rate's for the same method."""
    out: dict[tuple[str, float], list[float]] = {}
    for d in sweeps:
        for method in {s["method"] for s in d["settings"]}:
            mine = [s for s in d["settings"] if s["method"] == method]
            best = min(s[key] for s in mine)
            for s in mine:
                out.setdefault((method, s["lr"]), []).append(s[key] / best)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sweeps", nargs="+", default=SWEEPS, help="result files under benchmarks/results (no .json)")
    ap.add_argument("--results", default="benchmarks/results/adapt_lr_choice.json")
    args = ap.parse_args()
    sweeps = [json.loads(Path(f"benchmarks/results/{name}.json").read_text()) for name in args.sweeps]
    ratios = ratios_to_best(sweeps)
    rows = []
    for lr in sorted({lr for _, lr in ratios}):
        transfer = [v for m in TRANSFER for v in ratios.get((m, lr), [])]
        rows.append({"lr": lr, "transfer_mean_ratio": statistics.mean(transfer), "transfer_worst_ratio": max(transfer),
                     "per_method_mean_ratio": {m: statistics.mean(ratios[(m, lr)]) for m in TRANSFER
                                               if (m, lr) in ratios},
                     "scratch_mean_ratio": statistics.mean(ratios[("scratch", lr)]) if ("scratch", lr) in ratios
                     else None})
    cells = [f"{d['target']} N={d['n']} ({len(d['settings'][0]['seeds'])} seeds)" for d in sweeps]
    result = {"command": "python benchmarks/adapt_lr_choice.py", "sweeps": args.sweeps, "cells": cells,
              "criterion": "mean held-out FID over the best rate's, per cell and method", "rows": rows}
    write_results(args.results, result)
    print(markdown_table(["lr", "transfer methods: mean ratio", "worst cell", *TRANSFER, "scratch"],
                         [[f"{r['lr']:g}", f"{r['transfer_mean_ratio']:.3f}", f"{r['transfer_worst_ratio']:.2f}",
                           *(f"{r['per_method_mean_ratio'][m]:.3f}" for m in TRANSFER),
                           f"{r['scratch_mean_ratio']:.3f}"] for r in rows]))


if __name__ == "__main__":
    main()
