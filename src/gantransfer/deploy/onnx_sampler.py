#!/usr/bin/env python3
"""Sample images from an ONNX generator exported by gantransfer. Needs only numpy and onnxruntime (no gantransfer,
no torch; the PNG is written with the standard library):

    pip install onnxruntime numpy
    python THIS_FILE --n 16 --seed 0 --out samples.png [--label 3] [--model other.onnx]

The value range, class count and input names are read from the model's own metadata. 2-D point generators write
a CSV instead of a PNG.
"""
from __future__ import annotations

import argparse
import json
import math
import struct
import zlib
from pathlib import Path

import numpy as np
import onnxruntime as ort

MODEL = "model.onnx"  # the exported file beside this script


def write_png(path: Path, image: np.ndarray) -> None:
    """Write a uint8 (H, W) gray or (H, W, 3) colour image as PNG."""
    h, w = image.shape[:2]

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + np.ascontiguousarray(image[i]).tobytes() for i in range(h))
    header = struct.pack(">IIBBBBB", w, h, 8, 2 if image.ndim == 3 else 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9))
                     + chunk(b"IEND", b""))


def sample(model: Path, n: int, seed: int, label: int | None = None) -> tuple[np.ndarray, tuple[float, float]]:
    """``n`` outputs of the generator in ``model`` (its value range: (low, high)) on latents seeded by ``seed``."""
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    low, high = (float(v) for v in json.loads(meta["value_range"]))
    classes = int(meta.get("num_classes", "0"))
    rng = np.random.default_rng(seed)
    feeds = {}
    for spec in session.get_inputs():
        if spec.name == "z":
            shape = [n] + [d if isinstance(d, int) else 1 for d in spec.shape[1:]]
            feeds["z"] = rng.standard_normal(shape).astype(np.float32)
        elif spec.name == "label":
            labels = np.full(n, label) if label is not None else np.arange(n) % max(classes, 1)
            feeds["label"] = labels.astype(np.int64 if "int64" in spec.type else np.int32)
    return session.run(["image"], feeds)[0], (low, high)


def grid(images: np.ndarray, low: float, high: float) -> np.ndarray:
    """(N, C, H, W) values in [low, high] -> one uint8 image, a square-ish grid with 2-pixel gaps."""
    x = np.clip(np.round((images - low) / (high - low) * 255.0), 0, 255).astype(np.uint8)
    n, c, h, w = x.shape
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    out = np.zeros((rows * (h + 2) + 2, cols * (w + 2) + 2, c), dtype=np.uint8)
    for i in range(n):
        r, k = divmod(i, cols)
        out[2 + r * (h + 2):2 + r * (h + 2) + h, 2 + k * (w + 2):2 + k * (w + 2) + w] = x[i].transpose(1, 2, 0)
    return out[..., 0] if c == 1 else out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(Path(__file__).with_name(MODEL)), help="the .onnx file")
    parser.add_argument("--n", type=int, default=16, help="number of samples")
    parser.add_argument("--seed", type=int, default=0, help="latent seed")
    parser.add_argument("--label", type=int, default=None, help="class of every sample (default: cycle)")
    parser.add_argument("--out", default="samples.png", help="PNG grid (CSV for point generators)")
    args = parser.parse_args()
    if args.n < 1:
        parser.error("--n must be at least 1")
    x, (low, high) = sample(Path(args.model), args.n, args.seed, args.label)
    if x.ndim == 4:
        write_png(Path(args.out), grid(x, low, high))
    else:
        np.savetxt(args.out, x.reshape(len(x), -1), delimiter=",")
    print(f"wrote {args.out}: {args.n} samples of {args.model}")


if __name__ == "__main__":
    main()
