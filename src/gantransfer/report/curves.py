"""Loss and evaluation curves of a run, drawn from its ``logs/metrics.jsonl`` with matplotlib (no display needed)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from gantransfer.engine.logger import read_log
from gantransfer.io import atomic_write
from gantransfer.report.format import label_of, parse_metric_key

Series = dict[str, tuple[list[int], list[float]]]


def series_of(records: Iterable[dict[str, Any]], prefix: str) -> Series:
    """Every ``<prefix>...`` number of a metrics log as (steps, values), by name."""
    series: Series = {}
    for rec in records:
        for k, v in rec.items():
            if k.startswith(prefix) and isinstance(v, (int, float)) and not isinstance(v, bool) and "step" in rec:
                steps, values = series.setdefault(k, ([], []))
                steps.append(int(rec["step"]))
                values.append(float(v))
    return series


def loss_series(log_path: str | Path) -> Series:
    """Every ``loss/...`` value of a metrics log as (steps, values), by name."""
    return series_of(read_log(log_path), "loss/")


def _title(name: str) -> str:
    key = name.split("/", 1)[1]
    if name.startswith("loss/"):
        return key
    parsed = parse_metric_key(key)
    return f"{parsed.label}\n{parsed.where}" if parsed else label_of(key)


def plot_series(series: Series, out: str | Path, skip: tuple[str, ...] = ()) -> Path | None:
    """One panel per series (their scales differ), three to a row; returns the PNG's path, or None when there is
    nothing to draw."""
    names = sorted(n for n in series if not any(n.startswith(s) for s in skip))
    if not names:
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    cols = min(3, len(names))
    rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.9 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        steps, values = series[name]
        ax.plot(steps, values, lw=1.2, marker="o" if len(steps) < 12 else None, ms=3)
        ax.set_title(_title(name), fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        atomic_write(out, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    finally:
        plt.close(fig)
    return out


def plot_loss_curves(log_path: str | Path, out: str | Path) -> Path | None:
    """One panel per loss term; returns the PNG's path, or None when nothing was logged."""
    return plot_series(loss_series(log_path), out)
