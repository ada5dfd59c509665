"""How close is gantransfer.budget's memory estimate (built on the meta device) to the measured peak?

    python benchmarks/memory_estimate.py --out benchmarks/results/memory_estimate.json

For each generator config and batch: the estimate (parameters + buffers + activations of one inference call), and
the measured growth of the process's peak resident memory (VmHWM) when the same model is built and called once at
that batch in a fresh process, after torch is imported and warmed up.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = r'''
import json, sys
import torch
torch.set_num_threads(1)
from gantransfer.models.registry import GeneratorConfig, build_generator
from gantransfer.budget import estimate_model
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
cfg = GeneratorConfig.from_dict(json.loads(sys.argv[1]))
batch = int(sys.argv[2])
# warm up torch's allocator and kernels on a tiny model of the same family
small = build_generator(GeneratorConfig.from_dict({**json.loads(sys.argv[1]), "latent_dim": 4}))
with torch.no_grad():
    small(torch.zeros(2, 4), torch.zeros(2, dtype=torch.long) if cfg.num_classes else None)
params, acts = estimate_model(cfg.family.build_generator, cfg, batch)
before = hwm()
g = build_generator(cfg).eval()
with torch.no_grad():
    g(torch.zeros(batch, cfg.latent_dim), torch.zeros(batch, dtype=torch.long) if cfg.num_classes else None)
print(json.dumps({"estimate": params + acts, "params": params, "activations": acts, "measured": hwm() - before}))
'''

CASES = [
    ("dcgan 32px w1", {"arch": "dcgan", "latent_dim": 100, "resolution": 32, "channels": 1, "width": 1.0}, 64),
    ("dcgan 32px w1", {"arch": "dcgan", "latent_dim": 100, "resolution": 32, "channels": 1, "width": 1.0}, 1024),
    ("dcgan 64px w2 rgb", {"arch": "dcgan", "latent_dim": 128, "resolution": 64, "channels": 3, "width": 2.0}, 256),
    ("dcgan 32px cond", {"arch": "dcgan", "latent_dim": 100, "resolution": 32, "channels": 1, "width": 1.0,
                         "num_classes": 10}, 512),
    ("mlp points", {"arch": "mlp", "latent_dim": 64, "resolution": 0, "channels": 2, "width": 1.0}, 65536),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    rows = []
    for name, cfg, batch in CASES:
        done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(cfg), str(batch)], capture_output=True,
                              text=True, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin",
                                              "PYTHONPATH": str(REPO / "src")})
        if done.returncode:
            rows.append({"case": name, "batch": batch, "error": done.stderr.strip().splitlines()[-1]})
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        r.update(case=name, batch=batch, ratio=round(r["estimate"] / max(r["measured"], 1), 3))
        rows.append(r)
        print(f"{name:<22} batch {batch:>6}: estimate {r['estimate'] / 2**20:8.1f} MiB, measured peak growth "
              f"{r['measured'] / 2**20:8.1f} MiB (x{r['ratio']})")
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
