"""Translator teachers trained here on the built-in translation tasks, under stated CPU budgets (1 thread).

- pix2pix on ``fmnist-edges`` (outline -> item, paired): resnet ngf 16, 6 blocks, instance norm; PatchGAN ndf 16;
  L1 x 100 + the non-saturating (vanilla) adversarial loss; batch 16.
- CycleGAN on ``fmnist-stripes`` (plain <-> striped items, unpaired): two resnet ngf 16, 4 blocks; two PatchGANs
  ndf 16; LSGAN, cycle x 10, identity x 5; batch 8. Both directions are exported and measured.
- optionally (``--btoa``) pix2pix on ``fmnist-edges`` with ``--direction BtoA`` (item -> outline).

Each teacher is trained with ``gantransfer train`` in this process (CPU seconds from the process clock) and measured
with the task's protocol (``metrics/translation_protocol.py``: FID of the translated test inputs against the target
domain's real test images and the share of translations that keep the item's class, under both Fashion-MNIST
protocol networks; PSNR/SSIM/L1 against the ground truth when paired), beside the identity baseline (the input
passed through unchanged) as the reference. The run directories are kept under ``--root`` for later use.

    python benchmarks/translator_teachers.py --root build/translator_teachers \
        --out benchmarks/results/translator_teachers.json [--btoa]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from harness import Stopwatch, markdown_table, write_results

TEACHERS = {
    "pix2pix": {"task": "pix2pix", "data": "fmnist-edges", "direction": "AtoB", "steps": 3000, "batch": 16,
                "options": {"ngf": 16, "n_blocks": 6, "norm": "instance"}, "eval_n": 2000},
    "cyclegan": {"task": "cyclegan", "data": "fmnist-stripes", "direction": "AtoB", "steps": 1800, "batch": 8,
                 "options": {"ngf": 16, "n_blocks": 4, "norm": "instance"}, "eval_n": 1000},
    "pix2pix-BtoA": {"task": "pix2pix", "data": "fmnist-edges", "direction": "BtoA", "steps": 3000, "batch": 16,
                     "options": {"ngf": 16, "n_blocks": 6, "norm": "instance"}, "eval_n": 2000},
}


def command(spec: dict, out: Path) -> list[str]:
    """The ``gantransfer train`` arguments of one teacher."""
    return ["train", "--task", spec["task"], "--data", spec["data"], "--direction", spec["direction"],
            "--arch", "resnet", "--arch-options", json.dumps(spec["options"]), "--d-width", "0.25",
            "--steps", str(spec["steps"]), "--batch-size", str(spec["batch"]), "--eval-n", str(spec["eval_n"]),
            "--log-every", "100", "--sample-every", "500", "--checkpoint-every", "500", "--seed", "0",
            "--out", str(out)]


def identity(spec: dict, direction: str) -> dict:
    """The task's figures of the identity map (each test input passed through unchanged)."""
    from gantransfer.data.registry import load_translation_data
    from gantransfer.metrics.translation_protocol import translation_figures
    data = load_translation_data(spec["data"])
    return translation_figures(lambda x: x, data, direction, "fashion-mnist", spec["eval_n"])["metrics"]


def train(name: str, spec: dict, root: Path) -> dict:
    """Train (or, when its eval.json exists, reuse) one teacher; its figures, identity baseline and costs."""
    from gantransfer.cli import main
    out = root / name
    argv = command(spec, out)
    reused = (out / "eval.json").is_file()
    cpu = wall = None
    if not reused:
        t0 = time.perf_counter()
        with Stopwatch("cpu") as sw:
            code = main(argv)
        if code:
            raise SystemExit(f"gantransfer {' '.join(argv)} failed ({code})")
        cpu, wall = round(sw.seconds, 1), round(time.perf_counter() - t0, 1)
    ev = json.loads((out / "eval.json").read_text())
    row = {"teacher": name, "run": str(out), "command": "gantransfer " + " ".join(argv), "cpu_seconds": cpu,
           "wall_seconds": wall, "reused_run": reused, "steps": spec["steps"], "batch_size": spec["batch"],
           "options": spec["options"], "direction": spec["direction"], "data": spec["data"],
           "figures": ev["metrics"], "identity_baseline": identity(spec, spec["direction"])}
    if spec["task"] == "cyclegan":
        other = "BtoA" if spec["direction"] == "AtoB" else "AtoB"
        rev = json.loads((out / f"eval_{other}.json").read_text())
        row["reverse"] = {"run": str(out / f"generator_{other}"), "direction": other,
                          "figures": rev["metrics"], "identity_baseline": identity(spec, other)}
    return row


