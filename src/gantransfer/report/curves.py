"""Loss curves of a run, drawn from its ``logs/metrics.jsonl`` with matplotlib (no display needed)."""
from __future__ import annotations

from pathlib import Path

from gantransfer.engine.logger import read_log


def loss_series(log_path: str | Path) -> dict[str, tuple[list[int], list[float]]]:
    """Every ``loss/...`` value of a metrics log as (steps, values), by name."""
    series: dict[str, tuple[list[int], list[float]]] = {}
    for rec in read_log(log_path):
        for k, v in rec.items():
            if k.startswith("loss/") and isinstance(v, (int, float)):
                steps, values = series.setdefault(k, ([], []))
                steps.append(int(rec["step"]))
                values.append(float(v))
    return series


def plot_loss_curves(log_path: str | Path, out: str | Path) -> Path | None:
    """One panel per loss term (their scales differ); returns the PNG's path, or None when nothing was logged."""
    series = loss_series(log_path)
    if not series:
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = sorted(series)
    cols = min(3, len(names))
    rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.8 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        steps, values = series[name]
        ax.plot(steps, values, lw=1.2)
        ax.set_title(name.removeprefix("loss/"), fontsize=10)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
