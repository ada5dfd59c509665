"""Forgetting measures of an incrementally extended generator: after every step, for every label seen so far,
the protocol classifier's accuracy on generated samples of that label, per-label FID and precision/recall
against the real test images of the label's classes; for old labels the drop from their best; curves (PNG)
and a table (JSON, Markdown) over the steps.

Each label is graded under every protocol of the data set it came from (``metrics/protocols.py``:
``<data set>-classifier-v1``, the primary, and the independent ``<data set>-judge-v1``), from the same samples;
the top-level figures of a label are the primary protocol's, ``protocols[<role>]`` holds each protocol's, and the
table and curves have one part per protocol role. Labels of an image folder have no protocol and are listed
without figures.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from gantransfer.io import atomic_write, write_json
from gantransfer.metrics.classifier import extract_batch, ships
from gantransfer.metrics.evaluate import FeatureAccumulator, reference_for
from gantransfer.metrics.protocols import count_label
from gantransfer.metrics.protocols import PROTOCOL_ROLES, protocols_for
from gantransfer.models.config import GeneratorConfig, LabelOrigin

FEATURE_BATCH = 500
FIGURES = ("accuracy", "fid", "precision", "recall", "density", "coverage")


def has_protocol(dataset: str) -> bool:
    """Whether a protocol classifier is shipped for ``dataset``."""
    return ships(dataset)


@torch.inference_mode()
def label_measures(g: torch.nn.Module, gcfg: GeneratorConfig, origins: list[LabelOrigin], n: int, seed: int = 0,
                   device: torch.device | str = "cpu") -> dict[str, dict[str, Any]]:
    """Per label (keyed by its id as a string): accuracy, FID, precision, recall, density, coverage of ``n``
    samples of that label under each protocol of its data set (``protocols[<role>]``; the primary's also at the
    top level). The samples are drawn once and graded by every protocol."""
    networks: dict[str, Any] = {}
    out: dict[str, dict[str, Any]] = {}
    for o in origins:
        entry: dict[str, Any] = {"name": o.name, "dataset": o.dataset, "classes": o.classes, "step": o.step}
        protocols = protocols_for(o.dataset) if has_protocol(o.dataset) else []
        if not protocols:
            out[str(o.label)] = {**entry, "protocol": None, "why": f"no protocol classifier for {o.dataset}"}
            continue
        for p in protocols:
            if p.name not in networks:
                networks[p.name] = p.network(device)
        tag = count_label(n)
        accs = {p.name: FeatureAccumulator(None, reference_for(o.dataset, o.classes, p.role), [],
                                           f"{p.name}/{tag}", seed) for p in protocols}
        hits = dict.fromkeys(accs, 0)
        rng = torch.Generator().manual_seed(seed + 1000 * o.label)
        z = torch.randn(n, gcfg.latent_dim, generator=rng)
        wanted = None if o.classes is None else torch.tensor(o.classes)
        for i in range(0, n, FEATURE_BATCH):
            zi = z[i:i + FEATURE_BATCH].to(device)
            x = g(zi, torch.full((len(zi),), o.label, dtype=torch.long, device=device)).float()
            for p in protocols:
                feats, probs = extract_batch(networks[p.name], x)
                accs[p.name].add(feats, probs)
                top = probs.argmax(1)
                hits[p.name] += len(top) if wanted is None else int(torch.isin(top, wanted).sum())
        per_role = {}
        for p in protocols:
            m, t = accs[p.name].result()["metrics"], f"{p.name}/{tag}"
            per_role[p.role] = {"protocol": p.name, "accuracy": hits[p.name] / n, "fid": m[f"fid/{t}"],
                                "precision": m[f"precision/{t}/k5"], "recall": m[f"recall/{t}/k5"],
                                "density": m[f"density/{t}/k5"], "coverage": m[f"coverage/{t}/k5"]}
        primary = per_role[protocols[0].role]
        out[str(o.label)] = {**entry, "protocol": primary["protocol"], "n": n,
                             **{k: primary[k] for k in FIGURES}, "protocols": per_role}
    return out


def label_roles(m: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A measured label's figures per protocol role; an entry written before the judge was measured holds only
    the primary protocol's (its top-level figures)."""
    if m.get("protocols"):
        return m["protocols"]
    return {PROTOCOL_ROLES[0]: {"protocol": m["protocol"], **{k: m.get(k) for k in FIGURES}}}


def _series() -> dict[str, list]:
    return {"steps": [], "accuracy": [], "fid": [], "precision": [], "recall": [], "accuracy_drop_from_best": [],
            "fid_over_best": []}


def _append(row: dict[str, Any], k: int, fig: dict[str, Any]) -> None:
    row["steps"].append(k)
    for key in ("accuracy", "fid", "precision", "recall"):
        row[key].append(fig[key])
    row["accuracy_drop_from_best"].append(max(row["accuracy"]) - fig["accuracy"])
    row["fid_over_best"].append(fig["fid"] / max(min(row["fid"]), 1e-12))


def _means(old_acc: list, old_fid: list, new_acc: list, new_fid: list) -> dict[str, Any]:
    mean = lambda v: sum(v) / len(v) if v else None  # noqa: E731
    return {"old_accuracy": mean(old_acc), "old_fid": mean(old_fid), "new_accuracy": mean(new_acc),
            "new_fid": mean(new_fid), "old_labels": len(old_acc), "new_labels": len(new_acc)}


