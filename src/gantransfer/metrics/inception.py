"""Inception-v3 FID features from a weights file the user supplies (nothing is downloaded).

The network is the TensorFlow 2015-12-05 Inception-v3 graph as pytorch-fid and torch-fidelity run it (their
``pt_inception-2015-12-05`` state dict loads here unchanged): uint8 images, the legacy TensorFlow 1 bilinear resize
to 299 x 299 (``half_pixel_centers=False``: source = target * in / out), (x - 128) / 128, then the graph's
peculiarities (average pools that do not count padding, a max pool in the last block) up to the 2048-d global
average pool, the features of ``fid/inception-v3-compat/<n>``. Gray images are replicated to three channels.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from gantransfer.errors import CheckpointError

__all__ = ["INCEPTION_PROTOCOL", "INPUT_SIZE", "FEATURE_DIM", "InceptionV3", "load_inception", "tf1_resize_bilinear",
           "inception_features", "file_sha256"]

INCEPTION_PROTOCOL = "inception-v3-compat"
INPUT_SIZE = 299
FEATURE_DIM = 2048
_WHERE = ("the 2015-12-05 FID weights in PyTorch layout: pytorch-fid's pt_inception-2015-12-05-6726825d.pth or "
          "torch-fidelity's weights-inception-2015-12-05-6726825d.pth (download it yourself; gantransfer never does)")


def tf1_resize_bilinear(x: torch.Tensor, size: int) -> torch.Tensor:
    """Float images (N, C, H, W) -> (N, C, size, size) as TensorFlow 1's ``resize_bilinear`` without
    ``align_corners`` or half-pixel centres: output pixel i samples input position i * (in / out), the scale and
    the positions in float32, neighbours clamped at the last row/column; columns are blended first, then rows."""
    def taps(n_in: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pos = torch.arange(size, dtype=torch.float32, device=x.device) * torch.tensor(n_in / size,
                                                                                      dtype=torch.float32)
        lo = pos.long()  # positions are >= 0, so truncation is the floor
        return lo, (lo + 1).clamp_max(n_in - 1), (pos - lo.float()).to(x.dtype)

    lo_x, hi_x, fx = taps(x.shape[3])
    lo_y, hi_y, fy = taps(x.shape[2])
    left, right = x.index_select(3, lo_x), x.index_select(3, hi_x)
    rows = left + (right - left) * fx                          # (N, C, H, size)
    top, bottom = rows.index_select(2, lo_y), rows.index_select(2, hi_y)
    return top + (bottom - top) * fy[:, None]


class _Conv(nn.Module):
    """Convolution without bias, batch norm (eps 1e-3), ReLU: the graph's unit."""

    def __init__(self, cin: int, cout: int, kernel: int | tuple[int, int], stride: int = 1,
                 padding: int | tuple[int, int] = 0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


_POOLS = {
    "avg": lambda x: F.avg_pool2d(x, 3, 1, 1, count_include_pad=False),  # TF: padding is not averaged
    "max": lambda x: F.max_pool2d(x, 3, 1, 1),
    "max/2": lambda x: F.max_pool2d(x, 3, 2),
}
# A branch: (pool applied first or None, stages); a stage is a unit's name, or a tuple of names run side by side on
# the same input and concatenated. A branch without stages is the pool alone.
Branch = tuple[str | None, Sequence[str | tuple[str, ...]]]


class _Mixed(nn.Module):
    """An Inception block: parallel branches of named units, concatenated along channels."""

    def __init__(self, units: dict[str, tuple], branches: Sequence[Branch]) -> None:
        super().__init__()
        for name, spec in units.items():
            self.add_module(name, _Conv(*spec))
        self.branches = list(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = []
        for pool, stages in self.branches:
            y = _POOLS[pool](x) if pool else x
            for stage in stages:
                if isinstance(stage, tuple):
                    y = torch.cat([getattr(self, s)(y) for s in stage], 1)
                else:
                    y = getattr(self, stage)(y)
            outs.append(y)
        return torch.cat(outs, 1)


def _block_a(cin: int, pool_features: int) -> _Mixed:  # 35 x 35
    return _Mixed({"branch1x1": (cin, 64, 1), "branch5x5_1": (cin, 48, 1), "branch5x5_2": (48, 64, 5, 1, 2),
                   "branch3x3dbl_1": (cin, 64, 1), "branch3x3dbl_2": (64, 96, 3, 1, 1),
                   "branch3x3dbl_3": (96, 96, 3, 1, 1), "branch_pool": (cin, pool_features, 1)},
                  [(None, ["branch1x1"]), (None, ["branch5x5_1", "branch5x5_2"]),
                   (None, ["branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"]), ("avg", ["branch_pool"])])


def _block_b(cin: int) -> _Mixed:  # 35 -> 17
    return _Mixed({"branch3x3": (cin, 384, 3, 2), "branch3x3dbl_1": (cin, 64, 1),
                   "branch3x3dbl_2": (64, 96, 3, 1, 1), "branch3x3dbl_3": (96, 96, 3, 2)},
                  [(None, ["branch3x3"]), (None, ["branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"]),
                   ("max/2", [])])


def _block_c(cin: int, c7: int) -> _Mixed:  # 17 x 17, factorised 7 x 7
    row, col = ((1, 7), (0, 3)), ((7, 1), (3, 0))
    return _Mixed({"branch1x1": (cin, 192, 1),
                   "branch7x7_1": (cin, c7, 1), "branch7x7_2": (c7, c7, row[0], 1, row[1]),
                   "branch7x7_3": (c7, 192, col[0], 1, col[1]),
                   "branch7x7dbl_1": (cin, c7, 1), "branch7x7dbl_2": (c7, c7, col[0], 1, col[1]),
                   "branch7x7dbl_3": (c7, c7, row[0], 1, row[1]), "branch7x7dbl_4": (c7, c7, col[0], 1, col[1]),
                   "branch7x7dbl_5": (c7, 192, row[0], 1, row[1]), "branch_pool": (cin, 192, 1)},
                  [(None, ["branch1x1"]), (None, ["branch7x7_1", "branch7x7_2", "branch7x7_3"]),
                   (None, [f"branch7x7dbl_{i}" for i in range(1, 6)]), ("avg", ["branch_pool"])])


def _block_d(cin: int) -> _Mixed:  # 17 -> 8
    return _Mixed({"branch3x3_1": (cin, 192, 1), "branch3x3_2": (192, 320, 3, 2),
                   "branch7x7x3_1": (cin, 192, 1), "branch7x7x3_2": (192, 192, (1, 7), 1, (0, 3)),
                   "branch7x7x3_3": (192, 192, (7, 1), 1, (3, 0)), "branch7x7x3_4": (192, 192, 3, 2)},
                  [(None, ["branch3x3_1", "branch3x3_2"]), (None, [f"branch7x7x3_{i}" for i in range(1, 5)]),
                   ("max/2", [])])


def _block_e(cin: int, pool: str) -> _Mixed:  # 8 x 8, expanded 3 x 3
    return _Mixed({"branch1x1": (cin, 320, 1),
                   "branch3x3_1": (cin, 384, 1), "branch3x3_2a": (384, 384, (1, 3), 1, (0, 1)),
                   "branch3x3_2b": (384, 384, (3, 1), 1, (1, 0)),
                   "branch3x3dbl_1": (cin, 448, 1), "branch3x3dbl_2": (448, 384, 3, 1, 1),
                   "branch3x3dbl_3a": (384, 384, (1, 3), 1, (0, 1)), "branch3x3dbl_3b": (384, 384, (3, 1), 1, (1, 0)),
                   "branch_pool": (cin, 192, 1)},
                  [(None, ["branch1x1"]), (None, ["branch3x3_1", ("branch3x3_2a", "branch3x3_2b")]),
                   (None, ["branch3x3dbl_1", "branch3x3dbl_2", ("branch3x3dbl_3a", "branch3x3dbl_3b")]),
                   (pool, ["branch_pool"])])


class InceptionV3(nn.Module):
    """The FID Inception-v3 up to its 2048-d pool (``fc``, 1008 logits, is kept only so the state dict loads)."""

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = _Conv(3, 32, 3, 2)
        self.Conv2d_2a_3x3 = _Conv(32, 32, 3)
        self.Conv2d_2b_3x3 = _Conv(32, 64, 3, 1, 1)
        self.Conv2d_3b_1x1 = _Conv(64, 80, 1)
        self.Conv2d_4a_3x3 = _Conv(80, 192, 3)
        self.Mixed_5b, self.Mixed_5c, self.Mixed_5d = _block_a(192, 32), _block_a(256, 64), _block_a(288, 64)
        self.Mixed_6a = _block_b(288)
        self.Mixed_6b, self.Mixed_6c = _block_c(768, 128), _block_c(768, 160)
        self.Mixed_6d, self.Mixed_6e = _block_c(768, 160), _block_c(768, 192)
        self.Mixed_7a = _block_d(768)
        self.Mixed_7b, self.Mixed_7c = _block_e(1280, "avg"), _block_e(2048, "max")
        self.fc = nn.Linear(FEATURE_DIM, 1008)
        self.feature_dim = FEATURE_DIM

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, 1 or 3, H, W) -> the network's float input (N, 3, 299, 299) in [-1, 1)."""
        if images.dtype != torch.uint8:
            raise ValueError(f"Inception features take uint8 images in [0, 255], got {images.dtype}")
        if images.dim() != 4 or images.shape[1] not in (1, 3):
            raise ValueError(f"expected images of shape (N, 1 or 3, H, W), got {tuple(images.shape)}")
        x = images.to(next(self.parameters()).device, torch.float32).expand(-1, 3, -1, -1)
        return (tf1_resize_bilinear(x, INPUT_SIZE) - 128) / 128

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """2048-d pool features (N, 2048), float32, of uint8 images of any size."""
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(self.prepare(images))))
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(F.max_pool2d(x, 3, 2)))
        x = F.max_pool2d(x, 3, 2)
        for name in ("Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e",
                     "Mixed_7a", "Mixed_7b", "Mixed_7c"):
            x = getattr(self, name)(x)
        return x.mean(dim=(2, 3))


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file (recorded beside the figures it produced)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read_state(path: Path) -> dict:
    if path.suffix == ".safetensors":
        from gantransfer.io import read_tensors
        return read_tensors(path, "Inception weights file")
    import pickle
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError, AttributeError, KeyError,
            IndexError, TypeError, UnicodeDecodeError, MemoryError) as e:  # a text or crafted file: torch's parser
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"Inception weights file {path} cannot be read as a state dict with "
                              f"torch.load(weights_only=True) ({first}); it must hold {_WHERE}") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(k, str) and torch.is_tensor(v) for k, v in state.items()):
        raise CheckpointError(f"Inception weights file {path} does not hold a state dict (names -> tensors); it must "
                              f"hold {_WHERE}")
    return state


