"""Image-to-image translation data: paired ``A/ B/`` folders, pix2pix's aligned ``AB`` images and CycleGAN's unpaired
``trainA/ trainB/ testA/ testB/`` folders, read defensively into float images in [-1, 1] with train/test splits.

Each image is checked against ``folder.check_pixels`` before decoding (unreadable, decompression-bomb and absurdly
thin files are skipped with one warning), centre-cropped to a square and resized with ``image_space.to_resolution``
(antialiased bilinear; 28 x 28 is zero-padded to 32 first, as everywhere). A domain holds 3 channels if any of its
images has colour content, else 1 (gray images of a colour domain are repeated). Files are listed recursively, hidden
entries skipped; a symlink whose target lies outside the data folder is refused.
"""
from __future__ import annotations

import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from gantransfer.data.folder import EXTENSIONS, check_pixels
from gantransfer.data.image_files import READ_ERRORS
from gantransfer.data.transforms import fixed_split
from gantransfer.errors import DataError
from gantransfer.image_space import check_channels, check_resolution, to_channels, to_resolution

UNPAIRED_FOLDERS = ("trainA", "trainB", "testA", "testB")
TEST_FOLDERS = ("test", "val")  # the first present one is the test split (pix2pix's edges2shoes has only val/)
_SHOWN = 3  # names listed in a message
DECODE_ERRORS = (*READ_ERRORS, zlib.error)  # a file that raises one of these is skipped


@dataclass(frozen=True)
class ImagePairs:
    """``a[i]`` translates to ``b[i]``: float (N, C, R, R) in [-1, 1]; ``names[i]`` is the pair's file key."""

    a: torch.Tensor
    b: torch.Tensor
    names: list[str]
    labels: torch.Tensor | None = None  # the items' classes, when known (built-in tasks)

    def __len__(self) -> int:
        return len(self.names)


@dataclass(frozen=True)
class PairedData:
    """A paired translation data set (``layout`` "folders" or "aligned"; ``split`` "folders" when the data's own
    train/test folders made it, "fixed" for the seeded 1/6 test split of ``transforms.fixed_split``)."""

    train: ImagePairs
    test: ImagePairs
    source: str
    layout: str
    split: str

    def record(self) -> dict:
        """What a run records of it."""
        return {"source": self.source, "layout": self.layout, "split": self.split, "train": len(self.train),
                "test": len(self.test), "channels": [int(self.train.a.shape[1]), int(self.train.b.shape[1])],
                "resolution": int(self.train.a.shape[-1])}


@dataclass(frozen=True)
class DomainImages:
    """One domain's images of one split: float (N, C, R, R) in [-1, 1], with their file keys."""

    images: torch.Tensor
    names: list[str]
    labels: torch.Tensor | None = None  # the items' classes, when known (built-in tasks)

    def __len__(self) -> int:
        return len(self.names)


@dataclass(frozen=True)
class UnpairedData:
    """CycleGAN's unpaired layout: domains A and B, each with train and test images (counts may differ)."""

    train_a: DomainImages
    train_b: DomainImages
    test_a: DomainImages
    test_b: DomainImages
    source: str
    layout: str = "unpaired"

    def record(self) -> dict:
        """What a run records of it."""
        return {"source": self.source, "layout": self.layout, "train": [len(self.train_a), len(self.train_b)],
                "test": [len(self.test_a), len(self.test_b)],
                "channels": [int(self.train_a.images.shape[1]), int(self.train_b.images.shape[1])],
                "resolution": int(self.train_a.images.shape[-1])}


def _listed(names: list[str]) -> str:
    return ", ".join(names[:_SHOWN]) + (", ..." if len(names) > _SHOWN else "")


def _inside(path: Path, base: Path, what: str) -> None:
    """DataError when ``path`` (a symlink, or under one) resolves outside ``base``."""
    if not path.resolve().is_relative_to(base):
        raise DataError(f"{what} {path} is a symlink to {path.resolve()}, outside the data folder {base}; copy the "
                        "file into the folder (or link the whole data folder instead)")


