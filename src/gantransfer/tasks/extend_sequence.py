"""``gantransfer extend-sequence``: a sequence of extensions, one ``extend`` run per step in ``step-K/``, each
starting from the one before; after every step every label seen so far is measured and the forgetting curves
and table in ``report/`` are redrawn. ``--resume`` continues after a kill: finished steps are kept, an
interrupted one resumes from its newest checkpoint (the engine's resume), the rest follow.
"""
from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Any

from gantransfer.config import ExtendConfig, ExtendSequenceConfig
from gantransfer.engine.checkpoint import latest_step
from gantransfer.errors import ConfigError
from gantransfer.io import read_json, write_json
from gantransfer.tasks.rundir import RESUMABLE_CHANGES, RUN_ARTEFACTS, RUN_MARKER, claim_directory, check_directory
from gantransfer.typed import to_dict

COMMAND = "extend-sequence"
STATE = "sequence.json"


def parse_steps(cfg: ExtendSequenceConfig) -> list[dict[str, Any]]:
    """The steps (data, classes, as_class) from ``--steps-of`` or ``--sequence``; a label named twice is refused."""
    if cfg.steps_of:
        steps = []
        for i, part in enumerate(cfg.steps_of.split(":"), 1):
            try:
                classes = [int(c) for c in part.split(",") if c.strip()]
            except ValueError:
                raise ConfigError(f"--steps-of: step {i} ({part!r}) must be comma-separated class indices, e.g. "
                                  "2,3:4,5") from None
            if not classes:
                raise ConfigError(f"--steps-of: step {i} names no class; write e.g. 2,3:4,5")
            steps.append({"data": cfg.data, "classes": classes, "as_class": cfg.as_class})
    else:
        raw = _read_sequence(cfg.sequence)
        steps = []
        for i, s in enumerate(raw, 1):
            if not isinstance(s, dict) or not isinstance(s.get("data"), str) or set(s) - {"data", "classes",
                                                                                        "as_class"}:
                raise ConfigError(f"{cfg.sequence}: step {i} must be an object with \"data\" and optionally "
                                  "\"classes\" (a list of integers) and \"as_class\" (a name)")
            classes = s.get("classes")
            if classes is not None and (not isinstance(classes, list) or not all(isinstance(c, int) and
                                                                                 not isinstance(c, bool)
                                                                                 for c in classes)):
                raise ConfigError(f"{cfg.sequence}: step {i}'s \"classes\" must be a list of integers")
            steps.append({"data": s["data"], "classes": classes, "as_class": s.get("as_class")})
    seen: dict[Any, int] = {}
    for i, s in enumerate(steps, 1):
        keys = [("name", s["as_class"].strip().lower())] if s["as_class"] else []
        keys += [("class", s["data"], c) for c in (s["classes"] or ["all"])]
        for k in keys:
            if k in seen:
                what = f"label {k[1]!r}" if k[0] == "name" else f"class {k[2]} of {k[1]}"
                raise ConfigError(f"the sequence names {what} twice (steps {seen[k]} and {i}); each label is learned "
                                  "once. Remove it from one of the steps")
            seen[k] = i
    return steps


def _read_sequence(path: str) -> list:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"--sequence {path} does not exist")
    import json
    try:
        raw = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise ConfigError(f"--sequence {path} is not valid JSON: {str(e)[:120]}") from None
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"--sequence {path} must hold a non-empty JSON list of steps")
    return raw


def step_config(cfg: ExtendSequenceConfig, step: dict[str, Any], base: str, out: Path) -> ExtendConfig:
    """The ``extend`` config of one step."""
    names = {f.name for f in dataclasses.fields(ExtendConfig)}
    values = {k: v for k, v in dataclasses.asdict(cfg).items() if k in names}
    values.update(base=base, data=step["data"], classes=step["classes"], as_class=step["as_class"], out=str(out))
    return ExtendConfig(**values)


