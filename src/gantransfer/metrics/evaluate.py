"""``gantransfer eval``: every metric of a generator, each named by its protocol.

Images: features of the data set's shipped classifier (``<data set>-classifier-v1``) against the shipped
reference features of the real test split: FID, KID (mean and std over subsets), precision/recall and
density/coverage (k=5), class shares, classes covered and mean classifier confidence.
2-D mixtures: exact metrics from the mixture's definition (modes covered, high-quality share).
"""
from __future__ import annotations

import time
from typing import Any

import torch

from gantransfer.config import EvalConfig
from gantransfer.data.toy import mixture_spec
from gantransfer.engine.loop import resolve_device
from gantransfer.errors import ConfigError
from gantransfer.metrics.classifier import FeatureClassifier, extract, load_classifier, load_reference
from gantransfer.metrics.fid import frechet_distance, gaussian_stats
from gantransfer.metrics.kid import kernel_inception_distance
from gantransfer.metrics.mixture import mixture_metrics
from gantransfer.metrics.prdc import prdc
from gantransfer.models.sampling import generate
from gantransfer.models.registry import GeneratorConfig
from gantransfer.models.store import load_generator

TOYS = ("ring8", "grid25")
COVERED_SHARE = 0.5  # a class counts as covered when it gets at least half of its reference share


def count_label(n: int) -> str:
    """10000 -> '10k', 2500 -> '2500'."""
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def reference_for(dataset: str, classes: list[int] | None) -> dict[str, torch.Tensor]:
    """The shipped reference of ``dataset``'s test split, restricted to ``classes`` when given."""
    ref = load_reference(dataset)
    feats, labels = ref["features"].float(), ref["labels"].long()
    if classes is None or sorted(classes) == sorted(set(labels.tolist())):
        return {"features": feats, "labels": labels, "mu": ref["mu"], "sigma": ref["sigma"]}
    keep = torch.isin(labels, torch.tensor(classes))
    if not keep.any():
        raise ConfigError(f"classes {classes} do not occur in the {dataset} reference data")
    mu, sigma = gaussian_stats(feats[keep])
    return {"features": feats[keep], "labels": labels[keep], "mu": mu, "sigma": sigma}


def image_metrics(images: torch.Tensor, classifier: FeatureClassifier, ref: dict[str, torch.Tensor],
                  class_names: list[str], tag: str, seed: int = 0) -> dict[str, Any]:
    """FID/KID/PRDC/class shares of ``images`` against reference features; keys carry ``tag``
    (``<protocol>/<count>``)."""
    feats, probs = extract(classifier, images)
    mu, sigma = gaussian_stats(feats)
    kid_mean, kid_std = kernel_inception_distance(ref["features"], feats, seed=seed)
    pr = prdc(ref["features"], feats, k=5)
    k = probs.shape[1]
    pred = probs.argmax(1)
    shares = torch.bincount(pred, minlength=k).double() / len(pred)
    ref_shares = torch.bincount(ref["labels"], minlength=k).double() / len(ref["labels"])
    expected = ref_shares > 0
    covered = int(((shares >= COVERED_SHARE * ref_shares) & expected).sum())
    metrics: dict[str, Any] = {
        f"fid/{tag}": frechet_distance(mu, sigma, ref["mu"], ref["sigma"]),
        f"kid/{tag}": kid_mean, f"kid_std/{tag}": kid_std,
        **{f"{name}/{tag}/k5": value for name, value in pr.items()},
        f"classes_covered/{tag}": covered,
        f"class_share_tv/{tag}": float(0.5 * (shares - ref_shares).abs().sum()),
        f"confidence/{tag}": float(probs.max(1).values.mean()),
    }
    return {"metrics": metrics,
            "class_shares": {class_names[i] if i < len(class_names) else str(i): round(float(shares[i]), 4)
                             for i in range(k)},
            "classes_expected": int(expected.sum())}


def evaluate_generator(g: torch.nn.Module, gcfg: GeneratorConfig, dataset: str, n: int, seed: int = 0,
                       classes: list[int] | None = None, batch_size: int = 500,
                       device: torch.device | str = "cpu") -> dict[str, Any]:
    """Metrics of an in-memory generator against ``dataset``'s protocol (used by ``eval`` and by training)."""
    result: dict[str, Any] = {"dataset": dataset, "n": n, "seed": seed}
    if dataset in TOYS:
        if gcfg.kind != "points":
            raise ConfigError(f"{dataset} is a 2-D point data set but this generator makes images")
        points, _ = generate(g, gcfg, n, seed=seed, batch_size=batch_size, device=device)
        centers, std = mixture_spec(dataset)
        tag = f"{dataset}-exact/{count_label(n)}"
        mm = mixture_metrics(points, centers, std)
        result["protocol"] = f"{dataset}-exact"
        result["metrics"] = {f"{k}/{tag}": v for k, v in mm.items() if not isinstance(v, list)}
        result["mode_shares"] = mm["mode_shares"]
        return result
    if gcfg.kind != "image":
        raise ConfigError(f"{dataset} is an image data set but this generator makes 2-D points")
    classifier = load_classifier(dataset, device)
    ref = reference_for(dataset, classes)
    labels = None
    if gcfg.num_classes and classes and "data_classes" not in gcfg.meta:  # conditional: the evaluated classes only
        pick = torch.randint(len(classes), (n,), generator=torch.Generator().manual_seed(seed + 1))
        labels = torch.tensor(classes)[pick]
    images, _ = generate(g, gcfg, n, seed=seed, batch_size=batch_size, device=device, labels=labels)
    tag = f"{classifier.cfg.protocol}/{count_label(n)}"
    result["protocol"] = classifier.cfg.protocol
    result["reference"] = {"split": "test", "samples": len(ref["labels"]), "classes": classes}
    names = classifier.cfg.meta.get("class_names") or gcfg.class_names
    result.update(image_metrics(images, classifier, ref, names, tag, seed))
    return result


def evaluate(cfg: EvalConfig) -> dict[str, Any]:
    """All metrics of the generator in ``cfg.generator``; a JSON-ready dict."""
    device = resolve_device(cfg.device)
    g, gcfg = load_generator(cfg.generator, device)
    dataset = cfg.data or gcfg.dataset
    if not dataset:
        raise ConfigError("this generator does not record its data set; pass --data NAME")
    # fused students: their labels are teachers, the data classes they cover are recorded apart
    recorded = gcfg.meta["data_classes"] if "data_classes" in gcfg.meta else gcfg.meta.get("classes")
    classes = cfg.classes or (recorded if dataset == gcfg.dataset else None)
    t0 = time.perf_counter()
    result = {"generator": str(cfg.generator),
              **evaluate_generator(g, gcfg, dataset, cfg.n, cfg.seed, classes, cfg.batch_size, device)}
    result["seconds"] = round(time.perf_counter() - t0, 2)
    return result


def format_results(results: dict[str, Any]) -> str:
    """A readable table of ``results``."""
    lines = [f"{results['generator']} on {results['dataset']} ({results['n']} samples, protocol {results['protocol']})"]
    for k, v in results["metrics"].items():
        lines.append(f"  {k:<55} {v:.4f}" if isinstance(v, float) else f"  {k:<55} {v}")
    if "class_shares" in results:
        lines.append("  class shares: " + ", ".join(f"{k} {v:.3f}" for k, v in results["class_shares"].items()))
    if "mode_shares" in results:
        lines.append("  mode shares: " + ", ".join(f"{v:.3f}" for v in results["mode_shares"]))
    lines.append(f"  ({results['seconds']} s)")
    return "\n".join(lines)
