"""Deployment: export (ONNX fp32/int8, TorchScript) with parity checks, runtime generators under the Generator
contract, efficient eager inference, and measurement (params, MACs, latency, throughput, memory, GFLOP/s).

inference.py (Conv-BN folding, channels-last), int8_layout.py (exact int8-friendly rewrites of transposed
convolutions), graph.py (the traced signature), onnx_export.py, torchscript_export.py, quantize.py, parity.py,
metadata.py, export.py (``gantransfer export``), runtime.py (OnnxGenerator, TorchScriptGenerator), bench.py
(counts, the single-backend bench), backends.py, machine.py and grid.py (``bench --backends``).
"""