def forgetting_table(history: list[dict[str, Any]]) -> dict[str, Any]:
    """From ``history`` (per step: ``{"step": k, "labels": label_measures(...)}``, step 0 the base), per label the
    series of accuracy and FID, the drop of accuracy from its best and the FID against its best, and per step the
    mean over old and new labels; under the primary protocol at the top level and under each protocol role in
    ``protocols[<role>]`` (labels and summary)."""
    labels: dict[str, dict[str, Any]] = {}
    summary = []
    for h in history:
        k, per = h["step"], h["labels"]
        pools: dict[str, tuple[list, list, list, list]] = {}
        for lab, m in per.items():
            row = labels.setdefault(lab, {"name": m["name"], "dataset": m["dataset"], "learned_at": m["step"],
                                          **_series(), "protocols": {}})
            if m.get("protocol") is None:
                continue
            is_new = m["step"] == k and k > 0  # at step 0 every label is the base's
            for role, fig in label_roles(m).items():
                if role == PROTOCOL_ROLES[0]:
                    _append(row, k, fig)
                r = row["protocols"].setdefault(role, {"protocol": fig["protocol"], **_series()})
                _append(r, k, fig)
                old_acc, old_fid, new_acc, new_fid = pools.setdefault(role, ([], [], [], []))
                (new_acc if is_new else old_acc).append(fig["accuracy"])
                (new_fid if is_new else old_fid).append(fig["fid"])
        primary = pools.get(PROTOCOL_ROLES[0], ([], [], [], []))
        summary.append({"step": k, **_means(*primary),
                        "protocols": {role: _means(*pool) for role, pool in pools.items()}})
    return {"labels": labels, "summary": summary}


def table_roles(table: dict[str, Any]) -> list[str]:
    """The protocol roles with figures in ``table``, the primary first."""
    seen = {role for s in table["summary"] for role in s.get("protocols", {})}
    return [r for r in PROTOCOL_ROLES if r in seen]


def _fmt(v: float | None, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _protocol_names(table: dict[str, Any], role: str) -> str:
    return ", ".join(sorted({row["protocols"][role]["protocol"] for row in table["labels"].values()
                             if role in row["protocols"]}))


def _label_rows(table: dict[str, Any], role: str, steps: list[int], cell: Any) -> list[str]:
    """One Markdown row per label under protocol ``role``: ``cell(series, i)`` for each step it was measured at."""
    rows = []
    for lab, row in table["labels"].items():
        r = row["protocols"].get(role, _series())
        cells = [cell(r, r["steps"].index(k)) if k in r["steps"] else "" for k in steps]
        rows.append(f"| {lab} {row['name']} | {row['learned_at']} | " + " | ".join(cells) + " |")
    return rows


def markdown_table(table: dict[str, Any]) -> str:
    """Accuracy (drop from best) and FID per label and step, and the per-step means, as Markdown: one part per
    protocol role (the primary first)."""
    steps = [s["step"] for s in table["summary"]]
    head = "| label | learned at | " + " | ".join(f"step {k}" for k in steps) + " |"
    rule = "|" + "---|" * (len(steps) + 2)
    lines: list[str] = []
    for role in table_roles(table) or [PROTOCOL_ROLES[0]]:
        if lines:
            lines.append("")
        lines += [f"## Protocol {role}: {_protocol_names(table, role)}", ""]
        lines += ["### Accuracy of the protocol network on each label's samples (drop from its best)", "", head, rule]
        lines += _label_rows(table, role, steps, lambda r, i: f"{r['accuracy'][i]:.3f}" + (
            f" (-{r['accuracy_drop_from_best'][i]:.3f})" if r["accuracy_drop_from_best"][i] > 0 else ""))
        lines += ["", "### Per-label FID (x its best)", "", head, rule]
        lines += _label_rows(table, role, steps, lambda r, i: f"{r['fid'][i]:.2f} (x{r['fid_over_best'][i]:.2f})")
        lines += ["", "### Means per step", "", "| step | old labels | old accuracy | old FID | new labels | "
                  "new accuracy | new FID |", "|---|---|---|---|---|---|---|"]
        for step in table["summary"]:
            s = step.get("protocols", {}).get(role, step)
            lines.append(f"| {step['step']} | {s['old_labels']} | {_fmt(s['old_accuracy'])} | {_fmt(s['old_fid'], 2)} "
                         f"| {s['new_labels']} | {_fmt(s['new_accuracy'])} | {_fmt(s['new_fid'], 2)} |")
    return "\n".join(lines) + "\n"


def plot_forgetting(table: dict[str, Any], out: str | Path, title: str = "") -> Path:
    """Accuracy and FID of every label over the steps (one line per label), as a PNG: one row per protocol role."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    roles = table_roles(table) or [PROTOCOL_ROLES[0]]
    fig, axes = plt.subplots(len(roles), 2, figsize=(11, 4 * len(roles)), squeeze=False)
    steps = sorted({k for row in table["labels"].values() for k in row["steps"]})
    for (a1, a2), role in zip(axes, roles):
        for lab, row in table["labels"].items():
            r = row["protocols"].get(role)
            if not r or not r["steps"]:
                continue
            a1.plot(r["steps"], r["accuracy"], marker="o", lw=1.2, label=f"{lab} {row['name']}")
            a2.plot(r["steps"], r["fid"], marker="o", lw=1.2, label=f"{lab} {row['name']}")
        a1.set(xlabel="step", ylabel=f"{role}: accuracy on generated samples", ylim=(-0.02, 1.02))
        a2.set(xlabel="step", ylabel=f"{role}: per-label FID", yscale="log")
        a1.set_title(_protocol_names(table, role), fontsize=9)
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
