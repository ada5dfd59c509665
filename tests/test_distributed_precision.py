"""--precision: bf16 autocast trains on CPU with finite losses and fp32 weights; fp16 is refused on CPU (see also
test_distributed.py) before anything is written."""
import json

import torch
from safetensors.torch import load_file

from gantransfer.cli import main

RING = ["train", "--data", "ring8", "--steps", "3", "--checkpoint-every", "3", "--log-every", "1", "--no-progress",
        "--device", "cpu", "--batch-size", "32"]


def test_bf16_trains_on_cpu_with_fp32_weights_and_differs_from_fp32(tmp_path):
    assert main([*RING, "--precision", "bf16", "--out", str(tmp_path / "bf16")]) == 0
    assert main([*RING, "--out", str(tmp_path / "fp32")]) == 0
    logs = {p: [json.loads(ln) for ln in (tmp_path / p / "logs" / "metrics.jsonl").read_text().splitlines()]
            for p in ("bf16", "fp32")}
    assert len(logs["bf16"]) == 3
    assert all(torch.isfinite(torch.tensor(v)) for r in logs["bf16"] for k, v in r.items() if k.startswith("loss/"))
    state = load_file(str(tmp_path / "bf16" / "state" / "step-0000003" / "tensors.safetensors"))
    weights = {k: v for k, v in state.items() if k.startswith(("module.", "optim.")) and v.is_floating_point()}
    assert weights and all(v.dtype == torch.float32 for v in weights.values())
    exported = load_file(str(tmp_path / "bf16" / "generator" / "model.safetensors"))
    assert all(v.dtype == torch.float32 for v in exported.values() if v.is_floating_point())
    # autocast really ran in bf16: the first step's losses differ from fp32's, but only by bf16 rounding
    a, b = logs["bf16"][0]["loss/D/adv"], logs["fp32"][0]["loss/D/adv"]
    assert a != b and abs(a - b) < 0.05 * abs(b)


def test_fp16_on_cpu_is_refused_before_anything_is_written(tmp_path, capsys):
    code = main([*RING, "--precision", "fp16", "--out", str(tmp_path / "h")])
    err = capsys.readouterr().err
    assert code == 2 and "--precision fp16 needs a CUDA device" in err and "use --precision bf16 on CPU" in err
    assert not (tmp_path / "h").exists()
