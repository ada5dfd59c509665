"""``gantransfer eval``: every metric of a generator, each named by its protocol.

Images: features of each of the data set's shipped protocol networks (``<data set>-classifier-v1`` and the
independent ``<data set>-judge-v1``, see metrics/protocols.py) against the shipped reference features of the real
test split: FID, KID (mean and std over subsets), precision/recall and density/coverage (k=5), class shares,
classes covered and mean classifier confidence; every key names its protocol, the images are generated once.
2-D mixtures: exact metrics from the mixture's definition (modes covered, high-quality share).

Image evaluation streams: images are generated, passed through the classifier and reduced batch by batch
(``FeatureAccumulator``). FID (float64 running sums of x and x x^T), class shares and confidence cover all n
samples; KID and PRDC need the samples themselves and use the features of the first
``min(n, KID_PRDC_SAMPLES)`` ones, which the result reports as ``kid_prdc_samples``. Memory therefore stops
growing with n past that cap.
"""
from __future__ import annotations

import time
from typing import Any

import torch

from gantransfer.config import EvalConfig
from gantransfer.data.toy import mixture_spec
from gantransfer.devices import resolve_device
from gantransfer.errors import ConfigError
from gantransfer.metrics.classifier import extract  # noqa: F401  (re-exported: callers import it from here)
from gantransfer.metrics.classifier import (FeatureClassifier, extract_batch, load_classifier,
                                            load_reference, ships)
from gantransfer.metrics.fid import RunningStats, frechet_distance, gaussian_stats
from gantransfer.metrics.kid import kernel_inception_distance
from gantransfer.metrics.mixture import mixture_metrics
from gantransfer.metrics.prdc import prdc
from gantransfer.metrics.protocols import count_label
from gantransfer.metrics.streaming import Accumulator
from gantransfer.models.sampling import check_finite, draw_inputs, generate
from gantransfer.models.config import GeneratorConfig

TOYS = ("ring8", "grid25")
COVERED_SHARE = 0.5  # a class counts as covered when it gets at least half of its reference share
KID_PRDC_SAMPLES = 10000  # KID and PRDC use the features of the first this many samples (a fixed cap)
FEATURE_BATCH = 500  # images per classifier pass; fixed, so the figures do not depend on the generation batch


def reference_for(dataset: str, classes: list[int] | None, role: str = "classifier") -> dict[str, torch.Tensor]:
    """The shipped reference of ``dataset``'s test split (in the features of the protocol network of ``role``),
    restricted to ``classes`` when given."""
    ref = load_reference(dataset, role)
    feats, labels = ref["features"].float(), ref["labels"].long()
    if classes is None or sorted(classes) == sorted(set(labels.tolist())):
        return {"features": feats, "labels": labels, "mu": ref["mu"], "sigma": ref["sigma"]}
    keep = torch.isin(labels, torch.tensor(classes))
    if not keep.any():
        raise ConfigError(f"classes {classes} do not occur in the {dataset} reference data")
    mu, sigma = gaussian_stats(feats[keep])
    return {"features": feats[keep], "labels": labels[keep], "mu": mu, "sigma": sigma}