def _claim(cfg: ExtendSequenceConfig, steps: list[dict], resume: bool, overwrite: bool) -> Path:
    out = Path(cfg.out)
    resolved = to_dict(cfg)
    check_directory(out, COMMAND, resume, overwrite)
    if (out / RUN_MARKER).is_file() and not resume and not overwrite:
        raise ConfigError(f"{out} already holds an extend-sequence run. Pass --resume to continue it, --overwrite to "
                          "replace it, or choose another --out")
    if resume:
        before = read_json(out / RUN_MARKER, "run record").get("config", {})
        changed = sorted(k for k in set(before) | set(resolved)
                         if k not in RESUMABLE_CHANGES - {"steps"} and before.get(k) != resolved.get(k))
        if changed:
            detail = ", ".join(f"{k}: {before.get(k)!r} -> {resolved.get(k)!r}" for k in changed)
            raise ConfigError(f"--resume with a different config ({detail}); resume with the original settings")
    artefacts = (*RUN_ARTEFACTS, STATE, *(f"step-{i}" for i in range(1, len(steps) + 1)))
    run = claim_directory(out, COMMAND, resume, overwrite, artefacts)
    if not resume:
        write_json(run / RUN_MARKER, {"command": COMMAND, "config": resolved, "steps": steps})
        write_json(run / STATE, {"completed": []})
    return run


def _precheck(cfg: ExtendSequenceConfig, steps: list[dict]) -> None:
    """Clashes with the base's labels, found before anything is written."""
    from gantransfer.models.store import load_config
    from gantransfer.tasks.extend_labels import base_origins
    origins, _ = base_origins(load_config(cfg.base))
    if cfg.old_data:
        needed = {o.dataset for o in origins} | {s["data"] for s in steps[:-1]}
        missing = sorted(needed - set(cfg.old_data))
        if missing:
            raise ConfigError(f"--old-data lacks {missing}: the old labels of some step come from there; add them "
                              "to --old-data")
    for i, s in enumerate(steps, 1):
        for o in origins:
            if o.dataset != s["data"]:
                continue
            mine, theirs = set(s["classes"] or []), set(o.classes or [])
            both = sorted(mine & theirs) if s["classes"] and o.classes else sorted(mine or theirs)
            if both or o.classes is None or s["classes"] is None:
                raise ConfigError(f"step {i} clashes with the base: {s['data']} class(es) {both or 'all'} are "
                                  f"already label {o.label} {o.name!r} (learned at step {o.step}). Drop them from "
                                  "the sequence")


def extend_sequence(config: ExtendSequenceConfig, resume: bool = False, overwrite: bool = False) -> Path:
    """Run the sequence of extensions; returns the sequence's directory (``step-K/`` runs, ``report/``)."""
    from gantransfer.tasks.extend import check_paths, extend
    cfg = config
    cfg.validate()
    steps = parse_steps(cfg)
    check_paths(cfg.base, cfg.out)
    _precheck(cfg, steps)
    run = _claim(cfg, steps, resume, overwrite)
    state = read_json(run / STATE, "sequence state") if (run / STATE).is_file() else {"completed": []}
    completed = list(state.get("completed", []))
    for i, step in enumerate(steps, 1):
        step_dir = run / f"step-{i}"
        if i in completed:
            continue
        base = cfg.base if i == 1 else str(run / f"step-{i - 1}")
        has_run = (step_dir / RUN_MARKER).is_file()
        has_state = latest_step(step_dir / "state") is not None
        extend(step_config(cfg, step, base, step_dir), resume=has_run and has_state,
               overwrite=has_run and not has_state)
        reached = latest_step(step_dir / "state") or 0
        if reached < cfg.steps:
            warnings.warn(f"step {i} stopped at training step {reached} of {cfg.steps}; `gantransfer extend-sequence "
                          f"... --resume` continues it and the steps after it")
            return run
        completed.append(i)
        write_json(run / STATE, {"completed": completed})
        write_sequence_report(run, completed)
    return run


def write_sequence_report(run: Path, completed: list[int]) -> dict | None:
    """Forgetting curves and table over the base and every completed step, from the steps' eval.json."""
    history = []
    for i in sorted(completed):
        ev_path = run / f"step-{i}" / "eval.json"
        if not ev_path.is_file():
            return None  # measures were skipped (--eval-n 0)
        ev = read_json(ev_path, "evaluation")
        if i == 1:
            history.append({"step": 0, "labels": ev["base"]})
        history.append({"step": i, "labels": ev["labels"]})
    from gantransfer.metrics.forgetting import write_report
    cfg = read_json(run / RUN_MARKER, "run record")["config"]
    return write_report(history, run / "report", f"extend-sequence {cfg.get('method')}: {cfg.get('base')}")
