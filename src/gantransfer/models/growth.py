"""Growing a network's label space: a module built for more labels (or newly conditional) starts from an old one.

Weights of the same shape are copied. A weight that grew along one dimension (a label table with more rows, a
first layer with more inputs because a label embedding was appended) keeps the old slice and is zero
elsewhere, so the grown network computes what the old one did on the old labels. Rows of label tables
(``embed``, ``cond_scale``, ``cond_shift``, ``cond_const``) for new labels are then set to the mean of the old
labels' rows plus noise of their spread, so that a new label starts as a typical old one, not as nothing.
"""
from __future__ import annotations

import torch
from torch import nn

from gantransfer.errors import ConfigError

LABEL_TABLES = ("embed.weight", "cond_scale", "cond_shift", "cond_const")
NOISE = 0.5  # new rows: mean of the old rows + NOISE * their per-coordinate spread


def label_tables(module: nn.Module, num_classes: int) -> list[tuple[str, torch.Tensor, int]]:
    """(name, parameter, label dimension) of every parameter indexed by label (size ``num_classes`` there)."""
    out = []
    for name, p in module.named_parameters():
        if any(name == t or name.endswith("." + t) for t in LABEL_TABLES):
            dims = [d for d, s in enumerate(p.shape) if s == num_classes]
            if dims:
                out.append((name, p, dims[0]))
    return out


@torch.no_grad()
def grow_into(new: nn.Module, old_state: dict[str, torch.Tensor], num_classes: int, old_labels: list[int],
              new_labels: list[int], seed: int = 0) -> list[str]:
    """Load ``old_state`` into ``new`` (built for ``num_classes`` labels), padding grown weights with zeros, and
    initialise the label rows of ``new_labels`` from those of ``old_labels``. Returns the names of the weights
    that grew (for the run's record)."""
    state = new.state_dict()
    grown = []
    for key, value in state.items():
        if key not in old_state:
            continue  # a new part (e.g. the label embedding of a converted base): fresh initialisation
        old = old_state[key]
        if old.shape == value.shape:
            value.copy_(old)
            continue
        diff = [d for d, (a, b) in enumerate(zip(old.shape, value.shape)) if a != b]
        if old.dim() != value.dim() or len(diff) != 1 or old.shape[diff[0]] > value.shape[diff[0]]:
            raise ConfigError(f"cannot grow weight {key} from shape {tuple(old.shape)} to {tuple(value.shape)}; "
                              "the base and the extended network differ in more than their labels")
        d = diff[0]
        value.zero_()
        value.narrow(d, 0, old.shape[d]).copy_(old)
        grown.append(key)
    new.load_state_dict(state)
    if old_labels and new_labels:
        rng = torch.Generator().manual_seed(seed + 99)
        for _, p, d in label_tables(new, num_classes):
            rows = p.index_select(d, torch.tensor(old_labels))
            mean = rows.mean(d, keepdim=True)
            spread = rows.std(d, keepdim=True) if len(old_labels) > 1 else mean.abs() * 0.1
            for label in new_labels:
                noise = torch.randn(mean.shape, generator=rng).to(p.device, p.dtype)
                p.narrow(d, label, 1).copy_(mean + NOISE * spread * noise)
    return grown
