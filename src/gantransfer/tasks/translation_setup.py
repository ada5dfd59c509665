"""What pix2pix and CycleGAN training share: their defaults, the translation data (a built-in task or a folder) in
the asked direction, the translator's config, the discriminator, the preview rows and the end-of-run evaluation
under the task's protocol (``metrics/translation_protocol.py``, the figures ``gantransfer eval --data`` prints)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from gantransfer.config import TrainConfig, train_task
from gantransfer.data.paired import PairedData, UnpairedData
from gantransfer.data.registry import DATASETS, load_translation_data
from gantransfer.data.transforms import seeded_subset
from gantransfer.data.translation_tasks import TRANSLATION_TASKS, is_translation_task
from gantransfer.errors import ConfigError, DataError
from gantransfer.grid import save_image_grid
from gantransfer.image_space import convert_images
from gantransfer.models.config import GeneratorConfig
from gantransfer.models.family import family, family_names_of_kind
from gantransfer.models.translator_patchgan import PatchDiscriminator

DEFAULTS = {"arch": "resnet", "lr": 2e-4, "betas": [0.5, 0.999], "batch_size": 16, "d_width": 1.0}
PREVIEW = 8  # fixed test inputs shown in the sample grids


def resolve_translation_config(cfg: TrainConfig) -> TrainConfig:
    """pix2pix/CycleGAN defaults (Adam 2e-4, betas 0.5/0.999, a ResNet translator, no R1)."""
    out = dataclasses.replace(cfg, **{k: v for k, v in DEFAULTS.items() if getattr(cfg, k) is None})
    if family(out.arch).kind != "translator":
        raise ConfigError(f"--task {cfg.task} trains an image-to-image translator: use --arch one of "
                          f"{', '.join(family_names_of_kind('translator'))}, not {out.arch}")
    return out


@dataclass
class TranslationData:
    """The loaded data of a translator run, oriented as ``--direction`` says (``a`` is the input domain)."""

    data: PairedData | UnpairedData
    train_a: torch.Tensor
    train_b: torch.Tensor
    test_a: torch.Tensor
    test_b: torch.Tensor
    protocol_dataset: str | None     # whose protocol networks judge it (built-in tasks), None for folders
    name: str                        # the task's name, or the folder

    @property
    def recorded_dataset(self) -> str:
        """What the exported translator records as its data set: the built-in task's name, else nothing."""
        return self.name if self.protocol_dataset else ""

    def record(self) -> dict[str, Any]:
        return {**self.data.record(), "train_used": [len(self.train_a), len(self.train_b)]}


def _refuse_other_kind(cfg: TrainConfig) -> None:
    """ConfigError naming the task that fits when ``--data`` is a noise-GAN data set."""
    if cfg.data in DATASETS:
        tasks = ", ".join(f"{t.name} ({t.kind})" for t in TRANSLATION_TASKS)
        raise ConfigError(f"--data {cfg.data} is a data set of single images, not a translation data set: train a "
                          f"GAN on it with --task gan (the default), or give --task {cfg.task} a translation task "
                          f"({tasks}) or a folder with A/ B/ or trainA/ trainB/ testA/ testB/")


def load_task_data(cfg: TrainConfig) -> TranslationData:
    """``cfg.data`` for ``cfg.task``: paired data for pix2pix (unpaired data refused, naming cyclegan), either
    kind for CycleGAN (the pairing of paired data is ignored); swapped for ``--direction BtoA``; ``--limit`` keeps
    a seeded subset of the training images (of each domain)."""
    _refuse_other_kind(cfg)
    wants = train_task(cfg.task).data
    root = Path(cfg.data).expanduser()
    if not is_translation_task(cfg.data) and root.is_dir() and wants == "unpaired" and not cfg.aligned \
            and not any((root / d).is_dir() for d in ("A", "B", "trainA", "trainB")):
        raise ConfigError(f"--task cyclegan needs two image domains: {cfg.data} has no trainA/ trainB/ testA/ testB/ "
                          "(or A/ and B/) folders. A folder of single images trains a GAN with --task gan")
    data = load_translation_data(cfg.data, cfg.resolution, aligned=cfg.aligned, channels_a=cfg.channels,
                                 channels_b=cfg.channels, data_dir=cfg.data_dir)
    if isinstance(data, UnpairedData):
        if wants == "paired":
            raise ConfigError(f"--task {cfg.task} needs paired images (A/ and B/ with matching names, aligned AB "
                              f"images, or fmnist-edges); {cfg.data} is unpaired (trainA/ trainB/): train on it with "
                              "--task cyclegan")
        parts = [data.train_a.images, data.train_b.images, data.test_a.images, data.test_b.images]
    else:
        parts = [data.train.a, data.train.b, data.test.a, data.test.b]
    if cfg.direction == "BtoA":
        parts = [parts[1], parts[0], parts[3], parts[2]]
    if cfg.limit is not None:
        paired = isinstance(data, PairedData)
        keep_a = seeded_subset(len(parts[0]), cfg.limit, cfg.seed)
        keep_b = keep_a if paired else seeded_subset(len(parts[1]), cfg.limit, cfg.seed + 1)
        parts[0], parts[1] = parts[0][keep_a], parts[1][keep_b]
    if min(len(parts[0]), len(parts[1])) < 1 or min(len(parts[2]), len(parts[3])) < 1:
        raise DataError(f"{cfg.data} needs at least one training and one test image in each domain")
    builtin = TRANSLATION_TASKS.get(cfg.data).protocol_dataset if is_translation_task(cfg.data) else None
    return TranslationData(data, *parts, protocol_dataset=builtin, name=cfg.data)


