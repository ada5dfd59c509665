"""Exact mode coverage of the default point GAN on ring8 and grid25, over seeds, with wall time.

    python benchmarks/toy_mixtures.py --seeds 0 1 2

Writes benchmarks/results/toy_mixtures.json.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile

import torch

from harness import Stopwatch, write_results

from gantransfer import EvalConfig, TrainConfig, evaluate, train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--ring-steps", type=int, default=600)
    ap.add_argument("--grid-steps", type=int, default=3000)
    ap.add_argument("--out", default="benchmarks/results/toy_mixtures.json")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for data, steps in (("ring8", args.ring_steps), ("grid25", args.grid_steps)):
            for seed in args.seeds:
                watch = Stopwatch()
                run = train(TrainConfig(data=data, steps=steps, seed=seed, progress=False,
                                        out=f"{tmp}/{data}-{seed}", sample_every=steps, checkpoint_every=steps))
                seconds = watch.elapsed()
                res = evaluate(EvalConfig(generator=str(run), n=10000, device="cpu"))
                m = {k.split("/")[0]: v for k, v in res["metrics"].items()}
                rows.append({"data": data, "steps": steps, "seed": seed, "train_seconds": round(seconds, 1), **m})
                print(rows[-1], flush=True)
    summary = {}
    for data in ("ring8", "grid25"):
        sel = [r for r in rows if r["data"] == data]
        summary[data] = {k: {"mean": statistics.mean(r[k] for r in sel), "min": min(r[k] for r in sel),
                             "max": max(r[k] for r in sel)} for k in ("modes_covered", "hq_share", "train_seconds")}
    write_results(args.out, {"command": "python benchmarks/toy_mixtures.py --seeds " + " ".join(map(str, args.seeds)),
                          "torch_threads": torch.get_num_threads(), "rows": rows, "summary": summary})


if __name__ == "__main__":
    main()
