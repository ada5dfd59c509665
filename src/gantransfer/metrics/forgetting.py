"""Forgetting measures of an incrementally extended generator: after every step, for every label seen so far,
the protocol classifier's accuracy on generated samples of that label, per-label FID and precision/recall
against the real test images of the label's classes; for old labels the drop from their best; curves (PNG)
and a table (JSON, Markdown) over the steps.

Each label is graded under the protocol of the data set it came from (``<data set>-classifier-v1``); labels of
an image folder have no protocol and are listed without figures.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from gantransfer.io import atomic_write, write_json
from gantransfer.metrics.classifier import classifier_dir, extract_batch, load_classifier
from gantransfer.metrics.evaluate import FeatureAccumulator, count_label, reference_for
from gantransfer.models.registry import GeneratorConfig, LabelOrigin

FEATURE_BATCH = 500


def has_protocol(dataset: str) -> bool:
    """Whether a protocol classifier is shipped for ``dataset``."""
    return bool(dataset) and (classifier_dir(dataset) / "config.json").is_file()


@torch.inference_mode()
def label_measures(g: torch.nn.Module, gcfg: GeneratorConfig, origins: list[LabelOrigin], n: int, seed: int = 0,
                   device: torch.device | str = "cpu") -> dict[str, dict[str, Any]]:
    """Per label (keyed by its id as a string): accuracy, FID, precision, recall, density, coverage of ``n``
    samples of that label under its data set's protocol."""
    classifiers: dict[str, Any] = {}
    out: dict[str, dict[str, Any]] = {}
    for o in origins:
        entry: dict[str, Any] = {"name": o.name, "dataset": o.dataset, "classes": o.classes, "step": o.step}
        if not has_protocol(o.dataset):
            out[str(o.label)] = {**entry, "protocol": None, "why": f"no protocol classifier for {o.dataset}"}
            continue
        if o.dataset not in classifiers:
            classifiers[o.dataset] = load_classifier(o.dataset, device)
        clf = classifiers[o.dataset]
        ref = reference_for(o.dataset, o.classes)
        tag = f"{clf.cfg.protocol}/{count_label(n)}"
        acc = FeatureAccumulator(None, ref, [], tag, seed)
        rng = torch.Generator().manual_seed(seed + 1000 * o.label)
        z = torch.randn(n, gcfg.latent_dim, generator=rng)
        hits = 0
        wanted = None if o.classes is None else torch.tensor(o.classes)
        for i in range(0, n, FEATURE_BATCH):
            zi = z[i:i + FEATURE_BATCH].to(device)
            x = g(zi, torch.full((len(zi),), o.label, dtype=torch.long, device=device)).float()
            feats, probs = extract_batch(clf, x)
            acc.add(feats, probs)
            top = probs.argmax(1)
            hits += len(top) if wanted is None else int(torch.isin(top, wanted).sum())
        m = acc.result()["metrics"]
        out[str(o.label)] = {**entry, "protocol": clf.cfg.protocol, "n": n, "accuracy": hits / n,
                             "fid": m[f"fid/{tag}"], "precision": m[f"precision/{tag}/k5"],
                             "recall": m[f"recall/{tag}/k5"], "density": m[f"density/{tag}/k5"],
                             "coverage": m[f"coverage/{tag}/k5"]}
    return out


def forgetting_table(history: list[dict[str, Any]]) -> dict[str, Any]:
    """From ``history`` (per step: ``{"step": k, "labels": label_measures(...)}``, step 0 the base), per label the
    series of accuracy and FID, the drop of accuracy from its best and the FID against its best, and per step the
    mean over old and new labels."""
    labels: dict[str, dict[str, Any]] = {}
    summary = []
    for h in history:
        k, per = h["step"], h["labels"]
        old_acc, old_fid, new_acc, new_fid = [], [], [], []
        for lab, m in per.items():
            row = labels.setdefault(lab, {"name": m["name"], "dataset": m["dataset"], "learned_at": m["step"],
                                          "steps": [], "accuracy": [], "fid": [], "precision": [], "recall": [],
                                          "accuracy_drop_from_best": [], "fid_over_best": []})
            if m.get("protocol") is None:
                continue
            row["steps"].append(k)
            for key in ("accuracy", "fid", "precision", "recall"):
                row[key].append(m[key])
            row["accuracy_drop_from_best"].append(max(row["accuracy"]) - m["accuracy"])
            row["fid_over_best"].append(m["fid"] / max(min(row["fid"]), 1e-12))
            is_new = m["step"] == k and k > 0  # at step 0 every label is the base's
            (new_acc if is_new else old_acc).append(m["accuracy"])
            (new_fid if is_new else old_fid).append(m["fid"])
        mean = lambda v: sum(v) / len(v) if v else None  # noqa: E731
        summary.append({"step": k, "old_accuracy": mean(old_acc), "old_fid": mean(old_fid),
                        "new_accuracy": mean(new_acc), "new_fid": mean(new_fid),
                        "old_labels": len(old_acc), "new_labels": len(new_acc)})
    return {"labels": labels, "summary": summary}


