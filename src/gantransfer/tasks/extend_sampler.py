"""What one step of an extension draws: the new data's real batch and, for the old labels, either the frozen
base's images on fresh latents (replay, data-free), real old images (joint, or replay with ``--old-data``), or
nothing (finetune, ewc). The old labels' part comes first in the batch (``n_old`` rows)."""
from __future__ import annotations

from typing import Any

import torch

from gantransfer.tasks.samplers import RealDataSampler
from gantransfer.teachers import Teacher


class ExtendSampler:
    """Batches of ``n_old`` old-label samples followed by the new data's; resumable (the real samplers' state)."""

    def __init__(self, new: RealDataSampler, n_old: int, old_labels: list[int], base: Teacher | None,
                 base_conditional: bool, old_real: RealDataSampler | None = None, with_features: bool = False,
                 latent_dim: int = 100) -> None:
        self.new, self.n_old, self.base, self.old_real = new, n_old, base, old_real
        self.old_labels = torch.tensor(old_labels)
        self.base_conditional, self.with_features, self.latent_dim = base_conditional, with_features, latent_dim

    def next(self, rng: torch.Generator, device: torch.device) -> dict[str, torch.Tensor]:
        new = self.new.next(rng, device)
        if not self.n_old:
            return new
        if self.old_real is not None:  # real old images with their labels; the base is asked on the same labels
            old = self.old_real.next(rng, device)
            z_old, y_old = old["z"][:self.n_old], old["labels"][:self.n_old]
            real_old = old["real"][:self.n_old]
        else:
            z_old = torch.randn(self.n_old, self.latent_dim, generator=rng).to(device)
            y_old = self.old_labels[torch.randint(len(self.old_labels), (self.n_old,), generator=rng)].to(device)
            real_old = None
        batch = {"z": torch.cat([z_old, new["z"]]), "labels": torch.cat([y_old, new["labels"]])}
        if self.base is not None:
            y_base = y_old if self.base_conditional else None
            with torch.no_grad():
                if self.with_features:
                    batch["teacher"], batch["teacher_features_g"] = self.base.module.forward_features(z_old, y_base)
                else:
                    batch["teacher"] = self.base(z_old, y_base)
            if real_old is None:
                real_old = batch["teacher"]
        batch["real"] = torch.cat([real_old, new["real"]])
        return batch

    def state_dict(self) -> dict[str, Any]:
        state = {"new": self.new.state_dict()}
        if self.old_real is not None:
            state["old"] = self.old_real.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.new.load_state_dict(state["new"])
        if self.old_real is not None and "old" in state:
            self.old_real.load_state_dict(state["old"])
