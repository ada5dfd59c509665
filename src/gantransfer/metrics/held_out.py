"""The limited-data protocol: the few training images, a held-out split that picks the best step, and the test
split used only at the end (the protocol's metrics and the memorisation check)."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from gantransfer.data.base import Dataset
from gantransfer.data.transforms import seeded_subset
from gantransfer.data.splits import HELD_OUT_SEED
from gantransfer.models.config import GeneratorConfig


def unknown_domain_figures(run: Path, gen, gcfg: GeneratorConfig, held: Dataset | None, test: Dataset | None,
                           source, n: int, device: torch.device) -> dict[str, Any]:
    """The adapted generator (and the unadapted source) against up to ``n`` target images it never trained on:
    the test split when it has enough, else the held-out images (an unknown domain picks no best step, so neither
    was looked at during training); or why not."""
    from gantransfer.metrics.teacher_relative import data_relative
    from gantransfer.metrics.two_sample import MIN_PER_SIDE
    splits = [(name, d) for name, d in (("test split", test), ("held-out training-split", held)) if d is not None]
    name, images = max(splits, key=lambda s: min(len(s[1]), n) >= MIN_PER_SIDE, default=("", None))
    count = 0 if images is None else min(len(images), n)
    if count < MIN_PER_SIDE:
        return {"skipped": f"{count} target images outside the training ones (--eval-n {n}); figures against "
                           f"images the run never trained on need at least {MIN_PER_SIDE}: give --data more "
                           f"images than --limit, with --held-out and --eval-n of {MIN_PER_SIDE} or more"}
    generators = {"adapted": (gen, gcfg)}
    if source is not None:
        generators["source"] = (source, source.config)
    return data_relative(generators, images.as_float()[:count], device, run, what=f"{name} images")


class HeldOutProtocol:
    """Held-out FIDs under the target data set's shipped classifier (features cached per data set)."""

    def __init__(self, dataset: str, device: torch.device) -> None:
        from gantransfer.metrics.classifier import load_classifier
        self.classifier = load_classifier(dataset, device)
        self._cache: dict[int, torch.Tensor] = {}

    def features(self, data: Dataset) -> torch.Tensor:
        from gantransfer.metrics.classifier import extract
        if id(data) not in self._cache:
            self._cache[id(data)] = extract(self.classifier, data.as_float())[0]
        return self._cache[id(data)]

    def fid(self, images: torch.Tensor, held: Dataset) -> float:
        """FID of ``images`` against the held-out images, in this protocol's features."""
        from gantransfer.metrics.evaluate import image_metrics
        from gantransfer.metrics.fid import gaussian_stats
        feats = self.features(held)
        mu, sigma = gaussian_stats(feats)
        res = image_metrics(images, self.classifier, {"features": feats, "labels": held.y, "mu": mu, "sigma": sigma},
                            [], f"{self.classifier.cfg.protocol}/held-out", 0)["metrics"]
        return next(v for k, v in res.items() if k.startswith("fid/"))


class BestStep:
    """Scores the EMA generator on the held-out split and keeps the best step in ``run/best/generator`` (lower is
    better; ``metric`` names the score in the kept generator's meta and the log)."""

    metric = "held_out_fid"

    def __init__(self, protocol: HeldOutProtocol, held: Dataset, gcfg: GeneratorConfig, n: int,
                 device: torch.device) -> None:
        self.protocol, self.held, self.gcfg, self.n, self.device = protocol, held, gcfg, n, device
        self.fid, self.step = float("inf"), None
        self._restored = False

    def restore(self, run: Path) -> None:
        """Once per process: take up the best step an earlier process of this run kept (a resumed run), so that
        a worse step after the resume does not replace it and the final evaluation still names it."""
        if self._restored:
            return
        self._restored = True
        kept = run / "best" / "generator"
        if self.step is None and (kept / "config.json").is_file():
            from gantransfer.models.store import load_config
            meta = load_config(kept).meta
            if self.metric in meta and "train_steps" in meta:
                self.fid, self.step = float(meta[self.metric]), int(meta["train_steps"])

    def score(self, g: torch.nn.Module) -> float:
        """The held-out FID of ``g``'s samples."""
        from gantransfer.models.sampling import generate
        x, _ = generate(g, self.gcfg, self.n, seed=0, device=self.device)
        return self.protocol.fid(x, self.held)

    def __call__(self, g: torch.nn.Module, step: int, run: Path) -> dict[str, float]:
        from gantransfer.models.store import save_generator
        self.restore(run)
        fid = self.score(g)
        if fid < self.fid:
            self.fid, self.step = fid, step
            meta = {**self.gcfg.meta, "train_steps": step, self.metric: fid}
            save_generator(g, dataclasses.replace(self.gcfg, meta=meta), run / "best" / "generator")
        logged = {f"eval/{self.metric}": fid, "eval/best_step": float(self.step)}
        if hasattr(g, "source_probabilities"):  # several sources: the selector's choice in the evaluated generator
            logged.update({f"eval/source_p@{i}": float(p) for i, p in enumerate(g.source_probabilities())})
        return logged


def kept_generator(run: Path, best: BestStep | None, device: torch.device, score: str = "best_held_out_fid"
                   ) -> tuple[Any, GeneratorConfig, dict[str, Any]]:
    """The generator a run keeps (its best held-out step when there was one, else its last), its config, and the
    record of that choice (``score``: the key of the best step's held-out score)."""
    from gantransfer.models.store import load_generator
    if best is not None:
        best.restore(run)
    kept_best = best is not None and best.step is not None
    kept = run / "best" if kept_best else run
    gen, kcfg = load_generator(kept, device)
    last_step = int(load_generator(run, device)[1].meta.get("train_steps", 0))
    return gen, kcfg, {"kept": str(kept / "generator"), "best_step": best.step if kept_best else None,
                       score: best.fid if kept_best else None, "last_step": last_step,
                       "went_past_best": kept_best and last_step > best.step}


def final_evaluation(run: Path, data: str, classes: list[int] | None, n: int, train_set: Dataset,
                     test: Dataset | None, device: torch.device, best: BestStep | None,
                     held: Dataset | None = None, source=None) -> dict[str, Any]:
    """Against the test split: the protocol's metrics and the memorisation check, for the kept generator (the best
    held-out step when there was one, else the last). A domain with no shipped classifier gets ``data_relative``
    too: the kept generator and the unadapted ``source`` (a Teacher) against target images it never trained on, in
    a space learned from those images alone (``unknown_domain_figures``, ``metrics/teacher_relative.py``)."""
    from gantransfer.metrics.classifier import ships
    from gantransfer.metrics.memorisation import memorisation
    from gantransfer.models.sampling import generate
    gen, kcfg, kept = kept_generator(run, best, device)
    result: dict[str, Any] = {**kept, "train_images": len(train_set)}
    if hasattr(gen, "source_probabilities"):
        result["source_probabilities"] = gen.source_probabilities().tolist()
    if not ships(data):
        result["data_relative"] = unknown_domain_figures(run, gen, kcfg, held, test, source, n, device)
    if test is None:
        return result
    x, _ = generate(gen, kcfg, n, seed=1, device=device)
    real = test.as_float()[seeded_subset(len(test), n, HELD_OUT_SEED)]  # a mix of classes, as above
    result["memorisation"] = memorisation(x, train_set.as_float(), real)
    if ships(data):
        from gantransfer.metrics.evaluate import evaluate_generator
        res = evaluate_generator(gen, kcfg, data, n, seed=1, classes=classes, device=device)
        result["test"] = res["metrics"]
    return result
