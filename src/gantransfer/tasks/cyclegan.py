"""``gantransfer train --task cyclegan``: two unpaired image-to-image translators (Zhu et al. 2017) on the one
engine.

Setup only: the pair of translators (A->B and B->A, ``--arch``) trained as one module, one PatchGAN per domain,
the phases (discriminators: LSGAN on each domain's real images against translations into it; translators: LSGAN
+ ``--lambda-cycle`` x the cycle L1 terms + ``--lambda-identity`` x ``--lambda-cycle`` x the identity L1 terms)
and an unpaired sampler with resumable state. No image pool: the discriminators see the current translations
(CycleGAN's pool of 50 past images would be state outside the checkpoint). The runner exports the moving average
of the requested direction to ``generator/`` and the other direction beside it (``generator_BtoA/``, or
``generator_AtoB/`` with ``--direction BtoA``); eval.json holds the task's figures of ``generator/``,
``eval_BtoA.json`` (or ``eval_AtoB.json``) those of the other.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from torch import nn

from gantransfer.config import TrainConfig
from gantransfer.devices import resolve_device
from gantransfer.engine.loop import Phase
from gantransfer.engine.optim import discriminator_adam, generator_adam
from gantransfer.errors import ConfigError
from gantransfer.losses.translation import L1Between, LeastSquaresDiscriminator, LeastSquaresGenerator
from gantransfer.models.config import build_generator
from gantransfer.tasks.runner import RunPlan, execute
from gantransfer.tasks.translation_samplers import UnpairedSampler
from gantransfer.tasks.translation_setup import (PREVIEW, evaluate_exported, grid_rows, load_task_data, periodic,
                                                 patch_discriminator, resolve_translation_config, save_rows,
                                                 translator_config)

REVERSE = {"AtoB": "BtoA", "BtoA": "AtoB"}


class CyclePair(nn.Module):
    """The two translators of a CycleGAN, trained (and averaged) as one module; called, it translates A -> B."""

    def __init__(self, ab: nn.Module, ba: nn.Module) -> None:
        super().__init__()
        self.ab, self.ba = ab, ba

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.ab(x, labels)


def cycle_phases(g: CyclePair, d_a: nn.Module, d_b: nn.Module, g_opt: torch.optim.Optimizer,
                 d_opt: torch.optim.Optimizer, lambda_cycle: float, lambda_identity: float) -> list[Phase]:
    """Discriminator phase (LSGAN of D_A and D_B, one optimizer) then translator phase (LSGAN, cycle, identity)."""
    providers = {
        "fake_B": lambda ctx: g.ab(ctx["real_A"]), "fake_A": lambda ctx: g.ba(ctx["real_B"]),
        "rec_A": lambda ctx: g.ba(ctx["fake_B"]), "rec_B": lambda ctx: g.ab(ctx["fake_A"]),
        "same_B": lambda ctx: g.ab(ctx["real_B"]), "same_A": lambda ctx: g.ba(ctx["real_A"]),
        "fake_B_logits": lambda ctx: d_b(ctx["fake_B"]), "real_B_logits": lambda ctx: d_b(ctx["real_B"]),
        "fake_A_logits": lambda ctx: d_a(ctx["fake_A"]), "real_A_logits": lambda ctx: d_a(ctx["real_A"]),
    }
    d_terms = [LeastSquaresDiscriminator("adv_B", "real_B_logits", "fake_B_logits"),
               LeastSquaresDiscriminator("adv_A", "real_A_logits", "fake_A_logits")]
    g_terms = [LeastSquaresGenerator("adv_B", "fake_B_logits"), LeastSquaresGenerator("adv_A", "fake_A_logits"),
               L1Between("cycle_A", "rec_A", "real_A", lambda_cycle),
               L1Between("cycle_B", "rec_B", "real_B", lambda_cycle)]
    if lambda_identity > 0:
        w = lambda_cycle * lambda_identity
        g_terms += [L1Between("idt_B", "same_B", "real_B", w), L1Between("idt_A", "same_A", "real_A", w)]
    return [Phase("D", d_opt, d_terms, providers), Phase("G", g_opt, g_terms, providers)]


def train_cyclegan(config: TrainConfig, resume: bool = False, command: str = "train", overwrite: bool = False) -> Path:
    """Train a CycleGAN as ``config`` says; returns the run directory (``generator/``: ``--direction``'s
    translator, ``generator_<other direction>/``: the other)."""
    cfg = resolve_translation_config(config)
    cfg.validate()
    data = load_task_data(cfg)
    ca, cb = data.train_a.shape[1], data.train_b.shape[1]
    if ca != cb and cfg.lambda_identity > 0:
        raise ConfigError(f"the identity terms feed each translator its own output domain, but A has {ca} and B {cb} "
                          "channel(s): pass --lambda-identity 0 (or --channels 3 for both)")
    reverse = REVERSE[cfg.direction]
    gcfg_ab = translator_config(cfg, data, ca, cb, cfg.direction)
    gcfg_ba = translator_config(cfg, data, cb, ca, reverse)
    torch.manual_seed(cfg.seed)
    g = CyclePair(build_generator(gcfg_ab), build_generator(gcfg_ba))
    d_a, d_b = (patch_discriminator(cfg, c, gcfg_ab.resolution) for c in (ca, cb))
    g_opt = generator_adam(g.parameters(), cfg)
    d_opt = discriminator_adam([*d_a.parameters(), *d_b.parameters()], cfg)
    phases = cycle_phases(g, d_a, d_b, g_opt, d_opt, cfg.lambda_cycle, cfg.lambda_identity)
    a_show, b_show = data.test_a[:PREVIEW], data.test_b[:PREVIEW]

    def preview(snapshot: CyclePair, run: Path, step: int) -> None:
        device = next(snapshot.parameters()).device
        with torch.inference_mode():
            fake_b = snapshot.ab(a_show.to(device))
            rows = [a_show, fake_b, snapshot.ba(fake_b), b_show, snapshot.ba(b_show.to(device))]
        grid_rows(rows, max(ca, cb), run / "samples" / f"step-{step:07d}.png")

    def exports(snapshot: CyclePair) -> dict:
        return {"generator": (snapshot.ab, gcfg_ab), f"generator_{reverse}": (snapshot.ba, gcfg_ba)}

    def evaluate_one(snapshot: CyclePair) -> dict:
        from gantransfer.metrics.translation_protocol import translation_figures
        return translation_figures(snapshot.ab, data.data, cfg.direction, data.protocol_dataset, cfg.eval_n,
                                   next(snapshot.parameters()).device)

    def final(run: Path) -> dict:
        """eval.json: ``generator/``'s figures (its model card reads them); eval_<other direction>.json: the
        other translator's."""
        from gantransfer.io import write_json
        from gantransfer.metrics.protocols import mark_loss_networks
        device = resolve_device(cfg.device)
        save_rows(run, data, device, back=f"generator_{reverse}")
        other = evaluate_exported(run, data, cfg.eval_n, device, f"generator_{reverse}")
        write_json(run / f"eval_{reverse}.json", mark_loss_networks(other, []))
        return evaluate_exported(run, data, cfg.eval_n, device)

    plan = RunPlan(command=command, settings=cfg, resolved=dataclasses.asdict(cfg), generator=gcfg_ab,
                   modules={"G": g, "D_A": d_a, "D_B": d_b}, optimizers={"G": g_opt, "D": d_opt}, phases=phases,
                   sampler=UnpairedSampler(data.train_a, data.train_b, cfg.batch_size, cfg.seed), preview=preview,
                   evaluate=periodic(evaluate_one) if cfg.eval_every else None, final=final, exports=exports,
                   run_info={"translation": {"task": "cyclegan", "direction": cfg.direction, "data": data.record(),
                                             "exports": {"generator": cfg.direction,
                                                         f"generator_{reverse}": reverse}},
                             "train_samples": [len(data.train_a), len(data.train_b)]})
    return execute(plan, cfg.out, resume, overwrite)
