"""ONNX export of a generator: dynamic batch axis, named inputs and output, metadata written in afterwards."""
from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from gantransfer.models.config import GeneratorConfig
from gantransfer.deploy.graph import example_inputs, export_module, input_names, noise_inputs
from gantransfer.deploy.metadata import INPUT_LABEL, NOISE_PREFIX, OUTPUT

OPSET = 18  # the newest opset torch's TorchScript-based exporter writes without onnxscript


def write_onnx(module: nn.Module, cfg: GeneratorConfig, path: str | Path, opset: int = OPSET) -> None:
    """Trace ``module`` to ONNX at ``path`` with a dynamic batch axis on every input and the output (translators:
    dynamic height and width too)."""
    names = input_names(cfg, module)
    wrapper = export_module(module, cfg)
    dims = {0: "batch", 2: "height", 3: "width"} if cfg.is_translator else {0: "batch"}
    axes = {n: dict(dims) if n != INPUT_LABEL else {0: "batch"} for n in [*names, OUTPUT]}
    # traced with autograd on (nothing is trained): a family that branches on it for sampling (MineGAN's
    # per-source indexing) then takes its batch-wise path, which traces; the parity check confirms the function
    with warnings.catch_warnings(), torch.inference_mode(False), torch.enable_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(wrapper, example_inputs(cfg, module=module), str(path), input_names=names,
                          output_names=[OUTPUT], dynamic_axes=axes, opset_version=opset, do_constant_folding=True,
                          dynamo=False)
    share_transposed_weights(path)
    defaults = noise_inputs(module)
    if defaults:
        set_input_defaults(path, {f"{NOISE_PREFIX}{i}": t for i, t in enumerate(defaults)})


def share_transposed_weights(path: str | Path) -> int:
    """Store each weight once: constant folding writes the transposed copy a transposed convolution reads
    (StyleGAN2's upsampling layers: ``weight.transpose(0, 1)``) as an initializer of its own beside the weight;
    each such copy is replaced by a Transpose node on the weight (ONNX Runtime folds it again when it loads the
    file, so inference is unchanged). Returns the number of copies removed."""
    import hashlib

    import onnx
    from onnx import helper, numpy_helper
    model = onnx.load(str(path))
    graph = model.graph
    arrays = {t.name: numpy_helper.to_array(t) for t in graph.initializer if len(t.dims) == 4}
    transposed = {}
    for name, a in arrays.items():
        t = a.transpose(1, 0, 2, 3)
        transposed[(t.shape, a.dtype.str, hashlib.blake2b(t.tobytes(), digest_size=16).digest())] = name
    copies = {}
    for name, a in arrays.items():
        source = transposed.get((a.shape, a.dtype.str, hashlib.blake2b(a.tobytes(), digest_size=16).digest()))
        if source is not None and source != name and source not in copies:
            copies[name] = source
    if not copies:
        return 0
    keep = [t for t in graph.initializer if t.name not in copies]
    del graph.initializer[:]
    graph.initializer.extend(keep)
    nodes = [helper.make_node("Transpose", [src], [dst], perm=[1, 0, 2, 3], name=f"transpose_{dst}")
             for dst, src in copies.items()]
    rest = list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes + rest)
    onnx.save(model, str(path))
    return len(copies)


def set_input_defaults(path: str | Path, defaults: dict[str, torch.Tensor]) -> None:
    """Make graph inputs optional: an initializer of the same name is the value used when the input is not fed
    (ONNX's overridable initializers); a StyleGAN2 export's noise inputs default to the stored buffers."""
    import onnx
    from onnx import numpy_helper
    model = onnx.load(str(path))
    for name, value in defaults.items():
        model.graph.initializer.append(numpy_helper.from_array(value.detach().cpu().float().numpy(), name))
    onnx.save(model, str(path))


def set_metadata(path: str | Path, metadata: dict[str, str]) -> None:
    """Replace the ``metadata_props`` of the ONNX model at ``path`` (in place)."""
    import onnx
    model = onnx.load(str(path))
    del model.metadata_props[:]
    for k, v in metadata.items():
        model.metadata_props.add(key=k, value=v)
    model.producer_name = "gantransfer"
    onnx.save(model, str(path))
