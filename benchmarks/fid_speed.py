"""Time the part of FID / KID / PRDC evaluation that does not depend on the generator, on CPU.

For each feature dimension D: float64 Gaussian statistics of N x D features (one pass and streamed with
RunningStats), the Frechet distance between two such Gaussians, KID (100 subsets of 1000, the defaults) and
PRDC (k=5) between two N x D sets. Prints one line per figure and writes JSON.

    python benchmarks/fid_speed.py                       # N=10000, D=128 and 2048
    python benchmarks/fid_speed.py --n 2000 --dim 64 --out /tmp/fid_speed.json
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
from pathlib import Path
from typing import Any

import torch

from harness import timed, write_results

from gantransfer.metrics.fid import RunningStats, frechet_distance, gaussian_stats
from gantransfer.metrics.kid import kernel_inception_distance
from gantransfer.metrics.prdc import prdc

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "fid_speed_metrics.json"


def bench_dim(n: int, dim: int, repeats: int, skip_kid: bool, skip_prdc: bool) -> dict[str, Any]:
    """All timings for one feature dimension."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, dim, generator=g)
    b = torch.randn(n, dim, generator=g) + 0.05
    row: dict[str, Any] = {"n": n, "dim": dim}

    (mu1, s1), row["gaussian_stats_s"] = timed(lambda: gaussian_stats(a), repeats, reduce="best")
    mu2, s2 = gaussian_stats(b)

    def streamed() -> tuple[torch.Tensor, torch.Tensor]:
        rs = RunningStats(dim)
        for batch in a.split(500):
            rs.update(batch)
        return rs.stats()

    _, row["running_stats_500_per_batch_s"] = timed(streamed, repeats, reduce="best")
    row["fid"], row["frechet_distance_s"] = timed(lambda: frechet_distance(mu1, s1, mu2, s2), repeats, reduce="best")
    row["fid_total_s"] = 2 * row["gaussian_stats_s"] + row["frechet_distance_s"]
    if not skip_kid:
        (row["kid_mean"], row["kid_std"]), row["kid_100x1000_s"] = timed(lambda: kernel_inception_distance(a, b), 1, reduce="best")
    if not skip_prdc:
        row["prdc"], row["prdc_k5_s"] = timed(lambda: prdc(a, b, k=5), 1, reduce="best")
    return row


def report(row: dict[str, Any]) -> None:
    """Print one result row."""
    print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items() if k != "prdc"),
          flush=True)
    if "prdc" in row:
        print("  prdc " + " ".join(f"{k}={v:.4f}" for k, v in row["prdc"].items()), flush=True)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10_000, help="samples per side (default 10000)")
    p.add_argument("--dim", type=int, nargs="+", default=[128, 2048], help="feature dimensions (default 128 2048)")
    p.add_argument("--repeats", type=int, default=3, help="best-of repeats for the cheap stages (default 3)")
    p.add_argument("--threads", type=int, nargs="+", default=None,
                   help="torch intra-op thread counts to time, e.g. 1 2 (default: torch's choice)")
    p.add_argument("--skip-kid", action="store_true", help="do not time KID")
    p.add_argument("--skip-prdc", action="store_true", help="do not time PRDC")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON output (default {DEFAULT_OUT})")
    args = p.parse_args(argv)
    if args.n < 6 or min(args.dim) < 1 or args.repeats < 1 or (args.threads and min(args.threads) < 1):
        p.error("--n must be >= 6, --dim, --repeats and --threads >= 1")
    default_threads = torch.get_num_threads()

    result: dict[str, Any] = {
        "benchmark": "fid_speed", "device": "cpu", "torch": torch.__version__,
        "torch_default_threads": default_threads, "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(), "platform": platform.platform(),
        "python": platform.python_version(), "load_avg_1min_at_start": os.getloadavg()[0],
        "notes": "wall seconds, best of --repeats for stats/Frechet, single run for KID/PRDC; float64 throughout; the 2 cores are "
                 "shared with other jobs (see load_avg), so 2-thread figures are noisy; fid_total_s = stats of both sides + Frechet distance",
        "results": [],
    }
    for threads in args.threads or [default_threads]:
        torch.set_num_threads(threads)
        for dim in args.dim:
            row = {"threads": threads, **bench_dim(args.n, dim, args.repeats, args.skip_kid, args.skip_prdc)}
            result["results"].append(row)
            report(row)
    result["max_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_results(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
