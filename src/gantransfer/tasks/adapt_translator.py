"""``gantransfer adapt`` of an image-to-image translator: a new paired task learned from a few examples.

Setup only, as ``adapt.py`` for noise generators: the translator is fine-tuned (``finetune``; ``freezed``: the first
``--freeze-d`` discriminator blocks frozen; ``l2sp``: pulled towards the source weights; ``scratch``: the source's
architecture freshly initialised, the baseline) on L1 against the target images (``--lambda-l1``) plus the
adversarial term of a conditional PatchGAN (input and output on channels: the source's own when one is saved
beside it, else a fresh one). The few pairs are ``--limit`` of the training split of a paired folder (A/ and B/,
or aligned A|B images with ``--aligned``); held-out pairs outside them pick the best step, the test split is used
only at the end (``metrics/held_out_pairs.py``). Unpaired few-shot data (CycleGAN's trainA/trainB) is refused:
adapting a translator needs pairs.
"""
from __future__ import annotations

import copy
import dataclasses
import warnings
from pathlib import Path

import torch

from gantransfer.config import AdaptConfig
from gantransfer.data.paired import ImagePairs, is_unpaired_layout, load_paired
from gantransfer.data.splits import HELD_OUT_SEED
from gantransfer.data.transforms import seeded_subset
from gantransfer.engine.optim import discriminator_adam, generator_adam
from gantransfer.errors import ConfigError
from gantransfer.grid import save_image_grid
from gantransfer.image_space import convert_images
from gantransfer.losses.distillation import PixelLoss
from gantransfer.losses.regularizers import L2SP
from gantransfer.metrics.held_out_pairs import PairedBestStep, paired_final_evaluation
from gantransfer.models.config import GeneratorConfig, build_generator
from gantransfer.models.translator_patchgan import PatchDiscriminator
from gantransfer.tasks.gan import gan_phases
from gantransfer.tasks.runner import RunPlan, execute
from gantransfer.tasks.translator_sampler import PairSampler
from gantransfer.teachers import Teacher

METHODS = ("finetune", "freezed", "l2sp", "scratch")
FREEZED_DEFAULT = 2
PREVIEW = 8


def refuse_settings(cfg: AdaptConfig) -> None:
    """The adapt settings a translator does not take, refused by name."""
    if cfg.method not in METHODS:
        raise ConfigError(f"--method {cfg.method}: a translator is adapted by {', '.join(METHODS)}")
    given = [flag for flag, on in (("--diffaugment", cfg.diffaugment), ("--classes", cfg.classes)) if on]
    if given:
        raise ConfigError(f"{', '.join(given)}: not for translator sources (paired images, no classes): drop it")


def few_pairs(cfg: AdaptConfig, src: GeneratorConfig) -> tuple[ImagePairs, ImagePairs | None, ImagePairs, dict]:
    """(the few training pairs, the held-out pairs that pick the best step or None, the test pairs, a record)."""
    root = Path(cfg.data).expanduser()
    if not root.is_dir():
        raise ConfigError(f"--data {cfg.data}: adapting a translator needs a folder of paired examples (A/ and B/ "
                          "with matching file names, or aligned A|B images with --aligned)")
    if is_unpaired_layout(root):
        raise ConfigError(f"--data {cfg.data} is unpaired (CycleGAN's trainA/ trainB/): adapting a translator from a "
                          "few examples is supported for paired data only (A/ and B/ with matching names, or "
                          "--aligned A|B images); unpaired few-shot adaptation is not supported")
    data = load_paired(root, src.resolution, aligned=cfg.aligned, channels_a=src.input_channels,
                       channels_b=src.channels)
    train = data.train
    keep = seeded_subset(len(train), cfg.limit or len(train), HELD_OUT_SEED)
    rest = torch.tensor(sorted(set(range(len(train))) - set(keep.tolist())), dtype=torch.long)
    held = None
    if cfg.held_out and len(rest):
        rest = rest[:cfg.held_out]
        held = ImagePairs(train.a[rest], train.b[rest], [train.names[i] for i in rest.tolist()])
    few = ImagePairs(train.a[keep], train.b[keep], [train.names[i] for i in keep.tolist()])
    n_test = min(len(data.test), cfg.eval_n)
    test = ImagePairs(data.test.a[:n_test], data.test.b[:n_test], data.test.names[:n_test])
    return few, held, test, {**data.record(), "few": len(few), "held_out": len(held) if held else 0,
                             "test_used": n_test}


def translator_models(cfg: AdaptConfig, source: Teacher, device: torch.device
                      ) -> tuple[torch.nn.Module, GeneratorConfig, torch.nn.Module]:
    """The trainable translator (the source's weights, or fresh for ``scratch``), its config and the conditional
    PatchGAN (the source's own when saved beside it and it fits, else fresh)."""
    src = source.config
    gcfg = dataclasses.replace(src, dataset=cfg.data, trained_classes=None, fusion=None, data_classes=None,
                               label_weights=None, latent_space=None, loss_networks=[],
                               meta={"sources": [source.source], "method": cfg.method})
    g = build_generator(gcfg) if cfg.method == "scratch" else copy.deepcopy(source.module)
    d = source.discriminator if cfg.method != "scratch" else None
    first = next((m for m in d.modules() if isinstance(m, torch.nn.Conv2d)), None) if d is not None else None
    if d is not None and isinstance(d, PatchDiscriminator) and first is not None \
            and first.in_channels == src.input_channels + src.channels:
        d = copy.deepcopy(d)
    else:
        if cfg.method != "scratch":
            warnings.warn(f"source {source.source} has no conditional PatchGAN saved beside it; a fresh one is "
                          "trained" + (" (its frozen first blocks stay at their random weights)"
                                       if frozen_blocks(cfg) else ""))
        d = PatchDiscriminator(src.input_channels + src.channels)
    return g.to(device).train().requires_grad_(True), gcfg, d.to(device).train().requires_grad_(True)