def _listed(names: list[str], limit: int = 6) -> str:
    return ", ".join(names[:limit]) + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def load_inception(path: str | Path, device: str | torch.device = "cpu") -> InceptionV3:
    """The Inception-v3 of a weights file in the 2015-12-05 FID layout (.pth read with ``weights_only=True``, or
    .safetensors), frozen, in eval mode. CheckpointError naming missing/unexpected keys or wrong shapes."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"Inception weights file {p} does not exist; pass --inception FILE with {_WHERE}")
    state = {k: v for k, v in _read_state(p).items() if not k.endswith("num_batches_tracked")}
    model = InceptionV3()
    expected = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        parts = ([f"missing keys: {_listed(missing)}"] if missing else []) + \
                ([f"unexpected keys: {_listed(unexpected)}"] if unexpected else [])
        raise CheckpointError(f"Inception weights file {p} is not in the 2015-12-05 FID layout ({'; '.join(parts)}); "
                              f"it must hold {_WHERE}")
    wrong = [f"{k} {tuple(state[k].shape)} (expected {tuple(v.shape)})" for k, v in expected.items()
             if state[k].shape != v.shape]
    if wrong:
        raise CheckpointError(f"Inception weights file {p} has tensors of the wrong shape: {_listed(wrong, 4)}; it "
                              f"must hold {_WHERE}")
    bad = [k for k, v in state.items() if not v.is_floating_point() or not bool(torch.isfinite(v).all())]
    if bad:
        raise CheckpointError(f"Inception weights file {p} has non-float or non-finite tensors: {_listed(bad, 4)}")
    model.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    return model.to(device).eval().requires_grad_(False)


@torch.inference_mode()
def inception_features(model: InceptionV3, images: torch.Tensor, batch_size: int = 50) -> torch.Tensor:
    """2048-d features (N, 2048) float32 on CPU of uint8 images (N, 1 or 3, H, W), in batches."""
    return torch.cat([model(images[i:i + batch_size]).float().cpu() for i in range(0, len(images), batch_size)]) \
        if len(images) else torch.empty(0, FEATURE_DIM)
