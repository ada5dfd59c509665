"""The registry of evaluation protocols: every feature network that defines figures, enumerable in one place.

A protocol is a frozen feature network of a built-in data set plus the shipped features of that data set's real
test split. Each built-in image data set has two, independent of each other (another architecture, seed and
augmentation, trained separately):

- ``<data set>-classifier-v1`` (``assets/classifiers/<data set>/``): the first, VGG-like;
- ``<data set>-judge-v1`` (``assets/judges/<data set>/``): the second, a residual net with strided convolutions.

The first listed is the primary protocol (``result["protocol"]``); figures of every protocol sit side by side
in ``result["metrics"]``, each key naming its protocol (``fid/<protocol>/<count>``).

The perceptual term's default network (``assets/perceptual/<data set>/``) is no protocol. A run whose loss used a
protocol's network (``--perceptual-net classifier``) records it, and :func:`mark_loss_networks` flags that
protocol's figures in its eval.json (``protocols[<name>]["used_by_loss"]`` and a warning).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gantransfer.errors import ConfigError

PROTOCOL_ROLES = ("classifier", "judge")  # in this order: the primary first


def count_label(n: int) -> str:
    """10000 -> '10k', 2500 -> '2500'."""
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


@dataclass(frozen=True)
class Protocol:
    """A shipped protocol: its name, data set and role (the assets folder it lives in)."""

    name: str
    dataset: str
    role: str

    def network(self, device: Any = "cpu"):
        """The frozen feature network (a FeatureClassifier), in eval mode on ``device``."""
        from gantransfer.metrics.classifier import load_classifier
        return load_classifier(self.dataset, device, role=self.role)

    def reference(self) -> dict:
        """Shipped features, labels and float64 mean/covariance of the real test split."""
        from gantransfer.metrics.classifier import load_reference
        return load_reference(self.dataset, self.role)


def _shipped(dataset: str, role: str) -> Protocol | None:
    from gantransfer.io import read_json
    from gantransfer.metrics.classifier import classifier_dir
    p = classifier_dir(dataset, role) / "config.json"
    if not p.is_file():
        return None
    raw = read_json(p, "protocol network config")
    return Protocol(name=f"{dataset}-{role}-v{raw.get('version', 1)}", dataset=dataset, role=role)


def protocols_for(dataset: str) -> list[Protocol]:
    """Every shipped protocol of ``dataset``, the primary first (empty when the data set has none)."""
    if not dataset:
        return []
    return [p for p in (_shipped(dataset, role) for role in PROTOCOL_ROLES) if p is not None]


def all_protocols() -> list[Protocol]:
    """Every shipped protocol of every data set."""
    from gantransfer.metrics.classifier import ROLES, assets_dir
    datasets = sorted({d.name for role in PROTOCOL_ROLES for d in (assets_dir() / ROLES[role]).glob("*")
                       if (d / "config.json").is_file()})
    return [p for ds in datasets for p in protocols_for(ds)]


def get_protocol(name: str) -> Protocol:
    """A protocol by name; an unknown name is an error listing the known ones."""
    for p in all_protocols():
        if p.name == name:
            return p
    raise ConfigError(f"no protocol named {name!r}; shipped protocols: "
                      f"{', '.join(p.name for p in all_protocols()) or 'none'}")


def protocol_names_in(result: Any) -> list[str]:
    """Names of the shipped protocols whose figures appear in ``result`` (keys ``<metric>/<protocol>/...`` at
    any depth), in the registry's order."""
    keys: set[str] = set()

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            for k, x in v.items():
                if isinstance(k, str):
                    keys.update(k.split("/"))
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
    walk(result)
    return [p.name for p in all_protocols() if p.name in keys]


def mark_loss_networks(result: dict[str, Any], loss_networks: list[str]) -> dict[str, Any]:
    """``result`` (an eval.json) with ``loss_networks`` (the frozen networks the run's losses used, by name) and,
    per protocol whose figures it holds, ``protocols[<name>] = {"role", "used_by_loss"}``; a ``warnings`` line
    for every protocol a loss used: its figures grade the run on its own training signal."""
    out = dict(result)
    out["loss_networks"] = list(loss_networks)
    roles = {p.name: p.role for p in all_protocols()}
    marks = dict(out.get("protocols") or {})
    warnings = list(out.get("warnings") or [])
    for name in protocol_names_in(result):
        used = name in loss_networks
        marks[name] = {**marks.get(name, {}), "role": roles[name], "used_by_loss": used}
        if used:
            warnings.append(f"{name}: a loss of this run used this protocol's network, so its figures are not an "
                            f"independent judgement; read the other protocol's")
    out["protocols"] = marks
    if warnings:
        out["warnings"] = warnings
    return out
