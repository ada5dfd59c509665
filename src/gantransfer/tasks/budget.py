"""Compression to a budget: ``distill --target-macs 50x`` (or an absolute count), ``--target-params``,
``--target-latency MS --latency-batch N`` choose the student's channels per layer, not one global width.

The search starts from the teacher's channels and removes them greedily: at every step each layer (channel group)
offers to drop its least important 1/16 (at least one channel), and its loss is the ``--prune-criterion`` score of
those channels as a share of the layer's remaining score (so a layer's last channels are dear); the layer whose
offer loses the least per unit of cost saved gives it up. No layer goes below the share of its channels that one
uniform width meeting the target keeps (``--budget-floor``, default ``FLOOR_OF_UNIFORM``), so the search places only
the channels the uniform width leaves over. Measured on the shipped DCGAN (docs/pruning.md, "Compression to a
budget"): without a floor the search emptied the middle block (5 of 128 channels at 25x, 50x and 100x alike), and at
50x the students scored 2.76 / 3.23 the teacher's FID with no floor, 2.52 / 2.93 at half the uniform share, 2.42 /
2.78 at three quarters and 2.40 / 2.61 at the uniform share itself: the importance scores do not price a thin
layer's harm. MACs and parameters are counted on the candidate network itself (torch's FLOP counter); for latency
the search follows the MACs path and times candidates on this machine (median of forward passes at the given batch,
on the chosen device), bisecting for the first that meets the target.
A family takes part by declaring ``ModelFamily.channel_plan`` (its config with given per-group channel counts).
"""
from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path
from typing import Callable

import torch

from gantransfer.deploy.bench import time_batch
from gantransfer.errors import ConfigError
from gantransfer.io import read_json
from gantransfer.models.config import GeneratorConfig, build_generator
from gantransfer.models.cost import count_macs, count_params
from gantransfer.models.importance import channel_scores
from gantransfer.models.prune import group_sizes, groups_of
from gantransfer.models.sampling import draw_inputs
from gantransfer.tasks.student_init import PRUNE_SAMPLES, why_not_prunable

SUFFIXES = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}
LATENCY_REPEATS = 15
FLOOR_OF_UNIFORM = 1.0


def parse_target(text: str, teacher_cost: float, what: str) -> float:
    """An absolute target from ``50x`` (the teacher's cost / 50) or a count such as ``120000``, ``1.5M``, ``200k``."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([xkmg]?)\s*", str(text).lower())
    if not m or float(m.group(1)) <= 0:
        raise ConfigError(f"--target-{what} must be a reduction such as 50x or a positive count such as 1.5M, "
                          f"got {text!r}")
    value = float(m.group(1))
    return teacher_cost / value if m.group(2) == "x" else value * SUFFIXES[m.group(2)]


def _plan(scfg: GeneratorConfig, sizes: list[int]) -> GeneratorConfig:
    return scfg.family.channel_plan(scfg, list(sizes))


def _chosen(base: GeneratorConfig, start: dict[str, int], sizes: list[int], asked: str) -> GeneratorConfig:
    """The student config of ``sizes``; its width field says the mean fraction of the teacher's channels kept."""
    fraction = sum(sizes) / sum(start.values())
    return dataclasses.replace(_plan(base, sizes), width=round(max(1 / 16, fraction * base.width), 4),
                               meta={**base.meta, "channels_from_budget": asked})


def uniform_sizes(start: dict[str, int], fraction: float) -> list[int]:
    """Every group's channels at one ``fraction`` of ``start`` (at least one)."""
    return [max(1, round(fraction * c)) for c in start.values()]


def uniform_fraction(start: dict[str, int], cost: Callable[[list[int]], float], goal: float) -> float:
    """The largest single fraction of every group's channels (to 1/256) whose cost is at most ``goal`` (the
    smallest, 1/256, when none is)."""
    lo, hi = 0, 256  # in 256ths; cost falls as the fraction does
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if cost(uniform_sizes(start, mid / 256)) <= goal:
            lo = mid
        else:
            hi = mid - 1
    return max(lo, 1) / 256


