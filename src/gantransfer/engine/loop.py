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

from gantransfer import killpoints
from gantransfer.engine.checkpoint import (flatten_optimizer, latest_step, load_state, save_state,
                                           unflatten_optimizer)
from gantransfer.engine.distributed import ProcessGroup, check_global_batch, join, local_device, shard_bounds
from gantransfer.engine.logger import MetricsLog, NullLog
from gantransfer.engine.schedules import lr_factor
from gantransfer.engine.settings import EngineSettings
from gantransfer.devices import AUTOCAST_DTYPES, check_precision, resolve_device
from gantransfer.errors import CheckpointError, TrainingDiverged
from gantransfer.engine.terms import LossTerm, StepContext


class Sampler(Protocol):
    """Draws the inputs of one step; its state (ints/floats only) makes resume exact.

    Under torchrun the engine keeps each process's slice of every tensor the sampler returns, unless the sampler
    has ``set_shard(rank, world_size)``: then it draws the global batch's random numbers itself and returns only
    this process's share (so that expensive inputs, e.g. a teacher's images, are computed once per sample)."""

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


DIVERGENCE_WATCH_STEPS = 100  # within the first steps of a run, a loss that explodes earns a warning
DIVERGENCE_FACTOR = 1000.0    # ... when it grows this much beyond its first value (and past DIVERGENCE_FLOOR)
DIVERGENCE_FLOOR = 1e4
MAX_ROLLBACKS = 3          # --on-nan rollback gives up after this many rollbacks in one process
ROLLBACK_LR_FACTOR = 0.5   # each rollback halves every learning rate