class FeatureAccumulator:
    """Streaming image metrics: feed batches of images with ``update`` (or features and class probabilities
    with ``add``), then read ``result()``, the dict ``image_metrics`` returns.

    Images are passed through ``classifier`` in passes of exactly ``chunk`` images aligned to the start of the
    stream (a remainder is held until the next update or ``result``), so how the caller batches its images
    does not change any figure. Kept per sample: nothing but the features (and top class probability) of the
    first ``cap`` samples (default ``KID_PRDC_SAMPLES``), for KID and PRDC. FID uses running float64 sums
    (``RunningStats``), class shares running counts of the argmax class, confidence a running float64 sum of
    the top probability (exact, so independent of batching); up to ``cap`` samples the confidence is the
    float32 mean of the kept top probabilities instead, bit for bit the figure of the one-shot computation.
    Every method runs under ``torch.inference_mode``, so the state may be updated from inside or outside it.
    """

    def __init__(self, classifier: FeatureClassifier | None, ref: dict[str, torch.Tensor], class_names: list[str],
                 tag: str, seed: int = 0, cap: int | None = None, chunk: int = FEATURE_BATCH,
                 kid_subsets: int = 100) -> None:
        self.cap = KID_PRDC_SAMPLES if cap is None else int(cap)
        if self.cap < 2:
            raise ValueError(f"cap must be >= 2, got {self.cap}")
        if chunk < 1:
            raise ValueError(f"chunk must be >= 1, got {chunk}")
        self.classifier, self.ref, self.class_names, self.tag, self.seed = classifier, ref, class_names, tag, seed
        self.chunk = chunk
        self.kid_subsets = kid_subsets               # KID's random subsets (eval: 100; the sanity battery: fewer)
        self.n = 0                                   # samples reduced so far
        self.stats = RunningStats(ref["features"].shape[1])
        self._counts: torch.Tensor | None = None     # (K,) int64 per argmax class
        self._confidence_sum = 0.0                   # float64 sum of the top class probability
        self._kept: list[torch.Tensor] = []          # features of the first ``cap`` samples, in order
        self._kept_top: list[torch.Tensor] = []      # their top class probabilities (float32)
        self.held = 0                                # rows in ``_kept``
        self._pending: list[torch.Tensor] = []       # images waiting for a full classifier pass
        self._pending_n = 0

    @torch.inference_mode()
    def update(self, images: torch.Tensor) -> None:
        """Add a batch of images (B, C, H, W) in [-1, 1], on any device."""
        if self.classifier is None:
            raise ValueError("this FeatureAccumulator has no classifier; feed features with add()")
        if images.dim() != 4:
            raise ValueError(f"expected images of shape (N, C, H, W), got {tuple(images.shape)}")
        x = images.detach()
        if self._pending_n:                          # complete the held remainder first
            take = min(self.chunk - self._pending_n, len(x))
            self._pending.append(x[:take])
            self._pending_n += take
            x = x[take:]
            if self._pending_n < self.chunk:
                return
            self._classify(torch.cat(self._pending))
            self._pending, self._pending_n = [], 0
        full = len(x) - len(x) % self.chunk
        for i in range(0, full, self.chunk):
            self._classify(x[i:i + self.chunk])
        if full < len(x):                            # a copy, so the caller's batch can be freed
            self._pending, self._pending_n = [x[full:].clone()], len(x) - full

    def _classify(self, images: torch.Tensor) -> None:
        self.add(*extract_batch(self.classifier, images))

    @torch.inference_mode()
    def add(self, feats: torch.Tensor, probs: torch.Tensor) -> None:
        """Add the features (B, D) and class probabilities (B, K) of B samples."""
        if feats.dim() != 2 or probs.dim() != 2 or len(feats) != len(probs):
            raise ValueError(f"features (B, D) and probabilities (B, K) must match, got {tuple(feats.shape)} and "
                             f"{tuple(probs.shape)}")
        if len(feats) == 0:
            return
        feats, probs = feats.detach().float().cpu(), probs.detach().float().cpu()
        if self._counts is None:
            self._counts = torch.zeros(probs.shape[1], dtype=torch.int64)
        elif probs.shape[1] != len(self._counts):
            raise ValueError(f"expected probabilities over {len(self._counts)} classes, got {probs.shape[1]}")
        self.stats.update(feats)
        self._counts += torch.bincount(probs.argmax(1), minlength=len(self._counts))
        # exact: float32 values >= 1/K summed in float64, far below 2^53 units of their last place
        top = probs.max(1).values
        self._confidence_sum += float(top.double().sum())
        if self.held < self.cap:
            keep = feats[: self.cap - self.held].clone()
            self._kept.append(keep)
            self._kept_top.append(top[: len(keep)].clone())
            self.held += len(keep)
        self.n += len(feats)

    @torch.inference_mode()
    def flush(self) -> None:
        """Classify the held remainder of images (fewer than ``chunk``); ``result`` calls it."""
        if self._pending_n:
            self._classify(torch.cat(self._pending))
            self._pending, self._pending_n = [], 0

    @torch.inference_mode()
    def result(self) -> dict[str, Any]:
        """FID/KID/PRDC/class shares of everything added so far, as ``image_metrics`` returns them."""
        self.flush()
        if self.n < 2 or self._counts is None:
            raise ValueError(f"image metrics need at least 2 samples, got {self.n}")
        ref, tag = self.ref, self.tag
        kept = torch.cat(self._kept)
        mu, sigma = self.stats.result()
        kid_mean, kid_std = kernel_inception_distance(ref["features"], kept, subsets=self.kid_subsets, seed=self.seed)
        pr = prdc(ref["features"], kept, k=5)
        k = len(self._counts)
        shares = self._counts.double() / self.n
        ref_shares = torch.bincount(ref["labels"], minlength=k).double() / len(ref["labels"])
        expected = ref_shares > 0
        covered = int(((shares >= COVERED_SHARE * ref_shares) & expected).sum())
        if self.n == self.held:  # every sample kept: torch's float32 mean, as the one-shot computation took it
            confidence = float(torch.cat(self._kept_top).mean())
        else:
            confidence = self._confidence_sum / self.n
        metrics: dict[str, Any] = {
            f"fid/{tag}": frechet_distance(mu, sigma, ref["mu"], ref["sigma"]),
            f"kid/{tag}": kid_mean, f"kid_std/{tag}": kid_std,
            **{f"{name}/{tag}/k5": value for name, value in pr.items()},
            f"classes_covered/{tag}": covered,
            f"class_share_tv/{tag}": float(0.5 * (shares - ref_shares).abs().sum()),
            f"confidence/{tag}": confidence,
        }
        names = self.class_names
        return {"metrics": metrics,
                "class_shares": {names[i] if i < len(names) else str(i): round(float(shares[i]), 4) for i in range(k)},
                "classes_expected": int(expected.sum()),
                "kid_prdc_samples": len(kept)}


