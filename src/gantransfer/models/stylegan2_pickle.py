"""A restricted unpickler for NVlabs/stylegan2-ada-pytorch network pickles: rebuilds tensors and plain containers
only, never imports or executes anything from the file.

Those pickles store each network as ``torch_utils.persistence._reconstruct_persistent_obj(meta)``, where ``meta``
holds the module's source code (``module_src``, which the usual loader executes), its class name and its state
(``_parameters``, ``_buffers``, ``_modules`` and plain attributes). Here that call becomes a ``Record`` of the class
name and the state; the source is skipped, never compiled. Every other global the file names must be on the
allow-list below (tensor rebuilding, OrderedDict, EasyDict as a dict, numeric numpy scalars); anything else is
refused, by name, before it could be called.
"""
from __future__ import annotations

import collections
import io
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from gantransfer.errors import CheckpointError


@dataclass
class Record:
    """A persistent object of the pickle, not rebuilt: its class name, its state, the size of the skipped source."""

    class_name: str
    state: dict[str, Any]
    skipped_source_chars: int = 0
    modules: dict[str, "Record"] = field(default_factory=dict)

    def attr(self, name: str, default: Any = None) -> Any:
        return self.state.get(name, default)

    def tensors(self, prefix: str = "") -> dict[str, torch.Tensor]:
        """Parameters and buffers of this object and its sub-objects, named as ``state_dict`` would name them."""
        out: dict[str, torch.Tensor] = {}
        for group in ("_parameters", "_buffers"):
            for k, v in (self.state.get(group) or {}).items():
                if torch.is_tensor(v):
                    out[prefix + k] = v
        for k, sub in (self.state.get("_modules") or {}).items():
            if isinstance(sub, Record):
                out.update(sub.tensors(f"{prefix}{k}."))
        return out

    def child(self, path: str) -> "Record | None":
        node: Record | None = self
        for part in path.split("."):
            sub = (node.state.get("_modules") or {}).get(part) if node is not None else None
            node = sub if isinstance(sub, Record) else None
        return node


class _EasyDict(dict):
    """dnnlib.util.EasyDict, read as a plain dict."""


def _reconstruct_persistent_obj(meta: dict) -> Record:
    if not isinstance(meta, dict) or meta.get("type") != "class" or not isinstance(meta.get("class_name"), str):
        raise CheckpointError("a persistent object of the pickle has no class name or is not of type 'class'")
    state = meta.get("state")
    if not isinstance(state, dict):
        raise CheckpointError(f"persistent object {meta['class_name']} has no state dict")
    return Record(meta["class_name"], dict(state), len(meta.get("module_src") or ""))


def _storage_from_bytes(data: bytes) -> Any:
    """A storage serialised by torch.save inside the pickle, read back with torch's weights-only loader."""
    if not isinstance(data, (bytes, bytearray)):
        raise CheckpointError("a tensor storage in the pickle is not a byte string")
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def _rebuild_tensor(storage: Any, offset: int, size: tuple, stride: tuple, *_rest: Any) -> torch.Tensor:
    if not isinstance(storage, torch.TypedStorage):
        raise CheckpointError(f"a tensor in the pickle has no storage (got {type(storage).__name__})")
    return torch._utils._rebuild_tensor(storage, int(offset), tuple(size), tuple(stride))


def _rebuild_parameter(data: torch.Tensor, *_rest: Any) -> torch.Tensor:
    if not torch.is_tensor(data):
        raise CheckpointError("a parameter in the pickle holds no tensor")
    return data


class _NumpyDType:
    """Stand-in for numpy.dtype: numeric kinds only, built from their type code."""

    def __init__(self, code: str, *_args: Any) -> None:
        import numpy as np
        if not isinstance(code, str) or code.lstrip("<>=|")[:1] not in ("f", "i", "u", "b"):
            raise CheckpointError(f"the pickle holds a numpy value of dtype {code!r}; only numeric scalars are read")
        self.dtype = np.dtype(code)

    def __setstate__(self, state: tuple) -> None:
        if isinstance(state, tuple) and len(state) > 1 and state[1] in "<>":
            self.dtype = self.dtype.newbyteorder(state[1])


def _numpy_scalar(dtype: _NumpyDType, data: bytes) -> float | int | bool:
    import numpy as np
    if not isinstance(dtype, _NumpyDType) or not isinstance(data, bytes):
        raise CheckpointError("a numpy scalar in the pickle is malformed")
    return np.frombuffer(data, dtype=dtype.dtype, count=1)[0].item()


ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _storage_from_bytes,
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("dnnlib.util", "EasyDict"): _EasyDict,
    ("numpy", "dtype"): _NumpyDType,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the globals in ``ALLOWED`` (to this module's own rebuilders); refuses any other by name."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise CheckpointError(
                f"refused: the pickle needs {module}.{name}, which would import or run code from the file; only "
                "tensors, plain containers and StyleGAN2 network records are read (nothing was executed)") from None

    def persistent_load(self, pid: Any) -> Any:
        raise CheckpointError(f"refused: the pickle uses an external persistent id {str(pid)[:60]!r}")


def read_network_pickle(path: str | Path) -> dict[str, Any]:
    """The top-level dict of an NVlabs network pickle (``G``, ``D``, ``G_ema``, ... as ``Record``s)."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"network pickle {p} does not exist")
    try:
        with open(p, "rb") as fh:
            obj = RestrictedUnpickler(fh).load()
    except CheckpointError as e:
        raise CheckpointError(f"{p}: {e}") from None
    except Exception as e:  # truncated or corrupt file: the unpickler's own errors
        raise CheckpointError(f"{p} is not a readable network pickle ({type(e).__name__}: {e})") from None
    if not isinstance(obj, dict) or not any(isinstance(obj.get(k), Record) for k in ("G_ema", "G", "D")):
        found = sorted(obj)[:12] if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointError(f"{p} is not a StyleGAN2-ADA network pickle: expected a dict with G_ema (and G, D); "
                              f"found {found}")
    return obj
