"""Both Fashion-MNIST protocols side by side: the shipped teachers and students, and any other generators
(the demo's student, the loss comparison's students), each against the unconditional teacher under each protocol.

    python benchmarks/protocols.py --n 10000                                     # the shipped generators
    python benchmarks/protocols.py --extra demo=runs/demo/student w0.125-pp=runs/bench/distill-judge/w0.125-pp-s0

Every generator is evaluated by ``evaluate_generator`` (all shipped protocols of fashion-mnist on the same
images, seed 0), one at a time, with the machine's threads. A generator whose loss used a protocol's network
(``loss_networks`` in its meta) has that protocol's figures marked ``used_by_loss``.
Writes ``--results`` and prints a markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch

from harness import markdown_table, Stopwatch, write_results

from gantransfer.metrics.classifier import assets_dir
from gantransfer.metrics.evaluate import evaluate_generator
from gantransfer.metrics.protocols import protocols_for
from gantransfer.models.store import load_generator

DATASET = "fashion-mnist"
TEACHER = "teachers/fashion-mnist-dcgan"
SHIPPED = ["teachers/fashion-mnist-dcgan", "teachers/fashion-mnist-dcgan-cond", "students/fashion-mnist-dcgan-w0.2",
           "students/fashion-mnist-dcgan-w0.125"]
FIGURES = ("fid", "kid", "precision", "recall", "coverage")


def figures(metrics: dict, protocol: str) -> dict:
    out = {}
    for k, v in metrics.items():
        parts = k.split("/")
        if parts[0] in FIGURES and parts[1] == protocol:
            out[parts[0]] = v
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--extra", nargs="*", default=[], help="NAME=PATH generator or run directories")
    ap.add_argument("--results", default="benchmarks/results/protocols.json")
    args = ap.parse_args()
    names = [p.name for p in protocols_for(DATASET)]
    gens = [(s.split("/")[1], assets_dir() / s) for s in SHIPPED]
    gens += [(e.split("=", 1)[0], Path(e.split("=", 1)[1])) for e in args.extra]
    before = json.loads(Path(args.results).read_text()) if Path(args.results).exists() else {}
    rows = {r["name"]: r for r in before.get("rows", [])}
    for name, path in gens:
        watch = Stopwatch()
        g, gcfg = load_generator(path)
        res = evaluate_generator(g, gcfg, DATASET, args.n, seed=0, classes=gcfg.evaluation_classes)
        loss_networks = list(gcfg.loss_networks)
        rows[name] = {"name": name, "path": str(path), "params": sum(p.numel() for p in g.parameters()),
                      "loss_networks": loss_networks, "seconds": round(watch.elapsed(), 1),
                      **{p: {**figures(res["metrics"], p), "used_by_loss": p in loss_networks} for p in names}}
        print(f"[protocols] {name}: " + ", ".join(f"{p} FID {rows[name][p]['fid']:.3f}" for p in names), flush=True)
    teacher = rows[TEACHER.split("/")[1]]
    for r in rows.values():
        if r["name"] != "fashion-mnist-dcgan-cond":  # the conditional teacher is its own reference
            for p in names:
                r[p]["fid_vs_teacher"] = r[p]["fid"] / teacher[p]["fid"]
    result = {"command": "python " + " ".join(sys.argv), "dataset": DATASET, "n": args.n, "protocols": names,
              "teacher": TEACHER, "torch_threads": torch.get_num_threads(), "machine_cpus": os.cpu_count(),
              "rows": list(rows.values())}
    write_results(args.results, result)
    table = []
    for r in rows.values():
        cells = [r["name"], ", ".join(r["loss_networks"]) or "-"]
        for p in names:
            mark = " (used by its loss)" if r[p]["used_by_loss"] else ""
            ratio = r[p].get("fid_vs_teacher")
            cells += [f"{r[p]['fid']:.3f}{mark}", "" if ratio is None else f"{ratio:.2f}", f"{r[p]['recall']:.2f}"]
        table.append(cells)
    print(markdown_table(["generator", "loss used", *(h for p in names for h in (f"FID {p}", "/teacher", "recall"))],
                         table))


if __name__ == "__main__":
    main()
