"""Built-in image-to-image translation tasks, made offline from Fashion-MNIST at 32 px with fixed splits.

- ``fmnist-edges`` (paired, the small sibling of edges2shoes): A is a deterministic outline map of an item (the
  silhouette's border plus Sobel edges inside it, white on black), B the item itself.
- ``fmnist-stripes`` (unpaired, the small sibling of horse2zebra): A holds plain items, B items with a fixed
  diagonal zebra texture (period 6 px) laid over their silhouette; A and B come from disjoint item indices, so
  nothing is paired, while both domains share shapes, classes and the black background.

Train images come from the official training split, test images from the official test split, each picked by a
permutation with a fixed seed (never the user's), so every run and every evaluation sees the same images. Each
task names the data set whose protocol networks judge it (``protocol_dataset``). Results are cached in-process.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from gantransfer.data import idx
from gantransfer.data.paired import DomainImages, ImagePairs, PairedData, UnpairedData
from gantransfer.errors import DataError
from gantransfer.image_space import check_resolution, to_resolution
from gantransfer.registry import Registry

TASK_SEED = 29  # picks every built-in task's images; fixed, independent of any run's seed
NATIVE = 32     # Fashion-MNIST's 28 px zero-padded to 32 (exact)
PAIRED_SIZES = (12000, 2000)   # fmnist-edges: (train, test) pairs
UNPAIRED_SIZES = (6000, 1000)  # fmnist-stripes: (train, test) images per domain
STRIPE_PERIOD = 6              # px; half of it bright, half dim
STRIPE_DIM = 0.2               # the dim stripes keep this share of the item's brightness
EDGE_THRESHOLD = 0.6           # Sobel magnitude (on [0, 1] images) above which a pixel is an edge
SILHOUETTE = 0.1               # brightness above which a pixel belongs to the item


@dataclass(frozen=True)
class TranslationTask:
    """A built-in translation task: ``build(data_dir)`` -> PairedData or UnpairedData at 32 px, one channel."""

    name: str
    kind: str                                   # "paired" | "unpaired"
    build: Callable[[str | None], PairedData | UnpairedData]
    protocol_dataset: str                       # the data set whose protocol networks judge translated images
    description: str
    domains: tuple[str, str]                    # what A and B hold, in words


TRANSLATION_TASKS: Registry[TranslationTask] = Registry("translation task")


def register_translation_task(task: TranslationTask) -> TranslationTask:
    """Add a built-in translation task (a later registration of the same name replaces it)."""
    return TRANSLATION_TASKS.register(task)


def translation_task_names() -> list[str]:
    """Every built-in translation task's name."""
    return TRANSLATION_TASKS.names()


def is_translation_task(name: str) -> bool:
    """Whether ``name`` is a built-in translation task."""
    return name in TRANSLATION_TASKS


