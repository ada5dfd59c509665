"""What only a CUDA device can check (``pytest -m cuda``; run by benchmarks/gpu_check.sh; skipped without CUDA):
fp16 autocast with the gradient scaler and bf16 training steps, StyleGAN2's ops on CUDA against CPU, a student
trained on CUDA loaded on CPU."""
import json

import pytest
import torch

from gantransfer.config import DistillConfig
from gantransfer.models.store import load_generator
from gantransfer.tasks.distill import distill
from test_stylegan2 import tiny

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def _losses(run):
    rows = [json.loads(x) for x in (run / "logs" / "metrics.jsonl").read_text().splitlines()]
    return [v for r in rows for k, v in r.items() if k.startswith("loss/")]


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_mixed_precision_distillation_steps_stay_finite_and_load_on_cpu(tmp_path, precision):
    from gantransfer.demo import shipped_teacher
    run = distill(DistillConfig(teacher=str(shipped_teacher("fashion-mnist-dcgan")), width=0.25, steps=4, batch_size=16, log_every=1,
                                eval_n=0, progress=False, device="cuda", precision=precision, out=str(tmp_path / "r")))
    losses = _losses(run)
    assert losses and all(torch.isfinite(torch.tensor(v)) for v in losses)
    g, _ = load_generator(run)  # weights written from CUDA, read on CPU
    assert next(g.parameters()).device.type == "cpu"


def test_stylegan2_on_cuda_matches_cpu():
    g, cfg = tiny(32)
    z = torch.randn(3, cfg.latent_dim)
    with torch.no_grad():
        ref = g(z, noise_mode="const")
        out = g.cuda()(z.cuda(), noise_mode="const").cpu()
    assert (out - ref).abs().max() < 1e-3
