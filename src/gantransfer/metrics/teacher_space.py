"""A feature space learned from one teacher's samples alone (no pretrained weights), for teacher-relative
Fréchet distance and KID.

Method (SimCLR, Chen et al. 2020, small): a convnet encoder (stride-2 convolutions down to 4x4, then a linear
layer to a 256-d representation) and a 2-layer projection head are trained with the NT-Xent contrastive loss
(temperature 0.5) on two augmented views of each of ``SPACE_IMAGES`` teacher samples (fixed latents). The views
differ by a random translation of up to 1/8 of the side (reflect padding) and a random horizontal flip only: no
blur, noise or colour augmentation, so the representation stays sensitive to sharpness and colour, the ways a
student most often differs from its teacher. The 256-d representation (before the head) is the feature space.

The space is keyed by a hash of the teacher's weights (or, for a teacher without readable weights, of its
images on fixed latents) and by the method's settings, and cached as safetensors + JSON so that every student
of one teacher is compared in the same space (``encoder_sha256`` in every result says which space it was).
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gantransfer.io import read_json, read_tensors, write_json, write_tensors

METHOD = "simclr-v2"  # v2: features scaled to the teacher's unit spread
CACHE_ENV = "GANTRANSFER_CACHE"  # a shared cache directory the user chooses (one space per teacher for all runs)


@dataclass(frozen=True)
class SpaceSettings:
    """How the space is learned (part of its cache key)."""

    images: int = 2048       # teacher samples it is learned from (latent seed ``seed``)
    steps: int = 150         # contrastive steps
    batch_size: int = 128    # images per step (two views each)
    lr: float = 2e-3
    temperature: float = 0.5
    seed: int = 777


DEFAULT_SPACE = SpaceSettings()


class Encoder(nn.Module):
    """Stride-2 convolutions (8 channels at 64 px and above, else 16; doubling up to 64) down to 4x4, then a
    256-d linear layer."""

    def __init__(self, channels: int, resolution: int, dim: int = 256) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in, res, c = channels, resolution, 8 if resolution >= 64 else 16
        while res > 4:
            layers += [nn.Conv2d(c_in, c, 4, 2, 1), nn.LeakyReLU(0.2)]
            c_in, res, c = c, res // 2, min(2 * c, 64)
        self.body = nn.Sequential(*layers, nn.Flatten(), nn.Linear(c_in * 16, dim))
        self.head = nn.Sequential(nn.LeakyReLU(0.2), nn.Linear(dim, dim), nn.LeakyReLU(0.2), nn.Linear(dim, 128))
        self.register_buffer("scale", torch.ones(()))  # set after training: teacher features of unit spread

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The representation (N, dim), scaled so that the teacher's features have a mean per-dimension standard
        deviation of 1 (KID's polynomial kernel is then well conditioned): the feature space."""
        return self.body(x) * self.scale


