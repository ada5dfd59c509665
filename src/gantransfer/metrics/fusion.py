"""Per-teacher figures of a generator meant to cover several teachers (a fused student or a brute-force baseline).

- **Teacher shares**: a teacher-domain classifier, trained here on the teachers' own samples and cached beside
  the run, says which teacher each sample looks like; shares are compared with the requested weights.
- **Per-teacher FID**: the student's samples for teacher k (conditioned on k; for a plain generator, the samples
  the domain classifier assigns to k) against teacher k's samples, and both against the real test data of the
  teacher's classes, in the protocol classifier's features.
- **Union FID**: the student against the real test data of every teacher's classes, beside the teachers' own
  mixture under the same protocol.
"""
from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

import torch

from gantransfer.models.cost import count_macs, count_params
from gantransfer.errors import ConfigError
from gantransfer.metrics.classifier import (ClassifierConfig, FeatureClassifier, extract,
                                            load_classifier, recompute_batchnorm, save_classifier, ships)
from gantransfer.metrics.evaluate import image_metrics, reference_for
from gantransfer.metrics.protocols import count_label
from gantransfer.metrics.fid import fid_from_features
from gantransfer.models.sampling import generate
from gantransfer.models.store import load_generator, resolve_generator_dir
from gantransfer.teacher_set import TeacherSet, teacher_set_of

DOMAIN_TRAIN, DOMAIN_TEST, DOMAIN_STEPS = 2000, 500, 400
DOMAIN_VERSION = 2  # part of the cache key: 2 recomputes BatchNorm statistics after training
DOMAIN_MIN_ACCURACY = 0.9  # below this held-out accuracy, shares are flagged as unreliable


def _batched(fn, n: int, batch: int = 500) -> torch.Tensor:
    return torch.cat([fn(i, min(batch, n - i)) for i in range(0, n, batch)])


def student_samples_for(g, tset, k: int, n: int, seed: int, device) -> torch.Tensor:
    """The fused student's images for teacher ``k``: the student labels (or latent bin) of teacher k."""
    rng = torch.Generator().manual_seed(seed * 7919 + 100 + k)

    def part(i: int, m: int) -> torch.Tensor:
        z = tset.latents_for(k, m, rng)
        y = None if tset.mode == "unconditional" else tset.teacher_labels(k, m, rng)[1]
        with torch.inference_mode():
            return g(z.to(device), None if y is None else y.to(device)).float().cpu()
    return _batched(part, n)


