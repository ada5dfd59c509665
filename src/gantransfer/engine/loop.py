"""The one training loop. Tasks supply modules, optimizers, phases of loss terms and a sampler; the engine
owns device, seeding, precision, gradient steps, EMA, NaN guard, logging, progress, grids, checkpoints, resume.
"""
from __future__ import annotations

import copy
import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import torch
from torch import nn
from tqdm.auto import tqdm

from gantransfer.engine.checkpoint import (flatten_optimizer, latest_step, load_state, save_state,
                                           unflatten_optimizer)
from gantransfer.engine.logger import MetricsLog
from gantransfer.engine.schedules import lr_factor
from gantransfer.engine.settings import EngineSettings
from gantransfer.errors import CheckpointError, ConfigError, TrainingDiverged
from gantransfer.losses.base import LossTerm, StepContext


class Sampler(Protocol):
    """Draws the inputs of one step; its state (ints/floats only) makes resume exact."""

    def next(self, rng: torch.Generator, device: torch.device) -> dict[str, torch.Tensor]: ...
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@dataclass
class Phase:
    """One optimisation phase of a step: the parameters of ``optimizer`` trained on a weighted sum of terms."""

    name: str
    optimizer: torch.optim.Optimizer
    terms: list[LossTerm]
    providers: dict[str, Callable[[StepContext], torch.Tensor]]
    every: int = 1
    start: int = 0                   # first step at which the phase runs
    until: int | None = None         # the phase runs for steps < until (None: to the end)

    def active(self, step: int) -> bool:
        return step % self.every == 0 and self.start <= step and (self.until is None or step < self.until)


@dataclass
class TrainingTask:
    """What a task hands the engine."""

    modules: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    phases: list[Phase]
    sampler: Sampler
    ema: tuple[str, str] | None = None                      # (source module, EMA copy)
    export: Callable[[Path, int], None] | None = None        # writes the deliverable (e.g. generator/)
    preview: Callable[[Path, int], None] | None = None       # writes a sample grid
    evaluate: Callable[[int], dict[str, float]] | None = None  # periodic evaluation


MAX_ROLLBACKS = 3          # --on-nan rollback gives up after this many rollbacks in one process
ROLLBACK_LR_FACTOR = 0.5   # each rollback halves every learning rate

EngineConfig = EngineSettings  # the engine reads a task's config directly; the old name stays for callers


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when available, else CPU; anything else must name a device this machine has."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"--device {name!r} is not a device; use auto, cpu, cuda or cuda:N") from None
    if dev.type not in ("cpu", "cuda"):
        raise ConfigError(f"--device {name!r}: gantransfer runs on cpu and cuda devices; use auto, cpu, cuda or cuda:N")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but no CUDA device is available; use --device cpu")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ConfigError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return dev


@torch.no_grad()
def update_ema(source: nn.Module, target: nn.Module, beta: float) -> None:
    """target <- beta * target + (1 - beta) * source for parameters; buffers are copied."""
    for p_t, p_s in zip(target.parameters(), source.parameters()):
        p_t.lerp_(p_s, 1.0 - beta)
    for b_t, b_s in zip(target.buffers(), source.buffers()):
        b_t.copy_(b_s)


