"""Cost of Inception-v3 FID features on this CPU: images/s at 299 px per batch size, against the machine's sgemm
peak measured in the same run (interleaved rounds), and the achieved FLOP/s of the forward as a share of it.

    python benchmarks/inception_speed.py --threads 2 --out benchmarks/results/inception_speed.json

Weights: random values in the 2015-12-05 layout (the cost does not depend on the values; no weights file is
shipped or downloaded). Inputs: uint8 28 x 28 gray images (what the Fashion-MNIST generators' images become), so
the TF1 resize to 299 and the gray -> RGB replication are included, as in ``eval --inception``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from harness import Stopwatch, write_results

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from gantransfer.metrics.inception import INPUT_SIZE, InceptionV3  # noqa: E402


def random_inception(seed: int = 0) -> InceptionV3:
    g = torch.Generator().manual_seed(seed)
    model = InceptionV3()
    with torch.no_grad():
        for k, v in model.state_dict().items():
            if v.dim() == 4:
                v.copy_(torch.randn(v.shape, generator=g) * (2.0 / v[0].numel()) ** 0.5)
            elif k.endswith(("running_var", "bn.weight")):
                v.copy_(0.8 + 0.4 * torch.rand(v.shape, generator=g))
    return model.eval().requires_grad_(False)


def forward_flops(model: InceptionV3) -> int:
    """FLOPs (2 x multiply-adds of convolutions and matmuls, as torch's FlopCounterMode counts) of one image."""
    x = torch.zeros(1, 1, 28, 28, dtype=torch.uint8)
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        model(x)
    return int(counter.get_total_flops())


def sgemm_gflops(n: int = 2048, calls: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    watch = Stopwatch()
    for _ in range(calls):
        torch.mm(a, b)
    return 2 * n ** 3 * calls / watch.elapsed() / 1e9


def images_per_second(model: InceptionV3, batch: int, calls: int) -> float:
    x = torch.randint(0, 256, (batch, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        model(x[:1])
        watch = Stopwatch()
        for _ in range(calls):
            model(x)
    return batch * calls / watch.elapsed()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batches", default="1,16,64")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out", default="benchmarks/results/inception_speed.json")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    batches = [int(b) for b in args.batches.split(",")]
    calls = {b: max(1, 8 // b) for b in batches}
    model = random_inception()
    flops = forward_flops(model)
    load_before = os.getloadavg()
    peaks, speeds = [], {b: [] for b in batches}
    for r in range(args.rounds):  # interleaved, so that contention hits both alike
        peaks.append(sgemm_gflops())
        for b in batches:
            speeds[b].append(images_per_second(model, b, calls[b]))
            print(f"round {r}: batch {b}: {speeds[b][-1]:.2f} images/s (sgemm {peaks[-1]:.1f} GFLOP/s)", flush=True)
    peaks.append(sgemm_gflops())
    peak = max(peaks)
    rows = []
    for b in batches:
        best = max(speeds[b])
        rows.append({"batch": b, "images_per_s_best": round(best, 3),
                     "images_per_s_median": round(statistics.median(speeds[b]), 3),
                     "gflops_achieved_best": round(best * flops / 1e9, 2),
                     "share_of_sgemm_peak": round(best * flops / 1e9 / peak, 3),
                     "seconds_per_10k_images": round(10000 / best, 1)})
    result = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "threads": args.threads, "input": "uint8 (B, 1, 28, 28), TF1 resize to 299 included",
        "forward_gflop_per_image": round(flops / 1e9, 3), "input_size": INPUT_SIZE,
        "sgemm_peak_gflops": round(peak, 2), "sgemm_rounds_gflops": [round(v, 2) for v in peaks],
        "rows": rows,
        "machine": {"cpu": _cpu(), "cores": os.cpu_count(), "torch": torch.__version__,
                    "python": platform.python_version(),
                    "load_average_before": [round(v, 2) for v in load_before],
                    "load_average_after": [round(v, 2) for v in os.getloadavg()],
                    "shared": "the machine ran other jobs during the measurement (see the load averages)"},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_results(args.out, result)
    print(json.dumps(result, indent=2))


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


if __name__ == "__main__":
    main()
