"""The cost table of a report: parameters, MACs, CPU latency and throughput of a run's generator and of its
reference (the teacher of a distillation), measured alike in one go."""
from __future__ import annotations

import warnings
from typing import Any

import torch

from gantransfer.report.format import number, ratio, si
from gantransfer.report.runs import Run

REPEATS = 10  # timed calls at batch 1 (a quarter of them, at least 3, at the throughput batch)


def measure_run(run: Run, repeats: int = REPEATS) -> dict[str, Any]:
    """``{"generator": figures, "reference": figures or absent, "reference_name": ..., "threads": n}``."""
    from gantransfer.deploy.bench import compare, measure
    from gantransfer.models.store import load_generator
    g, cfg = load_generator(run.path, "cpu")
    out: dict[str, Any] = {"generator": measure(g, cfg, repeats), "threads": torch.get_num_threads(),
                           "repeats": repeats}
    from gantransfer.config import task, task_names
    field = task(run.command).cost_reference if run.command in task_names() else ""
    teacher = run.config.get(field) if field else None  # the model the task compares its costs against
    if teacher:
        from gantransfer.teachers import load_teacher
        try:
            t = load_teacher(teacher, "cpu")
        except Exception as e:  # noqa: BLE001 - a teacher moved since: its costs are left out, and the page says so
            warnings.warn(f"the teacher's costs are left out: {teacher} could not be loaded ({e})")
        else:
            if isinstance(t.module, torch.nn.Module) and any(True for _ in t.module.parameters()):
                out["reference"] = measure(t.module, t.config, repeats)
                out["reference_name"] = "teacher"
                out["ratios"] = compare(out["generator"], out["reference"])
    return out


def _value(key: str, v: float) -> str:
    if key == "params":
        return si(v)
    if key == "macs":
        return si(v)
    if key.startswith("latency_ms"):
        return f"{number(float(v))} ms"
    return f"{si(v)} samples/s".replace("  ", " ")


def _what(key: str) -> str:
    if key == "params":
        return "parameters"
    if key == "macs":
        return "multiply-accumulates per sample"
    if key.startswith("latency_ms_batch"):
        return f"latency, batch {key.rsplit('batch', 1)[1]} (median)"
    if key.startswith("throughput_per_s_batch"):
        return f"throughput, batch {key.rsplit('batch', 1)[1]}"
    return key.replace("_", " ")


def cost_rows(costs: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """(header, rows) of the cost table: what, the reference, the generator, and how many times better."""
    from gantransfer.report.html import Cell
    gen, ref = costs["generator"], costs.get("reference")
    if ref is None:
        return ["", "this generator"], [[_what(k), Cell(_value(k, v), v, "num")] for k, v in gen.items()]
    if not isinstance(ref, dict):
        return ["", "this generator"], []
    rows = []
    for k, v in gen.items():
        r = ref.get(k)
        if not isinstance(r, (int, float)) or not v:
            continue
        faster = k.startswith("throughput")
        times = v / r if faster else r / v
        word = ("higher" if faster else "lower") if times >= 1 else ("lower" if faster else "higher")
        shown = times if times >= 1 else 1 / times
        cls = "num better" if times > 1.01 else "num worse" if times < 0.99 else "num same"
        rows.append([_what(k), Cell(_value(k, r), r, "num"), Cell(_value(k, v), v, "num"),
                     Cell(f"{ratio(shown)} {word}", times, cls)])
    name = costs.get("reference_name", "reference")
    return ["", name, "this generator", f"this generator vs the {name}"], rows