def augment(x: torch.Tensor, g: torch.Generator, groups: int = 8) -> torch.Tensor:
    """A random translation (reflect-padded, up to 1/8 of the side; one shift per group of images, ``groups``
    groups) and a random horizontal flip per image."""
    n, _, h, w = x.shape
    p = max(1, h // 8)
    padded = nn.functional.pad(x, (p, p, p, p), mode="reflect")
    out = torch.empty_like(x)
    for idx in torch.arange(n).chunk(groups):
        dy, dx = (int(v) for v in torch.randint(0, 2 * p + 1, (2,), generator=g))
        out[idx] = padded[idx, :, dy:dy + h, dx:dx + w]
    flip = torch.rand(n, generator=g) < 0.5
    out[flip] = out[flip].flip(-1)
    return out


def nt_xent(a: torch.Tensor, b: torch.Tensor, temperature: float) -> torch.Tensor:
    """The NT-Xent loss of SimCLR for paired projections a, b (N, D)."""
    z = nn.functional.normalize(torch.cat([a, b]), dim=1)
    sim = z @ z.T / temperature
    sim.fill_diagonal_(float("-inf"))
    n = len(a)
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return nn.functional.cross_entropy(sim, target)


def fit_encoder(images: torch.Tensor, settings: SpaceSettings | None = None) -> Encoder:
    """An encoder trained contrastively on ``images`` (N, C, H, W in [-1, 1]); deterministic for its seed."""
    settings = settings or DEFAULT_SPACE
    g = torch.Generator().manual_seed(settings.seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        enc = Encoder(images.shape[1], images.shape[-1])
        opt = torch.optim.Adam(enc.parameters(), lr=settings.lr)
        enc.train()
        for _ in range(settings.steps):
            x = images[torch.randint(len(images), (settings.batch_size,), generator=g)]
            loss = nt_xent(enc.head(enc.body(augment(x, g))), enc.head(enc.body(augment(x, g))),
                           settings.temperature)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    enc.eval().requires_grad_(False)
    enc.scale.fill_(1.0 / float(embed(enc, images).std(0).mean().clamp_min(1e-12)))
    return enc


@torch.inference_mode()
def embed(encoder: Encoder, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Features (N, dim) of images (N, C, H, W in [-1, 1])."""
    return torch.cat([encoder(images[i:i + batch_size].float()) for i in range(0, len(images), batch_size)])


def teacher_key(module: nn.Module, shape: tuple[int, int, int], latent_dim: int, num_classes: int,
                probe: torch.Tensor | None = None) -> str:
    """sha256 (hex) of the teacher's weights (names, shapes, dtypes and bytes of its state dict), or of ``probe``
    (its images on fixed latents) when it has no readable weights; with its image shape and inputs."""
    h = hashlib.sha256(json.dumps([list(shape), latent_dim, num_classes]).encode())
    state = module.state_dict() if isinstance(module, nn.Module) else {}
    if state:
        for name, t in state.items():
            t = t.detach().cpu().contiguous()
            h.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif probe is not None:
        h.update(probe.detach().cpu().float().contiguous().numpy().tobytes())
    else:
        raise ValueError("a teacher without weights needs probe images for its key")
    return h.hexdigest()


def space_key(teacher_hash: str, settings: SpaceSettings) -> str:
    """The cache folder name: method, settings and the teacher's hash."""
    blob = json.dumps({"method": METHOD, "settings": asdict(settings), "teacher": teacher_hash}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def encoder_digest(encoder: Encoder) -> str:
    """sha256 of the encoder's weights: equal digests mean the same feature space."""
    h = hashlib.sha256()
    for name, t in encoder.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _writable(d: Path) -> bool:
    """Whether ``d`` (or its nearest existing parent) may be written."""
    while not d.exists():
        d = d.parent
    return os.access(d, os.W_OK)


def teacher_run_of(source: str) -> Path | None:
    """The gantransfer run directory a teacher was loaded from (``run`` or ``run/generator``), else None: a space
    cached in that run's own ``eval-cache`` (by an earlier version, or by that run) is read, never written."""
    if not source:
        return None
    p = Path(source)
    for d in (p, p.parent):
        if d.is_dir() and (d / "run.json").is_file() and (d / "generator").is_dir() and (
                p == d or p == d / "generator"):
            return d
    return None


def cache_candidates(teacher_source: str, own_run: Path | None, writing: bool = False) -> list[tuple[Path, str]]:
    """Where a teacher's space may be cached, in order of preference, with why: ``$GANTRANSFER_CACHE``; beside
    the teacher (its run's eval-cache, when the teacher is a run of the tool: read only, since a run writes only
    its own files); the evaluated student's run. ``writing``: only the places this run may write."""
    out: list[tuple[Path, str]] = []
    if os.environ.get(CACHE_ENV):
        out.append((Path(os.environ[CACHE_ENV]) / "teacher-space", f"the shared cache ${CACHE_ENV}"))
    run = teacher_run_of(teacher_source)
    if run is not None and not writing:
        out.append((run / "eval-cache" / "teacher-space", "beside the teacher (its run's eval-cache, read only)"))
    if own_run is not None:
        out.append((own_run / "eval-cache" / "teacher-space", "in this run's eval-cache (a run writes only its own "
                                                             f"files; set ${CACHE_ENV} to share one across runs)"))
    return out


def load_space(folder: Path) -> Encoder | None:
    """The cached encoder in ``folder``, or None when absent or unreadable (then it is learned again)."""
    try:
        meta = read_json(folder / "space.json", "teacher space")
        enc = Encoder(meta["channels"], meta["resolution"], meta["dim"])
        enc.load_state_dict(read_tensors(folder / "encoder.safetensors", "teacher space encoder"))
    except Exception:  # a corrupt or foreign cache entry is ignored and replaced
        return None
    return enc.eval().requires_grad_(False)


def teacher_space(teacher_images, teacher_hash: str, teacher_source: str, own_run: Path | None,
                  settings: SpaceSettings | None = None) -> tuple[Encoder, dict[str, Any]]:
    """The teacher's feature space: loaded from the first cache that has it, else learned from
    ``teacher_images(n)`` (a function returning n teacher samples on fixed latents) and saved to the first
    writable place this run may write (see ``cache_candidates``). Returns the encoder and a record of where and why."""
    settings = settings or DEFAULT_SPACE
    key = space_key(teacher_hash, settings)
    candidates = cache_candidates(teacher_source, own_run)
    for root, why in candidates:
        enc = load_space(root / key)
        if enc is not None:
            return enc, {"method": METHOD, "key": key, "cache": str(root / key), "cached": True, "where": why,
                         "encoder_sha256": encoder_digest(enc)}
    start = time.perf_counter()
    images = teacher_images(settings.images)
    enc = fit_encoder(images, settings)
    seconds = time.perf_counter() - start
    record: dict[str, Any] = {"method": METHOD, "key": key, "cached": False, "fit_seconds": seconds,
                              "encoder_sha256": encoder_digest(enc)}
    for root, why in cache_candidates(teacher_source, own_run, writing=True):
        if _writable(root):
            folder = root / key
            write_tensors(folder / "encoder.safetensors", enc.state_dict())
            write_json(folder / "space.json", {"method": METHOD, "settings": asdict(settings), "teacher": teacher_hash,
                                               "teacher_source": teacher_source, "channels": images.shape[1],
                                               "resolution": images.shape[-1], "dim": 256, "fit_seconds": seconds})
            record.update(cache=str(folder), where=why)
            break
    else:
        record.update(cache=None, where="not cached: no writable place (set $GANTRANSFER_CACHE to keep it)")
    return enc, record
