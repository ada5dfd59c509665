"""Input-domain images for distilling a translator: a folder of PNG/JPEG images or a built-in data set, at the
translator's input channels and size, split into training and held-out images; and the augmentations that let a
handful of inputs stand in for a data set (flips, crops, colour jitter).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from gantransfer.data.image_files import READ_ERRORS, first_line, list_image_files, read_image
from gantransfer.errors import DataError

HELD_OUT_SEED = 20231  # the held-out split does not depend on the run's seed: every run is judged on the same images
MAX_HELD_OUT_SHARE = 0.25


@dataclass
class InputImages:
    """Training and held-out input images, float (N, C, S, S) in [-1, 1]."""

    train: torch.Tensor
    held_out: torch.Tensor
    source: str

    def record(self) -> dict:
        """What run.json records of them."""
        return {"source": self.source, "train": len(self.train), "held_out": len(self.held_out)}


def read_folder(root: Path, channels: int, size: int, flag: str = "--data") -> torch.Tensor:
    """Every readable image under ``root`` at ``channels`` x ``size`` x ``size`` (unreadable ones skipped with a
    warning); DataError when none can be read."""
    images, skipped = [], []
    for rel in list_image_files(root, flag):
        try:
            images.append(read_image(root / rel, channels, size))
        except READ_ERRORS as e:
            skipped.append(f"{rel}: {first_line(e)}")
    if skipped:
        warnings.warn(f"{flag} {root}: skipped {len(skipped)} unreadable image(s): {'; '.join(skipped[:3])}",
                      stacklevel=2)
    if not images:
        raise DataError(f"{flag} {root} holds no readable image")
    return torch.stack(images)


def read_dataset(name: str, channels: int, size: int, data_dir: str | None = None, limit: int | None = None
                 ) -> torch.Tensor:
    """A built-in data set's training images as translator inputs (converted to ``channels`` and ``size``)."""
    from gantransfer.data.registry import load_dataset
    data = load_dataset(name, "train", resolution=size, channels=channels, data_dir=data_dir, limit=limit)
    if data.kind != "image":
        raise DataError(f"data set {name} holds 2-D points, not images; a translator needs input images")
    return data.as_float()


def is_translation_source(source: str, aligned: bool = False) -> bool:
    """Whether ``source`` holds translation data (a built-in translation task, aligned AB images, a paired
    ``A/ B/`` folder or CycleGAN's ``trainA/ trainB/``) rather than plain input images."""
    from gantransfer.data.translation_tasks import is_translation_task
    p = Path(source).expanduser()
    return is_translation_task(source) or aligned or (p.is_dir() and (
        all((p / d).is_dir() for d in ("A", "B")) or any((p / d).is_dir() for d in ("trainA", "trainB"))))


def translation_inputs(source: str, channels: int, size: int, held_out: int, limit: int = 0,
                       data_dir: str | None = None, aligned: bool = False, direction: str = "AtoB") -> InputImages:
    """The input domain of translation data ``source`` (``direction`` AtoB: domain A): its training images (the
    first ``limit`` when > 0) and the first ``held_out`` of its test images, never trained on."""
    from gantransfer.data.paired import PairedData
    from gantransfer.data.registry import load_translation_data
    ab = direction == "AtoB"
    data = load_translation_data(source, size, aligned=aligned, channels_a=channels if ab else None,
                                 channels_b=None if ab else channels, data_dir=data_dir)
    if isinstance(data, PairedData):
        train, test = (data.train.a, data.test.a) if ab else (data.train.b, data.test.b)
    else:
        train, test = ((data.train_a.images, data.test_a.images) if ab else
                       (data.train_b.images, data.test_b.images))
    return InputImages(train[:limit] if limit else train, test[:held_out], str(source))


def load_inputs(source: str, channels: int, size: int, held_out: int, limit: int = 0,
                data_dir: str | None = None, flag: str = "--data", aligned: bool = False,
                direction: str = "AtoB") -> InputImages:
    """The input images of ``source``: translation data (``is_translation_source``: its input domain, held-out
    images from its test split), else a folder of images or a built-in data set name, ``held_out`` of them (at most
    a quarter) set aside by a fixed seeded permutation, the rest for training (the first ``limit`` of them when
    ``limit`` > 0)."""
    p = Path(source).expanduser()
    if is_translation_source(source, aligned):
        return translation_inputs(source, channels, size, held_out, limit, data_dir, aligned, direction)
    if p.is_dir():
        x = read_folder(p, channels, size, flag)
    elif p.exists():
        raise DataError(f"{flag} {source} is a file; give a folder of input images or a built-in data set name")
    else:
        cap = None if not limit else limit + held_out + 1
        x = read_dataset(source, channels, size, data_dir, cap)
    if len(x) < 2 and held_out:
        raise DataError(f"{flag} {source} holds {len(x)} image: at least 2 are needed to hold one out for the "
                        "end-of-run evaluation (or pass --eval-n 0)")
    n_out = min(held_out, int(len(x) * MAX_HELD_OUT_SHARE)) if held_out else 0
    n_out = max(n_out, 1) if held_out else 0
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(HELD_OUT_SEED))
    test, train = x[order[:n_out]], x[order[n_out:]]
    if limit:
        train = train[:limit]
    return InputImages(train, test, str(source))


def augment_inputs(x: torch.Tensor, rng: torch.Generator, crop: float = 0.8, jitter: float = 0.2) -> torch.Tensor:
    """Random views of input images in [-1, 1]: horizontal flips, crops of ``crop`` to 1 of the side resized back,
    and colour jitter (brightness, contrast and, for RGB, saturation by up to +-``jitter``); per image, from
    ``rng``."""
    n, c, h, w = x.shape
    out = torch.where(torch.rand(n, 1, 1, 1, generator=rng) < 0.5, x.flip(-1), x)
    scale = crop + (1 - crop) * torch.rand(n, generator=rng)
    shift = (1 - scale)[:, None] * (2 * torch.rand(n, 2, generator=rng) - 1)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 1, 1], theta[:, :, 2] = scale, scale, shift
    grid = F.affine_grid(theta, list(out.shape), align_corners=False)
    out = F.grid_sample(out, grid, mode="bilinear", padding_mode="reflection", align_corners=False)

    def factor() -> torch.Tensor:
        return 1 + jitter * (2 * torch.rand(n, 1, 1, 1, generator=rng) - 1)
    u = (out + 1) / 2
    u = u * factor()
    mean = u.mean(dim=(1, 2, 3), keepdim=True)
    u = (u - mean) * factor() + mean
    if c == 3:
        grey = u.mean(dim=1, keepdim=True)
        u = (u - grey) * factor() + grey
    return (u.clamp(0, 1) * 2 - 1).to(x.dtype)