def table(rows: list[dict]) -> str:
    lines = []
    for r in rows:
        entries = [(r["teacher"], r["data"], r["direction"], r["figures"], r["identity_baseline"])]
        if "reverse" in r:
            v = r["reverse"]
            entries.append((r["teacher"] + " (reverse)", r["data"], v["direction"], v["figures"],
                            v["identity_baseline"]))
        for name, data, direction, fig, base in entries:
            for label, m in ((name, fig), ("identity", base)):
                fid_c = next(v for k, v in m.items() if k.startswith("fid/fashion-mnist-classifier"))
                fid_j = next(v for k, v in m.items() if k.startswith("fid/fashion-mnist-judge"))
                psnr = m.get("psnr/ground-truth")
                ssim = m.get("ssim/ground-truth")
                ceiling = [base.get(f"class_of_real_targets/fashion-mnist-{r}-v1") for r in ("classifier", "judge")]
                lines.append([label, f"{data} {direction}", f"{fid_c:.2f}", f"{fid_j:.2f}",
                              f"{m['class_kept/fashion-mnist-classifier-v1']:.3f} / "
                              f"{m['class_kept/fashion-mnist-judge-v1']:.3f}",
                              "-" if None in ceiling else f"{ceiling[0]:.3f} / {ceiling[1]:.3f}",
                              "-" if psnr is None else f"{psnr:.2f}", "-" if ssim is None else f"{ssim:.3f}"])
    return markdown_table(["translator", "task", "FID classifier", "FID judge", "class kept (classifier / judge)",
                           "real targets' class named (classifier / judge)", "PSNR dB", "SSIM"], lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default="build/translator_teachers", help="where the teachers' run directories stay")
    p.add_argument("--out", default="benchmarks/results/translator_teachers.json")
    p.add_argument("--btoa", action="store_true", help="also train pix2pix with --direction BtoA (item -> outline)")
    p.add_argument("--only", default=None, help="comma-separated teachers to (re)measure: pix2pix,cyclegan,...")
    a = p.parse_args()
    torch.set_num_threads(1)
    names = a.only.split(",") if a.only else ["pix2pix", "cyclegan"] + (["pix2pix-BtoA"] if a.btoa else [])
    root = Path(a.root)
    previous = {}
    if Path(a.out).is_file():  # keep the rows (and CPU seconds) of teachers measured by an earlier invocation
        previous = {r["teacher"]: r for r in json.loads(Path(a.out).read_text()).get("rows", [])}
    rows = dict(previous)
    for name in names:
        row = train(name, TEACHERS[name], root)
        if row["reused_run"] and name in previous:
            row["cpu_seconds"], row["wall_seconds"] = previous[name]["cpu_seconds"], previous[name]["wall_seconds"]
        rows[name] = row
        print(json.dumps({k: row[k] for k in ("teacher", "cpu_seconds", "figures")}), file=sys.stderr)
        ordered = [rows[n] for n in TEACHERS if n in rows]
        write_results(a.out, {
            "what": "translator teachers trained on the built-in translation tasks (32 px Fashion-MNIST), CPU, "
                    "1 thread; figures under the task's protocol against the identity baseline",
            "protocol": "fid: translated test inputs vs the target domain's real test images (first eval_n of the "
                        "fixed test split); class_kept: share of translations the network assigns the source "
                        "item's class; psnr/ssim/l1 vs ground truth (paired task only)",
            "machine": "shared machine (2 cores, several processes): wall seconds are noisy, CPU seconds are the "
                       "process clock", "threads": 1, "rows": ordered, "table": table(ordered)})
    print(table([rows[n] for n in TEACHERS if n in rows]))


if __name__ == "__main__":
    main()
