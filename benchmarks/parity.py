"""Before/after parity of a code change: the shipped generators' `gantransfer eval` figures at 10k samples and the
tensors of short fixed-seed runs of every task, as SHA-256 digests (bit identity), written to one JSON file.

    python benchmarks/parity.py --runs /tmp/parity-after --out benchmarks/results/parity_after.json
    python benchmarks/parity.py --compare benchmarks/results/parity_before.json benchmarks/results/parity_after.json
    PYTHONPATH=OLD/src python -m gantransfer.cli demo --steps 20 --n 500 --device cpu --out /tmp/demo-old
    python -m gantransfer demo --steps 20 --n 500 --device cpu --out /tmp/demo-new
    python benchmarks/parity.py --compare-demos /tmp/demo-old /tmp/demo-new --out benchmarks/results/parity_demo.json

Run it once on the old code (PYTHONPATH pointing at its src/) and once on the new; --compare lists every
difference. CPU, one thread, so that results are reproducible.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from harness import write_results

SHIPPED = ["teachers/fashion-mnist-dcgan", "teachers/fashion-mnist-dcgan-cond", "students/fashion-mnist-dcgan-w0.2",
           "students/fashion-mnist-dcgan-w0.125"]
RUN_ARGS = ["--device", "cpu", "--no-progress", "--seed", "0"]


def runs(base: Path, assets: Path) -> dict[str, list[str]]:
    """Short fixed-seed runs of every training task (name: CLI arguments)."""
    teacher, cond = str(assets / SHIPPED[0]), str(assets / SHIPPED[1])
    return {
        "train_ring8": ["train", "--data", "ring8", "--steps", "60", "--out", str(base / "train_ring8")],
        "train_fmnist": ["train", "--data", "fashion-mnist", "--classes", "0,1", "--steps", "12",
                         "--checkpoint-every", "6", "--out", str(base / "train_fmnist")],
        "distill_all": ["distill", "--teacher", teacher, "--width", "0.25", "--steps", "12", "--eval-n", "200",
                        "--loss", "pixel=1,perceptual=1,adversarial=0.1,feature=1", "--bank-size", "256",
                        "--out", str(base / "distill_all")],
        "distill_cond": ["distill", "--teacher", cond, "--width", "0.25", "--steps", "10", "--eval-n", "200",
                         "--truncation", "1.5", "--out", str(base / "distill_cond")],
        "fuse": ["fuse", "--teacher", teacher, "--teacher", cond, "--steps", "10", "--eval-n", "200",
                 "--loss", "pixel=1,adversarial=0.1", "--out", str(base / "fuse")],
        "fuse_merge_uncond": ["fuse", "--teacher", teacher, "--teacher", cond, "--unconditional",
                              "--weights", "0.7,0.3", "--steps", "8", "--eval-n", "0", "--out",
                              str(base / "fuse_uncond")],
        "adapt_l2sp": ["adapt", "--source", teacher, "--data", "fashion-mnist", "--classes", "5,7,9", "--limit", "40",
                       "--method", "l2sp", "--diffaugment", "color,translation,cutout", "--steps", "10",
                       "--eval-every", "5", "--eval-n", "200", "--out", str(base / "adapt_l2sp")],
        "adapt_minegan": ["adapt", "--source", teacher, "--source", teacher, "--data", "fashion-mnist",
                          "--classes", "5", "--limit", "30", "--method", "minegan", "--steps", "8",
                          "--eval-every", "0", "--eval-n", "200", "--out", str(base / "adapt_minegan")],
        "baseline": ["baseline", "--teacher", teacher, "--teacher", cond, "--n", "256", "--steps", "8",
                     "--out", str(base / "baseline")],
    }


def tensor_digest(path: Path) -> str:
    """SHA-256 over a safetensors file's tensors (names, dtypes, shapes, bytes), not its metadata header."""
    from safetensors.torch import load_file
    h = hashlib.sha256()
    for k, v in sorted(load_file(str(path)).items()):
        h.update(f"{k}|{v.dtype}|{tuple(v.shape)}".encode())
        h.update(v.contiguous().view(-1).view(__import__("torch").uint8).numpy().tobytes())
    return h.hexdigest()


def digests(run: Path) -> dict[str, str]:
    return {str(p.relative_to(run)): tensor_digest(p) for p in sorted(run.rglob("*.safetensors"))
            if "eval-cache" not in p.parts}


