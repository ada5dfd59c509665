"""How long `gantransfer eval` takes for 10,000 samples of the shipped teacher, by stage, on this machine.

    python benchmarks/eval_speed.py --n 10000 --threads 2

Writes benchmarks/results/eval_speed.json.
"""
from __future__ import annotations

import argparse
import os
import platform

import torch

from harness import timed, write_results

from gantransfer.demo import shipped_teacher
from gantransfer.metrics.classifier import extract, load_classifier
from gantransfer.metrics.evaluate import reference_for
from gantransfer.metrics.fid import frechet_distance, gaussian_stats
from gantransfer.metrics.kid import kernel_inception_distance
from gantransfer.metrics.prdc import prdc
from gantransfer.models.sampling import generate
from gantransfer.models.store import load_generator


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default="benchmarks/results/eval_speed.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    g, gcfg = load_generator(shipped_teacher("fashion-mnist-dcgan"))
    clf = load_classifier("fashion-mnist")
    ref = reference_for("fashion-mnist", None)
    runs = []
    for _ in range(args.repeats):
        (images, _), t_gen = timed(lambda: generate(g, gcfg, args.n, seed=0))
        (feats, _), t_feat = timed(lambda: extract(clf, images))
        fid, t_fid = timed(lambda: frechet_distance(*gaussian_stats(feats), ref["mu"], ref["sigma"]))
        _, t_kid = timed(lambda: kernel_inception_distance(ref["features"], feats))
        _, t_prdc = timed(lambda: prdc(ref["features"], feats))
        runs.append({"generate_s": t_gen, "features_s": t_feat, "fid_s": t_fid, "kid_s": t_kid, "prdc_s": t_prdc,
                     "fid_total_s": t_gen + t_feat + t_fid, "all_metrics_total_s": t_gen + t_feat + t_fid + t_kid + t_prdc,
                     "fid": fid})
    best = {k: min(r[k] for r in runs) for k in runs[0] if k.endswith("_s")}
    result = {"n": args.n, "threads": args.threads, "cpu_count": os.cpu_count(), "machine": platform.machine(),
              "processor": platform.processor(), "torch": torch.__version__, "repeats": runs, "best": best,
              "command": f"python benchmarks/eval_speed.py --n {args.n} --threads {args.threads}"}
    write_results(args.out, result)
    print({k: round(v, 2) for k, v in best.items()})


if __name__ == "__main__":
    main()