def image_metrics(images: torch.Tensor, classifier: FeatureClassifier, ref: dict[str, torch.Tensor],
                  class_names: list[str], tag: str, seed: int = 0) -> dict[str, Any]:
    """FID/KID/PRDC/class shares of ``images`` against reference features; keys carry ``tag``
    (``<protocol>/<count>``). KID and PRDC use the first ``KID_PRDC_SAMPLES`` images (``kid_prdc_samples``)."""
    acc = FeatureAccumulator(classifier, ref, class_names, tag, seed)
    acc.update(images)
    return acc.result()


def evaluate_generator(g: torch.nn.Module, gcfg: GeneratorConfig, dataset: str, n: int, seed: int = 0,
                       classes: list[int] | None = None, batch_size: int = 500,
                       device: torch.device | str = "cpu", protocols: list[str] | None = None,
                       desc: str = "evaluating", also: list[Accumulator] | None = None) -> dict[str, Any]:
    """Metrics of an in-memory generator under ``dataset``'s protocols (all shipped ones, or those named in
    ``protocols``), used by ``eval`` and by training; a progress bar named ``desc`` in a terminal (none when
    stderr is not one). ``also``: more accumulators (``update(images)``) fed every generated batch of images."""
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
    from gantransfer.metrics.protocols import get_protocol, protocols_for
    chosen = [get_protocol(p) for p in protocols] if protocols else protocols_for(dataset)
    if not chosen:
        load_classifier(dataset, device)  # the error naming the data sets that have a protocol
        raise ConfigError(f"no shipped protocol for data set {dataset!r}")
    labels = None
    if gcfg.num_classes and classes and gcfg.labels_are_data_classes:  # conditional: the evaluated classes only
        pick = torch.randint(len(classes), (n,), generator=torch.Generator().manual_seed(seed + 1))
        labels = torch.tensor(classes)[pick]
    accs = []
    for p in chosen:
        net = p.network(device)
        ref = reference_for(p.dataset, classes, p.role)
        names = net.cfg.meta.get("class_names") or gcfg.class_names
        accs.append((p, net, ref, FeatureAccumulator(net, ref, names, f"{p.name}/{count_label(n)}", seed)))
    result["protocol"] = chosen[0].name
    result["reference"] = {"split": "test", "samples": len(accs[0][2]["labels"]), "classes": classes}
    # the latents and labels ``generate`` draws for this seed; the images themselves one batch at a time, each
    # batch scored by every protocol
    z, y = draw_inputs(gcfg, n, torch.Generator().manual_seed(seed), labels)
    from tqdm.auto import tqdm
    with torch.inference_mode(), tqdm(total=n, desc=desc, unit="sample", leave=False, dynamic_ncols=True,
                                      disable=None) as bar:
        for i in range(0, n, batch_size):
            yi = None if y is None else y[i:i + batch_size].to(device)
            x = check_finite(g(z[i:i + batch_size].to(device), yi).float(), f"generator {gcfg.arch}")
            for *_, acc in accs:
                acc.update(x)
            for extra in also or []:
                extra.update(x)
            bar.update(min(batch_size, n - i))
    result["protocols"] = {}
    for k, (p, net, _, acc) in enumerate(accs):
        res = acc.result()
        if k == 0:
            result.update(res)
        else:
            result["metrics"].update(res["metrics"])
        result["protocols"][p.name] = {"role": p.role, "network_test_accuracy": net.cfg.meta.get("test_accuracy"),
                                       "class_shares": res["class_shares"],
                                       "kid_prdc_samples": res["kid_prdc_samples"]}
    return result


