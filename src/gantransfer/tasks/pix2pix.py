"""``gantransfer train --task pix2pix``: a paired image-to-image translator (Isola et al. 2017) on the one engine.

Setup only: the translator (``--arch``, a translator family), a conditional PatchGAN that sees the input and an
output side by side, the phases (discriminator: the adversarial term on input|ground truth against
input|translation; generator: adversarial + ``--lambda-l1`` x L1 to the ground truth) and a paired sampler with
resumable state. The runner exports the translator's moving average to ``generator/`` and writes eval.json with
the task's figures (``metrics/translation_protocol.py``).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from gantransfer.config import TrainConfig
from gantransfer.devices import resolve_device
from gantransfer.engine.optim import discriminator_adam, generator_adam
from gantransfer.losses.translation import L1Between
from gantransfer.models.config import build_generator
from gantransfer.tasks.gan import gan_phases
from gantransfer.tasks.runner import RunPlan, execute
from gantransfer.tasks.translation_samplers import PairedSampler
from gantransfer.tasks.translation_setup import (PREVIEW, evaluate_exported, grid_rows, load_task_data, periodic,
                                                 patch_discriminator, resolve_translation_config, save_rows,
                                                 translator_config)


def train_pix2pix(config: TrainConfig, resume: bool = False, command: str = "train", overwrite: bool = False) -> Path:
    """Train a pix2pix translator as ``config`` says; returns the run directory (``generator/`` is the result)."""
    cfg = resolve_translation_config(config)
    cfg.validate()
    data = load_task_data(cfg)
    gcfg = translator_config(cfg, data, data.train_a.shape[1], data.train_b.shape[1], cfg.direction)
    torch.manual_seed(cfg.seed)
    g = build_generator(gcfg)
    d = patch_discriminator(cfg, gcfg.input_channels + gcfg.channels, gcfg.resolution)
    g_opt, d_opt = generator_adam(g.parameters(), cfg), discriminator_adam(d.parameters(), cfg)
    providers = {"generated": lambda ctx: g(ctx["input"]),
                 "fake": lambda ctx: torch.cat([ctx["input"], ctx["generated"]], 1)}
    phases = gan_phases(g, d, g_opt, d_opt, cfg.adversarial_loss,
                        extra_g_terms=[L1Between("l1", "generated", "target", cfg.lambda_l1)],
                        extra_providers=providers)
    x_show, y_show = data.test_a[:PREVIEW], data.test_b[:PREVIEW]

    def preview(snapshot: torch.nn.Module, run: Path, step: int) -> None:
        device = next(snapshot.parameters()).device
        with torch.inference_mode():
            out = snapshot(x_show.to(device))
        grid_rows([x_show, out, y_show], gcfg.channels, run / "samples" / f"step-{step:07d}.png")

    def evaluate_one(snapshot: torch.nn.Module) -> dict:
        from gantransfer.metrics.translation_protocol import translation_figures
        return translation_figures(snapshot, data.data, cfg.direction, data.protocol_dataset, cfg.eval_n,
                                   next(snapshot.parameters()).device)

    def final(run: Path) -> dict:
        device = resolve_device(cfg.device)
        save_rows(run, data, device)
        return evaluate_exported(run, data, cfg.eval_n, device)

    plan = RunPlan(command=command, settings=cfg, resolved=dataclasses.asdict(cfg), generator=gcfg,
                   modules={"G": g, "D": d}, optimizers={"G": g_opt, "D": d_opt}, phases=phases,
                   sampler=PairedSampler(data.train_a, data.train_b, cfg.batch_size, cfg.seed), preview=preview,
                   evaluate=periodic(evaluate_one) if cfg.eval_every else None, final=final,
                   run_info={"translation": {"task": "pix2pix", "direction": cfg.direction, "data": data.record()},
                             "train_samples": len(data.train_a)})
    return execute(plan, cfg.out, resume, overwrite)
