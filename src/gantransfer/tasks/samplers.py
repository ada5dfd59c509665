"""Samplers: what one step draws (real batches in a resumable seeded order, latents, labels).

Under torchrun (``set_shard``) every process draws the global batch's random numbers from the shared generator,
so the data a step sees does not depend on the number of processes, and keeps only its contiguous share of the
batch: it loads only its real images and computes only its teacher images.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable

import torch

from gantransfer.data.base import Dataset
from gantransfer.engine.distributed import shard_bounds
from gantransfer.models.sampling import truncated_normal
from gantransfer.tasks.bank_cache import BankCache, ByteBudget
from gantransfer.image_space import convert_images
from gantransfer.teacher_set import TeacherSet, balanced_counts


class Sharded:
    """This process's share of each global batch (all of it in a single process)."""

    rank, world_size = 0, 1

    def set_shard(self, rank: int, world_size: int) -> None:
        self.rank, self.world_size = rank, world_size

    def local(self, n: int) -> slice:
        """The slice of a global batch of ``n`` that this process keeps."""
        return slice(*shard_bounds(n, self.rank, self.world_size))


class RealDataSampler(Sharded):
    """Real batches in a seeded per-epoch order, plus latents from the engine's generator.

    State is (epoch, position), so a resumed run sees exactly the batches an uninterrupted run would.
    Fake labels are the real batch's labels (conditional training keeps the class distribution).
    """

    def __init__(self, data: Dataset, batch_size: int, latent_dim: int, seed: int, conditional: bool) -> None:
        if len(data) == 1:
            warnings.warn("the training set holds one image: a GAN trained on it can only learn to reproduce that "
                          "image; give more images (or a larger --limit) for variety")
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
        z = torch.randn(len(idx), self.latent_dim, generator=rng)
        mine = self.local(len(idx))
        idx, z = idx[mine], z[mine]
        batch = {"real": self.data.as_float(idx).to(device), "z": z.to(device)}
        if self.conditional:
            batch["labels"] = self.data.y[idx].to(device)
        return batch

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "pos": self.pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch, self.pos = int(state["epoch"]), int(state["pos"])
        self._order = self._permutation(self.epoch)