def domain_classifier(tset: TeacherSet, cache: Path, device, seed: int = 0) -> tuple[FeatureClassifier, float]:
    """A small classifier of which teacher made an image, trained on the teachers' samples; cached under
    ``cache`` by the teachers it was trained on. Returns it and its held-out accuracy."""
    key = hashlib.sha1(json.dumps([DOMAIN_VERSION, tset.names, [t.source for t in tset.teachers],
                                   tset.student.resolution, tset.student.channels, seed]).encode()).hexdigest()[:12]
    d = cache / f"domain-classifier-{key}"
    if (d / "config.json").is_file():
        model = load_classifier(d, device)
        return model, float(model.cfg.meta["held_out_accuracy"])
    k = len(tset.teachers)
    n = DOMAIN_TRAIN + DOMAIN_TEST
    x = torch.cat([tset.samples(i, n, seed + 1, device) for i in range(k)])
    y = torch.arange(k).repeat_interleave(n)
    test = (torch.arange(len(y)) % n) >= DOMAIN_TRAIN
    cfg = ClassifierConfig(dataset="teacher-domain", num_classes=k, resolution=tset.student.resolution,
                           channels=tset.student.channels, widths=[16, 32, 64],
                           meta={"teachers": tset.names, "sources": [t.source for t in tset.teachers]})
    torch.manual_seed(seed)
    model = FeatureClassifier(cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    xtr, ytr = x[~test], y[~test]
    rng = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(DOMAIN_STEPS):
        idx = torch.randint(len(ytr), (128,), generator=rng)
        loss = torch.nn.functional.cross_entropy(model(xtr[idx].to(device)), ytr[idx].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    recompute_batchnorm(model, xtr)
    model.requires_grad_(False)
    _, probs = extract(model, x[test])
    acc = float((probs.argmax(1) == y[test]).float().mean())
    model.cfg.meta["held_out_accuracy"] = acc
    save_classifier(model, d)
    return model, acc


def domain_by_class(clf: FeatureClassifier, student_x: torch.Tensor, teacher_x: torch.Tensor, k: int,
                    protocol_classes: tuple[torch.Tensor, torch.Tensor, list[str]] | None = None) -> dict[str, Any]:
    """How teacher-``k``-like the student's samples for teacher k look to the domain classifier, against teacher
    k's own samples. Given the protocol's classes of both sample sets and its class names (``protocol_classes``),
    also per class: the student's and the teacher's class mix and the share of the student's samples of each class
    that look like teacher k (where shares fall short)."""
    own_s = extract(clf, student_x)[1].argmax(1) == k
    own_t = extract(clf, teacher_x)[1].argmax(1) == k
    out: dict[str, Any] = {"own_domain_share": float(own_s.float().mean()),
                           "teacher_own_domain_share": float(own_t.float().mean())}
    if protocol_classes is None:
        return out
    cs, ct, names = protocol_classes
    out["by_class"] = {name: {"student_share": float((cs == c).float().mean()),
                              "teacher_share": float((ct == c).float().mean()),
                              "own_domain_share": float(own_s[cs == c].float().mean()) if (cs == c).any() else None}
                       for c, name in enumerate(names)}
    return out


def evaluate_fusion(generator: str | Path, teachers: list[str], n: int = 2000, device: str | torch.device = "cpu",
                    seed: int = 0) -> dict[str, Any]:
    """Teacher shares, per-teacher and union FIDs and costs of ``generator`` against ``teachers``."""
    g, gcfg = load_generator(generator, device)
    if gcfg.kind != "image":
        raise ConfigError("fusion evaluation works on image generators")
    tset, fused = teacher_set_of(gcfg, list(teachers), device)
    run_dir = resolve_generator_dir(generator).parent
    clf, acc = domain_classifier(tset, run_dir / "eval-cache", device, seed)
    if acc < DOMAIN_MIN_ACCURACY:
        warnings.warn(f"the teacher-domain classifier tells the teachers' own samples apart only {acc:.1%} of the "
                      "time: the teachers' outputs overlap, and the shares below are not reliable")
    x, _ = generate(g, gcfg, n, seed=seed, device=device)  # the generator's own sampling (weights included)
    _, probs = extract(clf, x)
    k = len(tset.teachers)
    shares = torch.bincount(probs.argmax(1), minlength=k).double() / n
    result: dict[str, Any] = {
        "generator": str(generator), "n": n, "teachers": tset.names, "fused": fused,
        "domain_classifier_accuracy": acc,
        "teacher_shares": {name: float(shares[i]) for i, name in enumerate(tset.names)},
        "requested_weights": {name: float(tset.weights[i]) for i, name in enumerate(tset.names)},
        "share_over_weight": {name: float(shares[i] / tset.weights[i]) for i, name in enumerate(tset.names)},
    }
    protocols: dict[str, FeatureClassifier | None] = {}

    def protocol_of(name: str) -> FeatureClassifier | None:
        """The protocol classifier of a data set, when one is shipped."""
        if name not in protocols:
            shipped = ships(name)
            protocols[name] = load_classifier(name, device) if shipped else None
        return protocols[name]

    dataset = tset.student.dataset
    feats = protocol_of(dataset)
    per: dict[str, dict[str, float]] = {}
    pred = probs.argmax(1)
    teacher_x = []
    for i, t in enumerate(tset.teachers):
        tx = tset.samples(i, n, seed, device)
        teacher_x.append(tx)
        sx = student_samples_for(g, tset, i, n, seed, device) if fused else x[pred == i]
        row: dict[str, Any] = {"student_samples": len(sx)}
        own = protocol_of(t.config.dataset) or feats  # each teacher under its own data set's protocol
        fs = ft = ps = pt = None
        if own is not None and len(sx):  # (features, class probabilities) of both sample sets, one pass each
            (fs, ps), (ft, pt) = extract(own, sx), extract(own, tx)
        if own is not None and len(sx) >= 10:
            row["protocol"] = own.cfg.protocol
            row["fid_student_vs_teacher"] = fid_from_features(fs, ft)
            classes = t.config.trained_classes
            if classes and own.cfg.dataset == t.config.dataset:
                ref = reference_for(t.config.dataset, classes)["features"]
                row["fid_student_vs_real"] = fid_from_features(fs, ref)
                row["fid_teacher_vs_real"] = fid_from_features(ft, ref)
                row["fid_ratio_to_teacher"] = row["fid_student_vs_real"] / row["fid_teacher_vs_real"]
        if fused and len(sx):
            protocol_classes = None if ps is None else (
                ps.argmax(1), pt.argmax(1),
                own.cfg.meta.get("class_names") or [str(c) for c in range(own.cfg.num_classes)])
            row.update(domain_by_class(clf, sx, tx, i, protocol_classes))
        per[tset.names[i]] = row
    result["per_teacher"] = per
    if feats is not None and all(t.config.dataset == dataset for t in tset.teachers):
        union = gcfg.data_classes
        ref = reference_for(dataset, union)
        tag = f"{feats.cfg.protocol}/{count_label(n)}"
        names = feats.cfg.meta.get("class_names") or []
        result["union"] = image_metrics(x, feats, ref, names, tag, seed)
        mix = torch.cat([tx[: max(1, int(round(float(w) * n)))] for tx, w in zip(teacher_x, tset.weights)])[:n]
        result["teachers_mixture"] = image_metrics(mix, feats, ref, names, tag, seed)["metrics"]
        from gantransfer.metrics.protocols import protocols_for
        for p in protocols_for(dataset)[1:]:  # the independent protocols beside the first, same images
            net = p.network(device)
            pref, ptag = reference_for(dataset, union, p.role), f"{p.name}/{count_label(n)}"
            result["union"]["metrics"].update(image_metrics(x, net, pref, names, ptag, seed)["metrics"])
            result["teachers_mixture"].update(image_metrics(mix, net, pref, names, ptag, seed)["metrics"])
    t_params = [count_params(t.module) for t in tset.teachers]
    t_macs = [count_macs(t.module, t.config) for t in tset.teachers]
    s_params, s_macs = count_params(g), count_macs(g, gcfg)
    result["cost"] = {"student_params": s_params, "teachers_params": t_params, "student_macs": s_macs,
                      "teachers_macs": t_macs, "params_vs_sum": sum(t_params) / s_params,
                      "params_vs_largest": max(t_params) / s_params}
    return result
