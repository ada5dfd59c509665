"""Tasks: each a ``Task`` entry (its command name, config class, run function, command-line texts, repeated flags
and its report hooks), registered once. The command line, ``config.TASK_CONFIGS``, the package's exports, the
report's list of training commands, its reproduce command, summary sentence and figures all read this registry.

The built-in tasks register in ``gantransfer/config.py`` beside their configs (torch-free: their functions are
named as ``"gantransfer.module:function"`` and imported when called); readers import these functions from
``gantransfer.config``, so that the built-in tasks are always registered. A task from outside registers its own
``Task`` with the functions themselves.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from gantransfer.registry import Registry, resolve

Ref = str | Callable[..., Any]  # a function, or "gantransfer.module:function" (imported on first use)


@dataclass(frozen=True)
class RepeatedFlag:
    """A config field naming several inputs, given on the command line as a repeated flag (``--teacher A
    --teacher B`` for ``teachers``)."""

    field: str
    flag: str
    help: str


@dataclass(frozen=True)
class Task:
    """A training command."""

    name: str                                     # the command, e.g. "distill"
    config: type                                  # its config dataclass (an EngineSettings)
    run: Ref                                      # run(cfg, resume=, overwrite=) -> the run directory
    help: str                                     # one line in `gantransfer --help`
    description: str                              # the command's own --help
    produced: str = "generator"                   # what the run delivers, in the closing message
    done: str = ""                                # the closing message, "{run}" filled in (default: from produced)
    resolve: Ref | None = None                    # cfg -> the config --dry-run prints (default: cfg itself)
    repeated: tuple[RepeatedFlag, ...] = ()       # fields given as repeated flags
    no_flag: tuple[str, ...] = ()                 # fields with no flag of their own (read from elsewhere)
    summary: Ref | None = None                    # report: run -> one sentence (default: the generic one)
    figures: Ref | None = None                    # report: (run, out, prefix, device) -> the task's figures
    figures_heading: str = ""                     # report: the heading of those figures
    cost_reference: str = ""                      # report: the config field naming the model its costs are
                                                  # compared against (distill: "teacher")
    export: str = ""                              # the name under which ``import gantransfer`` offers ``run``

    @property
    def api_name(self) -> str:
        """The package attribute of the run function (``extend-sequence`` -> ``extend_sequence``)."""
        return self.export or self.name.replace("-", "_")

    @property
    def run_ref(self) -> tuple[str, str]:
        """(module, attribute) of the run function, for the package's lazy exports."""
        if isinstance(self.run, str):
            module, _, attr = self.run.partition(":")
            return module, attr
        return self.run.__module__, self.run.__name__

    def run_function(self) -> Callable[..., Any]:
        return resolve(self.run)

    def repeated_flag(self, field_name: str) -> str | None:
        """The repeated flag of ``field_name``, or None."""
        return next((r.flag for r in self.repeated if r.field == field_name), None)


TASKS: Registry[Task] = Registry("task")


def register_task(task: Task) -> Task:
    """Add ``task`` (a later registration of the same name replaces it)."""
    return TASKS.register(task)


def task(name: str) -> Task:
    """The registered task ``name``; ValueError listing the known ones otherwise."""
    return TASKS.get(name)


def task_names() -> list[str]:
    """Every registered task's command name, in registration order."""
    return TASKS.names()


def tasks() -> list[Task]:
    """Every registered task, in registration order."""
    return list(TASKS)


@dataclass(frozen=True)
class TrainTask:
    """What ``gantransfer train --task NAME`` trains: a setup run on the one engine, and the data it takes."""

    name: str                                     # the --task value, e.g. "pix2pix"
    run: Ref                                      # run(cfg, resume=, overwrite=, command=) -> the run directory
    resolve: Ref                                  # cfg -> cfg with the task's data-dependent defaults filled
    data: str                                     # "images" (a data set) | "paired" | "unpaired" (translation)
    description: str                              # one line in --help and in error messages
    fields: tuple[str, ...] = ()                  # TrainConfig fields only some tasks read: this task's (a task
                                                  # that does not list one refuses it, naming those that do)


TRAIN_TASKS: Registry[TrainTask] = Registry("training task (--task)")


def register_train_task(entry: TrainTask) -> TrainTask:
    """Add a ``train --task`` (a later registration of the same name replaces it)."""
    return TRAIN_TASKS.register(entry)


def train_task(name: str) -> TrainTask:
    """The registered ``train --task`` ``name``; ValueError listing the known ones otherwise."""
    return TRAIN_TASKS.get(name)


def train_task_names() -> list[str]:
    """Every ``train --task`` value, in registration order."""
    return TRAIN_TASKS.names()
