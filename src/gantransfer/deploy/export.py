"""``gantransfer export``: a generator directory to an ONNX (fp32 or int8) or TorchScript file.

Batch norm is folded first (``inference.prepare_for_inference``); the file is written under a temporary name
beside ``out``, checked against the PyTorch source on the parity latents (fp32: max abs error <= 1e-4 at batch 1
and 64, fewer latents and a smaller batch above 64 px: ``parity.parity_count``; int8: PSNR against fp32, and FID
change under the data set's protocol), and renamed to ``out`` only when it passes. Nothing is left behind
otherwise. Generic over the family registry: whatever family the directory names is built by its own builder and
traced.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

from gantransfer.errors import ConfigError, GantransferError
from gantransfer.io import check_file_out, commit
from gantransfer.models.config import GeneratorConfig
from gantransfer.models.store import load_generator
from gantransfer.registry import resolve
from gantransfer.deploy.formats import FORMATS, ExportOptions, export_format
from gantransfer.deploy.inference import prepare_for_inference
from gantransfer.deploy.metadata import TORCHSCRIPT_EXTRA, export_metadata
from gantransfer.deploy.parity import (FP32_TOLERANCE, check_parity, outputs, parity_batches, parity_count,
                                      parity_inputs, psnr)

DEFAULT_FID_N = 5000
DEFAULT_CALIBRATION = 512
TRANSLATOR_CALIBRATION = 32  # translators: input images (random, in the value range) calibrating int8
Judge = Callable[[Any, GeneratorConfig, int, str], dict[str, Any]]  # (generator, config, n, what) -> metrics
INT8_MIN_PSNR = 20.0  # dB against fp32 on the parity latents: below it the int8 file is not written


class ExportError(GantransferError):
    """A generator could not be exported faithfully; nothing was written."""


def check_out(out: str | Path, fmt: str, overwrite: bool) -> Path:
    """ConfigError unless ``out`` may be written: its directory exists, it is not a directory, and it exists
    only with ``overwrite``."""
    suffixes = export_format(fmt).suffixes
    p = check_file_out(out, overwrite, "student" + suffixes[0])
    if p.suffix.lower() not in suffixes:
        raise ConfigError(f"--out {p} does not end in {' or '.join(suffixes)} as a {fmt} file does; "
                          f"rename it (e.g. {p.with_suffix(suffixes[0]).name})")
    return p


@contextmanager
def temp_beside(out: Path, tag: str) -> Iterator[Path]:
    """A temporary file name in ``out``'s directory, removed on exit unless it was renamed away."""
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=f".{tag}.tmp", dir=out.parent)
    os.close(fd)
    try:
        yield Path(tmp)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _fid_change(fp32: Any, int8: Any, cfg: GeneratorConfig, n: int, judge: Judge | None) -> dict[str, Any]:
    """FID of the fp32 and the int8 file under the data set's protocol on the same ``n`` latents, measured by
    ``judge`` (``gantransfer.api.export`` passes the metrics layer's; deploy does not import metrics)."""
    if cfg.is_translator:
        return {"skipped": "a translator has no FID protocol here; its int8 check is the PSNR against fp32 on the "
                           "parity input images"}
    if n < 2 or not cfg.dataset or cfg.kind != "image":
        return {"skipped": "no image data set recorded" if n >= 2 else "--fid-n 0"}
    if judge is None:
        return {"skipped": "no judge given; export through gantransfer.api.export to measure the FID change"}
    try:
        a = judge(fp32, cfg, n, "FID of fp32")
        b = judge(int8, cfg, n, "FID of int8")
    except GantransferError as e:
        return {"skipped": str(e)}
    key = next(k for k in a["metrics"] if k.startswith("fid/"))
    return {"key": key, "fp32": a["metrics"][key], "int8": b["metrics"][key],
            "relative_change": b["metrics"][key] / a["metrics"][key] - 1}


def _parity(reference, candidate, cfg: GeneratorConfig, what: str) -> dict[str, float]:
    """``check_parity``, with a runtime failure of the export (a shape traced as a constant, ...) as ExportError."""
    try:
        result = check_parity(reference, candidate, cfg)
    except Exception as e:  # onnxruntime and torch.jit raise their own types
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ExportError(f"the {what} export fails when run ({first[:300]}), so nothing was written. This family's "
                          "forward pass does not trace faithfully (data-dependent control flow?)") from None
    if max(result.values()) > FP32_TOLERANCE:
        raise _not_faithful(what, result, FP32_TOLERANCE)
    return result


