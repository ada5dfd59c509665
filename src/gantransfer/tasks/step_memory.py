"""The memory one distillation step needs, estimated before the student is built or a step runs: refused when
it exceeds the limit (the machine's memory, or ``--max-memory``), naming the estimate and what would fit.

Estimate = a runtime allowance + the teacher's weights + the student's weights, gradients and two Adam moments
+ batch x (1.5 x the teacher's summed layer outputs per sample + 2 x the student's). The factors are fitted to the
peak RSS measured by ``benchmarks/stylegan2_scale.py`` (config-f teacher, 1/4-width W-space student, on CPU):
256 px 1.46 / 2.26 GiB at batch 4 / 8 against 1.59 / 2.41 estimated, 1024 px 4.80 / 7.95 GiB at batch 4 / 8
against 4.62 / 8.43 (within 10 %).
"""
from __future__ import annotations

from dataclasses import dataclass

from gantransfer.budget import activation_bytes, gib, limit, limited_by_flag, screen
from gantransfer.errors import ConfigError
from gantransfer.models.config import GeneratorConfig

RUNTIME_BYTES = int(0.6 * 2 ** 30)  # the interpreter, torch and the run's own buffers (previews, logs)
TEACHER_FACTOR, STUDENT_FACTOR, STUDENT_STATE = 1.5, 2.0, 4


@dataclass(frozen=True)
class StepMemory:
    """A distillation step's estimate: the part every step needs and the part each sample adds."""

    fixed: int
    per_sample: int

    def at(self, batch: int) -> int:
        return self.fixed + batch * self.per_sample

    def largest_batch(self, nbytes: int) -> int:
        """The largest batch whose estimate is within ``nbytes`` (0: not even one sample)."""
        return max(0, (nbytes - self.fixed) // self.per_sample) if self.per_sample else 1 << 30


def step_memory(teacher: GeneratorConfig, student: GeneratorConfig) -> StepMemory:
    """The estimate for distilling ``teacher`` into ``student`` (both built on the meta device only)."""
    t_params, t_outs, _ = activation_bytes(teacher.family.build_generator, teacher)
    s_params, s_outs, _ = activation_bytes(student.family.build_generator, student)
    return StepMemory(RUNTIME_BYTES + t_params + STUDENT_STATE * s_params,
                      int(TEACHER_FACTOR * t_outs + STUDENT_FACTOR * s_outs))


def check_step_memory(teacher: GeneratorConfig, student: GeneratorConfig, batch: int, where: str) -> StepMemory:
    """ConfigError when a step at ``batch`` is estimated beyond the limit: the estimate, the limit, and the
    largest batch that fits (or, when none does, that a narrower student or more memory is needed). Sizes out
    of any model's range are refused first, by name (``budget.screen``)."""
    screen(student, "the generator config")
    est = step_memory(teacher, student)
    cap = limit()
    if est.at(batch) <= cap:
        return est
    source = "--max-memory" if limited_by_flag() else "this machine's available memory"
    fits = est.largest_batch(cap)
    if fits:
        fix = f"use --batch-size {fits} or less (estimated {gib(est.at(fits))})"
    else:
        fix = (f"not even batch 1 fits (estimated {gib(est.at(1))}): distil a narrower student (--width), or run "
               f"on a machine with more memory")
    raise ConfigError(f"{where}: a distillation step of this {teacher.resolution} px teacher at --batch-size {batch} "
                      f"needs about {gib(est.at(batch))} of memory ({gib(est.fixed)} for the networks and "
                      f"{gib(est.per_sample)} per sample), more than the {gib(cap)} of {source}; {fix}")
