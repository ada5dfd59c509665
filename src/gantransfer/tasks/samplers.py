"""Samplers: what one step draws (real batches in a resumable seeded order, latents, labels)."""
from __future__ import annotations

from typing import Any

import torch

from gantransfer.data.base import Dataset
from gantransfer.models.sampling import truncated_normal
from gantransfer.teacher_set import TeacherSet, balanced_counts


class RealDataSampler:
    """Real batches in a seeded per-epoch order, plus latents from the engine's generator.

    State is (epoch, position), so a resumed run sees exactly the batches an uninterrupted run would.
    Fake labels are the real batch's labels (conditional training keeps the class distribution).
    """

    def __init__(self, data: Dataset, batch_size: int, latent_dim: int, seed: int, conditional: bool) -> None:
        self.data, self.batch_size, self.latent_dim = data, min(batch_size, len(data)), latent_dim
        self.seed, self.conditional = seed, conditional
        self.epoch, self.pos = 0, 0
        self._order = self._permutation(0)

    def _permutation(self, epoch: int) -> torch.Tensor:
        return torch.randperm(len(self.data), generator=torch.Generator().manual_seed(self.seed * 1_000_003 + epoch))

    def next(self, rng: torch.Generator, device: torch.device) -> dict[str, torch.Tensor]:
        if self.pos + self.batch_size > len(self.data):
            self.epoch, self.pos = self.epoch + 1, 0
            self._order = self._permutation(self.epoch)
        idx = self._order[self.pos:self.pos + self.batch_size]
        self.pos += self.batch_size
        batch = {"real": self.data.as_float(idx).to(device),
                 "z": torch.randn(len(idx), self.latent_dim, generator=rng).to(device)}
        if self.conditional:
            batch["labels"] = self.data.y[idx].to(device)
        return batch

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "pos": self.pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch, self.pos = int(state["epoch"]), int(state["pos"])
        self._order = self._permutation(self.epoch)


