"""The ways ``bench`` runs a generator: eager PyTorch as loaded (``eager-plain``), eager made efficient
(``eager``: batch norm folded, inference mode; ``eager-cl``: also channels-last; ``eager-conv``: transposed
convolutions rewritten exactly as convolutions + pixel shuffle), ``compile`` (torch.compile of the folded module), and exported files run by their runtimes (``torchscript``, ``onnx``, ``onnx-int8``)."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from gantransfer.errors import ConfigError
from gantransfer.models.config import GeneratorConfig
from gantransfer.models.sampling import draw_inputs
from gantransfer.trust import trusting
from gantransfer.deploy.formats import FORMATS, format_of_backend
from gantransfer.deploy.inference import prepare_for_inference

EAGER_BACKENDS = ("eager-plain", "eager", "eager-cl", "eager-conv", "compile")


def backend_names() -> tuple[str, ...]:
    """The eager backends, then those of every registered export format (torchscript, onnx, onnx-int8, ...)."""
    return EAGER_BACKENDS + tuple(b for f in FORMATS for b in f.backends)

Call = Callable[[], Any]  # one forward pass on fixed inputs


def check_backends(names: list[str]) -> None:
    known = backend_names()
    bad = [n for n in names if n not in known]
    if bad:
        raise ConfigError(f"unknown backend(s) {', '.join(bad)}; choose from {', '.join(known)}")


def compiled(module: nn.Module) -> Any:
    """``torch.compile`` of ``module``, one static graph per batch size. Every generator of a family shares its
    ``forward`` code, so dynamo's per-function recompile limit (8) is raised: past it, calls would silently run
    eagerly."""
    import torch._dynamo
    for name in ("recompile_limit", "cache_size_limit", "accumulated_recompile_limit", "accumulated_cache_size_limit"):
        if hasattr(torch._dynamo.config, name):
            setattr(torch._dynamo.config, name, max(256, getattr(torch._dynamo.config, name)))
    return torch.compile(module, dynamic=False)


class Subject:
    """One generator directory and its backends, built once and reused for every batch and thread count."""

    def __init__(self, name: str, module: nn.Module, cfg: GeneratorConfig, workdir: Path) -> None:
        self.name, self.module, self.cfg, self.workdir = name, module.eval(), cfg, workdir
        self.exports: dict[str, dict] = {}
        self._built: dict[tuple[str, int], Any] = {}
        self.compile_seconds: dict[int, float] = {}

    def _export(self, backend: str, source: str) -> Path:
        from gantransfer.deploy.export import export_generator
        fmt = format_of_backend(backend)
        int8 = fmt.backends[backend]
        out = self.workdir / f"{self.name}.{backend}{fmt.suffixes[0]}"
        if not out.exists():
            self.exports[backend] = export_generator(source, fmt.name, out, int8=int8, fid_n=0 if int8 else None)
        return out

    def runner(self, backend: str, threads: int, source: str) -> Any:
        """The object that runs ``backend`` (an nn.Module, a runtime generator), built on first use."""
        fmt = format_of_backend(backend)
        key = (backend, threads if fmt is not None and fmt.threaded else 0)
        if key in self._built:
            return self._built[key]
        if backend == "eager-plain":
            run = self.module
        elif backend in ("eager", "eager-cl", "eager-conv", "compile"):
            run, _ = prepare_for_inference(self.module, self.cfg, channels_last=backend == "eager-cl",
                                           as_convolutions=backend == "eager-conv")
            if backend == "compile":
                run = compiled(run)
        else:  # an export format's backend, run by the format's runtime (a file exported here, now: trusted)
            with trusting(code=True):
                run = fmt.opener()(self._export(backend, source), threads, True)
        self._built[key] = run
        return run

    def call(self, backend: str, threads: int, batch: int, source: str) -> Call:
        """A no-argument function running one forward pass of ``backend`` at ``batch``."""
        run = self.runner(backend, threads, source)
        z, y = draw_inputs(self.cfg, batch, torch.Generator().manual_seed(batch))
        if hasattr(run, "run_numpy"):  # a runtime fed numpy arrays directly (onnxruntime)
            zn, yn = z.numpy(), None if y is None else y.numpy().astype(np.int64)
            return lambda: run.run_numpy(zn, yn)

        def forward() -> Any:
            with torch.inference_mode():
                return run(z, y)
        return forward


def memory_probe(subject: "Subject", backend: str, threads: int, batch: int, source: str) -> Call:
    """A call for measuring peak memory: onnxruntime backends get a fresh session (its arena is allocated on the
    first run, which is then measured); torch backends reuse theirs (the heap is trimmed before measuring)."""
    fmt = format_of_backend(backend)
    if fmt is not None and fmt.threaded:
        with trusting(code=True):  # a file exported here, now
            run = fmt.opener()(subject._export(backend, source), threads)
        z, y = draw_inputs(subject.cfg, batch, torch.Generator().manual_seed(batch))
        zn, yn = z.numpy(), None if y is None else y.numpy().astype(np.int64)
        return lambda: run.run_numpy(zn, yn)
    return subject.call(backend, threads, batch, source)


def warm(call: Call, times: int = 3) -> float:
    """Run ``call`` ``times`` times; seconds of the first (compilation, for ``compile``)."""
    t0 = time.perf_counter()
    call()
    first = time.perf_counter() - t0
    for _ in range(times - 1):
        call()
    return first


def scratch_dir() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="gantransfer-bench-")
