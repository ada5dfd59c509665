"""Export formats: each an ``ExportFormat`` (name, file suffixes, writer, detector, runtime opener, the bench
backends it offers), registered once. ``gantransfer export --format``, the output-name check, ``sample``/``eval``
of an exported file (``runtime.open_exported``) and ``bench --backends`` all read this registry.

``write(prepared, cfg, out, report, reference, options)`` writes a parity-checked file at ``out`` (under a
temporary name, renamed only when it passes) and fills ``report``; ``detect(path)`` says whether a file is one of
this format; ``open(path, threads, spin)`` returns a generator under the Generator contract that runs it.
Torch-free: the built-in functions are named as ``"gantransfer.deploy.module:function"``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from gantransfer.errors import ConfigError
from gantransfer.registry import Registry, resolve

Ref = str | Callable[..., Any]


@dataclass(frozen=True)
class ExportOptions:
    """What ``gantransfer export`` asks of a writer besides the file: int8 quantization and how it is judged."""

    int8: bool = False
    calibration: int = 512
    fid_n: int = 0
    judge: Callable[..., dict[str, Any]] | None = None   # see deploy/export._fid_change


@dataclass(frozen=True)
class ExportFormat:
    """A file format a generator is exported to, and the runtime that runs it."""

    name: str
    suffixes: tuple[str, ...]                    # accepted --out suffixes; the first is the one suggested
    write: Ref                                   # (prepared, cfg, out, report, reference, options) -> None
    detect: Ref                                  # (path) -> whether the file is of this format
    open: Ref                                    # (path, threads, spin) -> a runtime generator
    int8: bool = False                           # offers --int8
    require: Ref | None = None                   # () -> None, ConfigError naming what to install
    backends: dict[str, bool] = field(default_factory=dict)  # bench backend -> int8
    threaded: bool = False                       # its runtime takes a thread count of its own
    description: str = ""

    def opener(self) -> Callable[..., Any]:
        return resolve(self.open)

    def detects(self, path: Path) -> bool:
        return bool(resolve(self.detect)(path))


FORMATS: Registry[ExportFormat] = Registry("export format")


def register_format(fmt: ExportFormat) -> ExportFormat:
    """Add ``fmt`` (a later registration of the same name replaces it)."""
    return FORMATS.register(fmt)


def export_format(name: str) -> ExportFormat:
    """The registered format ``name``; ConfigError listing the known ones otherwise (it comes from --format)."""
    if name not in FORMATS:
        raise ConfigError(f"unknown --format {name!r}; choose one of {', '.join(FORMATS.names())}")
    return FORMATS.get(name)


def format_of_file(path: str | Path) -> ExportFormat | None:
    """The format of an existing exported file, by each format's detector in registration order; None if none."""
    p = Path(path)
    if not p.is_file():
        return None
    return next((f for f in FORMATS if f.detects(p)), None)


def format_of_backend(backend: str) -> ExportFormat | None:
    """The format behind a bench backend (``onnx-int8`` -> onnx), or None for an eager one."""
    return next((f for f in FORMATS if backend in f.backends), None)


register_format(ExportFormat(
    "torchscript", (".pt", ".ts", ".pt2", ".torchscript"), write="gantransfer.deploy.export:write_torchscript_file",
    detect="gantransfer.deploy.runtime:is_torchscript_file", open="gantransfer.deploy.runtime:open_torchscript",
    backends={"torchscript": False}, description="TorchScript, run by torch.jit"))
register_format(ExportFormat(
    "onnx", (".onnx",), write="gantransfer.deploy.export:write_onnx_file",
    detect="gantransfer.deploy.runtime:is_onnx_file", open="gantransfer.deploy.runtime:OnnxGenerator", int8=True,
    require="gantransfer.deploy.runtime:require_onnx", backends={"onnx": False, "onnx-int8": True}, threaded=True,
    description="ONNX (fp32, or static int8 QDQ), run by onnxruntime"))
