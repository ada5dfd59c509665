"""Cost of the teacher-relative figures at 64x64 RGB: the two-sample test and the features (embedding, FD, KID)
for ``--n`` samples a side, and the one-off fit of the teacher's space; wall and CPU (process) seconds.

The teacher is the width-1 64x64 RGB DCGAN of ``any_teacher_speed.py`` (random init: costs do not depend on the
weights); the "student" is a width-0.25 generator of the same shape.

    python benchmarks/any_teacher_cost.py --out benchmarks/results/any_teacher_cost.json --n 5000 --threads 1
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import torch

from harness import Stopwatch, write_results

HERE = Path(__file__).resolve().parent


def clock(fn):
    """(result, wall seconds, CPU seconds) of ``fn()``."""
    w, c = Stopwatch(), Stopwatch("cpu")
    out = fn()
    return out, w.elapsed(), c.elapsed()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--n", type=int, default=5000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--work", default="runs/any-teacher/speed")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(HERE))
    from any_teacher_speed import make_teacher
    from gantransfer.metrics.teacher_relative import STUDENT_SEED, TEACHER_SEED, sampler_of
    from gantransfer.metrics.teacher_space import DEFAULT_SPACE, embed, fit_encoder
    from gantransfer.metrics.fid import fid_from_features
    from gantransfer.metrics.kid import kernel_inception_distance
    from gantransfer.metrics.two_sample import two_sample_test
    from gantransfer.models.config import build_generator
    from gantransfer.teachers import load_teacher
    device = torch.device("cpu")
    t = load_teacher(make_teacher(Path(args.work) / "teacher"))
    torch.manual_seed(1)
    scfg = dataclasses.replace(t.config, width=0.25)
    s = build_generator(scfg).eval()
    tx, t_wall, _ = clock(lambda: sampler_of(t, t.config, device)(args.n, TEACHER_SEED))
    sx = sampler_of(s, scfg, device)(args.n, STUDENT_SEED)
    enc, fit_wall, fit_cpu = clock(lambda: fit_encoder(sampler_of(t, t.config, device)(DEFAULT_SPACE.images, 777)))
    def features():
        ft, fs = embed(enc, tx), embed(enc, sx)
        return fid_from_features(ft, fs), kernel_inception_distance(ft, fs, subsets=50, subset_size=1000)
    (fd, kid), f_wall, f_cpu = clock(features)
    ts, ts_wall, ts_cpu = clock(lambda: two_sample_test(tx, sx))
    result = {"n_per_side": args.n, "resolution": 64, "channels": 3, "threads": args.threads,
              "space_settings": dataclasses.asdict(DEFAULT_SPACE),
              "teacher_sampling_wall_s": t_wall,
              "space_fit": {"wall_s": fit_wall, "cpu_s": fit_cpu},
              "features_fd_kid": {"wall_s": f_wall, "cpu_s": f_cpu, "fd": fd, "kid": kid[0]},
              "two_sample": {"wall_s": ts_wall, "cpu_s": ts_cpu, "accuracy": ts["accuracy"]},
              "machine": "2 CPU cores shared with ~6 other jobs (load average above 20): wall seconds are "
                         "inflated; CPU seconds (one thread) are close to what an idle core takes"}
    write_results(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
