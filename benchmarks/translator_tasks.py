"""Small paired translation tasks for the translator fusion and adaptation benchmarks, and teachers trained on them.

Inputs are Fashion-MNIST training images, grey, 32 x 32, in [-1, 1]. Each task is a deterministic mapping of an
item image (the target images are computed, so every pair is exact):

- ``edges``: the Sobel gradient magnitude of the item (bright outlines on black);
- ``stripes``: the item with every other pair of rows blacked out (horizontal stripes);
- ``emboss``: 0.5 plus the difference of the item and itself shifted one pixel down-right (a relief).

A teacher for a task is trained here through the command line: ``gantransfer adapt --method scratch`` (a fresh
translator of the source's architecture, L1 x 100 plus a conditional PatchGAN, as pix2pix) on 2,000 pairs.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from PIL import Image

SIZE = 32


def items(n: int, offset: int = 0) -> torch.Tensor:
    """Fashion-MNIST training images ``offset`` .. ``offset + n``, float (N, 1, 32, 32) in [-1, 1]."""
    from gantransfer.data.registry import load_dataset
    data = load_dataset("fashion-mnist", "train", resolution=SIZE, channels=1, limit=offset + n)
    return data.as_float()[offset:offset + n]


def _unit(x: torch.Tensor) -> torch.Tensor:
    return (x + 1) / 2


def edges(x: torch.Tensor) -> torch.Tensor:
    u = _unit(x)
    kx = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])[None, None]
    gx, gy = F.conv2d(u, kx, padding=1), F.conv2d(u, kx.transpose(-1, -2), padding=1)
    return ((gx ** 2 + gy ** 2).sqrt() / 2).clamp(0, 1) * 2 - 1


def stripes(x: torch.Tensor) -> torch.Tensor:
    rows = (torch.arange(SIZE) // 2 % 2 == 0).float()[None, None, :, None]
    return _unit(x) * rows * 2 - 1


def emboss(x: torch.Tensor) -> torch.Tensor:
    u = _unit(x)
    shifted = F.pad(u, (1, 0, 1, 0))[..., :SIZE, :SIZE]
    return (0.5 + (u - shifted)).clamp(0, 1) * 2 - 1


MAPPINGS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"edges": edges, "stripes": stripes, "emboss": emboss}


def _png(x: torch.Tensor, path: Path) -> None:
    arr = ((x[0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    Image.fromarray(arr).save(path)


def write_pairs(root: Path, task: str, n: int, offset: int = 0) -> Path:
    """A paired folder (A/ the items, B/ their ``task`` images) of ``n`` Fashion-MNIST items from ``offset``."""
    if (root / "B").is_dir() and len(list((root / "B").iterdir())) == n:
        return root
    x = items(n, offset)
    y = MAPPINGS[task](x)
    for side, images in (("A", x), ("B", y)):
        (root / side).mkdir(parents=True, exist_ok=True)
        for i, img in enumerate(images):
            _png(img, root / side / f"{i:05d}.png")
    return root


def source_architecture(path: Path, ngf: int = 16, n_blocks: int = 3, seed: int = 0) -> Path:
    """A freshly initialised resnet translator (1 -> 1 channel, 32 x 32): the architecture a teacher is trained in."""
    from gantransfer.models.config import GeneratorConfig, build_generator
    from gantransfer.models.store import save_generator
    if (path / "config.json").is_file():
        return path
    cfg = GeneratorConfig(arch="resnet", latent_dim=0, input_channels=1, channels=1, resolution=SIZE,
                          options={"ngf": ngf, "n_blocks": n_blocks, "norm": "instance"})
    torch.manual_seed(seed)
    return save_generator(build_generator(cfg), cfg, path)


def train_teacher(work: Path, task: str, steps: int, seed: int = 0, pairs: int = 2000) -> Path:
    """A teacher translator for ``task`` trained from scratch on ``pairs`` pairs (``adapt --method scratch``);
    returns its generator directory (the best held-out step)."""
    from gantransfer.cli import main
    out = work / f"teacher-{task}"
    kept = out / "best" / "generator"
    if not kept.is_dir():
        data = write_pairs(work / f"pairs-{task}", task, pairs + pairs // 5 + 100)
        src = source_architecture(work / "architecture")
        argv = ["adapt", "--teacher", str(src), "--data", str(data), "--method", "scratch", "--limit", str(pairs),
                "--held-out", "100", "--eval-n", "100", "--steps", str(steps), "--eval-every", str(steps // 4),
                "--batch-size", "16", "--lr", "1e-3", "--seed", str(seed), "--log-every", "100",
                "--checkpoint-every", str(steps), "--no-progress", "--out", str(out)]
        if main(argv):
            raise SystemExit(f"{' '.join(argv)} failed")
    return kept if kept.is_dir() else out / "generator"


def teacher_record(path: Path) -> dict:
    """What the results JSON says of a teacher: where it is, its architecture and how it was made."""
    cfg = json.loads((Path(path) / "config.json").read_text()) if (Path(path) / "config.json").is_file() else {}
    return {"path": str(path), "arch": cfg.get("arch"), "options": cfg.get("options"),
            "channels": [cfg.get("input_channels"), cfg.get("channels")], "resolution": cfg.get("resolution")}
