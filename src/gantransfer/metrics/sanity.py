"""The metric sanity battery: known degradations of real images and what every protocol's figures make of them.

For a protocol classifier and its data set: a reference of real test images, a held-out set of other real test
images (the floor: real against real), and degraded versions of the held-out set: Gaussian blur, additive noise,
few distinct images repeated (mode collapse), classes dropped (from the train split), exact copies of training
images (memorisation, which FID-like figures cannot see; ``metrics/memorisation.py`` can). Invariances: the
28 -> 32 zero padding against the classifier's own resize of native 28 x 28 images, and uint8 quantisation against
dithered float images. ``tests/test_metric_sanity.py`` asserts the directions and orders;
``benchmarks/metric_sanity.py`` records the figures.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from gantransfer.metrics.classifier import FeatureClassifier, extract, load_classifier
from gantransfer.metrics.evaluate import FeatureAccumulator
from gantransfer.metrics.fid import fid_from_features, gaussian_stats
from gantransfer.metrics.memorisation import memorisation

BLUR_SIGMAS = (0.5, 1.0, 2.0)          # in native pixels
NOISE_STDS = (8.0, 16.0, 32.0)          # in uint8 grey levels
DISTINCT = (100, 10)                    # distinct images repeated to fill the sample
DROPPED = (2, 5, 8)                     # classes dropped (of 10)
KID_SUBSETS = 20                        # eval uses 100; the battery's differences are far larger than the spread


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """uint8 images blurred by a separable Gaussian (radius 3 sigma, reflected borders), re-quantised."""
    r = max(1, int(3 * sigma + 0.5))
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-t ** 2 / (2 * sigma ** 2))
    k = k / k.sum()
    c = x.shape[1]
    y = F.pad(x.float(), (r, r, r, r), mode="reflect")
    y = F.conv2d(y, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    y = F.conv2d(y, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
    return y.round().clamp(0, 255).to(torch.uint8)


def additive_noise(x: torch.Tensor, std: float, seed: int = 0) -> torch.Tensor:
    """uint8 images plus Gaussian noise of ``std`` grey levels, rounded and clamped."""
    g = torch.Generator().manual_seed(seed)
    return (x.float() + std * torch.randn(x.shape, generator=g)).round().clamp(0, 255).to(torch.uint8)


def repeated(x: torch.Tensor, distinct: int) -> torch.Tensor:
    """len(x) images made of the first ``distinct`` ones of ``x`` repeated (a collapsed generator)."""
    return x[:distinct].repeat((len(x) + distinct - 1) // distinct, 1, 1, 1)[:len(x)]


def as_float(x: torch.Tensor) -> torch.Tensor:
    return x.float() / 127.5 - 1


def _figures(clf: FeatureClassifier, ref: dict[str, torch.Tensor], names: list[str], images: torch.Tensor,
             seed: int = 0) -> dict[str, float]:
    acc = FeatureAccumulator(clf, ref, names, "s", seed=seed, kid_subsets=KID_SUBSETS)
    acc.update(images)
    metrics = acc.result()["metrics"]
    return {k.split("/")[0]: float(v) for k, v in metrics.items() if not k.startswith("kid_std")}


def battery(protocol_dir: str | Path, max_reference: int = 2000, max_samples: int = 1000,
            seed: int = 0) -> dict[str, Any]:
    """Every figure of the battery for the protocol classifier in ``protocol_dir`` on its own data set (DataError
    when the data set is not available)."""
    from gantransfer.data.registry import DATASETS
    from gantransfer.image_space import to_resolution
    clf = load_classifier(protocol_dir)
    ds, res = clf.cfg.dataset, clf.cfg.resolution
    test, train = DATASETS[ds]("test", None), DATASETS[ds]("train", None)
    m = min(max_samples, len(test.y) // 2)
    n_ref = min(max_reference, len(test.y) - m)
    perm = torch.randperm(len(test.y), generator=torch.Generator().manual_seed(seed))
    ref_i, held_i = perm[:n_ref], perm[n_ref:n_ref + m]
    fit = lambda x: to_resolution(x, res)  # as the data pipeline feeds generators and the shipped reference
    ref_f, _ = extract(clf, as_float(fit(test.x[ref_i])))
    mu, sigma = gaussian_stats(ref_f)
    ref = {"features": ref_f, "labels": test.y[ref_i], "mu": mu, "sigma": sigma}
    names = list(test.class_names)
    held = fit(test.x[held_i])
    fig = lambda x: _figures(clf, ref, names, as_float(x), seed)
    out: dict[str, Any] = {"protocol": clf.cfg.protocol, "dataset": ds, "reference_images": n_ref, "samples": m,
                           "native_resolution": test.native_resolution, "resolution": res}
    out["floor"] = fig(held)
    # sigma in native pixels: a data set upsampled by the pipeline (digits: 8 -> 16) is blurred at the same scale
    padded = test.native_resolution == 28 and res == 32
    scale = 1.0 if padded or not test.native_resolution else res / test.native_resolution
    out["blur_scale"] = scale
    out["blur"] = {str(s): fig(gaussian_blur(held, s * scale)) for s in BLUR_SIGMAS}
    out["noise"] = {str(s): fig(additive_noise(held, s, seed)) for s in NOISE_STDS}
    out["distinct"] = {str(d): fig(repeated(held, d)) for d in DISTINCT}
    g = torch.Generator().manual_seed(seed + 1)
    train_perm = torch.randperm(len(train.y), generator=g)
    out["dropped"] = {}
    for k in DROPPED:
        keep = train_perm[train.y[train_perm] >= k][:m]  # classes 0..k-1 dropped
        out["dropped"][str(k)] = fig(fit(train.x[keep]))
    copies = fit(train.x[train_perm[:m]])
    pool = fit(train.x[train_perm[:4 * m]])  # the "training set" the copies come from
    out["train_copies"] = {**fig(copies), **{f"memorisation_{k}": v for k, v in memorisation(
        copies.float(), pool.float(), held.float()).items()}}
    out["held_out_memorisation"] = memorisation(held.float(), pool.float(), held.float())["memorised_share"]
    held_f, _ = extract(clf, as_float(held))
    # quantisation: uint8 images against the same images dithered back to floats (uniform within each level)
    dither = as_float(held) + (torch.rand(held.shape, generator=torch.Generator().manual_seed(seed + 2)) - 0.5) / 127.5
    out["quantisation_fid"] = fid_from_features(held_f, extract(clf, dither)[0])
    if padded:
        # 28 -> 32: the zero padding the pipeline applies against the classifier's own resize of native images
        out["padding_fid"] = fid_from_features(held_f, extract(clf, as_float(test.x[held_i]))[0])
    return out
