"""The one task runner: the run boilerplate that every training task shares, written once.

A task's setup builds a ``RunPlan`` (modules, optimizers, phases, sampler, the exported generator's config, an
optional preview and evaluations); ``execute`` does the rest: the run directory and its guard, the EMA snapshot
with recalibrated batch norm, exports at every checkpoint, sample grids, run.json, the engine, and eval.json.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from gantransfer import killpoints
from gantransfer.card import write_card
from gantransfer.engine.distributed import is_main_process, local_device
from gantransfer.devices import check_precision, resolve_device
from gantransfer.engine.loop import Engine, Phase, TrainingTask
from gantransfer.engine.logger import read_log
from gantransfer.errors import ConfigError
from gantransfer.io import write_json
from gantransfer.models.config import DiscriminatorConfig, GeneratorConfig
from gantransfer.models.sampling import RecalibratedSnapshot, draw_inputs
from gantransfer.models.store import save_discriminator, save_generator
from gantransfer.grid import save_samples
from gantransfer.tasks.rundir import prepare_run_dir, write_run_config
from gantransfer.tasks.runlock import release

Preview = Callable[[nn.Module, Path, int], None]          # (EMA snapshot, run dir, step)
PeriodicEval = Callable[[nn.Module, int, Path], dict[str, float]]  # (EMA snapshot, step, run dir) -> logged values
FinalEval = Callable[[Path], dict[str, Any] | None]       # (run dir) -> eval.json contents, or None to skip
Exports = Callable[[nn.Module], dict[str, tuple[nn.Module, GeneratorConfig]]]  # snapshot -> {folder: (module, cfg)}


@dataclass
class RunPlan:
    """What a task's setup hands the runner."""

    command: str                                   # train | distill | fuse | adapt | baseline
    settings: Any                                  # the task config (EngineSettings): the engine reads it
    resolved: dict[str, Any]                       # the resolved config, written to run.json
    generator: GeneratorConfig                     # the exported generator's config
    modules: dict[str, nn.Module]                  # "G" is the trained generator; its EMA copy becomes "G_ema"
    optimizers: dict[str, torch.optim.Optimizer]
    phases: list[Phase]
    sampler: Any
    config_key: str = "train_config"               # where the exported generator's meta records ``resolved``
    discriminator: DiscriminatorConfig | None = None  # export modules["D"] beside the generator with this config
    preview: Preview | None = None                 # default: a grid of 64 samples on fixed inputs
    evaluate: PeriodicEval | None = None           # every ``settings.eval_every`` steps
    final: FinalEval | None = None                 # once training has ended: written to eval.json
    run_info: dict[str, Any] = field(default_factory=dict)  # more run.json entries
    exports: Exports | None = None                 # several deliverables from the snapshot (default: generator/)


def sample_grid_preview(gcfg: GeneratorConfig) -> Preview:
    """A grid of 64 samples on inputs fixed for the whole run."""
    z, y = draw_inputs(gcfg, 64, torch.Generator().manual_seed(1234))

    def preview(g: nn.Module, run: Path, step: int) -> None:
        device = next(g.parameters()).device
        with torch.inference_mode():
            x = g(z.to(device), None if y is None else y.to(device))
        save_samples(x, run / "samples" / f"step-{step:07d}.png", nrow=8, title=f"step {step}")
    return preview


def execute(plan: RunPlan, out: str | Path, resume: bool = False, overwrite: bool = False) -> Path:
    """Prepare the run directory, train ``plan`` on the engine, export and evaluate; returns the run directory.

    Under torchrun every process trains; only rank 0 touches the run directory (the others never read or write
    it: the engine hands them the checkpoint)."""
    # a bad device or precision is refused before anything is written
    check_precision(plan.settings.precision, resolve_device(local_device(plan.settings.device)))
    main = is_main_process()
    run = prepare_run_dir(out, plan.command, plan.resolved, resume, overwrite) if main else Path(out)
    try:
        gcfg, modules = plan.generator, plan.modules
        snapshot = RecalibratedSnapshot(lambda: modules["G_ema"], gcfg, seed=plan.settings.seed)
        preview = plan.preview or sample_grid_preview(gcfg)

        def export(run_dir: Path, step: int) -> None:
            parts = plan.exports(snapshot.at(step)) if plan.exports else {"generator": (snapshot.at(step), gcfg)}
            for folder, (module, cfg) in parts.items():
                meta = {**cfg.meta, "train_steps": step, plan.config_key: plan.resolved}
                save_generator(module, dataclasses.replace(cfg, meta=meta), run_dir / folder)
                write_card(run_dir / folder)  # the model card, rewritten with the figures once eval.json exists
            if plan.discriminator is not None:
                save_discriminator(modules["D"], plan.discriminator, run_dir / "discriminator")

        evaluate = None
        if plan.evaluate is not None:
            evaluate = lambda step: plan.evaluate(snapshot.at(step), step, run)  # noqa: E731
        task = TrainingTask(modules=modules, optimizers=plan.optimizers, phases=plan.phases, sampler=plan.sampler,
                            ema=("G", "G_ema"), export=export,
                            preview=lambda run_dir, step: preview(snapshot.at(step), run_dir, step), evaluate=evaluate)
        engine = Engine(task, plan.settings, run)
        if resume:  # a checkpoint or log that cannot be read stops the resume before anything is written
            done = engine.resume()
            if done > plan.settings.steps:
                raise ConfigError(f"--resume --steps {plan.settings.steps}: the run in {run} is already at step {done}; "
                                  f"pass --steps {done} or more to continue it")
            if main:
                read_log(run / "logs" / "metrics.jsonl")
        if main:
            with killpoints.writing("run"):
                write_run_config(run, plan.command, plan.resolved,
                                 {"generator": gcfg.to_dict(), **plan.run_info,
                                  "processes": engine.group.world_size})
        engine.fit(resume=resume)
        if main and plan.final is not None:
            result = plan.final(run)
            if result is not None:  # which protocols' figures a loss of this run could have flattered
                from gantransfer.metrics.protocols import mark_loss_networks
                write_json(run / "eval.json", mark_loss_networks(result, list(gcfg.loss_networks)))
                write_card(run / "generator")
        if getattr(plan.settings, "report", True) and engine.group.is_main:  # rank 0 alone writes the run's files
            from gantransfer.report.build import write_run_report
            write_run_report(run)
    finally:  # the run's lock is given back when it ends, not when the process does
        if main:
            release(run)
    return run