EngineConfig = EngineSettings  # the engine reads a task's config directly; the old name stays for callers


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
        self.device = resolve_device(local_device(config.device))
        check_precision(config.precision, self.device)
        self.group: ProcessGroup = join(self.device)
        check_global_batch(config.batch_size, self.group.world_size)
        # the batch is drawn from this shared generator on every process (each keeps its slice); torch's own
        # generator (noise inputs, augmentation) is per process: rank 0 keeps the single-process stream
        self.rng = torch.Generator().manual_seed(config.seed)
        if self.group.rank > 0:
            torch.manual_seed(rank_seed(config.seed, self.group.rank, 0))
        if self.group.active and hasattr(task.sampler, "set_shard"):
            task.sampler.set_shard(self.group.rank, self.group.world_size)
        self.step = 0
        self.resumed = False  # True once resume() ran: fit(resume=True) then goes on from there
        self._first_losses: dict[str, float] = {}  # for the early-divergence warning
        self._warned_divergence = False
        self.lr_scale = 1.0  # lowered by each --on-nan rollback; checkpointed
        self.scaler = torch.amp.GradScaler("cuda") if config.precision == "fp16" else None
        for m in task.modules.values():
            m.to(self.device)
        if task.ema is not None and task.ema[1] not in task.modules:
            task.modules[task.ema[1]] = copy.deepcopy(task.modules[task.ema[0]]).eval().requires_grad_(False)
        self.group.broadcast_modules_(task.modules)  # every process starts from rank 0's weights

    # ---- checkpoints -------------------------------------------------------------------------
    def _gather_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        tensors: dict[str, torch.Tensor] = {}
        for name, module in self.task.modules.items():
            for k, v in module.state_dict().items():
                tensors[f"module.{name}.{k}"] = v
        plain: dict[str, Any] = {"optimizers": {}, "sampler": self.task.sampler.state_dict(),
                                 "lr_scale": self.lr_scale, "world_size": self.group.world_size}
        if self.scaler is not None:
            plain["grad_scaler"] = self.scaler.state_dict()
        for name, opt in self.task.optimizers.items():
            t, p = flatten_optimizer(f"optim.{name}", opt.state_dict())
            tensors.update(t)
            plain["optimizers"][name] = p
        tensors["rng.engine"] = self.rng.get_state()
        for rank, state in enumerate(self.group.gather_rng_states()):
            tensors["rng.torch" if rank == 0 else f"rng.torch.rank{rank}"] = state
        return tensors, plain

    def save_checkpoint(self) -> None:
        """Every process takes part (their generator states are gathered); rank 0 writes and exports."""
        tensors, plain = self._gather_state()
        bad = [k for k, v in tensors.items() if v.is_floating_point() and not torch.isfinite(v).all()]
        if self.group.active:  # every process must stop, or none
            flag = self.group.mean_(torch.tensor([float(bool(bad))], device=self.device))
            bad = bad or (["a weight of another process"] if float(flag) > 0 else [])
        if bad:
            raise TrainingDiverged(f"{bad[0]} holds NaN/inf at step {self.step}; no checkpoint written. "
                                   f"The last good checkpoint in {self.state_dir} is kept")
        self._check_in_sync()
        if not self.group.is_main:
            return
        with killpoints.writing("checkpoint"):
            save_state(self.state_dir, self.step, tensors, plain)
        if self.task.export is not None:
            with killpoints.writing("export"):
                self.task.export(self.run_dir, self.step)

    def _check_in_sync(self) -> None:
        """Under torchrun every process must hold the same weights (their gradients are averaged); a process that
        drifted means a phase's gradients were not reduced: stop rather than checkpoint rank 0's view."""
        if not self.group.active:
            return
        params = [p for m in self.task.modules.values() for p in m.parameters()]
        local = torch.stack([p.detach().double().sum() for p in params]).to(self.device)
        mean = self.group.mean_(local.clone())
        drift = self.group.mean_(torch.tensor([float(not torch.equal(mean, local))], device=self.device))
        if float(drift) > 0:
            raise TrainingDiverged(f"the {self.group.world_size} processes hold different weights at step "
                                   f"{self.step}; no checkpoint written (a phase's gradients were not averaged)")

    def latest_checkpoint(self) -> int | None:
        """The newest checkpoint's step, as rank 0 reads it (the other processes never read the run directory)."""
        step = latest_step(self.state_dir) if self.group.is_main else None
        return self.group.broadcast_json(step)

    def resume(self) -> int:
        """Load the newest checkpoint; returns its step (0 when there is none). Under torchrun rank 0 reads it and
        hands it to the other processes; it may have been written by any number of processes."""
        self.resumed = True
        if self.latest_checkpoint() is None:
            return 0
        tensors, plain = load_state(self.state_dir) if self.group.is_main else (None, None)
        tensors, plain = self.group.broadcast_tensors(tensors), self.group.broadcast_json(plain)
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
        self.step = int(plain["step"])
        rank = self.group.rank
        own = "rng.torch" if rank == 0 else f"rng.torch.rank{rank}"
        if own in tensors:
            torch.set_rng_state(tensors[own])
        else:  # a process the checkpointed run did not have
            torch.manual_seed(rank_seed(self.cfg.seed, rank, self.step))
        self.lr_scale = float(plain.get("lr_scale", 1.0))
        if self.scaler is not None and "grad_scaler" in plain:
            self.scaler.load_state_dict(plain["grad_scaler"])
        return self.step

    # ---- the loop ----------------------------------------------------------------------------
    def _run_phase(self, phase: Phase, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        for m in self.task.modules.values():
            m.requires_grad_(False)
        for group in phase.optimizer.param_groups:  # only what this phase's optimizer updates gets gradients
            for p in group["params"]:
                p.requires_grad_(True)
        ctx = StepContext(batch, phase.providers)
        dtype = AUTOCAST_DTYPES.get(self.cfg.precision)
        with torch.autocast(self.device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            values = {t.name: t(ctx) for t in phase.terms}
            total = sum(t.weight * values[t.name] for t in phase.terms)
        if self.group.active:  # gradients and logged values averaged across the processes
            phase.optimizer.zero_grad(set_to_none=True)
            (self.scaler.scale(total) if self.scaler is not None else total).backward()
            logged = dict(zip((f"loss/{phase.name}/{k}" for k in values), self._reduce(phase, list(values.values()))))
            self._check_finite(logged)
        else:
            logged = {f"loss/{phase.name}/{k}": float(v.detach()) for k, v in values.items()}
            self._check_finite(logged)
            phase.optimizer.zero_grad(set_to_none=True)
            (self.scaler.scale(total) if self.scaler is not None else total).backward()
        factor = lr_factor(self.cfg.lr_decay, self.step, self.cfg.steps)
        for group in phase.optimizer.param_groups:
            group["lr"] = group.setdefault("initial_lr", group["lr"]) * factor * self.lr_scale
        if self.scaler is not None:
            self.scaler.step(phase.optimizer)  # skipped when the scaled gradients overflowed
        else:
            phase.optimizer.step()
        return logged

    def _check_finite(self, logged: dict[str, float]) -> None:
        for k, v in logged.items():
            if not math.isfinite(v):
                good = latest_step(self.state_dir) if self.group.is_main else None
                kept = (f"the last good checkpoint (step {good}) in {self.state_dir} is kept" if good is not None
                        else "no checkpoint had been written yet")
                raise TrainingDiverged(f"loss term {k} became {v} at step {self.step}; nothing was written for this "
                                       f"step and {kept}. Start a new run (another --out) with a lower --lr or "
                                       "with --r1, or let the run roll back by itself with --on-nan rollback")

    def _reduce(self, phase: Phase, values: list[torch.Tensor]) -> list[float]:
        """One all-reduce of the phase's loss values and of the gradients of its optimizer's parameters (a
        parameter no process computed a gradient for keeps none); returns the averaged values."""
        params = [p for group in phase.optimizer.param_groups for p in group["params"]]
        parts = [torch.stack([v.detach().float().reshape(()) for v in values]).to(self.device),
                 torch.tensor([float(p.grad is not None) for p in params], device=self.device)]
        parts += [p.grad.detach().float().reshape(-1) if p.grad is not None
                  else torch.zeros(p.numel(), device=self.device) for p in params]
        flat = self.group.mean_(torch.cat(parts))
        nv, np_ = len(values), len(params)
        present, offset = flat[nv:nv + np_] > 0, nv + np_
        for p, has in zip(params, present.tolist()):
            n = p.numel()
            p.grad = flat[offset:offset + n].view_as(p).to(p.dtype).clone() if has else None
            offset += n
        return flat[:nv].tolist()

    def fit(self, resume: bool = False) -> dict[str, float]:
        """Train until ``config.steps``; returns the last logged values."""
        cfg, task = self.cfg, self.task
        start = (self.step if self.resumed else self.resume()) if resume else 0
        main = self.group.is_main
        log = MetricsLog(self.run_dir, resume_step=start if resume else None) if main else NullLog()
        for m in task.modules.values():
            m.train()
        if task.ema is not None:
            task.modules[task.ema[1]].eval()
        bar = tqdm(total=cfg.steps, initial=start, disable=not cfg.progress or not main, dynamic_ncols=True,
                   desc=self.run_dir.name, unit="step")
        last: dict[str, float] = {}
        t0 = time.perf_counter()
        rollbacks = 0
        try:
            while self.step < cfg.steps:
                out_of_time = bool(cfg.max_seconds) and time.perf_counter() - t0 >= cfg.max_seconds
                if cfg.max_seconds and self.group.active:  # rank 0's clock decides for every process
                    out_of_time = bool(self.group.broadcast_json(out_of_time))
                if out_of_time and self.step > start:
                    self._finish_early(log, last, t0, start)
                    break
                try:
                    self._step(log, last, t0, start, bar)
                except TrainingDiverged as e:
                    if cfg.on_nan != "rollback" or rollbacks >= MAX_ROLLBACKS or self.latest_checkpoint() is None:
                        raise
                    rollbacks += 1
                    self._roll_back(log, bar, e, rollbacks)
        finally:
            bar.close()
            log.close()
        self.group.close()
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
        if self.group.is_main:
            warnings.warn(f"{str(error).split(';')[0]}; rolled back to the checkpoint of step {self.step} with the "
                      f"learning rates at x{scale:g} (--on-nan rollback, {count} of {MAX_ROLLBACKS})")

    def _step(self, log: MetricsLog, last: dict[str, float], t0: float, start: int, bar: Any) -> None:
        """One training step, its logs, evaluation, grid and checkpoint."""
        cfg, task = self.cfg, self.task
        killpoints.reached("step")
        main = self.group.is_main
        batch = task.sampler.next(self.rng, self.device)
        if self.group.active and not hasattr(task.sampler, "set_shard"):
            batch = {k: v[slice(*shard_bounds(len(v), self.group.rank, self.group.world_size))]
                     for k, v in batch.items()}
        values: dict[str, float] = {}
        for phase in task.phases:
            if phase.active(self.step):
                values.update(self._run_phase(phase, batch))
        if task.ema is not None:
            src, dst = task.ema
            # warm-up: early on the average follows the live weights closely
            beta = min(cfg.ema_beta, (1 + self.step) / (10 + self.step))
            update_ema(task.modules[src], task.modules[dst], beta)
        if self.scaler is not None:
            self.scaler.update()
        self.step += 1
        if main and self.step <= DIVERGENCE_WATCH_STEPS:
            self._watch_divergence(values)
        last.update(values)
        bar.update(1)
        if self.step % cfg.log_every == 0 or self.step == cfg.steps:
            bar.set_postfix({k.split("/", 1)[1]: f"{v:.3f}" for k, v in last.items()}, refresh=False)
            log.write(self.step, {**last,
                                  "time/sec_per_step": (time.perf_counter() - t0) / max(1, self.step - start)})
        if main and task.evaluate is not None and cfg.eval_every and self.step % cfg.eval_every == 0:
            log.write(self.step, task.evaluate(self.step))
        if main and task.preview is not None and (self.step % cfg.sample_every == 0 or self.step == cfg.steps):
            with killpoints.writing("grid"):
                task.preview(self.run_dir, self.step)
        if self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps:
            self.save_checkpoint()

    def _watch_divergence(self, values: dict[str, float]) -> None:
        """Warn once when a loss explodes early on (finite yet, so the NaN guard does not stop the run): the usual
        sign of a learning rate far too high."""
        first = self._first_losses
        for k, v in values.items():
            first.setdefault(k, v)
            if (not self._warned_divergence and abs(v) > DIVERGENCE_FLOOR
                    and abs(v) > DIVERGENCE_FACTOR * max(abs(first[k]), 1e-3)):
                self._warned_divergence = True
                warnings.warn(f"{k} grew from {first[k]:.3g} to {v:.3g} within the first {self.step} steps: the "
                              f"training is diverging (--lr {self.cfg.lr:g} is likely too high); stop it and start a "
                              "new run with a lower --lr")

    def _finish_early(self, log: MetricsLog, last: dict[str, float], t0: float, start: int) -> None:
        """The time limit struck between steps: log, preview and checkpoint the step reached."""
        step = self.step
        log.write(step, {**last, "time/sec_per_step": (time.perf_counter() - t0) / max(1, step - start),
                         "time/stopped_at_limit": 1.0}, merge=True)
        if self.group.is_main and self.task.preview is not None and step % self.cfg.sample_every:
            with killpoints.writing("grid"):
                self.task.preview(self.run_dir, step)
        if step % self.cfg.checkpoint_every:
            self.save_checkpoint()
        if self.group.is_main:
            warnings.warn(f"time limit of {self.cfg.max_seconds:g} s reached at step {step} of {self.cfg.steps}; "
                      f"checkpoint written to {self.state_dir} (--resume continues)")


def rank_seed(seed: int, rank: int, step: int) -> int:
    """The seed of torch's generator in process ``rank`` > 0 (at ``step``: a process a resumed run adds)."""
    return (seed * 1_000_003 + rank * 7_919 + step * 104_729) % (2 ** 63)
