"""StyleGAN2-ADA ``dataset_tool.py`` data sets: images in a zip (or a folder) plus ``dataset.json`` holding
``{"labels": [[file name, label], ...]}`` or ``{"labels": null}``; the labels become classes.

A zip is read in memory, member by member, never extracted. Every part of it is hostile: the member count, the
names (no absolute path, no ``..``), each member's declared and actual decompressed size, and each image's pixel
count (read from its header, before decoding) are checked against caps. ``write_ada_zip`` writes a data set in
that layout (as dataset_tool does: ``00000/img00000000.png``), atomically.
"""
from __future__ import annotations

import io
import json
import warnings
import zipfile
from pathlib import Path, PurePosixPath
import numpy as np
import torch
from PIL import Image

from gantransfer.data.folder import EXTENSIONS, MAX_PIXELS, decode_image  # one pixel cap for every reader
from gantransfer.errors import DataError
from gantransfer.io import atomic_write

LABELS_FILE = "dataset.json"
MAX_MEMBERS = 1_000_000            # files in one zip
MAX_MEMBER_BYTES = 64 * 2 ** 20    # decompressed size of one image (or of dataset.json)
MAX_TOTAL_BYTES = 16 * 2 ** 30     # decompressed size of the whole data set
MAX_CLASSES = 100_000


def is_ada_source(path: Path) -> bool:
    """A .zip file, or a folder with a dataset.json at its top."""
    return (path.is_file() and path.suffix.lower() == ".zip") or (path.is_dir() and (path / LABELS_FILE).is_file())


def _check_name(name: str, where: Path) -> None:
    p = PurePosixPath(name)
    if name.startswith(("/", "\\")) or "\\" in name or ".." in p.parts or (p.parts and ":" in p.parts[0]):
        raise DataError(f"{where} holds a member with an unsafe name {name!r} (absolute, drive or '..' path); "
                        "rebuild the zip with dataset_tool.py or `gantransfer dataset export`")


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: Path) -> bytes:
    """A member's bytes, refused when its declared or actual decompressed size passes ``MAX_MEMBER_BYTES``."""
    if info.file_size > MAX_MEMBER_BYTES:
        raise DataError(f"{where}: member {info.filename} declares {info.file_size:,} bytes decompressed, over the "
                        f"{MAX_MEMBER_BYTES:,}-byte cap per file")
    try:
        with zf.open(info) as f:
            data = f.read(MAX_MEMBER_BYTES + 1)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, RuntimeError) as e:
        raise DataError(f"{where}: member {info.filename} cannot be read ({e}); rebuild the zip") from None
    if len(data) != info.file_size:
        more = "more" if len(data) > info.file_size else "fewer"
        raise DataError(f"{where}: member {info.filename} decompresses to {more} bytes than it declares "
                        f"({info.file_size:,}); the zip is corrupt or forged")
    return data


def _parse_labels(raw: bytes, where: str) -> dict[str, int] | None:
    """{file name: class} from dataset.json, or None when it says ``"labels": null``."""
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:  # nesting too deep: RecursionError
        raise DataError(f"{where} is not valid JSON ({e}); write it as {{\"labels\": [[\"00000/img00000000.png\", 0],"
                        " ...]}} or {\"labels\": null}") from None
    if not isinstance(doc, dict) or "labels" not in doc:
        raise DataError(f"{where} has no \"labels\" field; write {{\"labels\": [[file name, class], ...]}} or "
                        "{\"labels\": null}")
    labels = doc["labels"]
    if labels is None:
        return None
    if not isinstance(labels, list):
        raise DataError(f"{where}: \"labels\" must be a list of [file name, class] pairs or null, got "
                        f"{type(labels).__name__}")
    out: dict[str, int] = {}
    for i, pair in enumerate(labels):
        if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)):
            raise DataError(f"{where}: labels[{i}] must be a [file name, class] pair, got {str(pair)[:80]}")
        out[pair[0]] = _class_of(pair[1], f"{where}: labels[{i}] ({pair[0]})")
    return out