def frozen_blocks(cfg: AdaptConfig) -> int:
    """How many discriminator blocks stay frozen: ``--freeze-d``, else 2 for ``freezed`` and 0 otherwise."""
    return cfg.freeze_d if cfg.freeze_d is not None else (FREEZED_DEFAULT if cfg.method == "freezed" else 0)


def trained_d_params(cfg: AdaptConfig, d: PatchDiscriminator) -> list[torch.nn.Parameter]:
    """The discriminator's parameters but for its first ``frozen_blocks`` blocks (their weights stay as they are)."""
    k, blocks = frozen_blocks(cfg), d.blocks
    if k > len(blocks):
        raise ConfigError(f"--freeze-d {k}: the patch discriminator has {len(blocks)} blocks (and a head, always "
                          f"trained); freeze at most {len(blocks)}")
    frozen = {id(p) for b in blocks[:k] for p in b.parameters()}
    for b in blocks[:k]:
        b.requires_grad_(False)
    return [p for p in d.parameters() if id(p) not in frozen]


def adapt_translator(cfg: AdaptConfig, source: Teacher, device: torch.device, resume: bool = False,
                     overwrite: bool = False) -> Path:
    """Adapt translator ``source`` to the few pairs of ``cfg.data``; returns the run directory."""
    refuse_settings(cfg)
    if source.config.num_classes:
        raise ConfigError(f"{source.source} is a fused translator of {source.config.num_classes} mappings; adapt one "
                          "of its teachers instead")
    few, held, test, record = few_pairs(cfg, source.config)
    batch = cfg.batch_size
    if batch > len(few):
        warnings.warn(f"batch size {batch} is larger than the {len(few)} training pairs; using batches of "
                      f"{len(few)}")
        batch = len(few)
    torch.manual_seed(cfg.seed)
    g, gcfg, d = translator_models(cfg, source, device)
    g_opt = generator_adam(g.parameters(), cfg)
    d_opt = discriminator_adam(trained_d_params(cfg, d), cfg)
    extra_g: list = [PixelLoss(cfg.lambda_l1)] if cfg.lambda_l1 > 0 else []
    extra_d: list = []
    if cfg.method == "l2sp" and cfg.l2sp > 0:
        extra_g, extra_d = [*extra_g, L2SP(g, cfg.l2sp)], [L2SP(d, cfg.l2sp)]
    providers = {"student": lambda ctx: g(ctx["input"]),
                 "fake": lambda ctx: torch.cat([ctx["input"], ctx["student"]], 1)}
    phases = gan_phases(g, d, g_opt, d_opt, cfg.adversarial_loss, cfg.r1, extra_g_terms=extra_g,
                        extra_providers=providers, extra_d_terms=extra_d)
    best = PairedBestStep(held.a, held.b, gcfg, device) if cfg.eval_every and held is not None else None
    if cfg.eval_every and best is None:
        warnings.warn("no held-out pairs outside the training ones (give --data more pairs than --limit): the last "
                      "step is kept, not the best")
    settings = cfg if best is not None else dataclasses.replace(cfg, eval_every=0)
    unadapted = source.module
    shown = held if held is not None else few  # the test pairs are looked at only at the end
    preview_x, preview_y = shown.a[:PREVIEW], shown.b[:PREVIEW]

    def final(run: Path) -> dict:
        save_rows(run, unadapted, test.a[:PREVIEW], test.b[:PREVIEW], best, device)
        return paired_final_evaluation(run, best, unadapted, (test.a, test.b), len(few), device)

    plan = RunPlan(command="adapt", settings=settings, resolved=dataclasses.asdict(cfg), generator=gcfg,
                   modules={"G": g, "D": d}, optimizers={"G": g_opt, "D": d_opt}, phases=phases,
                   sampler=PairSampler(few.a, few.b, batch), evaluate=best, final=final,
                   preview=rows_preview(unadapted, preview_x, preview_y, device),
                   run_info={"train_samples": len(few), "translator": True, "pairs": record,
                             "frozen_d_blocks": frozen_blocks(cfg)})
    return execute(plan, cfg.out, resume, overwrite)


def adapted_rows(source: torch.nn.Module, g: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
                 device: torch.device) -> torch.Tensor:
    """Rows input | target | unadapted source | adapted translator on test pairs ``(x, y)``."""
    with torch.inference_mode():
        s = source(x.to(device)).float().cpu()
        a = g(x.to(device)).float().cpu()
    return torch.cat([convert_images(x.float(), x.shape[-1], y.shape[1]), y, s, a])


def save_rows(run: Path, source: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, best: PairedBestStep | None,
              device: torch.device) -> None:
    """The report's grid (``report/adapted_rows.png``) of the kept translator on test pairs."""
    from gantransfer.models.store import load_generator
    kept = run / "best" if best is not None and best.step is not None else run
    g, _ = load_generator(kept, device)
    save_image_grid(adapted_rows(source, g, x, y, device), run / "report" / "adapted_rows.png", nrow=len(x))


def rows_preview(source: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, device: torch.device):
    """The run's sample grid: input, target, source and adapted rows on up to 8 held-out (else training) pairs."""
    def preview(g: torch.nn.Module, run: Path, step: int) -> None:
        save_image_grid(adapted_rows(source, g, x, y, device), run / "samples" / f"step-{step:07d}.png",
                        nrow=len(x))
    return preview