def numbers(obj, prefix: str = "") -> dict[str, float]:
    """Every number in a JSON tree, by dotted path (timings left out)."""
    out: dict[str, float] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k not in ("seconds",) and "time" not in k and "latency" not in k and "throughput" not in k:
                out.update(numbers(v, f"{prefix}{k}."))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.update(numbers(v, f"{prefix}{i}."))
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        out[prefix.rstrip(".")] = obj
    return out


def measure(base: Path, exe: list[str]) -> dict:
    import gantransfer
    assets = Path(gantransfer.__file__).parent / "assets"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result: dict = {"eval": {}, "runs": {}}
    for name in SHIPPED:
        out = subprocess.run(exe + ["eval", str(assets / name), "--n", "10000", "--device", "cpu", "--json"],
                             capture_output=True, text=True, env=env, check=True).stdout
        result["eval"][name] = {k: v for k, v in json.loads(out)["metrics"].items()}
    for name, args in runs(base, assets).items():
        proc = subprocess.run(exe + args + RUN_ARGS, capture_output=True, text=True, env=env)
        if proc.returncode:
            raise SystemExit(f"{name} failed:\n{proc.stderr[-3000:]}")
        run = base / args[args.index("--out") + 1]
        entry = {"tensors": digests(run)}
        if (run / "eval.json").is_file():
            entry["eval"] = numbers(json.loads((run / "eval.json").read_text()))
        result["runs"][name] = entry
        print(f"[parity] {name}: {len(entry['tensors'])} tensor files", flush=True)
    return result


REL_TOL = 1e-9  # evaluation figures: streaming float64 sums against two-pass statistics differ at ~1e-13


def _close(a, b) -> bool:
    return a == b or (isinstance(a, (int, float)) and isinstance(b, (int, float))
                      and abs(a - b) <= REL_TOL * max(abs(a), abs(b)))


def compare(a: dict, b: dict) -> list[str]:
    """Every tensor file must match bit for bit, every figure within REL_TOL."""
    diffs = []
    for name, m in a["eval"].items():
        for k, v in m.items():
            if not _close(b["eval"].get(name, {}).get(k), v):
                diffs.append(f"eval {name} {k}: {v} -> {b['eval'].get(name, {}).get(k)}")
    for name, r in a["runs"].items():
        rb = b["runs"].get(name, {})
        for k, v in r["tensors"].items():
            if rb.get("tensors", {}).get(k) != v:
                diffs.append(f"run {name} tensors {k} differ")
        for k, v in r.get("eval", {}).items():
            if not _close(rb.get("eval", {}).get(k), v):
                diffs.append(f"run {name} eval {k}: {v} -> {rb.get('eval', {}).get(k)}")
    return diffs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", default="runs/parity", help="where the short runs go (must not exist)")
    ap.add_argument("--out", help="results JSON to write")
    ap.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    ap.add_argument("--compare-demos", nargs=2, metavar=("BEFORE_DIR", "AFTER_DIR"),
                    help="compare the metrics.json of two `gantransfer demo` runs (timings and costs left out)")
    args = ap.parse_args()
    if args.compare_demos:
        a, b = (numbers(json.loads((Path(d) / "metrics.json").read_text())) for d in args.compare_demos)
        keys = [k for k in a if not k.startswith(("distillation.bench", "distillation.seconds"))]
        diffs = [f"{k}: {a[k]} -> {b.get(k)}" for k in keys if not _close(a[k], b.get(k))]
        result = {"demos": args.compare_demos, "figures": len(keys), "exact": sum(a[k] == b.get(k) for k in keys),
                  "within_rel_tol": len(keys) - len(diffs), "differences": diffs}
        print(json.dumps(result, indent=1))
        if args.out:
            write_results(args.out, result, indent=1)
        sys.exit(1 if diffs else 0)
    if args.compare:
        a, b = (json.loads(Path(p).read_text()) for p in args.compare)
        diffs = compare(a, b)
        exact = sum(v == b["eval"].get(n, {}).get(k) for n, m in a["eval"].items() for k, v in m.items())
        total = sum(len(m) for m in a["eval"].values())
        print("\n".join(diffs) or f"identical: {len(a['runs'])} runs, {sum(len(r['tensors']) for r in a['runs'].values())} "
              f"tensor files bit for bit; {total} figures of {len(a['eval'])} evaluations within {REL_TOL:g} "
              f"relative ({exact} exactly)")
        sys.exit(1 if diffs else 0)
    base = Path(args.runs)
    if base.exists():
        raise SystemExit(f"{base} exists; choose a new --runs directory")
    result = measure(base, [sys.executable, "-m", "gantransfer.cli"])
    text = json.dumps(result, indent=1)
    if args.out:
        Path(args.out).write_text(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