class Engine:
    """Runs a TrainingTask in a run directory, resuming from its newest checkpoint when asked."""

    def __init__(self, task: TrainingTask, config: EngineSettings, run_dir: str | Path) -> None:
        self.task, self.cfg, self.run_dir = task, config, Path(run_dir)
        self.state_dir = self.run_dir / "state"
        self.device = resolve_device(config.device)
        self.rng = torch.Generator().manual_seed(config.seed)
        self.step = 0
        self.lr_scale = 1.0  # lowered by each --on-nan rollback; checkpointed
        for m in task.modules.values():
            m.to(self.device)
        if task.ema is not None and task.ema[1] not in task.modules:
            task.modules[task.ema[1]] = copy.deepcopy(task.modules[task.ema[0]]).eval().requires_grad_(False)

    # ---- checkpoints -------------------------------------------------------------------------
    def _gather_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        tensors: dict[str, torch.Tensor] = {}
        for name, module in self.task.modules.items():
            for k, v in module.state_dict().items():
                tensors[f"module.{name}.{k}"] = v
        plain: dict[str, Any] = {"optimizers": {}, "sampler": self.task.sampler.state_dict(),
                                 "lr_scale": self.lr_scale}
        for name, opt in self.task.optimizers.items():
            t, p = flatten_optimizer(f"optim.{name}", opt.state_dict())
            tensors.update(t)
            plain["optimizers"][name] = p
        tensors["rng.engine"] = self.rng.get_state()
        tensors["rng.torch"] = torch.get_rng_state()
        return tensors, plain

    def save_checkpoint(self) -> None:
        tensors, plain = self._gather_state()
        for k, v in tensors.items():
            if v.is_floating_point() and not torch.isfinite(v).all():
                raise TrainingDiverged(f"{k} holds NaN/inf at step {self.step}; no checkpoint written. "
                                       f"The last good checkpoint in {self.state_dir} is kept")
        save_state(self.state_dir, self.step, tensors, plain)
        if self.task.export is not None:
            self.task.export(self.run_dir, self.step)

    def resume(self) -> int:
        """Load the newest checkpoint; returns its step (0 when there is none)."""
        if latest_step(self.state_dir) is None:
            return 0
        tensors, plain = load_state(self.state_dir)
        try:
            for name, module in self.task.modules.items():
                prefix = f"module.{name}."
                module.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})
            for name, opt in self.task.optimizers.items():
                opt.load_state_dict(unflatten_optimizer(tensors, plain["optimizers"][name]))
        except (RuntimeError, KeyError) as e:
            raise CheckpointError(f"the checkpoint in {self.state_dir} does not match this run's models "
                                  f"({str(e).splitlines()[0]}); resume with the same config") from None
        self.task.sampler.load_state_dict(plain["sampler"])
        self.rng.set_state(tensors["rng.engine"])
        torch.set_rng_state(tensors["rng.torch"])
        self.step = int(plain["step"])
        self.lr_scale = float(plain.get("lr_scale", 1.0))
        return self.step

    # ---- the loop ----------------------------------------------------------------------------
    def _run_phase(self, phase: Phase, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        for m in self.task.modules.values():
            m.requires_grad_(False)
        for group in phase.optimizer.param_groups:  # only what this phase's optimizer updates gets gradients
            for p in group["params"]:
                p.requires_grad_(True)
        ctx = StepContext(batch, phase.providers)
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.cfg.precision == "bf16")
        with autocast:
            values = {t.name: t(ctx) for t in phase.terms}
            total = sum(t.weight * values[t.name] for t in phase.terms)
        logged = {f"loss/{phase.name}/{k}": float(v.detach()) for k, v in values.items()}
        for k, v in logged.items():
            if not math.isfinite(v):
                good = latest_step(self.state_dir)
                kept = (f"the last good checkpoint (step {good}) in {self.state_dir} is kept" if good is not None
                        else "no checkpoint had been written yet")
                raise TrainingDiverged(f"loss term {k} became {v} at step {self.step}; nothing was written for this "
                                       f"step and {kept}. Start a new run (another --out) with a lower --lr or "
                                       "with --r1, or let the run roll back by itself with --on-nan rollback")
        phase.optimizer.zero_grad(set_to_none=True)
        total.backward()
        factor = lr_factor(self.cfg.lr_decay, self.step, self.cfg.steps)
        for group in phase.optimizer.param_groups:
            group["lr"] = group.setdefault("initial_lr", group["lr"]) * factor * self.lr_scale
        phase.optimizer.step()
        return logged

    def fit(self, resume: bool = False) -> dict[str, float]:
        """Train until ``config.steps``; returns the last logged values."""
        cfg, task = self.cfg, self.task
        start = self.resume() if resume else 0
        log = MetricsLog(self.run_dir, resume_step=start if resume else None)
        for m in task.modules.values():
            m.train()
        if task.ema is not None:
            task.modules[task.ema[1]].eval()
        bar = tqdm(total=cfg.steps, initial=start, disable=not cfg.progress, dynamic_ncols=True,
                   desc=self.run_dir.name, unit="step")
        last: dict[str, float] = {}
        t0 = time.perf_counter()
        rollbacks = 0
        try:
            while self.step < cfg.steps:
                out_of_time = bool(cfg.max_seconds) and time.perf_counter() - t0 >= cfg.max_seconds
                if out_of_time and self.step > start:
                    self._finish_early(log, last, t0, start)
                    break
                try:
                    self._step(log, last, t0, start, bar)
                except TrainingDiverged as e:
                    if cfg.on_nan != "rollback" or rollbacks >= MAX_ROLLBACKS or latest_step(self.state_dir) is None:
                        raise
                    rollbacks += 1
                    self._roll_back(log, bar, e, rollbacks)
        finally:
            bar.close()
            log.close()
        return last

    def _roll_back(self, log: MetricsLog, bar: Any, error: TrainingDiverged, count: int) -> None:
        """--on-nan rollback: reload the last good checkpoint and go on from it at lower learning rates."""
        scale = self.lr_scale * ROLLBACK_LR_FACTOR
        self.resume()
        self.lr_scale = scale
        log.rewind(self.step)
        log.write(self.step, {"nan/rollback_to_step": float(self.step), "nan/lr_scale": scale})
        bar.n = self.step
        bar.refresh()
        warnings.warn(f"{str(error).split(';')[0]}; rolled back to the checkpoint of step {self.step} with the "
                      f"learning rates at x{scale:g} (--on-nan rollback, {count} of {MAX_ROLLBACKS})")

    def _step(self, log: MetricsLog, last: dict[str, float], t0: float, start: int, bar: Any) -> None:
        """One training step, its logs, evaluation, grid and checkpoint."""
        cfg, task = self.cfg, self.task
        batch = task.sampler.next(self.rng, self.device)
        values: dict[str, float] = {}
        for phase in task.phases:
            if phase.active(self.step):
                values.update(self._run_phase(phase, batch))
        if task.ema is not None:
            src, dst = task.ema
            # warm-up: early on the average follows the live weights closely
            beta = min(cfg.ema_beta, (1 + self.step) / (10 + self.step))
            update_ema(task.modules[src], task.modules[dst], beta)
        self.step += 1
        last.update(values)
        bar.update(1)
        if self.step % cfg.log_every == 0 or self.step == cfg.steps:
            bar.set_postfix({k.split("/", 1)[1]: f"{v:.3f}" for k, v in last.items()}, refresh=False)
            log.write(self.step, {**last,
                                  "time/sec_per_step": (time.perf_counter() - t0) / max(1, self.step - start)})
        if task.evaluate is not None and cfg.eval_every and self.step % cfg.eval_every == 0:
            log.write(self.step, task.evaluate(self.step))
        if task.preview is not None and (self.step % cfg.sample_every == 0 or self.step == cfg.steps):
            task.preview(self.run_dir, self.step)
        if self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps:
            self.save_checkpoint()

    def _finish_early(self, log: MetricsLog, last: dict[str, float], t0: float, start: int) -> None:
        """The time limit struck between steps: log, preview and checkpoint the step reached."""
        step = self.step
        log.write(step, {**last, "time/sec_per_step": (time.perf_counter() - t0) / max(1, step - start),
                         "time/stopped_at_limit": 1.0})
        if self.task.preview is not None and step % self.cfg.sample_every:
            self.task.preview(self.run_dir, step)
        if step % self.cfg.checkpoint_every:
            self.save_checkpoint()
        warnings.warn(f"time limit of {self.cfg.max_seconds:g} s reached at step {step} of {self.cfg.steps}; "
                      f"checkpoint written to {self.state_dir} (--resume continues)")