def evaluate(cfg: EvalConfig) -> dict[str, Any]:
    """All metrics of the generator in ``cfg.generator``; a JSON-ready dict."""
    device = resolve_device(cfg.device)
    from gantransfer.budget import require_count
    require_count(cfg.n, "--n")
    from gantransfer.deploy.opener import open_generator
    g, gcfg = open_generator(cfg.generator, device)  # an exported file runs by its runtime (tensors on ``device``)
    if gcfg.is_translator:  # the translation task's protocol (metrics/translation_protocol.py)
        from gantransfer.metrics.translation_protocol import evaluate_translation
        t0 = time.perf_counter()
        result = evaluate_translation(cfg.generator, g, gcfg, cfg.data, cfg.direction, cfg.n, cfg.aligned,
                                      device=device)
        result["seconds"] = round(time.perf_counter() - t0, 2)
        from gantransfer.metrics.protocols import mark_loss_networks
        return mark_loss_networks(result, list(gcfg.loss_networks))
    dataset = cfg.data or gcfg.dataset
    user_ref = cfg.reference is not None or cfg.inception is not None
    if not dataset and not user_ref:
        raise ConfigError("this generator does not record its data set; pass --data NAME")
    # fused students: their labels are teachers, the data classes they cover are recorded apart
    classes = cfg.classes or (gcfg.evaluation_classes if dataset == gcfg.dataset else None)
    if user_ref:  # refuse a wrong stats or weights file before sampling anything
        if gcfg.kind != "image":
            raise ConfigError("reference statistics are of images, but this generator makes 2-D points")
        from gantransfer.metrics.reference_stats import prepare_reference, reference_evaluation
        net, user_stats = prepare_reference(cfg.reference, cfg.inception, dataset or None, device)
    t0 = time.perf_counter()
    if user_ref and (not dataset or (dataset not in TOYS and not ships(dataset))):
        result = {"generator": str(cfg.generator), "dataset": dataset or None, "n": cfg.n, "seed": cfg.seed,
                  "protocol": None, "metrics": {}}  # no shipped protocol: the reference stats' figure alone
        result["reference_stats"] = reference_evaluation(g, gcfg, cfg.n, cfg.seed, classes, cfg.reference, net,
                                                         user_stats, cfg.batch_size, device)
    else:  # the reference stats' network scores the protocols' own batches: the samples are generated once
        from gantransfer.metrics.reference_stats import ReferenceAccumulator
        ref_acc = ReferenceAccumulator(net, user_stats, cfg.reference, gcfg) if user_ref else None
        result = {"generator": str(cfg.generator),
                  **evaluate_generator(g, gcfg, dataset, cfg.n, cfg.seed, classes, cfg.batch_size, device,
                                       cfg.protocols, also=[ref_acc] if ref_acc else None)}
        if ref_acc is not None:
            result["reference_stats"] = ref_acc.result()
    result["seconds"] = round(time.perf_counter() - t0, 2)
    if "protocols" in result:  # a run whose loss used a protocol's network says so (recorded by distill/fuse)
        from gantransfer.metrics.protocols import mark_loss_networks
        result = mark_loss_networks(result, list(gcfg.loss_networks))
    return result


def format_results(results: dict[str, Any]) -> str:
    """A readable table of ``results``."""
    names = list(results.get("protocols") or [results["protocol"]])
    lines = [f"{results['generator']} on {results['dataset']} ({results['n']} samples, "
             f"protocol{'s' if len(names) > 1 else ''} {', '.join(names)})"
             if results["protocol"] else f"{results['generator']} ({results['n']} samples; no shipped protocol)"]
    for k, v in results["metrics"].items():
        lines.append(f"  {k:<55} {v:.4f}" if isinstance(v, float) else f"  {k:<55} {v}")
    if "class_shares" in results:
        lines.append("  class shares: " + ", ".join(f"{k} {v:.3f}" for k, v in results["class_shares"].items()))
    if "kid_prdc_samples" in results:
        m = results["kid_prdc_samples"]
        which = f"the first {m} of {results['n']} samples (capped)" if m < results["n"] else f"all {m} samples"
        lines.append(f"  kid and precision/recall/density/coverage from {which}")
    if "mode_shares" in results:
        lines.append("  mode shares: " + ", ".join(f"{v:.3f}" for v in results["mode_shares"]))
    for w in results.get("warnings", []):
        lines.append(f"  warning: {w}")
    if "reference_stats" in results:
        r = results["reference_stats"]
        images = f", {r['images']} images" if r.get("images") else ""
        lines.append(f"  against reference stats {r['file']} ({r['network']}{images}):")
        lines += [f"  {k:<55} {v:.4f}" for k, v in r["metrics"].items()]
    lines.append(f"  ({results['seconds']} s)")
    return "\n".join(lines)
