"""What an exported file says about itself: the ONNX ``metadata_props`` / TorchScript extra file, and the
GeneratorConfig read back from it (so sampling and every metric need no model code)."""
from __future__ import annotations

import json
from typing import Any

from gantransfer.errors import CheckpointError
from gantransfer.models.config import GeneratorConfig

FORMAT = "gantransfer-export-1"
INPUT_Z, INPUT_LABEL, OUTPUT = "z", "label", "image"
INPUT_IMAGE = "input"    # translators: the input image (N, C_in, H, W), dynamic batch and spatial size
NOISE_PREFIX = "noise_"  # StyleGAN2 exports: optional inputs noise_0, noise_1, ... (N, 1, R, R); default: stored
TORCHSCRIPT_EXTRA = "gantransfer.json"  # the extra file of a TorchScript archive holding the metadata


def export_metadata(cfg: GeneratorConfig, precision: str, report: dict[str, Any]) -> dict[str, str]:
    """String key/value metadata: value range, latent size, labels, sample shape, the source config (JSON) and
    the export's own report (parity, int8 figures)."""
    return {
        "gantransfer.format": FORMAT,
        "gantransfer.config": json.dumps({"kind": "generator", **cfg.to_dict()}),
        "latent_dim": str(cfg.latent_dim),
        "num_classes": str(cfg.num_classes),
        "labels": json.dumps(cfg.class_names if cfg.num_classes else []),
        "value_range": json.dumps(list(cfg.data_range)),
        "sample_shape": json.dumps(list(cfg.sample_shape)),
        "precision": precision,
        "inputs": json.dumps(input_names_of(cfg)),
        "input_shape": json.dumps(list(cfg.input_shape)),
        "output": OUTPUT,
        "gantransfer.report": json.dumps(report),
    }


def input_names_of(cfg: GeneratorConfig) -> list[str]:
    """The inputs of an export: ``input`` for translators (and ``label`` for a fused one); ``z`` (and ``label``
    when conditional) otherwise."""
    if cfg.is_translator:
        return [INPUT_IMAGE, INPUT_LABEL] if cfg.num_classes else [INPUT_IMAGE]
    return [INPUT_Z, INPUT_LABEL] if cfg.num_classes else [INPUT_Z]


def _fallback_config(meta: dict[str, str]) -> GeneratorConfig:
    """A config from the contract fields alone (when the source family is not installed here)."""
    shape = json.loads(meta["sample_shape"])
    num_classes = int(meta.get("num_classes", "0"))
    source = json.loads(meta["gantransfer.config"])
    common = dict(latent_dim=int(meta["latent_dim"]), channels=shape[0], num_classes=num_classes,
                  class_names=json.loads(meta.get("labels", "[]")), dataset=str(source.get("dataset", "")),
                  data_range=tuple(json.loads(meta["value_range"])))
    if len(shape) == 3:
        return GeneratorConfig(arch="dcgan", resolution=shape[-1], **common)
    return GeneratorConfig(arch="mlp", resolution=0, **common)


def config_from_metadata(meta: dict[str, str], where: str) -> GeneratorConfig:
    """The GeneratorConfig an export recorded; CheckpointError naming ``where`` when it is not a gantransfer
    export."""
    from gantransfer.models.migrate import upgrade_generator
    missing = [k for k in ("gantransfer.config", "latent_dim", "value_range", "sample_shape") if k not in meta]
    if missing:
        raise CheckpointError(f"{where} is not a gantransfer export (its metadata lacks {', '.join(missing)}). "
                              "Export the generator with `gantransfer export RUN --format onnx --out FILE`")
    try:
        raw = json.loads(meta["gantransfer.config"])
        raw.pop("kind", None)
        cfg = GeneratorConfig.from_dict(upgrade_generator(raw, where))
        cfg.validate()
    except Exception:  # an unknown family (not installed here) or a newer format: the contract fields suffice
        try:
            cfg = _fallback_config(meta)
        except (KeyError, ValueError, TypeError, IndexError, AttributeError, RecursionError) as e:
            raise CheckpointError(f"{where} has unreadable gantransfer metadata ({e}); re-export it") from None
    from gantransfer.budget import screen
    screen(cfg, f"{where} (its metadata)")  # a latent of 1e9 would be drawn before the first call
    return cfg