def _fmt(v: float | None, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def markdown_table(table: dict[str, Any]) -> str:
    """Accuracy (drop from best) and FID per label and step, and the per-step means, as Markdown."""
    steps = [s["step"] for s in table["summary"]]
    head = "| label | learned at | " + " | ".join(f"step {k}" for k in steps) + " |"
    rule = "|" + "---|" * (len(steps) + 2)
    lines = ["### Accuracy of the protocol classifier on each label's samples (drop from its best)", "", head, rule]
    for lab, row in table["labels"].items():
        cells = []
        for k in steps:
            if k in row["steps"]:
                i = row["steps"].index(k)
                drop = row["accuracy_drop_from_best"][i]
                cells.append(f"{row['accuracy'][i]:.3f}" + (f" (-{drop:.3f})" if drop > 0 else ""))
            else:
                cells.append("")
        lines.append(f"| {lab} {row['name']} | {row['learned_at']} | " + " | ".join(cells) + " |")
    lines += ["", "### Per-label FID (x its best)", "", head, rule]
    for lab, row in table["labels"].items():
        cells = []
        for k in steps:
            if k in row["steps"]:
                i = row["steps"].index(k)
                cells.append(f"{row['fid'][i]:.2f} (x{row['fid_over_best'][i]:.2f})")
            else:
                cells.append("")
        lines.append(f"| {lab} {row['name']} | {row['learned_at']} | " + " | ".join(cells) + " |")
    lines += ["", "### Means per step", "", "| step | old labels | old accuracy | old FID | new labels | new accuracy "
              "| new FID |", "|---|---|---|---|---|---|---|"]
    for s in table["summary"]:
        lines.append(f"| {s['step']} | {s['old_labels']} | {_fmt(s['old_accuracy'])} | {_fmt(s['old_fid'], 2)} | "
                     f"{s['new_labels']} | {_fmt(s['new_accuracy'])} | {_fmt(s['new_fid'], 2)} |")
    return "\n".join(lines) + "\n"


def plot_forgetting(table: dict[str, Any], out: str | Path, title: str = "") -> Path:
    """Accuracy and FID of every label over the steps (one line per label), as a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    for lab, row in table["labels"].items():
        if not row["steps"]:
            continue
        a1.plot(row["steps"], row["accuracy"], marker="o", lw=1.2, label=f"{lab} {row['name']}")
        a2.plot(row["steps"], row["fid"], marker="o", lw=1.2, label=f"{lab} {row['name']}")
    a1.set(xlabel="step", ylabel="classifier accuracy on generated samples", ylim=(-0.02, 1.02))
    a2.set(xlabel="step", ylabel="per-label FID", yscale="log")
    steps = sorted({k for row in table["labels"].values() for k in row["steps"]})
    for ax in (a1, a2):
        ax.grid(alpha=0.3)
        ax.set_xticks(steps)
    a1.legend(fontsize=7, ncol=2)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)
    return path


def write_report(history: list[dict[str, Any]], report_dir: str | Path, title: str = "") -> dict[str, Any]:
    """forgetting.json, forgetting.md and forgetting.png in ``report_dir``; returns the table."""
    d = Path(report_dir)
    d.mkdir(parents=True, exist_ok=True)
    table = forgetting_table(history)
    write_json(d / "forgetting.json", {"history": history, **table})
    text = (f"# {title}\n\n" if title else "") + markdown_table(table)
    atomic_write(d / "forgetting.md", lambda tmp: Path(tmp).write_text(text))
    plot_forgetting(table, d / "forgetting.png", title)
    return table
