"""Exported files as generators under the Generator contract (``models/contract.py``): an ONNX file run by
onnxruntime, a TorchScript file run by torch.jit. No model code is needed: the config comes from the file."""
from __future__ import annotations

import json
import warnings
import zipfile
from pathlib import Path

import numpy as np
import torch

from gantransfer.deploy.formats import format_of_file
from gantransfer.errors import CheckpointError, ConfigError
from gantransfer.models.contract import ConfiguredGenerator
from gantransfer.deploy.metadata import (INPUT_LABEL, INPUT_Z, NOISE_PREFIX, OUTPUT, TORCHSCRIPT_EXTRA,
                                         config_from_metadata, input_names_of)


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return any(n.endswith(f"/extra/{TORCHSCRIPT_EXTRA}") for n in z.namelist())


def is_onnx_file(path: Path) -> bool:
    """The onnx format's detector: an .onnx file."""
    return path.suffix.lower() == ".onnx"


def is_torchscript_file(path: Path) -> bool:
    """The torchscript format's detector: a zip archive holding gantransfer's metadata."""
    return _is_torchscript(path)


def is_exported(path: str | Path) -> bool:
    """Whether ``path`` is a file to run with a runtime: a file of a registered export format (deploy/formats.py)."""
    return format_of_file(path) is not None