def floors_of(start: dict[str, int], fraction: float, floor: float = FLOOR_OF_UNIFORM) -> list[int]:
    """The fewest channels the search leaves a group: ``floor`` times the uniform ``fraction``'s, never more than
    the uniform width's own count (so the floors themselves meet any target the uniform width meets)."""
    return [max(1, min(u, math.ceil(floor * fraction * c)))
            for u, c in zip(uniform_sizes(start, fraction), start.values())]


def greedy_path(scores: dict[str, torch.Tensor], start: dict[str, int], cost: Callable[[list[int]], float],
                stop: float | None, floors: list[int] | None = None) -> list[tuple[list[int], float]]:
    """Channel counts (per group, in order) and their cost from ``start`` down, one greedy removal at a time (see
    the module docstring), until the cost is at most ``stop`` (None: until no layer can shrink); no group goes
    below its entry of ``floors`` (default 1)."""
    names = list(start)
    floors = floors or [1] * len(names)
    order = {n: sorted(range(len(scores[n])), key=lambda i: (float(scores[n][i]), i)) for n in names}
    score = {n: scores[n].double().clamp_min(0) + 1e-12 for n in names}  # no free channel: ties go by cost
    sizes = [start[n] for n in names]
    removed = [len(scores[n]) - start[n] for n in names]  # the lowest-scored channels are gone first
    now = cost(sizes)
    path = [(list(sizes), now)]
    while stop is None or now > stop:
        best = None
        for i, n in enumerate(names):
            if sizes[i] <= floors[i]:
                continue
            step = min(max(1, sizes[i] // 16), sizes[i] - floors[i])
            remaining = order[n][removed[i]:]
            lost = float(score[n][remaining[:step]].sum() / score[n][remaining].sum())
            trial = sizes[:i] + [sizes[i] - step] + sizes[i + 1:]
            c = cost(trial)
            if c < now and (best is None or lost / (now - c) < best[0]):
                best = (lost / (now - c), i, step, c)
        if best is None:
            break
        _, i, step, now = best
        sizes[i] -= step
        removed[i] += step
        path.append((list(sizes), now))
    return path


def previous_budget(run: str | Path) -> dict | None:
    """The budget record of an earlier segment of run ``run`` (so a resumed run keeps its channels even when a
    latency search would time differently now), or None."""
    path = Path(run) / "run.json"
    if not path.is_file():
        return None
    record = (read_json(path, "run record").get("student_init") or {}).get("budget")
    return record if isinstance(record, dict) and isinstance(record.get("channels"), dict) else None


def fit_budget(teacher, scfg: GeneratorConfig, kind: str, target: str | float, criterion: str, seed: int,
               latency_batch: int = 1, device: torch.device | str = "cpu", previous: dict | None = None,
               floor: float = FLOOR_OF_UNIFORM) -> tuple[GeneratorConfig, dict]:
    """The student config of per-layer channels that meets ``target`` (``kind``: macs | params | latency, the
    latter in ms per forward pass at ``latency_batch``); the record of the search. ConfigError when the family
    cannot reach it, naming the closest reachable cost and its channels. ``previous``: a resumed run's record,
    whose channels are kept when it asked for the same budget. ``floor``: see ``floors_of``."""
    reason = why_not_prunable(teacher, scfg)
    if reason is not None:
        raise ConfigError("a --target-* budget chooses the teacher's channels per layer: " + reason.split(";")[0])
    if scfg.family.channel_plan is None:
        raise ConfigError(f"per-layer budgets are not available for {scfg.arch} students yet; use --width")
    t = teacher.module
    groups = groups_of(teacher.config.family, t)
    start = group_sizes(t, groups)
    base = dataclasses.replace(scfg, width=teacher.config.width)
    if previous and (previous.get("kind"), previous.get("asked")) == (kind, str(target)) \
            and list(previous["channels"]) == list(start):
        sizes = [int(previous["channels"][n]) for n in start]
        return _chosen(base, start, sizes, f"{kind} {target}"), {k: v for k, v in previous.items()
                                                                  if k not in ("measured", "reduction")}
    z, labels = draw_inputs(teacher.config, PRUNE_SAMPLES, torch.Generator().manual_seed(seed))
    dev = next(t.parameters()).device
    scores = channel_scores(criterion, t, groups, z.to(dev), None if labels is None else labels.to(dev))

    def built(sizes: list[int]) -> tuple[torch.nn.Module, GeneratorConfig]:
        c = _plan(base, sizes)
        return build_generator(c).eval(), c

    def counted(sizes: list[int]) -> float:
        g, c = built(sizes)
        return float(count_macs(g, c) if kind != "params" else count_params(g))

    times: dict[tuple[int, ...], float] = {}

    def timed(sizes: list[int]) -> float:
        if tuple(sizes) not in times:
            g, c = built(sizes)
            times[tuple(sizes)] = 1e3 * time_batch(g.to(device), c, latency_batch, LATENCY_REPEATS)
        return times[tuple(sizes)]

    teacher_cost = {"macs": lambda: float(count_macs(t, teacher.config)),
                    "params": lambda: float(count_params(t)),
                    "latency": lambda: 1e3 * time_batch(t, teacher.config, latency_batch, LATENCY_REPEATS)}[kind]()
    goal = float(target) if kind == "latency" else parse_target(str(target), teacher_cost, kind)
    if kind == "latency":
        path = greedy_path(scores, start, counted, None, floors_of(start, uniform_fraction(start, timed, goal),
                                                                       floor))
        lo, hi = 0, len(path) - 1
        if timed(path[hi][0]) > goal:
            raise ConfigError(f"--target-latency {goal:g} ms is out of reach: the narrowest {scfg.arch} student "
                              f"(channels {path[hi][0]}) takes {timed(path[hi][0]):.3g} ms at batch {latency_batch}")
        while lo < hi:  # first point of the path within the target
            mid = (lo + hi) // 2
            if timed(path[mid][0]) <= goal:
                hi = mid
            else:
                lo = mid + 1
        sizes, predicted = path[lo][0], timed(path[lo][0])
    else:
        path = greedy_path(scores, start, counted, goal, floors_of(start, uniform_fraction(start, counted, goal),
                                                                     floor))
        sizes, predicted = path[-1]
        if predicted > goal:
            raise ConfigError(f"--target-{kind} {target} asks for at most {goal:,.0f} {kind}, out of reach: the "
                              f"closest a {scfg.arch} student gets is {predicted:,.0f} ({teacher_cost / predicted:.1f}x "
                              f"fewer than the teacher's), channels {sizes}")
    chosen = _chosen(base, start, sizes, f"{kind} {target}")
    record = {"kind": kind, "asked": str(target), "target": goal, "teacher": teacher_cost, "predicted": predicted,
              "channels": dict(zip(start, sizes)), "teacher_channels": start, "criterion": criterion,
              "search_steps": len(path), "floor_of_uniform": floor}
    if kind == "latency":
        record.update(batch=latency_batch, device=str(device))
    return chosen, record


def measure_budget(record: dict, student: torch.nn.Module, scfg: GeneratorConfig, device: torch.device | str) -> dict:
    """``record`` with the cost measured on the built ``student``; prints chosen widths, predicted and measured."""
    kind = record["kind"]
    if kind == "macs":
        measured = float(count_macs(student, scfg))
    elif kind == "params":
        measured = float(count_params(student))
    else:
        was = student.training
        measured = 1e3 * time_batch(student.eval(), scfg, record["batch"], LATENCY_REPEATS)
        student.train(was)
    unit = " ms" if kind == "latency" else f" {kind}"
    widths = ", ".join(f"{n} {c}/{record['teacher_channels'][n]}" for n, c in record["channels"].items())
    print(f"gantransfer distill: --target-{kind} {record['asked']}: channels {widths}; predicted "
          f"{record['predicted']:,.4g}{unit}, measured {measured:,.4g}{unit} (teacher {record['teacher']:,.4g}; "
          f"{record['teacher'] / measured:.1f}x)")
    return {**record, "measured": measured, "reduction": record["teacher"] / measured}
