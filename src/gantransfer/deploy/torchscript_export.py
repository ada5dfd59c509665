"""TorchScript export of a generator (traced), with the metadata as an extra file of the archive."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch
from torch import nn

from gantransfer.models.config import GeneratorConfig
from gantransfer.deploy.graph import ExportModule, example_inputs
from gantransfer.deploy.metadata import TORCHSCRIPT_EXTRA


def write_torchscript(module: nn.Module, cfg: GeneratorConfig, path: str | Path, metadata: dict[str, str]) -> None:
    """Trace ``module`` and save it at ``path`` with ``metadata`` (JSON) inside."""
    wrapper = ExportModule(module, bool(cfg.num_classes)).eval()
    with warnings.catch_warnings(), torch.inference_mode(False), torch.enable_grad():  # as write_onnx
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(wrapper, example_inputs(cfg), check_trace=False)
        traced = torch.jit.freeze(traced.eval())
        torch.jit.save(traced, str(path), _extra_files={TORCHSCRIPT_EXTRA: json.dumps(metadata)})