def _not_faithful(what: str, parity: dict[str, float], tolerance: float) -> ExportError:
    worst = ", ".join(f"{k} {v:.3g}" for k, v in parity.items())
    return ExportError(f"the {what} export does not reproduce the PyTorch generator ({worst}; at most "
                       f"{tolerance:g} allowed on the [-1, 1] scale), so nothing was written. This family's "
                       "forward pass does not trace faithfully (data-dependent control flow?)")


def export_generator(source: str | Path, fmt: str, out: str | Path, int8: bool = False,
                     calibration: int | None = None, overwrite: bool = False,
                     fid_n: int | None = None, judge: Judge | None = None) -> dict[str, Any]:
    """Export the generator at ``source`` to ``out``; returns the report (also stored in the file's metadata).
    ``calibration``: latents calibrating int8 activations (default ``DEFAULT_CALIBRATION``); ``fid_n``: samples
    for the int8 FID change (default ``DEFAULT_FID_N``; 0 skips it), measured by ``judge`` (see ``_fid_change``)."""
    if int8 and not (fmt in FORMATS and FORMATS.get(fmt).int8):
        offered = " or ".join(f.name for f in FORMATS if f.int8)
        raise ConfigError(f"--int8 applies to --format {offered} only (onnxruntime quantization)")
    if not int8 and calibration is not None:
        raise ConfigError("--calibration applies with --int8 only")
    default_calibration = calibration is None
    calibration = DEFAULT_CALIBRATION if calibration is None else calibration
    if int8 and calibration < 1:
        raise ConfigError(f"--calibration must be at least 1 latent (e.g. 512), got {calibration}")
    if not int8 and fid_n is not None:
        raise ConfigError("--fid-n applies with --int8 only")
    fid_n = DEFAULT_FID_N if fid_n is None else fid_n
    if fid_n < 0:
        raise ConfigError(f"--fid-n must be >= 0, got {fid_n}")
    from gantransfer.budget import require_count
    require_count(calibration, "--calibration", 1_000_000)
    out = check_out(out, fmt, overwrite)
    spec = export_format(fmt)
    if spec.require is not None:
        resolve(spec.require)()
    t0 = time.perf_counter()
    module, cfg = load_generator(source)
    if cfg.is_translator and default_calibration:
        calibration = TRANSLATOR_CALIBRATION
    from gantransfer.models.sampling import probe_finite
    probe_finite(module, cfg, f"generator {source}")  # no file is exported from a generator of NaN images
    if int8:  # calibration feeds the latents in one go: their images and activations must fit
        from gantransfer.budget import check_generator
        check_generator(cfg, f"--calibration {calibration} of {source}", batch=calibration, force=True)
    prepared, plan = prepare_for_inference(module, cfg)
    report: dict[str, Any] = {"source": str(source), "format": fmt, "precision": "int8" if int8 else "fp32",
                              "batchnorm_folded": plan.folded, "fold_rejected": plan.fold_rejected,
                              "parity_latents": parity_count(cfg)}
    from gantransfer.deploy.graph import noise_inputs
    if int8 and noise_inputs(module):
        raise ConfigError(f"--int8 is not offered for {cfg.arch} generators: their modulated convolutions compute "
                          "their weights per sample, which static int8 quantization cannot calibrate. Export in "
                          "fp32 (drop --int8)")
    if noise_inputs(module):  # noise layers: the export's default is the stored noise, so compare with that
        reference = lambda z, y: module(z, y, noise_mode="const")  # noqa: E731
        report["noise"] = ("ONNX: optional inputs noise_0.. (N, 1, R, R), the stored noise when not fed; "
                           "TorchScript: the stored noise")
    else:
        reference = lambda z, y: module(z, y)  # noqa: E731  (the unfolded PyTorch source)
    resolve(spec.write)(prepared, cfg, out, report, reference, ExportOptions(int8, calibration, fid_n, judge))
    report["seconds"] = round(time.perf_counter() - t0, 2)
    return report