def require_onnx() -> None:
    """ConfigError with the install command unless onnx and onnxruntime are importable."""
    import importlib.util
    missing = [m for m in ("onnx", "onnxruntime") if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(f"ONNX export and runtime need {' and '.join(missing)}: pip install 'gantransfer[deploy]'")


def session_options(threads: int | None = None, spin: bool = False):
    """onnxruntime session options: quiet, ``threads`` intra-op threads (default: onnxruntime's), one inter-op,
    no spinning between calls unless ``spin`` (the benchmark's back-to-back calls)."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.inter_op_num_threads = 1
    if not spin:  # idle pool threads would otherwise spin and take the cores from torch between calls
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        so.intra_op_num_threads = threads
    return so


class OnnxGenerator(ConfiguredGenerator):
    """An ONNX export run by onnxruntime (CPU): inputs ``z`` (N, latent_dim) float32 and, when conditional,
    ``label`` (N,) int64; output ``image`` (N, *sample_shape)."""

    def __init__(self, path: str | Path, threads: int | None = None, spin: bool = False) -> None:
        require_onnx()
        import onnxruntime as ort
        self.path = Path(path)
        try:
            self.session = ort.InferenceSession(str(self.path), session_options(threads, spin),
                                                providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types for unreadable models
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise CheckpointError(f"{self.path} is not a readable ONNX model ({first[:200]}). Re-export it with "
                                  "`gantransfer export RUN --format onnx --out FILE`") from None
        self.config = config_from_metadata(self.session.get_modelmeta().custom_metadata_map, str(self.path))
        self._check_signature()

    def _check_signature(self) -> None:
        inputs = {i.name: i for i in self.session.get_inputs()}
        optional = {i.name: i for i in self.session.get_overridable_initializers()}  # inputs with a default
        outputs = [o.name for o in self.session.get_outputs()]
        expected = input_names_of(self.config)
        self.input_name = expected[0]
        self.noise_inputs = sorted((n for n in {**inputs, **optional} if n.startswith(NOISE_PREFIX)),
                                   key=lambda n: int(n[len(NOISE_PREFIX):]) if n[len(NOISE_PREFIX):].isdigit() else -1)
        self._noise_shapes = [tuple(optional.get(n, inputs.get(n)).shape[-2:]) for n in self.noise_inputs]
        inputs = {n: i for n, i in inputs.items() if not n.startswith(NOISE_PREFIX)}
        problems = []
        if sorted(inputs) != sorted(expected):
            problems.append(f"inputs {sorted(inputs)} (expected {expected})")
        elif self.config.is_translator:
            if inputs[self.input_name].type != "tensor(float)":
                problems.append(f"input {self.input_name} of type {inputs[self.input_name].type} (expected float32)")
        elif inputs[INPUT_Z].type != "tensor(float)" or len(inputs[INPUT_Z].shape) != 2 or \
                inputs[INPUT_Z].shape[-1] != self.latent_dim or isinstance(inputs[INPUT_Z].shape[0], int):
            problems.append(f"input z of type {inputs[INPUT_Z].type} and shape {inputs[INPUT_Z].shape} "
                            f"(expected float32 (N, {self.latent_dim}): a free batch size N and the metadata's "
                            "latent size)")
        elif self.config.num_classes and inputs[INPUT_LABEL].type != "tensor(int64)":
            problems.append(f"input label of type {inputs[INPUT_LABEL].type} (expected int64 (N,))")
        if OUTPUT not in outputs:
            problems.append(f"outputs {outputs} (expected {OUTPUT!r})")
        bad_noise = [n for n, shp in zip(self.noise_inputs, self._noise_shapes)
                     if not n[len(NOISE_PREFIX):].isdigit() or not all(isinstance(d, int) and d > 0
                                                                                      for d in shp)]
        required_noise = [n for n in self.noise_inputs if n not in optional]
        if bad_noise or required_noise:
            problems.append(f"noise inputs {sorted(set(bad_noise + required_noise))} (expected optional inputs "
                            f"{NOISE_PREFIX}0.. of shape (N, 1, R, R), stored in the file)")
        if problems:
            raise CheckpointError(f"{self.path} has unexpected " + "; ".join(problems) + ". A gantransfer export "
                                  "has inputs z (and label when conditional) and output image; re-export it with "
                                  "`gantransfer export`")

    def run_numpy(self, z: np.ndarray, labels: np.ndarray | None = None,
                  noise: list[np.ndarray] | None = None) -> np.ndarray:
        """One forward pass on numpy arrays (no torch conversion: the benchmark's path); ``noise`` feeds the noise
        inputs of a StyleGAN2 export (not fed: its stored noise)."""
        feeds = {self.input_name: z}
        if self.config.num_classes:
            feeds[INPUT_LABEL] = labels
        if noise is not None:
            if len(noise) != len(self.noise_inputs):
                raise ValueError(f"this export takes {len(self.noise_inputs)} noise inputs, got {len(noise)}")
            feeds.update(zip(self.noise_inputs, noise))
        out = self._first_run(feeds) if not getattr(self, "_ran", False) else self.session.run([OUTPUT], feeds)[0]
        expected = ((len(z), self.config.channels, *z.shape[-2:]) if self.config.is_translator
                    else (len(z), *self.sample_shape))  # a translator's output has its input's size
        if tuple(out.shape) != expected or out.dtype != np.float32:
            raise CheckpointError(f"{self.path}: its output image is {out.dtype} of shape {tuple(out.shape)}, but "
                                  f"its own metadata says float32 {expected}; the file is inconsistent. Re-export it "
                                  "with `gantransfer export`")
        return out

    FIRST_CALL_SECONDS = 120.0  # a foreign file's first call: beyond this it is stopped (a Loop of 1e15 turns)

    def _first_run(self, feeds: dict) -> np.ndarray:
        """The first call, stopped after ``FIRST_CALL_SECONDS`` per 64 samples (onnxruntime's terminate flag)."""
        import threading
        import onnxruntime as ort
        options = ort.RunOptions()
        n = len(feeds[self.input_name])
        limit = self.FIRST_CALL_SECONDS * max(1.0, n / 64)
        timer = threading.Timer(limit, lambda: setattr(options, "terminate", True))
        timer.start()
        try:
            out = self.session.run([OUTPUT], feeds, options)[0]
        except Exception as e:  # onnxruntime's own types: a terminated run, a graph that fails on these inputs
            if options.terminate:
                raise CheckpointError(f"{self.path}: its first call ran for more than {limit:.0f} s on "
                                      f"{n} inputs and was stopped; the graph may loop without "
                                      "end. Use a file you trust to finish") from None
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise CheckpointError(f"{self.path}: its first call failed ({first[:200]}); re-export it with "
                                  "`gantransfer export`") from None
        finally:
            timer.cancel()
        self._ran = True
        return out

    def noise_shapes(self) -> list[tuple[int, int]]:
        """(H, W) of each noise input (empty for families without noise)."""
        return list(self._noise_shapes)

    def __call__(self, z: torch.Tensor, labels: torch.Tensor | None = None, noise_mode: str = "const",
                 noise: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Images for ``z`` (and ``labels``); a StyleGAN2 export's noise: ``noise``, else ``noise_mode`` const
        (the stored noise), random (drawn from a generator seeded by ``z``, so a call repeats) or none."""
        if self.config.num_classes and labels is None:
            raise ValueError("this generator is class-conditional: pass labels")
        zn = z.detach().to("cpu", torch.float32).contiguous().numpy()
        yn = None if labels is None else labels.detach().to("cpu", torch.int64).contiguous().numpy()
        fed = None
        if noise is not None:
            fed = [t.detach().to("cpu", torch.float32).contiguous().numpy() for t in noise]
        elif self.noise_inputs and noise_mode != "const":
            if noise_mode not in ("random", "none"):
                raise ValueError(f"unknown noise mode {noise_mode!r}; choose random, const or none")
            rng = torch.Generator().manual_seed(int(np.frombuffer(zn.tobytes()[:8].ljust(8, b"\0"), np.int64)[0]) >> 1)
            make = (lambda s: torch.randn(len(zn), 1, *s, generator=rng)) if noise_mode == "random" else \
                (lambda s: torch.zeros(len(zn), 1, *s))
            fed = [make(s).numpy() for s in self.noise_shapes()]
        return torch.from_numpy(self.run_numpy(zn, yn, fed)).to(z.device)


class TorchScriptGenerator(ConfiguredGenerator):
    """A TorchScript export run by torch.jit (no Python model code; the archive holds code and tensors)."""

    def __init__(self, path: str | Path, own: bool = False) -> None:
        """``own``: a file this process just wrote (export's parity check); any other needs the user's trust."""
        self.path = Path(path)
        if not own:
            from gantransfer.trust import require_code_trust
            require_code_trust(self.path)
        extra = {TORCHSCRIPT_EXTRA: ""}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit is deprecated, and still works
                self.module = torch.jit.load(str(self.path), map_location="cpu", _extra_files=extra).eval()
        except RuntimeError as e:
            raise CheckpointError(f"{self.path} is not a readable TorchScript export ({str(e).splitlines()[0]}). "
                                  "Re-export it with `gantransfer export RUN --format torchscript --out FILE`") from None
        try:
            meta = json.loads(extra[TORCHSCRIPT_EXTRA] or "{}")
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            meta = {}
        if not isinstance(meta, dict):
            meta = {}
        self.config = config_from_metadata(meta, str(self.path))

    @torch.inference_mode()
    def __call__(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.config.num_classes and labels is None:
            raise ValueError("this generator is class-conditional: pass labels")
        args = (z.float(), labels.long()) if self.config.num_classes else (z.float(),)
        # the frozen graph runs as it is: the profiling executor's re-specialisation per batch size costs
        # seconds and gains nothing on these graphs of large kernels
        with torch.jit.optimized_execution(False):
            return self.module(*args)


def open_torchscript(path: str | Path, threads: int | None = None, spin: bool = False) -> TorchScriptGenerator:
    """The torchscript format's opener (torch.jit keeps torch's own thread setting)."""
    return TorchScriptGenerator(path)


def open_exported(path: str | Path, threads: int | None = None) -> OnnxGenerator | TorchScriptGenerator:
    """The runtime generator of an exported file (.onnx: onnxruntime; a TorchScript archive: torch.jit)."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p} does not exist; give an exported .onnx or TorchScript file")
    fmt = format_of_file(p)
    if fmt is not None:
        return fmt.opener()(p, threads)
    raise CheckpointError(f"{p} is neither an .onnx file nor a gantransfer TorchScript export; export one with "
                          "`gantransfer export RUN --format onnx|torchscript --out FILE`")