def _image_files(folder: Path, base: Path) -> dict[str, Path]:
    """Image files under ``folder`` keyed by their relative path without extension; DataError when there is none,
    when two files share a key, or when a symlink leads outside ``base``."""
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder; create it and put the domain's PNG/JPEG images in it")
    _inside(folder, base, "folder")
    files: dict[str, Path] = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if p.is_symlink():
            _inside(p, base, "file" if p.is_file() else "folder")
        if p.suffix.lower() not in EXTENSIONS or not p.is_file():
            continue
        key = rel.with_suffix("").as_posix()
        if key in files:
            raise DataError(f"{files[key]} and {p} share the name {key!r}; pairs are matched by file name without "
                            "extension: keep one of them")
        files[key] = p
    if not files:
        raise DataError(f"domain folder {folder} holds no PNG or JPEG file; put the domain's images in it")
    return files


def _decode(path: Path) -> np.ndarray:
    """uint8 (H, W) for gray or (H, W, 3) for colour images; an error of ``DECODE_ERRORS`` when unusable."""
    with Image.open(path) as im:
        check_pixels(im.size)  # before decoding: a small file may declare a huge or absurdly thin image
        im.load()
        im = ImageOps.exif_transpose(im)
        bands = im.getbands()
        if im.mode.startswith("I"):  # 16/32-bit gray: 0..65535
            im = Image.fromarray((np.asarray(im, dtype=np.float64) / 257.0).round().clip(0, 255).astype(np.uint8))
        gray = bands[0] in ("1", "L", "I", "F") and len(bands) <= 2
        return np.array(im.convert("L" if gray else "RGB"), dtype=np.uint8)


def _square(arr: np.ndarray, resolution: int) -> torch.Tensor:
    """(H, W[, 3]) uint8 -> (C, R, R) uint8: centre square crop, antialiased resize; C = 1 for gray content."""
    h, w = arr.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    arr = arr[top:top + s, left:left + s]
    x = torch.from_numpy(np.ascontiguousarray(arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)))
    if x.shape[0] == 3 and (x[0] == x[1]).all() and (x[1] == x[2]).all():
        x = x[:1]  # colour mode, gray content
    return to_resolution(x[None], resolution)[0]