def _items(split: str, data_dir: str | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Fashion-MNIST ``split`` as float (N, 1, 32, 32) in [0, 1] and its labels."""
    images, labels = idx.fashion_mnist(split, data_dir)
    return to_resolution(images[:, None], NATIVE).float() / 255.0, labels


def _pick(n: int, k: int, salt: int) -> torch.Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed(TASK_SEED * 1000 + salt))[:k]


def outline_map(x: torch.Tensor) -> torch.Tensor:
    """Deterministic edge map of items ``x`` (N, 1, H, W) in [0, 1]: the silhouette's inner border and the Sobel
    edges inside it, 1 on edges and 0 elsewhere."""
    sobel_x = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    kernels = torch.stack([sobel_x, sobel_x.t()])[:, None]
    g = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernels)
    edges = g.pow(2).sum(1, keepdim=True).sqrt() > EDGE_THRESHOLD
    mask = x > SILHOUETTE
    eroded = -F.max_pool2d(-mask.float(), 3, 1, 1) > 0.5
    return ((mask & ~eroded) | (edges & mask)).float()


def striped(x: torch.Tensor) -> torch.Tensor:
    """Items ``x`` (N, 1, H, W) in [0, 1] under a fixed diagonal zebra texture: bright and dim bands of
    ``STRIPE_PERIOD / 2`` px each; the background stays black."""
    h, w = x.shape[-2:]
    diag = torch.arange(h)[:, None] + torch.arange(w)[None]
    bright = (diag // (STRIPE_PERIOD // 2)) % 2 == 0
    return x * torch.where(bright, 1.0, STRIPE_DIM)


def _signed(x: torch.Tensor) -> torch.Tensor:
    """[0, 1] -> [-1, 1], rounded to the 8-bit grid every image file has."""
    return (x * 255.0).round().div_(127.5).sub_(1.0)


@functools.lru_cache(maxsize=2)
def _edges(data_dir: str) -> PairedData:
    splits = []
    for salt, (split, size) in enumerate(zip(("train", "test"), PAIRED_SIZES)):
        items, labels = _items(split, data_dir or None)
        keep = _pick(len(items), size, salt).sort().values
        x, y = items[keep], labels[keep]
        splits.append(ImagePairs(_signed(outline_map(x)), _signed(x), [f"{split}-{i}" for i in keep.tolist()], y))
    return PairedData(splits[0], splits[1], "fmnist-edges", "built-in", "fixed")


@functools.lru_cache(maxsize=2)
def _stripes(data_dir: str) -> UnpairedData:
    parts: dict[str, DomainImages] = {}
    for salt, (split, size) in enumerate(zip(("train", "test"), UNPAIRED_SIZES)):
        items, labels = _items(split, data_dir or None)
        order = _pick(len(items), 2 * size, 10 + salt)
        a_idx, b_idx = order[:size].sort().values, order[size:].sort().values  # disjoint: nothing is paired
        parts[f"{split}_a"] = DomainImages(_signed(items[a_idx]), [f"{split}-{i}" for i in a_idx.tolist()],
                                           labels[a_idx])
        parts[f"{split}_b"] = DomainImages(_signed(striped(items[b_idx])), [f"{split}-{i}" for i in b_idx.tolist()],
                                           labels[b_idx])
    return UnpairedData(parts["train_a"], parts["train_b"], parts["test_a"], parts["test_b"], "fmnist-stripes",
                        "built-in")


def _resized(x: torch.Tensor, resolution: int) -> torch.Tensor:
    if x.shape[-1] == resolution:
        return x
    u8 = ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    return to_resolution(u8, resolution).float().div_(127.5).sub_(1.0)


def _convert(data: PairedData | UnpairedData, resolution: int, channels: tuple[int | None, int | None]
             ) -> PairedData | UnpairedData:
    """``data`` at ``resolution`` with the channel counts asked (1 -> 3 repeats the gray image)."""
    ca, cb = (c or 1 for c in channels)

    def fit(x: torch.Tensor, c: int) -> torch.Tensor:
        x = _resized(x, resolution)
        return x.repeat(1, c, 1, 1) if c != x.shape[1] else x
    if isinstance(data, PairedData):
        def pairs(p: ImagePairs) -> ImagePairs:
            return ImagePairs(fit(p.a, ca), fit(p.b, cb), p.names, p.labels)
        return PairedData(pairs(data.train), pairs(data.test), data.source, data.layout, data.split)

    def dom(d: DomainImages, c: int) -> DomainImages:
        return DomainImages(fit(d.images, c), d.names, d.labels)
    return UnpairedData(dom(data.train_a, ca), dom(data.train_b, cb), dom(data.test_a, ca), dom(data.test_b, cb),
                        data.source, data.layout)


def load_translation_task(name: str, resolution: int | None = None, channels_a: int | None = None,
                          channels_b: int | None = None, data_dir: str | None = None) -> PairedData | UnpairedData:
    """The built-in translation task ``name`` (32 px natively; another ``resolution`` is a resize)."""
    task = TRANSLATION_TASKS.get(name)
    if resolution is not None:
        check_resolution(resolution)
    for c in (channels_a, channels_b):
        if c not in (None, 1, 3):
            raise DataError(f"channels must be 1 or 3, got {c}")
    data = task.build(str(idx.fmnist_dir(data_dir)))
    return _convert(data, resolution or NATIVE, (channels_a, channels_b))


register_translation_task(TranslationTask(
    "fmnist-edges", "paired", _edges, "fashion-mnist",
    "outline map of a Fashion-MNIST item -> the item (32 px; 12,000 train / 2,000 test pairs)",
    ("outline maps (white on black)", "Fashion-MNIST items")))
register_translation_task(TranslationTask(
    "fmnist-stripes", "unpaired", _stripes, "fashion-mnist",
    "plain Fashion-MNIST items <-> items with a zebra stripe texture (32 px; 6,000 train / 1,000 test per domain, "
    "disjoint items)", ("plain items", "striped items")))