class TeacherLatentSampler(Sharded):
    """Latents (fresh every step, or drawn from a fixed bank; truncated when asked) and the teacher's images.

    The teacher's images are the pixel/perceptual targets (``teacher``) and, data-free, the "real" side of an
    adversarial term (``real``). With ``real_data`` the real side is real images instead, and a conditional
    teacher is asked for the real batch's classes. The bank is rebuilt from its seed; only ``real_data`` has
    state to save.

    With a bank, an unconditional teacher and no real data, what a bank entry gives does not change during
    training, so it is computed once, on the entry's first draw (in fixed chunks of the bank: ``bank_cache.py``),
    and reused: the teacher's image, its hidden features (``with_features``), and the maps of the teacher's image
    by ``targets`` (the perceptual term's frozen network; ``teacher_features``), within ``BANK_CACHE_BYTES`` all
    together (the teacher's outputs claim first; entries beyond the budget are computed on every draw). A bank
    of 16,384 is drawn about six times over in 1,500 steps of 64, so most of those passes are saved.
    """

    BANK_CACHE_BYTES = 1 << 30

    def __init__(self, teacher, batch_size: int, bank_size: int, seed: int, with_features: bool = False,
                 truncation: float = 0.0, real_data: RealDataSampler | None = None,
                 targets: Callable[[torch.Tensor], list[torch.Tensor]] | None = None) -> None:
        self.teacher, self.batch_size, self.with_features = teacher, batch_size, with_features
        self.truncation, self.real_data, self.targets = truncation, real_data, targets
        cfg = teacher.config
        self.classes = torch.tensor(list(cfg.trained_classes or range(cfg.num_classes))) if cfg.num_classes else None
        self.bank = None
        if bank_size > 0:
            from gantransfer.budget import require, require_count
            require_count(bank_size, "--bank-size")
            require(bank_size * cfg.latent_dim * 4, f"--bank-size {bank_size}")
            self.bank = truncated_normal(bank_size, cfg.latent_dim, torch.Generator().manual_seed(seed + 7), truncation)
        self._outputs: BankCache | None = None
        self._targets: BankCache | None = None
        self.cache_bank = (self.bank is not None and self.classes is None and real_data is None
                           and cfg.kind == "image")

    def _teacher_outputs(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> list[torch.Tensor]:
        """The teacher's image of latents ``z`` and, white-box, its hidden features after it."""
        with torch.no_grad():
            if self.with_features:
                image, feats = self.teacher.module.forward_features(z, labels)
                return [image, *feats]
            return [self.teacher(z, labels)]

    def _cached_outputs(self, idx: torch.Tensor, device: torch.device) -> dict[str, Any]:
        """What the bank cache holds for entries ``idx``: the teacher's image (``teacher``), its hidden features
        and the perceptual targets when asked for; on ``device``."""
        if self._outputs is None:
            budget = ByteBudget(self.BANK_CACHE_BYTES)
            self._outputs = BankCache(len(self.bank), lambda i: self._teacher_outputs(self.bank[i].to(device)),
                                      budget)
            if self.targets is not None:
                self._targets = BankCache(len(self.bank), lambda i: [f.detach() for f in self.targets(
                    self._outputs.get(i)[0].to(device))], budget)
        parts = [p.to(device) for p in self._outputs.get(idx)]
        out: dict[str, Any] = {"teacher": parts[0]}
        if self.with_features:
            out["teacher_features_g"] = parts[1:]
        if self._targets is not None:
            out["teacher_features"] = [p.to(device) for p in self._targets.get(idx)]
        return out

    def set_shard(self, rank: int, world_size: int) -> None:
        super().set_shard(rank, world_size)
        if self.real_data is not None:
            self.real_data.set_shard(rank, world_size)

    def _inputs(self, rng: torch.Generator, device: torch.device) -> tuple[dict, torch.Tensor | None, dict | None]:
        """This process's share of the step's latents and labels, the bank indices drawn (or None) and the real
        batch (or None)."""
        cfg = self.teacher.config
        real = self.real_data.next(rng, device) if self.real_data is not None else None
        n = self.batch_size if real is None else self.real_data.batch_size  # the global batch
        mine = self.local(n)
        idx = None
        if self.bank is None:
            z = truncated_normal(n, cfg.latent_dim, rng, self.truncation)[mine]
        else:
            idx = torch.randint(len(self.bank), (n,), generator=rng)[mine]
            z = self.bank[idx]
        batch = {"z": z.to(device)}
        if real is not None and "labels" in real:
            batch["labels"] = real["labels"]
        elif self.classes is not None:
            batch["labels"] = self.classes[torch.randint(len(self.classes), (n,), generator=rng)[mine]].to(device)
        return batch, idx, real

    def next(self, rng: torch.Generator, device: torch.device) -> dict[str, torch.Tensor]:
        batch, idx, real = self._inputs(rng, device)
        if self.cache_bank and idx is not None:
            batch.update(self._cached_outputs(idx, device))
        else:
            parts = self._teacher_outputs(batch["z"], batch.get("labels"))
            batch["teacher"] = parts[0].detach()
            if self.with_features:  # white-box: the teacher's hidden activations too
                batch["teacher_features_g"] = parts[1:]
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
                 truncation: float = 0.0, real_data: RealDataSampler | None = None, psi: float = 1.0,
                 direction_step: float = 0.0) -> None:
        super().__init__(teacher, batch_size, bank_size, seed, with_features, truncation, real_data)
        self.psi, self.cache_bank = psi, False  # fresh noise every draw: no image is reused
        self.direction_step = direction_step  # > 0: also the teacher at W moved towards another latent's W
        self.noise_sizes = [layer.resolution for layer in teacher.module.synthesis.noise_layers()]

    @torch.no_grad()
    def next(self, rng: torch.Generator, device: torch.device) -> dict[str, torch.Tensor]:
        batch, _, real = self._inputs(rng, device)
        g = self.teacher.module
        # the noise of the whole global batch is drawn (as the latents are); this process keeps its share
        n = self.batch_size if real is None else self.real_data.batch_size
        mine = self.local(n)
        batch["ws"] = g.mapping(batch["z"], batch.get("labels"), truncation_psi=self.psi)
        batch["noise"] = [torch.randn(n, 1, r, r, generator=rng)[mine].to(device) for r in self.noise_sizes]
        feats: list[torch.Tensor] | None = [] if self.with_features else None
        batch["teacher"] = g.synthesis(batch["ws"], features=feats, noise=batch["noise"]).detach()
        if feats is not None:
            batch["teacher_features_g"] = feats
        batch["real"] = batch["teacher"] if real is None else real["real"]
        if self.direction_step > 0:  # the latent-direction term (losses/direction.py); no draw otherwise
            z2 = torch.randn(n, batch["z"].shape[1], generator=rng)[mine].to(device)
            ws2 = g.mapping(z2, batch.get("labels"), truncation_psi=self.psi, update_w_avg=False)
            batch["ws_shifted"] = batch["ws"] + self.direction_step * (ws2 - batch["ws"])
            batch["teacher_shifted"] = g.synthesis(batch["ws_shifted"], noise=batch["noise"]).detach()
        return batch


class FusionSampler(Sharded):
    """Every step covers every teacher in proportion to its weight; no state beyond the engine's generator.

    Sharded, each process keeps its share of every teacher's part of the global batch (each teacher's part is at
    least one sample per process) and asks each teacher only for the images of that share."""

    def __init__(self, tset: TeacherSet, batch_size: int) -> None:
        self.tset, self.counts = tset, balanced_counts(tset.weights, max(batch_size, len(tset.teachers)))

    def set_shard(self, rank: int, world_size: int) -> None:
        super().set_shard(rank, world_size)
        self.counts = [max(n, world_size) for n in self.counts]

    def next(self, rng: torch.Generator, device: torch.device) -> dict[str, torch.Tensor]:
        if self.world_size == 1:
            return self._join([self.tset.draw(k, n, rng, device) for k, n in enumerate(self.counts)], device)
        parts = []
        for k, n in enumerate(self.counts):
            z = self.tset.latents_for(k, n, rng)
            t_labels, s_labels = self.tset.teacher_labels(k, n, rng)
            mine, t = self.local(n), self.tset.teachers[k]
            x = t(z[mine, :t.config.latent_dim].to(device), None if t_labels is None else t_labels[mine].to(device))
            x = convert_images(x.float(), self.tset.student.resolution, self.tset.student.channels)
            y = None if self.tset.mode == "unconditional" else s_labels[mine].to(device)
            parts.append((z[mine].to(device), y, x))
        return self._join(parts, device)

    def _join(self, parts: list, device: torch.device) -> dict[str, torch.Tensor]:
        zs, labels, images, ids = [], [], [], []
        for k, (z, y, x) in enumerate(parts):
            zs.append(z), images.append(x), ids.append(torch.full((len(z),), k, device=device))
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
