"""int8 static quantization of an ONNX export (onnxruntime's QDQ tools, calibrated on seeded latents), and a
report of which operators run in int8 after onnxruntime's graph optimisation and which stayed in float."""
from __future__ import annotations

import logging
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gantransfer.models.config import GeneratorConfig
from gantransfer.models.sampling import draw_inputs
from gantransfer.deploy.metadata import INPUT_IMAGE, INPUT_LABEL, INPUT_Z

CALIBRATION_SEED = 7          # calibration latents: apart from the parity and evaluation latents
CALIBRATION_BATCH = 64
TRANSLATOR_CALIBRATION_BATCH = 8  # translators: each input image's activations weigh as much as a big batch's
# ConvTranspose has no int8 kernel in onnxruntime's CPU provider: quantizing it only wraps the float kernel in
# quantize/dequantize pairs (measured slower), so it is left in float by default.
NO_INT8_KERNEL = ("ConvTranspose",)
INT8_KERNELS = {"QLinearConv", "QLinearMatMul", "ConvInteger", "MatMulInteger", "QGemm", "MatMulIntegerToFloat",
                "QLinearAdd", "QLinearMul", "QLinearConcat", "QLinearAveragePool", "QLinearGlobalAveragePool",
                "QLinearLeakyRelu", "QLinearSigmoid", "QLinearSoftmax", "QLinearConvTranspose", "QLinearReduceMean"}
COMPUTE = {"Conv", "MatMul", "Gemm", "ConvTranspose"}
QDQ = {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear"}
LAYOUT = {"Unsqueeze", "Squeeze", "Reshape", "Flatten", "Shape", "Gather", "Concat", "Constant", "Transpose",
          "Identity", "ReorderInput", "ReorderOutput", "Cast", "Slice"}


class LatentReader:
    """onnxruntime's CalibrationDataReader over ``n`` seeded latents (and labels), in batches of 64; for a
    translator, over ``n`` seeded input images uniform in its value range, in batches of 8."""

    def __init__(self, cfg: GeneratorConfig, n: int, seed: int = CALIBRATION_SEED) -> None:
        z, y = draw_inputs(cfg, n, torch.Generator().manual_seed(seed))
        name, step = (INPUT_IMAGE, TRANSLATOR_CALIBRATION_BATCH) if cfg.is_translator else (INPUT_Z, CALIBRATION_BATCH)
        self._batches = []
        for i in range(0, n, step):
            feed = {name: z[i:i + step].numpy()}
            if y is not None:
                feed[INPUT_LABEL] = y[i:i + step].numpy().astype(np.int64)
            self._batches.append(feed)
        self._it = iter(self._batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)

    def rewind(self) -> None:
        self._it = iter(self._batches)


def quantize_int8(fp32: str | Path, out: str | Path, cfg: GeneratorConfig, calibration: int,
                  skip: tuple[str, ...] = NO_INT8_KERNEL) -> dict[str, Any]:
    """Write the QDQ int8 model of ``fp32`` to ``out`` (int8 weights per channel in the reduced 7-bit range, so that
    x86 CPUs without VNNI, whose int8 kernels can saturate on full-range weights, run it faithfully; int8
    activations; min-max calibration on ``calibration`` latents); operator types in ``skip`` stay in float."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.registry import QDQRegistry
    model = onnx.load(str(fp32))
    present = {n.op_type for n in model.graph.node}
    ops = sorted(op for op in present if op in QDQRegistry and op not in skip)
    if not set(ops) & COMPUTE:
        raise ValueError(f"no operator of this generator that does the arithmetic has an int8 kernel here (it "
                         f"uses {', '.join(sorted(present & (COMPUTE | set(skip))))})")
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the tools log advice (pre-processing) at WARNING on the root logger
    try:
        quantize_static(str(fp32), str(out), LatentReader(cfg, calibration), quant_format=QuantFormat.QDQ,
                        op_types_to_quantize=ops, per_channel=True, activation_type=QuantType.QInt8,
                        weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax,
                        reduce_range=True)
    finally:
        root.setLevel(level)
    return {"calibration_latents": calibration, "format": "QDQ",
            "weights": "int8 per channel, 7-bit range (reduce_range)",
            "activations": "int8 per tensor (min-max)", "quantized_op_types": ops,
            "left_in_float_by_choice": sorted(op for op in present if op in skip)}


def kernel_report(path: str | Path) -> dict[str, dict[str, int]]:
    """Operators of ``path`` after onnxruntime's CPU graph optimisation: those running int8 kernels, those
    computing in float, and the quantize/dequantize nodes left between them."""
    import onnx
    import onnxruntime as ort
    from gantransfer.deploy.runtime import session_options
    fd, opt = tempfile.mkstemp(suffix=".onnx")
    os.close(fd)
    try:
        so = session_options(1)
        so.optimized_model_filepath = opt
        ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        nodes = onnx.load(opt).graph.node
    finally:
        os.unlink(opt)
    int8, flt, qdq = Counter(), Counter(), Counter()
    for n in nodes:
        op = n.op_type
        (int8 if op in INT8_KERNELS else qdq if op in QDQ else Counter() if op in LAYOUT else flt)[op] += 1
    return {"int8": dict(int8), "float": dict(flt), "quantize_dequantize": dict(qdq)}