def translator_config(cfg: TrainConfig, data: TranslationData, input_channels: int, channels: int,
                      direction: str) -> GeneratorConfig:
    """The exported translator's config: ``--arch`` with ``--arch-options`` over the family's defaults."""
    from gantransfer.typed import from_dict, to_dict
    fam = family(cfg.arch)
    options = from_dict(type(fam.options()), {**to_dict(fam.options()), **(cfg.arch_options or {})},
                        f"{cfg.arch} options")
    gcfg = GeneratorConfig(arch=cfg.arch, latent_dim=0, input_channels=input_channels, channels=channels,
                           resolution=int(data.train_a.shape[-1]), dataset=data.recorded_dataset, options=options,
                           meta={"translation": {"task": cfg.task, "data": data.name, "direction": direction},
                                 "data_dir": cfg.data_dir})
    try:
        gcfg.validate()
    except ValueError as e:
        raise ConfigError(f"--arch {cfg.arch} --arch-options {to_dict(options)}: {e}") from None
    return gcfg


def patch_discriminator(cfg: TrainConfig, channels: int, resolution: int) -> PatchDiscriminator:
    """pix2pix's PatchGAN at ``64 * --d-width`` filters: 3 layers (70 x 70 patches) from 64 px, 2 below."""
    ndf = max(4, round(64 * (cfg.d_width or 1.0)))
    return PatchDiscriminator(channels, ndf, n_layers=3 if resolution >= 64 else 2)


def grid_rows(rows: list[torch.Tensor], channels: int, path: Path) -> None:
    """Save rows of images (each shown at ``channels``) as one grid, one row per tensor."""
    images = torch.cat([convert_images(r.float().cpu(), r.shape[-1], channels) for r in rows])
    save_image_grid(images, path, nrow=len(rows[0]))


def evaluate_exported(run: Path, data: TranslationData, n: int, device: torch.device,
                      directory: str = "generator") -> dict[str, Any]:
    """The task's figures of the translator exported in ``run/directory`` (``translation_protocol``)."""
    from gantransfer.metrics.translation_protocol import translation_figures
    from gantransfer.models.store import load_generator
    g, gcfg = load_generator(run / directory, device)
    direction = gcfg.meta.get("translation", {}).get("direction", "AtoB")
    result = translation_figures(g, data.data, direction, data.protocol_dataset, n, device)
    return {"generator": str(run / directory), **result}


def save_rows(run: Path, data: TranslationData, device: torch.device, back: str | None = None) -> None:
    """The run report's rows (``report/translation_rows.png``) from the exported translator: input | output
    (| back: the ``back`` directory's translator applied to the output, CycleGAN's reconstruction) (| ground truth,
    paired data) on the first ``PREVIEW`` test inputs."""
    from gantransfer.models.store import load_generator
    from gantransfer.report.translation_rows import save_translation_rows
    x = data.test_a[:PREVIEW]
    g, _ = load_generator(run / "generator", device)
    with torch.inference_mode():
        out = g(x.to(device))
        rows = [("input", x), ("output", out.cpu())]
        if back:
            rows.append(("back", load_generator(run / back, device)[0](out).cpu()))
    if isinstance(data.data, PairedData):
        rows.append(("ground truth", data.test_b[:PREVIEW]))
    save_translation_rows(run, rows, "test inputs, never trained on")


def periodic(evaluate_one: Callable[[nn.Module], dict[str, Any]]) -> Callable[[nn.Module, int, Path], dict]:
    """A periodic evaluation logging ``eval/<metric>`` of the snapshot."""
    def run(g: nn.Module, step: int, run_dir: Path) -> dict[str, float]:
        return {f"eval/{k}": v for k, v in evaluate_one(g)["metrics"].items()}
    return run
