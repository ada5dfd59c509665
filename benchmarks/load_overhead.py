"""Does checking every file slow down loading valid ones? Load times of every shipped asset and fixture kind, this
tree against a base commit, in alternating fresh processes (issue 28: at most 5% slower).

    python benchmarks/load_overhead.py --base 33987cb --rounds 5 --out benchmarks/results/load_overhead.json

The base commit's ``src`` is extracted with ``git archive`` into a temporary folder; each round runs one process
per tree (the order alternates), each timing every item ``--repeats`` times after a warm-up; the fastest call of all rounds is kept (the
least disturbed by other processes on a shared machine).
Items: the generator directories (teachers, students), the classifier/judge/perceptual networks, an ONNX export
opened by onnxruntime, an npz of reference statistics, a run folder read for a report, a rosinality StyleGAN2 file.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = r'''
import json, statistics, sys, time, warnings
warnings.simplefilter("ignore")
import torch
torch.set_num_threads(1)
fixtures, repeats = sys.argv[1], int(sys.argv[2])
from pathlib import Path
F = Path(fixtures)
A = Path(sys.argv[3])
from gantransfer.models.store import load_generator
from gantransfer.metrics.classifier import load_classifier
from gantransfer.metrics.reference_stats import read_stats
from gantransfer.deploy.runtime import OnnxGenerator
from gantransfer.report.runs import load_run
from gantransfer.models.stylegan2_import import import_file
items = {}
for kind in ("teachers", "students"):
    for d in sorted((A / kind).iterdir()):
        items[f"{kind}/{d.name}"] = (lambda d=d: load_generator(d))
for kind in ("classifiers", "judges", "perceptual"):
    for d in sorted((A / kind).iterdir()):
        items[f"{kind}/{d.name}"] = (lambda d=d: load_classifier(d))
items["onnx export"] = lambda: OnnxGenerator(F / "g.onnx")
items["npz stats (2048-d)"] = lambda: read_stats(F / "ref.npz")
items["run folder (report)"] = lambda: load_run(F / "run")
items["rosinality .pt"] = lambda: import_file(F / "rosinality.pt")
out = {}
for name, f in items.items():
    try:
        f()
    except Exception as e:
        out[name] = f"failed: {type(e).__name__}: {e}"
        continue
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    out[name] = min(times) * 1e3  # the least disturbed call: other processes share this machine
print(json.dumps(out))
'''


def make_fixtures(d: Path) -> None:
    """An ONNX export, a 2048-d stats file, a run folder and a rosinality file, made with this tree."""
    import numpy as np
    import torch
    from gantransfer.cli import main
    student = REPO / "src" / "gantransfer" / "assets" / "students" / "fashion-mnist-dcgan-w0.125"
    assert main(["export", str(student), "--format", "onnx", "--out", str(d / "g.onnx")]) == 0
    a = np.random.default_rng(0).normal(size=(4096, 2048)).astype(np.float64)
    np.savez(d / "ref.npz", mu=a.mean(0), sigma=np.cov(a, rowvar=False))
    assert main(["train", "--data", "ring8", "--steps", "2", "--no-progress", "--device", "cpu",
                 "--out", str(d / "run")]) == 0
    sys.path.insert(0, str(REPO / "tests"))
    from test_stylegan2_import import rgb_generator, to_rosinality
    g, _ = rgb_generator()
    torch.save({"g_ema": to_rosinality(g), "latent_avg": torch.zeros(12)}, d / "rosinality.pt")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="33987cb", help="the commit to compare with (default: this branch's base)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        base = tmp / "base"
        base.mkdir()
        archive = subprocess.run(["git", "-C", str(REPO), "archive", args.base, "src"], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True)
        (tmp / "fx").mkdir()
        make_fixtures(tmp / "fx")
        trees = {"base": base / "src", "this": REPO / "src"}
        runs: dict[str, list[dict]] = {"base": [], "this": []}
        for r in range(args.rounds):
            for name in (("base", "this") if r % 2 == 0 else ("this", "base")):
                env = {**os.environ, "PYTHONPATH": str(trees[name]), "OMP_NUM_THREADS": "1"}
                done = subprocess.run([sys.executable, "-c", CHILD, str(tmp / "fx"), str(args.repeats),
                                       str(trees[name] / "gantransfer" / "assets")], env=env, capture_output=True,
                                      text=True, check=True)
                runs[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
    items = list(runs["this"][0])
    table = {}
    for item in items:
        vals = {k: [r[item] for r in runs[k] if isinstance(r.get(item), float)] for k in runs}
        if not vals["base"] or not vals["this"]:
            table[item] = {k: runs[k][0].get(item) for k in runs}
            continue
        b, t = min(vals["base"]), min(vals["this"])
        table[item] = {"base_ms": round(b, 3), "this_ms": round(t, 3), "change": round(t / b - 1, 4)}
    timed = [v for v in table.values() if "change" in v]
    total = {"base_ms": round(sum(v["base_ms"] for v in timed), 2), "this_ms": round(sum(v["this_ms"] for v in timed), 2)}
    total["change"] = round(total["this_ms"] / total["base_ms"] - 1, 4)
    result = {"base": args.base, "rounds": args.rounds, "repeats": args.repeats, "items": table, "total": total}
    for k, v in table.items():
        print(f"{k:<40} {v}")
    print("total", total)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
