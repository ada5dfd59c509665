"""Translation data readers: paired A/ B/ folders, aligned AB images, CycleGAN's unpaired layout, and refusals."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gantransfer.data import folder
from gantransfer.data.paired import load_paired, load_translation, load_unpaired
from gantransfer.data.registry import load_dataset, load_translation_data
from gantransfer.errors import DataError


def gray(path: Path, value: int, size: tuple[int, int] = (16, 16)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full(size[::-1], value, dtype=np.uint8)).save(path)


def colour(path: Path, value: int, size: tuple[int, int] = (16, 16)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.zeros((*size[::-1], 3), dtype=np.uint8)
    arr[..., 0], arr[..., 2] = value, 255 - value
    Image.fromarray(arr).save(path)


def level(x: torch.Tensor) -> int:
    """The uint8 value an image in [-1, 1] was written with (its first channel's mean)."""
    return round(float((x[0].mean() + 1) * 127.5))


def paired_folder(root: Path, n: int, sub: str = "") -> None:
    for i in range(n):
        gray(root / "A" / sub / f"p{i:02d}.png", 10 * i)
        colour(root / "B" / sub / f"p{i:02d}.jpg" if i % 2 else root / "B" / sub / f"p{i:02d}.png", 10 * i)


def test_paired_folders_pair_by_stem_with_a_fixed_split(tmp_path: Path) -> None:
    paired_folder(tmp_path, 7)
    data = load_paired(tmp_path, 32)
    assert (data.layout, data.split, len(data.train), len(data.test)) == ("folders", "fixed", 6, 1)
    assert data.train.a.shape == (6, 1, 32, 32) and data.train.b.shape == (6, 3, 32, 32)
    assert data.train.a.dtype == torch.float32 and data.train.a.min() >= -1 and data.train.b.max() <= 1
    assert set(data.train.names) | set(data.test.names) == {f"p{i:02d}" for i in range(7)}
    for split in (data.train, data.test):
        for name, a, b in zip(split.names, split.a, split.b):
            i = int(name[1:])
            assert level(a) == 10 * i and abs(level(b) - 10 * i) <= 2  # B from JPEG too: lossy
    assert load_paired(tmp_path, 32).test.names == data.test.names  # the split does not move
    assert data.record()["channels"] == [1, 3]


def test_paired_folders_with_their_own_train_and_test(tmp_path: Path) -> None:
    paired_folder(tmp_path, 3, "train")
    paired_folder(tmp_path, 2, "test")
    data = load_paired(tmp_path, 64)
    assert (data.split, len(data.train), len(data.test), data.train.a.shape[-1]) == ("folders", 3, 2, 64)


def test_mismatched_names_are_listed(tmp_path: Path) -> None:
    paired_folder(tmp_path, 3)
    gray(tmp_path / "A" / "only_in_a.png", 5)
    colour(tmp_path / "B" / "only_in_b.png", 5)
    with pytest.raises(DataError, match=r"1 name\(s\) only in A \(only_in_a\), 1 only in B \(only_in_b\)"):
        load_paired(tmp_path, 32)


def test_aligned_images_split_at_the_middle(tmp_path: Path) -> None:
    for split, n in (("train", 3), ("val", 2)):
        for i in range(n):
            arr = np.zeros((16, 32, 3), dtype=np.uint8)
            arr[:, :16] = 20 * i + 1          # A: gray content
            arr[:, 16:, 1] = 20 * i + 100     # B: colour
            Image.fromarray(arr).save((tmp_path / split).mkdir(exist_ok=True) or tmp_path / split / f"{i}.png")
    data = load_paired(tmp_path, 32, aligned=True)
    assert (data.layout, data.split, len(data.train), len(data.test)) == ("aligned", "folders", 3, 2)
    assert data.train.a.shape == (3, 1, 32, 32) and data.train.b.shape == (3, 3, 32, 32)
    for name, a, b in zip(data.train.names, data.train.a, data.train.b):
        assert level(a) == 20 * int(name) + 1 and round(float((b[1].mean() + 1) * 127.5)) == 20 * int(name) + 100
        assert level(b) == 0


def test_aligned_odd_width_is_refused(tmp_path: Path) -> None:
    gray(tmp_path / "a.png", 1, (32, 16))
    gray(tmp_path / "b.png", 1, (33, 16))
    with pytest.raises(DataError, match=r"b\.png is 33 pixels wide.*odd width"):
        load_paired(tmp_path, 32, aligned=True)


def test_layout_confusions_say_which_fits(tmp_path: Path) -> None:
    paired_folder(tmp_path / "pf", 2)
    with pytest.raises(DataError, match="drop --aligned"):
        load_paired(tmp_path / "pf", 32, aligned=True)
    gray(tmp_path / "ab" / "x.png", 1, (32, 16))
    with pytest.raises(DataError, match="needs sub-folders A/ and B/.*pass --aligned"):
        load_paired(tmp_path / "ab", 32)


def unpaired_folder(root: Path, counts: dict[str, int]) -> None:
    for d, n in counts.items():
        for i in range(n):
            (gray if d.endswith("A") else colour)(root / d / f"{d}{i}.png", 30 + i)


def test_unpaired_domains_may_differ_in_count(tmp_path: Path) -> None:
    unpaired_folder(tmp_path, {"trainA": 5, "trainB": 3, "testA": 2, "testB": 1})
    data = load_unpaired(tmp_path, 32)
    assert [len(d) for d in (data.train_a, data.train_b, data.test_a, data.test_b)] == [5, 3, 2, 1]
    assert data.train_a.images.shape == (5, 1, 32, 32) and data.test_b.images.shape == (1, 3, 32, 32)
    assert data.train_b.names == ["trainB0", "trainB1", "trainB2"]
    assert data.record() == {"source": str(tmp_path.resolve()), "layout": "unpaired", "train": [5, 3],
                             "test": [2, 1], "channels": [1, 3], "resolution": 32}
    assert isinstance(load_translation(tmp_path, 32), type(data))
    three = load_unpaired(tmp_path, 32, channels_a=3)  # gray to 3 channels is lossless: repeated
    assert three.train_a.images.shape[1] == 3 and torch.equal(three.train_a.images[:, 0], three.train_a.images[:, 2])


def test_unpaired_missing_or_empty_domain_is_refused(tmp_path: Path) -> None:
    unpaired_folder(tmp_path, {"trainA": 2, "trainB": 2, "testA": 1})
    with pytest.raises(DataError, match="lacks testB/"):
        load_unpaired(tmp_path, 32)
    (tmp_path / "testB").mkdir()
    (tmp_path / "testB" / "notes.txt").write_text("no images")
    with pytest.raises(DataError, match=r"domain folder .*testB holds no PNG or JPEG file"):
        load_unpaired(tmp_path, 32)


def test_colour_domain_asked_for_one_channel_is_refused(tmp_path: Path) -> None:
    paired_folder(tmp_path, 3)
    with pytest.raises(DataError, match=r"domain B of .* holds colour images \(p00, p01, p02\) but 1 channel"):
        load_paired(tmp_path, 32, channels_b=1)
    with pytest.raises(DataError, match="channels must be 1"):
        load_paired(tmp_path, 32, channels_a=2)
    with pytest.raises(DataError, match="resolution must be a power of two"):
        load_paired(tmp_path, 48)


def test_symlinks_out_of_the_folder_are_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.png"
    gray(outside, 7)
    root = tmp_path / "data"
    paired_folder(root, 3)
    os.symlink(root / "A" / "p00.png", root / "A" / "p09.png")  # inside: fine
    os.symlink(root / "B" / "p00.png", root / "B" / "p09.png")
    assert len(load_paired(root, 32).train) + len(load_paired(root, 32).test) == 4
    os.symlink(outside, root / "A" / "p10.png")
    with pytest.raises(DataError, match=r"p10\.png is a symlink to .*outside\.png, outside the data folder"):
        load_paired(root, 32)
    unpaired = tmp_path / "unpaired"
    unpaired_folder(unpaired, {"trainA": 1, "trainB": 1, "testA": 1})
    os.symlink(tmp_path / "data" / "B", unpaired / "testB")
    with pytest.raises(DataError, match=r"testB is a symlink to .*data/B, outside"):
        load_unpaired(unpaired, 32)


def test_unreadable_thin_and_oversized_images_are_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paired_folder(tmp_path, 4)
    (tmp_path / "A" / "p01.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    gray(tmp_path / "B" / "p02.png", 1, (2, 200))  # 1:100 sides: thin
    gray(tmp_path / "A" / "p03.png", 1, (40, 40))
    monkeypatch.setattr(folder, "MAX_PIXELS", 1000)  # 40 x 40 is now over the cap, the 16 x 16 ones are not
    with pytest.warns(UserWarning, match=r"skipped 3 unreadable image file\(s\) .*: p01, p02, p03"):
        with pytest.raises(DataError, match="holds 1 readable pair: a test split needs at least 2"):
            load_paired(tmp_path, 32)


def test_resize_is_antialiased(tmp_path: Path) -> None:
    checker = (np.indices((128, 128)).sum(0) % 2 * 255).astype(np.uint8)  # 1-pixel checkerboard
    for d in ("trainA", "trainB", "testA", "testB"):
        (tmp_path / d).mkdir()
        Image.fromarray(checker).save(tmp_path / d / "c.png")
    x = load_unpaired(tmp_path, 32).train_a.images
    assert x.abs().max() < 0.05  # averaged to mid-gray, not aliased to black or white


def test_registry_resolves_and_guards_translation_folders(tmp_path: Path) -> None:
    unpaired_folder(tmp_path / "u", {"trainA": 2, "trainB": 2, "testA": 1, "testB": 1})
    with pytest.raises(DataError, match="CycleGAN unpaired layout.*not classes"):
        load_dataset(str(tmp_path / "u"))
    assert len(load_translation_data(str(tmp_path / "u"), 32).train_b) == 2
    paired_folder(tmp_path / "p", 3)
    assert load_translation_data(str(tmp_path / "p"), 32).layout == "folders"
    with pytest.raises(DataError, match="not an existing folder"):
        load_translation_data(str(tmp_path / "nowhere"))


def test_aligned_without_split_folders_uses_the_fixed_split(tmp_path: Path) -> None:
    for i in range(6):
        gray(tmp_path / "sub" / f"{i}.png", 40 * i, (64, 32))
    data = load_paired(tmp_path, 16, aligned=True)
    assert (data.split, len(data.train), len(data.test), data.train.a.shape) == ("fixed", 5, 1, (5, 1, 16, 16))
    assert all(level(a) == level(b) == 40 * int(n.split("/")[1]) for n, a, b in
               zip(data.train.names, data.train.a, data.train.b))


def test_two_files_with_one_name_are_refused(tmp_path: Path) -> None:
    paired_folder(tmp_path, 2)
    gray(tmp_path / "A" / "p00.jpg", 3)
    with pytest.raises(DataError, match=r"p00\.jpg and .*p00\.png share the name 'p00'|p00\.png and .*p00\.jpg share"):
        load_paired(tmp_path, 32)
