"""The one protocol of the streaming statistics: fed batch by batch with ``update``, read once with ``result``.

``fid.RunningStats`` (mean and covariance of features), ``evaluate.FeatureAccumulator`` (every image metric of a
protocol network) and ``reference_stats.ReferenceAccumulator`` (FID against a user's reference statistics) all
follow it, so that one pass over generated batches can feed any of them (``evaluate_generator(..., also=[...])``).
"""
from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch


@runtime_checkable
class Accumulator(Protocol):
    """A streaming statistic."""

    def update(self, batch: torch.Tensor) -> None:
        """Add one batch (images or features, as the statistic takes them)."""

    def result(self) -> Any:
        """The statistic of everything added so far."""
