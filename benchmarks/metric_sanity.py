"""Figures of the metric sanity battery (``gantransfer.metrics.sanity.battery``) for every shipped protocol whose
data set is available, at the sizes the tests use and larger.

    python benchmarks/metric_sanity.py --out benchmarks/results/metric_sanity.json
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from harness import Stopwatch, write_results

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from gantransfer.errors import DataError  # noqa: E402
from gantransfer.metrics.reference_stats import shipped_protocols  # noqa: E402
from gantransfer.metrics.sanity import battery  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1000:500,2000:1000", help="reference:samples pairs (default: the tests' "
                   "1000:500 and 2000:1000)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default="benchmarks/results/metric_sanity.json")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    result = {"command": " ".join(["python", *sys.argv]), "runs": []}
    for pair in args.sizes.split(","):
        n_ref, m = (int(v) for v in pair.split(":"))
        for name, d in shipped_protocols().items():
            watch = Stopwatch()
            try:
                fig = battery(d, max_reference=n_ref, max_samples=m)
            except DataError as e:
                result["runs"].append({"protocol": name, "skipped": str(e)})
                continue
            fig["seconds"] = round(watch.elapsed(), 1)
            fig["max_reference"], fig["max_samples"] = n_ref, m
            result["runs"].append(fig)
            print(f"{name} {n_ref}:{m}: {fig['seconds']} s", flush=True)
    write_results(args.out, result, indent=1)


if __name__ == "__main__":
    main()
