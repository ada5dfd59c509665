"""The sampler of translator distillation: a batch of input-domain images (drawn from a fixed pool with the engine's
generator, augmented when asked) and the teacher's outputs on them (and its hidden maps, white-box).

Batch keys: ``input`` (the images the student and teacher both see), ``teacher`` (the teacher's outputs),
``teacher_features_g`` (with features), ``real`` (what the discriminator calls real: the teacher's output, or the
input and the output side by side on channels for a conditional discriminator). No state beyond the engine's
generator, so a resumed run draws what an uninterrupted one would.
"""
from __future__ import annotations

from typing import Any

import torch

from gantransfer.data.translator_inputs import augment_inputs
from gantransfer.tasks.samplers import Sharded


class TranslatorInputSampler(Sharded):
    """Input images and the teacher's translations of them."""

    def __init__(self, teacher, inputs: torch.Tensor, batch_size: int, with_features: bool = False,
                 augment: bool = False, conditional: bool = False) -> None:
        self.teacher, self.inputs, self.batch_size = teacher, inputs, batch_size
        self.with_features, self.augment, self.conditional = with_features, augment, conditional
        self.bank = None  # no latent bank: the inputs are the pool

    def next(self, rng: torch.Generator, device: torch.device) -> dict[str, torch.Tensor]:
        n = self.batch_size
        idx = torch.randint(len(self.inputs), (n,), generator=rng)
        x = self.inputs[idx]
        if self.augment:  # drawn for the whole global batch, as the indices are
            x = augment_inputs(x, rng)
        x = x[self.local(n)].to(device)
        with torch.no_grad():
            if self.with_features:
                y, feats = self.teacher.module.forward_features(x)
            else:
                y, feats = self.teacher.module(x), None
        batch: dict[str, Any] = {"input": x, "teacher": y.detach()}
        if feats is not None:
            batch["teacher_features_g"] = [f.detach() for f in feats]
        batch["real"] = torch.cat([x, batch["teacher"]], 1) if self.conditional else batch["teacher"]
        return batch

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None