def _class_of(label: object, where: str) -> int:
    """An integer class, or the index of the single 1 of a one-hot list."""
    if isinstance(label, int) and not isinstance(label, bool) and 0 <= label < MAX_CLASSES:
        return label
    if isinstance(label, list) and 0 < len(label) <= MAX_CLASSES and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v in (0, 1) for v in label) \
            and sum(label) == 1:
        return label.index(1)
    raise DataError(f"{where}: a label must be a class number 0..{MAX_CLASSES - 1} or a one-hot list, got "
                    f"{str(label)[:80]}")


def _checked_pixels(data: bytes | Path, name: str, where: Path) -> None:
    """DataError when the image's header declares more than ``MAX_PIXELS`` pixels (nothing is decoded)."""
    try:
        with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as im:
            w, h = im.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return  # not an image header: the decoder skips it with the other unreadable files
    if w * h > MAX_PIXELS:
        raise DataError(f"{where}: image {name} is {w}x{h} pixels, over the cap of {MAX_PIXELS:,}; resize it first")


def read_ada(path: Path) -> tuple[list[tuple[str, bytes | Path]], dict[str, int] | None]:
    """The images of a dataset_tool zip or folder as (name, bytes or file), sorted by name, and its labels."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in EXTENSIONS
                       and not any(part.startswith(".") for part in p.relative_to(path).parts))
        raw = (path / LABELS_FILE).read_bytes() if (path / LABELS_FILE).stat().st_size <= MAX_MEMBER_BYTES else None
        if raw is None:
            raise DataError(f"{path / LABELS_FILE} is over {MAX_MEMBER_BYTES:,} bytes")
        items: list[tuple[str, bytes | Path]] = [(p.relative_to(path).as_posix(), p) for p in files]
        return items, _parse_labels(raw, str(path / LABELS_FILE))
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise DataError(f"{path} is not a readable zip ({e}); give a zip made by dataset_tool.py or a folder") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise DataError(f"{path} holds {len(infos):,} members, over the cap of {MAX_MEMBERS:,}")
        for info in infos:
            _check_name(info.filename, path)
        wanted = [i for i in infos if not i.is_dir() and (PurePosixPath(i.filename).suffix.lower() in EXTENSIONS
                                                          or i.filename == LABELS_FILE)]
        total = sum(i.file_size for i in wanted)
        if total > MAX_TOTAL_BYTES:
            raise DataError(f"{path} declares {total:,} bytes decompressed, over the cap of {MAX_TOTAL_BYTES:,}")
        labels_raw, items = None, []
        for info in sorted(wanted, key=lambda i: i.filename):
            data = _read_member(zf, info, path)
            if info.filename == LABELS_FILE:
                labels_raw = data
            elif not any(part.startswith(".") for part in PurePosixPath(info.filename).parts):
                items.append((info.filename, data))
    return items, (_parse_labels(labels_raw, f"{path}:{LABELS_FILE}") if labels_raw is not None else None)


def load_ada(path: Path, resolution: int | None = None,
             channels: int | None = None) -> tuple[torch.Tensor, torch.Tensor, list[str], int]:
    """Decode a dataset_tool zip or folder: (uint8 (N, C, R, R), int64 labels, class names, native size).

    Sizes and channels are made uniform as image folders make them (shorter side resized to R, centre crop);
    mixed sizes are converted with a warning. Unreadable images are skipped with one warning."""
    items, labels = read_ada(path)
    if not items:
        raise DataError(f"{path} holds no PNG or JPEG image; give a zip made by dataset_tool.py")
    names = {n for n, _ in items}
    if labels is not None:
        missing = next((f for f in labels if f not in names), None)
        if missing is not None:
            raise DataError(f"{path}: {LABELS_FILE} labels {missing[:200]!r}, which is not in the data set; the "
                            "labels do not match the files (rebuild dataset.json)")
        unlabelled = next((n for n, _ in items if n not in labels), None)
        if unlabelled is not None:
            raise DataError(f"{path}: image {unlabelled[:200]!r} has no label in {LABELS_FILE}; label every image "
                            "or set \"labels\": null")
    arrays, kept, bad, sizes, native = [], [], [], set(), None
    for name, data in items:
        _checked_pixels(data, name, path)
        try:
            arr, size, shape = decode_image(io.BytesIO(data) if isinstance(data, bytes) else data, resolution)
        except Exception:  # noqa: BLE001 - any decoder failure of one hostile file: skip it, say so below
            bad.append(name)
            continue
        if native is None:
            native = size
            resolution = resolution or arr.shape[-1]
        sizes.add(shape)
        arrays.append(arr)
        kept.append(labels[name] if labels is not None else 0)
    if bad:
        warnings.warn(f"skipped {len(bad)} unreadable image(s) in {path}: {', '.join(bad[:3])}"
                      + (", ..." if len(bad) > 3 else ""), UserWarning, stacklevel=3)
    if not arrays:
        raise DataError(f"no readable image in {path}: all {len(bad)} PNG/JPEG file(s) failed to decode")
    if len(sizes) > 1:
        shown = ", ".join(f"{w}x{h}" for w, h in sorted(sizes)[:3])
        warnings.warn(f"{path} holds images of {len(sizes)} sizes ({shown}{', ...' if len(sizes) > 3 else ''}): "
                      f"each was resized to {resolution}x{resolution} (shorter side) and centre-cropped",
                      UserWarning, stacklevel=3)
    from gantransfer.image_space import to_channels
    c = channels or (3 if any(a.shape[0] == 3 for a in arrays) else 1)
    x = torch.empty((len(arrays), c, resolution, resolution), dtype=torch.uint8)
    for i, a in enumerate(arrays):
        x[i] = to_channels(torch.from_numpy(a)[None], c)[0]
    n_classes = max(kept) + 1
    class_names = [str(i) for i in range(n_classes)] if labels is not None else [path.stem or "images"]
    return x, torch.tensor(kept, dtype=torch.int64), class_names, native


def _png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def write_ada_zip(out: Path, images: torch.Tensor, labels: torch.Tensor | None) -> int:
    """Write uint8 (N, C, H, W) ``images`` (C = 1 or 3) as a dataset_tool zip at ``out``, atomically; with
    ``labels`` as classes in dataset.json (else ``"labels": null``). Returns the number of images."""
    arr = images.numpy()

    def write(tmp: str) -> None:
        entries = []
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
            for i in range(len(arr)):
                name = f"{i // 1000:05d}/img{i:08d}.png"
                img = arr[i][0] if arr.shape[1] == 1 else arr[i].transpose(1, 2, 0)
                zf.writestr(name, _png(np.ascontiguousarray(img)))
                if labels is not None:
                    entries.append([name, int(labels[i])])
            zf.writestr(LABELS_FILE, json.dumps({"labels": entries if labels is not None else None}))
    atomic_write(out, write)
    return len(arr)


def check_zip_out(out: str | Path, overwrite: bool) -> Path:
    """DataError unless ``out`` may be written: a .zip in an existing directory, existing only with ``overwrite``."""
    p = Path(out)
    if p.suffix.lower() != ".zip":
        raise DataError(f"--out {p} must end in .zip (dataset_tool's archive layout)")
    if not p.parent.is_dir():
        raise DataError(f"the directory of --out {p} does not exist; create it (mkdir -p {p.parent})")
    if p.is_dir():
        raise DataError(f"--out {p} is a directory; give a file name such as {p / 'dataset.zip'}")
    if p.exists() and not overwrite:
        raise DataError(f"--out {p} already exists; pass --overwrite to replace it or choose another --out")
    return p