def _read(path: Path, resolution: int, aligned: bool) -> list[torch.Tensor]:
    """[image] or, for an aligned ``AB`` image, [A half, B half]; DataError for an odd-width aligned image."""
    arr = _decode(path)
    if not aligned:
        return [_square(arr, resolution)]
    h, w = arr.shape[:2]
    if w % 2:
        raise DataError(f"aligned image {path} is {w} pixels wide: an odd width cannot be split into A | B halves; "
                        "give images whose A and B halves have the same width (as pix2pix's combine_A_and_B writes "
                        "them), or drop --aligned for a folder with A/ and B/")
    if w != 2 * h:
        raise DataError(f"aligned image {path} is {w} x {h} pixels: an aligned A | B image is twice as wide as high "
                        "(two square halves side by side, as pix2pix's combine_A_and_B writes them); drop --aligned "
                        "for a folder with A/ and B/, or combine the pairs side by side first")
    return [_square(arr[:, :w // 2], resolution), _square(arr[:, w // 2:], resolution)]


def _skip_warning(skipped: list[str], where: Path) -> None:
    if skipped:
        warnings.warn(f"skipped {len(skipped)} unreadable image file(s) in {where}: {_listed(skipped)}", UserWarning,
                      stacklevel=4)


def _stack(images: list[torch.Tensor], channels: int | None, where: str, names: list[str]) -> torch.Tensor:
    """uint8 (C, R, R) images -> float (N, C', R, R) in [-1, 1]; C' = ``channels`` or 3 if any has colour, else 1.
    DataError when 1 channel is asked of colour images (the domain's colours would be lost)."""
    colour = [n for n, x in zip(names, images) if x.shape[0] == 3]
    if channels == 1 and colour:
        raise DataError(f"{where} holds colour images ({_listed(colour)}) but 1 channel was asked; ask for 3 "
                        "channels, or convert the images to gray first")
    c = channels or (3 if colour else 1)
    x = torch.cat([to_channels(i[None], c) for i in images])
    return x.float().div_(127.5).sub_(1.0)


def _check(resolution: int, channels: tuple[int | None, int | None]) -> None:
    check_resolution(resolution)
    for c in channels:
        if c is not None:
            check_channels(c)


def _split_folders(root: Path) -> tuple[Path, Path] | None:
    """(train, test) sub-folders of ``root`` when it has train/ and test/ (or val/), else None."""
    if not (root / "train").is_dir():
        return None
    test = next((root / t for t in TEST_FOLDERS if (root / t).is_dir()), None)
    return None if test is None else (root / "train", test)


def _by_index(pairs: ImagePairs, keep: torch.Tensor) -> ImagePairs:
    return ImagePairs(pairs.a[keep], pairs.b[keep], [pairs.names[i] for i in keep.tolist()],
                      None if pairs.labels is None else pairs.labels[keep])


def _fixed(pairs: ImagePairs, root: Path) -> tuple[ImagePairs, ImagePairs]:
    if len(pairs) < 2:
        raise DataError(f"{root} holds {len(pairs)} readable pair: a test split needs at least 2")
    return _by_index(pairs, fixed_split(len(pairs), "train")), _by_index(pairs, fixed_split(len(pairs), "test"))


def _match(a_dir: Path, b_dir: Path, base: Path) -> list[tuple[str, Path, Path]]:
    """(key, A file, B file) for each name present in both folders; DataError listing unmatched names."""
    a, b = _image_files(a_dir, base), _image_files(b_dir, base)
    only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    if only_a or only_b:
        raise DataError(f"paired folders {a_dir} and {b_dir} do not match: {len(only_a)} name(s) only in A "
                        f"({_listed(only_a) or '-'}), {len(only_b)} only in B ({_listed(only_b) or '-'}); pairs are "
                        "matched by file name without extension: rename or remove those files")
    return [(k, a[k], b[k]) for k in sorted(a)]


def _decode_pairs(items: list[tuple[str, list[Path]]], resolution: int, aligned: bool, where: Path
                  ) -> tuple[list[str], list[torch.Tensor], list[torch.Tensor]]:
    """Decode pairs (one aligned file or an A and a B file each); a pair with an unreadable side is skipped."""
    names, xa, xb, skipped = [], [], [], []
    for key, paths in items:
        try:
            parts = [t for p in paths for t in _read(p, resolution, aligned)]
        except DECODE_ERRORS:
            skipped.append(key)
            continue
        names.append(key)
        xa.append(parts[0])
        xb.append(parts[1])
    _skip_warning(skipped, where)
    if not names:
        raise DataError(f"no readable image pair in {where}: all {len(skipped)} failed to decode")
    return names, xa, xb


def _paired_groups(root: Path, base: Path, aligned: bool) -> list[tuple[Path, list[tuple[str, list[Path]]]]]:
    """[(folder, [(pair key, its files)])]: one group (to be split by ``fixed_split``) or the train and test groups
    of the data's own split folders."""
    if aligned:
        if (root / "A").is_dir() and (root / "B").is_dir():
            raise DataError(f"{root} holds A/ and B/ folders: these are paired folders, not aligned AB images; drop "
                            "--aligned")
        return [(d, [(k, [p]) for k, p in _image_files(d, base).items()]) for d in _split_folders(root) or (root,)]
    if not (root / "A").is_dir() or not (root / "B").is_dir():
        hint = ("a CycleGAN unpaired layout: read it as unpaired" if (root / "trainA").is_dir() else
                "for pix2pix's aligned AB images (side by side in one file) pass --aligned")
        raise DataError(f"paired folder {root} needs sub-folders A/ and B/ with matching file names; {hint}")
    a_dirs, b_dirs = _split_folders(root / "A"), _split_folders(root / "B")
    if not (a_dirs and b_dirs):
        a_dirs, b_dirs = (root / "A",), (root / "B",)
    return [(a, [(k, [pa, pb]) for k, pa, pb in _match(a, b, base)]) for a, b in zip(a_dirs, b_dirs)]


def load_paired(root: Path | str, resolution: int = 64, *, aligned: bool = False, channels_a: int | None = None,
                channels_b: int | None = None) -> PairedData:
    """A paired translation data set from ``root``.

    Without ``aligned``: ``root/A`` and ``root/B`` hold images paired by file name (without extension); when both
    hold ``train/`` and ``test/`` (or ``val/``) sub-folders, those are the splits (pix2pix's combine_A_and_B input).
    With ``aligned``: each image is an ``A | B`` pair side by side, split at the middle column (pix2pix's format);
    ``root/train`` and ``root/test`` (or ``root/val``) are the splits when present. Otherwise a fixed seeded split
    puts 1/6 of the pairs in test. Raises DataError for anything missing, mismatched or hostile.
    """
    _check(resolution, (channels_a, channels_b))
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"paired data {root} is not a folder; give a folder with A/ and B/, or of aligned AB images "
                        "with --aligned")
    groups = _paired_groups(root, root.resolve(), aligned)
    decoded = [_decode_pairs(items, resolution, aligned, where) for where, items in groups]
    names = [n for d in decoded for n in d[0]]
    a = _stack([x for d in decoded for x in d[1]], channels_a, f"domain A of {root}", names)
    b = _stack([x for d in decoded for x in d[2]], channels_b, f"domain B of {root}", names)
    layout, source = "aligned" if aligned else "folders", str(root.resolve())
    if len(groups) == 1:
        train, test = _fixed(ImagePairs(a, b, names), root)
        return PairedData(train, test, source, layout, "fixed")
    n = len(decoded[0][0])
    return PairedData(ImagePairs(a[:n], b[:n], names[:n]), ImagePairs(a[n:], b[n:], names[n:]), source, layout,
                      "folders")


def _decode_domain(files: dict[str, Path], resolution: int, where: Path) -> tuple[list[str], list[torch.Tensor]]:
    names, images, skipped = [], [], []
    for key, path in files.items():
        try:
            images.append(_read(path, resolution, False)[0])
        except DECODE_ERRORS:
            skipped.append(key)
            continue
        names.append(key)
    _skip_warning(skipped, where)
    if not images:
        raise DataError(f"no readable image in domain folder {where}: all {len(skipped)} failed to decode")
    return names, images


def load_unpaired(root: Path | str, resolution: int = 64, *, channels_a: int | None = None,
                  channels_b: int | None = None) -> UnpairedData:
    """CycleGAN's unpaired layout: ``root/trainA``, ``trainB``, ``testA`` and ``testB`` (all four needed; the
    domains' image counts may differ). Raises DataError for anything missing, empty or hostile."""
    _check(resolution, (channels_a, channels_b))
    root = Path(root).expanduser()
    missing = [f"{d}/" for d in UNPAIRED_FOLDERS if not (root / d).is_dir()]
    if missing:
        raise DataError(f"unpaired folder {root} lacks {', '.join(missing)}; CycleGAN's layout needs trainA/ trainB/ "
                        "testA/ testB/ (put a few images of each domain in testA/ and testB/)")
    base = root.resolve()
    read = {d: _decode_domain(_image_files(root / d, base), resolution, root / d) for d in UNPAIRED_FOLDERS}
    out = {}
    for side, channels in (("A", channels_a), ("B", channels_b)):
        names = read[f"train{side}"][0] + read[f"test{side}"][0]
        x = _stack(read[f"train{side}"][1] + read[f"test{side}"][1], channels, f"domain {side} of {root}", names)
        n = len(read[f"train{side}"][0])
        out[side] = (DomainImages(x[:n], names[:n]), DomainImages(x[n:], names[n:]))
    return UnpairedData(out["A"][0], out["B"][0], out["A"][1], out["B"][1], str(base))


def is_unpaired_layout(root: Path) -> bool:
    """Whether ``root`` is a folder holding CycleGAN's ``trainA/`` and ``trainB/``."""
    return all((root / d).is_dir() for d in UNPAIRED_FOLDERS[:2])


def load_translation(root: Path | str, resolution: int = 64, *, aligned: bool = False, channels_a: int | None = None,
                     channels_b: int | None = None) -> PairedData | UnpairedData:
    """The translation data set in ``root``: unpaired when it holds ``trainA/`` or ``trainB/``, else paired (aligned
    ``AB`` images when ``aligned``)."""
    root = Path(root).expanduser()
    if not aligned and any((root / d).is_dir() for d in UNPAIRED_FOLDERS):
        return load_unpaired(root, resolution, channels_a=channels_a, channels_b=channels_b)
    return load_paired(root, resolution, aligned=aligned, channels_a=channels_a, channels_b=channels_b)
