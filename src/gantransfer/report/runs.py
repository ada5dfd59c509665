"""What a run directory holds, read for a report: run.json, eval.json, the metrics log and the sample grids."""
from __future__ import annotations

import dataclasses
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gantransfer.errors import ConfigError
from gantransfer.io import read_json

WHAT_A_RUN_HOLDS = ("a run directory is what `gantransfer train`, `distill`, `fuse`, `adapt`, `baseline` or `demo` "
                    "wrote: run.json (the command and its config), generator/, logs/metrics.jsonl, samples/ and, "
                    "when it was evaluated, eval.json")
# The training commands (whose run.json holds a task config) and their repeated flags are the registered tasks
# (gantransfer/config.py registers the built-in ones); "demo" directories hold a distill run in student/.


@dataclass
class EvaluationRecord:
    """The fields of eval.json a report reads (their types are checked before use; more may be present)."""

    metrics: dict[str, Any] = field(default_factory=dict)
    dataset: str | None = None
    n: int = 0
    seconds: float = 0.0


@dataclass
class Run:
    """A run directory as the report reads it."""

    path: Path
    command: str
    config: dict[str, Any]
    record: dict[str, Any]
    evaluation: dict[str, Any] | None
    log: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.resolve().name

    @property
    def generator(self) -> dict[str, Any]:
        return self.record.get("generator") or {}

    @property
    def dataset(self) -> str:
        return str(self.generator.get("dataset") or self.config.get("data") or "")

    @property
    def samples(self) -> list[tuple[int, Path]]:
        """The sample grids written during training, (step, path), oldest first."""
        out = []
        for p in sorted((self.path / "samples").glob("step-*.png")):
            m = re.fullmatch(r"step-(\d+)\.png", p.name)
            if m:
                out.append((int(m.group(1)), p))
        return out

    @property
    def steps(self) -> int:
        return max((int(r["step"]) for r in self.log if "step" in r), default=0)


def load_run(path: str | Path) -> Run:
    """The run in ``path``; ConfigError saying what a run holds when it is none."""
    from gantransfer.engine.logger import read_log
    p = Path(path)
    if not p.is_dir():
        raise ConfigError(f"{p} is not a directory; {WHAT_A_RUN_HOLDS}")
    if not (p / "run.json").is_file():
        hint = " (it looks like a report; give the run it was written for)" if (p / "report.json").is_file() else ""
        raise ConfigError(f"{p} is not a gantransfer run: it has no run.json{hint}; {WHAT_A_RUN_HOLDS}")
    record = read_json(p / "run.json", "run record")
    from gantransfer.config import task_names
    command = record.get("command") if isinstance(record, dict) else None
    known = {*task_names(), "demo"}  # a task registered later is reported too
    if command not in known or not isinstance(record.get("config"), dict):
        raise ConfigError(f"{p / 'run.json'} is not a gantransfer run record (no known command and config); "
                          f"{WHAT_A_RUN_HOLDS}")
    if command == "demo":
        raise ConfigError(f"{p} is a demo directory: its page is {p / 'index.html'}; report its distillation run "
                          f"with `gantransfer report {p / 'student'}`")
    if not (p / "generator" / "config.json").is_file():
        raise ConfigError(f"{p} holds no generator/ yet (the run has not reached its first checkpoint); "
                          f"{WHAT_A_RUN_HOLDS}")
    from gantransfer.models.config import GeneratorConfig
    from gantransfer.typed import check_fields
    from gantransfer.config import upgrade_run_config
    if command in task_names():  # the schema of the command's config, before any of it is used
        cls = config_class(command)
        check_fields(cls, upgrade_run_config(cls, record["config"]), f"{p / 'run.json'} config")
    if "generator" in record:
        check_fields(GeneratorConfig, record["generator"], f"{p / 'run.json'} generator")
    ev = read_json(p / "eval.json", "evaluation") if (p / "eval.json").is_file() else None
    if ev is not None:
        check_fields(EvaluationRecord, ev, str(p / "eval.json"))
    log_path = p / "logs" / "metrics.jsonl"
    log = list(read_log(log_path)) if log_path.is_file() else []
    return Run(p, command, record["config"], record, ev if isinstance(ev, dict) else None, log)


def config_class(command: str) -> type:
    from gantransfer.config import task
    return task(command).config


def settings(run: Run) -> list[tuple[str, Any, Any, str]]:
    """(field, value, default, what it means) for every field of the run's config, in the config's order."""
    from gantransfer.config import help_of, upgrade_run_config
    cls = config_class(run.command)
    data = upgrade_run_config(cls, run.config)
    rows = []
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        rows.append((f.name, data.get(f.name), default, help_of(cls, f.name)))
    return rows


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _flag_value(value: Any) -> str:
    import json
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, (list, tuple)):
        return ",".join(_flag_value(v) for v in value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))  # 1.0 -> 1 (the flag parses it as a float again)
    return repr(value) if isinstance(value, float) else str(value)


def reproduce_command(run: Run, out: str | None = None) -> str:
    """The command line that runs this run again: ``gantransfer COMMAND`` with every setting that differs from
    its default (``--out`` the run's own directory unless ``out`` is given)."""
    argv = ["gantransfer", run.command]
    from gantransfer.config import task
    spec = task(run.command)
    no_flag = set(spec.no_flag) - {r.field for r in spec.repeated}
    for name, value, default, _ in settings(run):
        if name == "out" or name in no_flag or _plain(value) == _plain(default):
            continue
        repeated = spec.repeated_flag(name)
        if repeated:
            for v in value or []:
                argv += [repeated, str(v)]
            continue
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            argv.append(flag if value else "--no-" + name.replace("_", "-"))
        elif value is None:
            continue  # a default of something: None is never given on the command line
        else:
            argv += [flag, _flag_value(value)]
    argv += ["--out", out if out is not None else str(run.config.get("out") or run.path)]
    return shlex.join(argv)
