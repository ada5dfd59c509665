"""``gantransfer demo``: the shipped teachers, sampled and evaluated end to end, with an HTML report."""
from __future__ import annotations

import time
from pathlib import Path

from gantransfer.api import class_labels
from gantransfer.config import EvalConfig
from gantransfer.errors import CheckpointError
from gantransfer.io import write_json
from gantransfer.metrics.classifier import assets_dir, load_classifier
from gantransfer.metrics.evaluate import evaluate
from gantransfer.models.sampling import generate
from gantransfer.models.store import load_generator
from gantransfer.report.grid import save_image_grid
from gantransfer.report.html import image, table, write_report

TEACHERS = {"unconditional": "fashion-mnist-dcgan", "conditional": "fashion-mnist-dcgan-cond"}


def shipped_teacher(name: str) -> Path:
    """Path of a shipped teacher generator directory."""
    p = assets_dir() / "teachers" / name
    if not (p / "config.json").is_file():
        raise CheckpointError(f"the shipped teacher {name} is missing from {p}; reinstall gantransfer")
    return p


def run_demo(out: str | Path = "runs/demo", n: int = 10000, device: str = "auto") -> Path:
    """Sample and evaluate the shipped Fashion-MNIST teachers; returns the report's path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    sections: list[tuple[str, str]] = []
    summary: dict[str, dict] = {}
    for kind, name in TEACHERS.items():
        path = shipped_teacher(name)
        g, gcfg = load_generator(path)
        labels = class_labels(gcfg, 100, None)
        x, _ = generate(g, gcfg, 100, seed=0, labels=labels)
        save_image_grid(x, out / f"{kind}.png", nrow=10, scale=3)
        print(f"[demo] evaluating the {kind} teacher on {n} samples ...", flush=True)
        res = evaluate(EvalConfig(generator=str(path), n=n, device=device))
        summary[kind] = res
        caption = ("one column per class" if gcfg.num_classes else "100 samples") + f", {name}"
        training = gcfg.meta.get("training", {})
        sections.append((f"{kind.capitalize()} teacher: {name}",
                         image(f"{kind}.png", caption)
                         + table({k: v for k, v in res["metrics"].items()}, ["metric (protocol)", "value"])
                         + table([[k, v] for k, v in res["class_shares"].items()], ["class", "share of samples"])
                         + (table(training, ["training", ""]) if training else "")))
    clf = load_classifier("fashion-mnist")
    sections.append(("Protocol", table({"feature extractor": clf.cfg.protocol,
                                        "its test accuracy": clf.cfg.meta.get("test_accuracy", ""),
                                        "reference": "Fashion-MNIST test split (10,000 images), shipped features",
                                        "samples per generator": n})))
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    write_json(out / "metrics.json", summary)
    return write_report(out / "index.html", "gantransfer demo", sections)
