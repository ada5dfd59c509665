"""Config formats on disk: each version's layout and the step that upgrades it to the next.

Version 1 (gantransfer 0.1, the shipped assets): DCGAN settings (``conditioning``, ``start_resolution``,
``mixture``) and MineGAN ones (``sources``, ``miner_hidden``) at the top level; the data classes, label weights
and fusion provenance inside an untyped ``meta``; discriminators saved as ``{"width", "generator": {...}}``.
Version 2: family settings in typed ``options``, ``arch: "minegan"`` for mined generators, ``trained_classes``,
``data_classes``, ``label_weights`` and ``fusion`` as fields; discriminators with their own shape fields.
Version 3: ``latent_space`` (distilled students) and ``loss_networks`` as fields, no longer ``meta`` keys;
discriminators unchanged but for the number.
Directories are upgraded on load, in memory; the files are left as they are.
"""
from __future__ import annotations

from typing import Any, Callable

from gantransfer.errors import CheckpointError
from gantransfer.models.config import FORMAT_VERSION

# meta keys of version 1 that became fields in version 2
_V1_FUSION_KEYS = ("teachers", "teacher_names", "labels", "weights", "baseline_samples")


def _generator_v1_to_v2(raw: dict[str, Any]) -> dict[str, Any]:
    d = dict(raw)
    meta = dict(d.pop("meta", {}) or {})
    dcgan = {k: d.pop(k) for k in ("conditioning", "start_resolution", "mixture") if k in d}
    sources, hidden = d.pop("sources", []) or [], d.pop("miner_hidden", 128)
    if sources:
        d["arch"] = "minegan"
        d["options"] = {"sources": [upgrade_generator(s, "MineGAN source") for s in sources], "hidden": hidden}
    elif d.get("arch", "dcgan") == "dcgan":
        d["options"] = dcgan
    else:
        d["options"] = {}
    d["trained_classes"] = meta.pop("classes", None)
    d["data_classes"] = meta.pop("data_classes", None)
    d["label_weights"] = meta.pop("label_weights", None)
    if "teacher_names" in meta:
        mode = meta.get("labels") or "baseline"
        d["fusion"] = {"mode": mode, "teachers": list(meta.get("teachers", [])),
                       "teacher_names": list(meta["teacher_names"]), "weights": list(meta.get("weights", [])),
                       "samples": meta.get("baseline_samples")}
        for k in _V1_FUSION_KEYS:
            meta.pop(k, None)
        if mode == "teacher" and d["label_weights"] is not None:  # version 1 padded them to the teachers' classes
            d["label_weights"] = list(d["fusion"]["weights"])
    d["meta"] = meta
    d["format_version"] = 2
    return d


def _discriminator_v1_to_v2(raw: dict[str, Any]) -> dict[str, Any]:
    g = raw.get("generator") or {}
    return {"arch": "dcgan" if g.get("sources") else g.get("arch", "dcgan"), "resolution": g.get("resolution", 32),
            "channels": g.get("channels", 1), "width": raw.get("width", g.get("width", 1.0)),
            "num_classes": g.get("num_classes", 0), "format_version": 2}


def _generator_v2_to_v3(raw: dict[str, Any]) -> dict[str, Any]:
    d = dict(raw)
    meta = dict(d.get("meta") or {})
    if "latent_space" in meta:
        d["latent_space"] = meta.pop("latent_space")
    if "loss_networks" in meta:
        d["loss_networks"] = list(meta.pop("loss_networks") or [])
    if "meta" in d:
        d["meta"] = meta
    d["format_version"] = 3
    return d


def _discriminator_v2_to_v3(raw: dict[str, Any]) -> dict[str, Any]:
    return {**raw, "format_version": 3}


GENERATOR_STEPS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _generator_v1_to_v2,
                                                                         2: _generator_v2_to_v3}
DISCRIMINATOR_STEPS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _discriminator_v1_to_v2,
                                                                             2: _discriminator_v2_to_v3}


def _upgrade(raw: dict[str, Any], steps: dict, what: str) -> dict[str, Any]:
    version = raw.get("format_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CheckpointError(f"{what} has format_version {version!r}; expected an integer from 1 to {FORMAT_VERSION}")
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{what} has format_version {version}, newer than this gantransfer reads "
                              f"({FORMAT_VERSION}); upgrade gantransfer (pip install -U gantransfer)")
    while version < FORMAT_VERSION:
        raw = steps[version](raw)
        version = raw["format_version"]
    return raw


def upgrade_generator(raw: dict[str, Any], what: str = "generator config") -> dict[str, Any]:
    """A generator config dict of any known version, upgraded to the current one (``kind`` removed)."""
    raw = {k: v for k, v in raw.items() if k != "kind"}
    return _upgrade(raw, GENERATOR_STEPS, what)


def upgrade_discriminator(raw: dict[str, Any], what: str = "discriminator config") -> dict[str, Any]:
    """A discriminator config dict of any known version, upgraded to the current one (``kind`` removed)."""
    raw = {k: v for k, v in raw.items() if k != "kind"}
    return _upgrade(raw, DISCRIMINATOR_STEPS, what)
