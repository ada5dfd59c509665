"""The ONNX file of a StyleGAN2 generator with each upsampling layer's transposed weight stored as a second
initializer (before) and as a Transpose node on the one weight (after, ``onnx_export.share_transposed_weights``):
file sizes, what the weights alone take, and the two files' outputs on the same latent (ONNX Runtime).

    python benchmarks/onnx_size.py --generator /tmp/sg2scale/imported-256-rosinality \\
        --out benchmarks/results/onnx_size.json

One trace: the file is written with the pass switched off, measured, copied, and the pass applied to the copy.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import write_results  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--generator", required=True, help="a gantransfer generator directory (StyleGAN2)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    import numpy as np
    import onnxruntime as ort
    import torch
    import gantransfer.deploy.onnx_export as onnx_export
    from gantransfer.models.store import load_generator
    g, cfg = load_generator(a.generator)
    weights = 4 * sum(p.numel() for p in g.parameters())
    share = onnx_export.share_transposed_weights
    with tempfile.TemporaryDirectory() as tmp:
        before, after = Path(tmp) / "before.onnx", Path(tmp) / "after.onnx"
        onnx_export.share_transposed_weights = lambda path: 0  # the file as constant folding leaves it
        t0 = time.perf_counter()
        try:
            onnx_export.write_onnx(g, cfg, before)
        finally:
            onnx_export.share_transposed_weights = share
        trace_s = time.perf_counter() - t0
        shutil.copy(before, after)
        t0 = time.perf_counter()
        removed = share(after)
        pass_s = time.perf_counter() - t0
        z = torch.randn(1, cfg.latent_dim, generator=torch.Generator().manual_seed(0)).numpy()
        outs = []
        for f in (before, after):
            sess = ort.InferenceSession(str(f), providers=["CPUExecutionProvider"])
            outs.append(sess.run(None, {sess.get_inputs()[0].name: z})[0])
        result = {
            "command": "python benchmarks/onnx_size.py --generator " + a.generator + " --out " + a.out,
            "generator": {"arch": cfg.arch, "resolution": cfg.resolution, "width": cfg.width,
                          "params": weights // 4},
            "weights_bytes": weights, "file_bytes_before": before.stat().st_size,
            "file_bytes_after": after.stat().st_size, "ratio_to_weights_before": before.stat().st_size / weights,
            "ratio_to_weights_after": after.stat().st_size / weights, "transposed_copies_removed": removed,
            "max_abs_diff_between_files": float(np.abs(outs[0] - outs[1]).max()),
            "trace_s": round(trace_s, 1), "pass_s": round(pass_s, 2), "note": "one shared CPU core"}
    write_results(a.out, result)
    print(result)


if __name__ == "__main__":
    main()
