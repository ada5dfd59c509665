"""Builder of the ``latent_direction`` matching term (registered in ``term_registry``): the student rendered at
the sampler's moved W (``ws_shifted``) with the step's noise, for ``losses.direction.LatentDirectionLoss``."""
from __future__ import annotations

from typing import Callable

import torch

from gantransfer.losses.direction import LatentDirectionLoss


def latent_direction_term(weight: float, student: torch.nn.Module, perceptual: Callable[[], Callable] | None):
    """The term, and the student's image at the moved W (W-space students: the synthesis network on
    ``ws_shifted`` and the step's noise)."""
    return LatentDirectionLoss(weight), {
        "student_shifted": lambda ctx: student.synthesis(ctx["ws_shifted"], noise=ctx["noise"])}