class TeacherLatentSampler:
    """Latents (fresh every step, or drawn from a fixed bank; truncated when asked) and the teacher's images.

    The teacher's images are the pixel/perceptual targets (``teacher``) and, data-free, the "real" side of an
    adversarial term (``real``). With ``real_data`` the real side is real images instead, and a conditional
    teacher is asked for the real batch's classes. The bank is rebuilt from its seed; only ``real_data`` has
    state to save.

    With a bank, an unconditional teacher and neither real data nor white-box features, each bank entry's
    teacher image is computed once, on its first draw, and reused (up to ``BANK_CACHE_BYTES``): a bank of
    16,384 is drawn about six times over in 1,500 steps of 64, so most teacher forward passes are saved.
    """

    BANK_CACHE_BYTES = 1 << 30

    def __init__(self, teacher, batch_size: int, bank_size: int, seed: int, with_features: bool = False,
                 truncation: float = 0.0, real_data: RealDataSampler | None = None) -> None:
        self.teacher, self.batch_size, self.with_features = teacher, batch_size, with_features
        self.truncation, self.real_data = truncation, real_data
        cfg = teacher.config
        self.classes = torch.tensor(list(cfg.trained_classes or range(cfg.num_classes))) if cfg.num_classes else None
        self.bank = None
        if bank_size > 0:
            self.bank = truncated_normal(bank_size, cfg.latent_dim, torch.Generator().manual_seed(seed + 7), truncation)
        self._cache: torch.Tensor | None = None
        self._cached: torch.Tensor | None = None
        image_bytes = 4 * cfg.channels * cfg.resolution ** 2
        self.cache_bank = (self.bank is not None and self.classes is None and real_data is None and not with_features
                           and cfg.kind == "image" and bank_size * image_bytes <= self.BANK_CACHE_BYTES)

    def _bank_images(self, idx: torch.Tensor, device: torch.device) -> torch.Tensor:
        """The teacher's images for bank entries ``idx``, computing only those not seen before."""
        if self._cached is None:
            self._cached = torch.zeros(len(self.bank), dtype=torch.bool)
        missing = idx[~self._cached[idx]].unique()
        if len(missing):
            with torch.no_grad():
                images = self.teacher(self.bank[missing].to(device), None).detach().float().cpu()
            if self._cache is None:
                self._cache = torch.empty(len(self.bank), *images.shape[1:])
            self._cache[missing] = images
            self._cached[missing] = True
        return self._cache[idx].to(device)

    def _inputs(self, rng: torch.Generator, device: torch.device) -> tuple[dict, torch.Tensor | None, dict | None]:
        """The step's latents and labels, the bank indices drawn (or None) and the real batch (or None)."""
        cfg = self.teacher.config
        real = self.real_data.next(rng, device) if self.real_data is not None else None
        n = self.batch_size if real is None else len(real["real"])
        idx = None
        if self.bank is None:
            z = truncated_normal(n, cfg.latent_dim, rng, self.truncation)
        else:
            idx = torch.randint(len(self.bank), (n,), generator=rng)
            z = self.bank[idx]
        batch = {"z": z.to(device)}
        if real is not None and "labels" in real:
            batch["labels"] = real["labels"]
        elif self.classes is not None:
            batch["labels"] = self.classes[torch.randint(len(self.classes), (n,), generator=rng)].to(device)
        return batch, idx, real

    def next(self, rng: torch.Generator, device: torch.device) -> dict[str, torch.Tensor]:
        batch, idx, real = self._inputs(rng, device)
        if self.with_features:  # white-box: the teacher's hidden activations too
            with torch.no_grad():
                batch["teacher"], batch["teacher_features_g"] = self.teacher.module.forward_features(
                    batch["z"], batch.get("labels"))
        elif self.cache_bank and idx is not None:
            batch["teacher"] = self._bank_images(idx, device)
        else:
            batch["teacher"] = self.teacher(batch["z"], batch.get("labels")).detach()
        batch["real"] = batch["teacher"] if real is None else real["real"]
        return batch

    def state_dict(self) -> dict[str, Any]:
        return {} if self.real_data is None else {"real_data": self.real_data.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.real_data is not None and "real_data" in state:
            self.real_data.load_state_dict(state["real_data"])


class StyledTeacherSampler(TeacherLatentSampler):
    """For teachers with a mapping network (StyleGAN2): also the teacher's W (``ws``, truncated by ``psi``) and
    the per-layer noise images it was given (``noise``, drawn from the engine's generator, so resume is exact),
    for the student to be run on the same W and noise; with ``with_features`` the teacher's hidden block
    activations (``teacher_features_g``) on them."""

    def __init__(self, teacher, batch_size: int, bank_size: int, seed: int, with_features: bool = False,
                 truncation: float = 0.0, real_data: RealDataSampler | None = None, psi: float = 1.0) -> None:
        super().__init__(teacher, batch_size, bank_size, seed, with_features, truncation, real_data)
        self.psi, self.cache_bank = psi, False  # fresh noise every draw: no image is reused
        self.noise_sizes = [layer.resolution for layer in teacher.module.synthesis.noise_layers()]

    @torch.no_grad()
    def next(self, rng: torch.Generator, device: torch.device) -> dict[str, torch.Tensor]:
        batch, _, real = self._inputs(rng, device)
        g, n = self.teacher.module, len(batch["z"])
        batch["ws"] = g.mapping(batch["z"], batch.get("labels"), truncation_psi=self.psi)
        batch["noise"] = [torch.randn(n, 1, r, r, generator=rng).to(device) for r in self.noise_sizes]
        feats: list[torch.Tensor] | None = [] if self.with_features else None
        batch["teacher"] = g.synthesis(batch["ws"], features=feats, noise=batch["noise"]).detach()
        if feats is not None:
            batch["teacher_features_g"] = feats
        batch["real"] = batch["teacher"] if real is None else real["real"]
        return batch


class FusionSampler:
    """Every step covers every teacher in proportion to its weight; no state beyond the engine's generator."""

    def __init__(self, tset: TeacherSet, batch_size: int) -> None:
        self.tset, self.counts = tset, balanced_counts(tset.weights, max(batch_size, len(tset.teachers)))

    def next(self, rng: torch.Generator, device: torch.device) -> dict[str, torch.Tensor]:
        zs, labels, images, ids = [], [], [], []
        for k, n in enumerate(self.counts):
            z, y, x = self.tset.draw(k, n, rng, device)
            zs.append(z), images.append(x), ids.append(torch.full((n,), k, device=device))
            if y is not None:
                labels.append(y)
        batch = {"z": torch.cat(zs), "teacher": torch.cat(images), "teacher_ids": torch.cat(ids)}
        batch["real"] = batch["teacher"]
        if labels:
            batch["labels"] = torch.cat(labels)
        return batch

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None
