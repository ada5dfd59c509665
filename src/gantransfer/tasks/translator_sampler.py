"""The samplers of translator distillation and fusion. Distillation: a batch of input-domain images (drawn from a
fixed pool with the engine's generator, augmented when asked) and the teacher's outputs on them (and its hidden
maps, white-box).

Batch keys: ``input`` (the images the student and teacher both see), ``teacher`` (the teacher's outputs),
``teacher_features_g`` (with features), ``real`` (what the discriminator calls real: the teacher's output, or the
input and the output side by side on channels for a conditional discriminator). No state beyond the engine's
generator, so a resumed run draws what an uninterrupted one would. Fusion (``FusedInputSampler``): the same, each
input paired with one teacher whose output it is matched to.
"""
from __future__ import annotations

from typing import Any

import torch

from gantransfer.data.translator_inputs import augment_inputs
from gantransfer.image_space import convert_images
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


def label_planes(labels: torch.Tensor, num_labels: int, like: torch.Tensor) -> torch.Tensor:
    """One-hot label planes (N, ``num_labels``, H, W) at ``like``'s size: a conditional discriminator's label input."""
    onehot = torch.nn.functional.one_hot(labels, num_labels).to(like.dtype)
    return onehot[:, :, None, None].expand(-1, -1, *like.shape[-2:])


class FusedInputSampler(Sharded):
    """Input images, each paired with one teacher (the label of the mapping to apply, ``teacher_ids``: teachers in
    turn, so every batch covers each teacher equally) and that teacher's translation of it, in the student's
    channels. ``real`` (for a conditional discriminator): input, output and label planes on channels. No state
    beyond the engine's generator."""

    def __init__(self, teachers: list, inputs: torch.Tensor, batch_size: int, channels: int,
                 conditional: bool = False) -> None:
        self.teachers, self.inputs, self.channels = teachers, inputs, channels
        self.batch_size, self.conditional = max(batch_size, len(teachers)), conditional
        self.bank = None

    def next(self, rng: torch.Generator, device: torch.device) -> dict[str, torch.Tensor]:
        n, k = self.batch_size, len(self.teachers)
        idx = torch.randint(len(self.inputs), (n,), generator=rng)
        mine = self.local(n)
        x, labels = self.inputs[idx][mine].to(device), (torch.arange(n) % k)[mine].to(device)
        y = torch.empty(len(x), self.channels, *x.shape[-2:], device=device)
        with torch.no_grad():
            for j, t in enumerate(self.teachers):
                sel = labels == j
                if sel.any():
                    y[sel] = convert_images(t.module(x[sel]).float(), x.shape[-1], self.channels)
        batch: dict[str, Any] = {"input": x, "teacher": y, "teacher_ids": labels}
        batch["real"] = torch.cat([x, y, label_planes(labels, k, x)], 1) if self.conditional else y
        return batch

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None


class PairSampler(Sharded):
    """Paired examples for fine-tuning a translator: ``input`` (domain A), ``teacher`` (the target B image, what
    the pixel term matches) and ``real`` (input and target side by side on channels, for a conditional
    discriminator); drawn with the engine's generator, no state of its own."""

    def __init__(self, a: torch.Tensor, b: torch.Tensor, batch_size: int) -> None:
        self.a, self.b, self.batch_size = a, b, batch_size
        self.bank = None

    def next(self, rng: torch.Generator, device: torch.device) -> dict[str, torch.Tensor]:
        n = self.batch_size
        idx = torch.randint(len(self.a), (n,), generator=rng)[self.local(n)]
        x, y = self.a[idx].to(device), self.b[idx].to(device)
        return {"input": x, "teacher": y, "real": torch.cat([x, y], 1)}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None