def write_torchscript_file(prepared, cfg, out: Path, report: dict, reference, options: ExportOptions) -> None:
    """The torchscript format's writer (see deploy/formats.py)."""
    from gantransfer.deploy.runtime import TorchScriptGenerator
    from gantransfer.deploy.torchscript_export import write_torchscript
    with temp_beside(out, "ts") as tmp:
        try:
            write_torchscript(prepared, cfg, tmp, export_metadata(cfg, "fp32", report))
        except (RuntimeError, ValueError, TypeError) as e:
            raise ExportError(f"{cfg.arch} generator cannot be traced to TorchScript: {str(e).splitlines()[0]}") from None
        report["parity"] = _parity(reference, TorchScriptGenerator(tmp, own=True), cfg, "TorchScript")
        with temp_beside(out, "final") as final, warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.jit.save(torch.jit.load(str(tmp), map_location="cpu"), str(final),
                           _extra_files={TORCHSCRIPT_EXTRA: json.dumps(export_metadata(cfg, "fp32", report))})
            commit(final, out)


def write_onnx_file(prepared, cfg, out: Path, report: dict, reference, options: ExportOptions) -> None:
    """The onnx format's writer (see deploy/formats.py): fp32, or int8 with ``options.int8``."""
    from gantransfer.deploy.metadata import export_metadata as meta
    from gantransfer.deploy.onnx_export import OPSET, set_metadata, write_onnx
    from gantransfer.deploy.runtime import OnnxGenerator
    with temp_beside(out, "fp32") as tmp:
        try:
            write_onnx(prepared, cfg, tmp)
        except (RuntimeError, ValueError, TypeError) as e:
            raise ExportError(f"{cfg.arch} generator cannot be exported to ONNX: {str(e).splitlines()[0]}") from None
        report["opset"] = OPSET
        set_metadata(tmp, meta(cfg, "fp32", report))  # readable by the runtime for the parity check
        fp32 = OnnxGenerator(tmp)
        report["parity"] = _parity(reference, fp32, cfg, "ONNX")
        if not options.int8:
            set_metadata(tmp, meta(cfg, "fp32", report))
            commit(tmp, out)
            return
        _write_int8(prepared, cfg, out, report, reference, fp32, options.calibration, options.fid_n, options.judge)


def _write_int8(prepared, cfg, out: Path, report: dict, reference, fp32, calibration: int, fid_n: int,
                judge: Judge | None) -> None:
    """Quantize the int8-ready form of ``prepared`` (transposed convolutions rewritten exactly, parity-checked),
    measure it against the fp32 export ``fp32`` and write it to ``out`` if its PSNR reaches ``INT8_MIN_PSNR``."""
    from gantransfer.deploy.int8_layout import int8_friendly
    from gantransfer.deploy.metadata import export_metadata as meta
    from gantransfer.deploy.onnx_export import set_metadata, write_onnx
    from gantransfer.deploy.quantize import kernel_report, quantize_int8
    from gantransfer.deploy.runtime import OnnxGenerator
    friendly, rewritten = int8_friendly(prepared, cfg)
    with temp_beside(out, "int8src") as src, temp_beside(out, "int8") as tmp8:
        write_onnx(friendly, cfg, src)  # the same function, with int8 kernels for its convolutions
        set_metadata(src, meta(cfg, "fp32", report))
        rewrite_parity = _parity(reference, OnnxGenerator(src), cfg, "int8-ready ONNX")
        try:
            q = quantize_int8(src, tmp8, cfg, calibration)
        except ValueError as e:
            raise ExportError(f"int8: {e}; nothing was written. Export in fp32 instead") from None
        report["int8"] = {**q, "transposed_convolutions_rewritten": rewritten, "rewrite_parity": rewrite_parity}
        set_metadata(tmp8, meta(cfg, "int8", report))
        quantized = OnnxGenerator(tmp8)
        z, y = parity_inputs(cfg)
        b = parity_batches(cfg)[-1]
        quality = psnr(outputs(quantized, z, y, b), outputs(fp32, z, y, b), cfg)
        report["int8"]["psnr_vs_fp32_db"] = quality
        if quality < INT8_MIN_PSNR:
            raise ExportError(f"the int8 model is too far from fp32 (PSNR {quality:.1f} dB < {INT8_MIN_PSNR:g} dB "
                              "on the parity latents), so nothing was written. Calibrate on more latents "
                              "(--calibration) or export in fp32")
        report["int8"]["kernels"] = kernel_report(tmp8)
        report["int8"]["fid"] = _fid_change(fp32, quantized, cfg, fid_n, judge)
        set_metadata(tmp8, meta(cfg, "int8", report))
        commit(tmp8, out)

