"""Classifier two-sample test (Lopez-Paz & Oquab 2017): can a small network tell teacher samples from student
samples?

A small convnet, trained from scratch (no pretrained weights) on one half of each side, is scored on the other
half: held-out accuracy 0.5 means indistinguishable, 1.0 means always told apart. The 95% interval is Wilson's
score interval of a binomial proportion over the held-out samples.
"""
from __future__ import annotations

import math
import time
from typing import Any

import torch
from torch import nn

from gantransfer.errors import DataError

MIN_PER_SIDE = 200  # at least 100 held-out samples a side: the 95% interval is then about +-0.07 wide


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson's score interval of a binomial proportion (95% for the default ``z``)."""
    if n <= 0:
        raise ValueError("the interval needs at least one trial")
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def critic(channels: int, resolution: int) -> nn.Sequential:
    """The two-sample classifier: stride-2 convolutions down to 4x4 (8, 16, 32, 32.. channels), global
    average pooling and one logit."""
    layers: list[nn.Module] = []
    c_in, res, c = channels, resolution, 8
    while res > 4:
        layers += [nn.Conv2d(c_in, c, 4, 2, 1), nn.LeakyReLU(0.2)]
        c_in, res, c = c, res // 2, min(2 * c, 32)
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, 1)]
    return nn.Sequential(*layers)


def check_sample_count(n_a: int, n_b: int, what: str = "samples") -> None:
    """DataError naming the count needed when either side has fewer than ``MIN_PER_SIDE`` samples."""
    if min(n_a, n_b) < MIN_PER_SIDE:
        raise DataError(f"the classifier two-sample test needs at least {MIN_PER_SIDE} {what} of each side (half "
                        f"to train on, half held out); got {n_a} and {n_b}. Use --n {MIN_PER_SIDE} or more")


def two_sample_test(a: torch.Tensor, b: torch.Tensor, seed: int = 0, epochs: int = 3, batch_size: int = 128,
                    lr: float = 2e-3) -> dict[str, Any]:
    """Held-out accuracy of a classifier trained to tell images ``a`` from ``b`` (N, C, H, W in [-1, 1]).

    Each side is cut to the smaller count, shuffled (seeded) and split in halves: train on one, score the other.
    Returns accuracy, its 95% interval, the held-out count, the training count per side and the seconds taken.
    """
    if a.dim() != 4 or a.shape[1:] != b.shape[1:]:
        raise DataError(f"the two-sample test needs two sets of images of one shape; got {tuple(a.shape)} and "
                        f"{tuple(b.shape)}")
    check_sample_count(len(a), len(b))
    start = time.perf_counter()
    g = torch.Generator().manual_seed(seed)
    m = min(len(a), len(b))
    a = a[torch.randperm(len(a), generator=g)[:m]].float()
    b = b[torch.randperm(len(b), generator=g)[:m]].float()
    half = m // 2
    x_train = torch.cat([a[:half], b[:half]])
    y_train = torch.cat([torch.zeros(half), torch.ones(half)])
    x_test = torch.cat([a[half:], b[half:]])
    y_test = torch.cat([torch.zeros(m - half), torch.ones(m - half)])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = critic(a.shape[1], a.shape[-1])
        opt = torch.optim.Adam(net.parameters(), lr=lr, betas=(0.5, 0.999))
        net.train()
        for _ in range(epochs):
            order = torch.randperm(len(x_train), generator=g)
            for i in range(0, len(order), batch_size):
                idx = order[i:i + batch_size]
                loss = nn.functional.binary_cross_entropy_with_logits(net(x_train[idx]).squeeze(1), y_train[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
    net.eval()
    with torch.inference_mode():
        logits = torch.cat([net(x_test[i:i + 500]).squeeze(1) for i in range(0, len(x_test), 500)])
    correct = int(((logits > 0).float() == y_test).sum())
    lo, hi = wilson_interval(correct, len(y_test))
    return {"accuracy": correct / len(y_test), "ci95": [lo, hi], "n_test": len(y_test), "n_train_per_side": half,
            "epochs": epochs, "seconds": time.perf_counter() - start}
