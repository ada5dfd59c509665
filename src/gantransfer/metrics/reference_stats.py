"""Reference statistics of real images (``gantransfer stats``) and FID of a generator against them.

A stats file is what pytorch-fid's ``--save-stats`` writes, an ``.npz`` with ``mu`` (D,) and ``sigma`` (D, D) of the
features of the real images, plus what made it (``network``, ``images``, ``image_size``, ``format``), which
pytorch-fid ignores. A folder's images are fed at their native size: the feature network's own preprocessing is the
only resize (Inception: the TF1 bilinear resize to 299; a protocol classifier: its antialiased resize). A built-in
data set is fed as generators are trained on it (see ``real_images``). A file written by pytorch-fid itself (only
``mu``/``sigma``) is accepted as well; its dimension must fit the chosen network. ``eval --reference`` scores the
very images its protocol figures are measured on (generated once, each batch fed to every network).
"""
from __future__ import annotations

import io
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from gantransfer.errors import CheckpointError, ConfigError, DataError
from gantransfer.metrics.fid import RunningStats, frechet_distance

STATS_FORMAT = "gantransfer-reference-stats-v1"
BATCH = 50  # images per forward pass


@dataclass
class FeatureNetwork:
    """A feature extractor of uint8 images: its protocol name (``inception-v3-compat`` or a classifier's), its
    feature dimension and ``features(uint8 (N, C, H, W)) -> float32 (N, D)``."""

    name: str
    dim: int
    features: Callable[[torch.Tensor], torch.Tensor]
    source: dict[str, Any]


def shipped_protocols() -> dict[str, Path]:
    """Protocol name -> directory of the network of every shipped protocol (metrics/protocols.py's registry:
    the classifier and the judge of each data set)."""
    from gantransfer.metrics.classifier import classifier_dir
    from gantransfer.metrics.protocols import all_protocols
    return {p.name: classifier_dir(p.dataset, p.role) for p in all_protocols()}


def feature_network(inception: str | Path | None = None, protocol: str | None = None,
                    device: str | torch.device = "cpu") -> FeatureNetwork:
    """Inception-v3 from the weights file ``inception``, or the shipped classifier of protocol ``protocol``."""
    if (inception is None) == (protocol is None):
        raise ConfigError("give exactly one feature network: --inception FILE (Inception-v3 weights) or --protocol "
                          f"NAME (one of {', '.join(shipped_protocols())})")
    if inception is not None:
        from gantransfer.metrics.inception import INCEPTION_PROTOCOL, file_sha256, load_inception
        model = load_inception(inception, device)
        return FeatureNetwork(INCEPTION_PROTOCOL, model.feature_dim, model,
                              {"weights": str(inception), "sha256": file_sha256(inception)})
    protocols = shipped_protocols()
    if protocol not in protocols:
        raise ConfigError(f"no protocol named {protocol!r}; the shipped ones are {', '.join(protocols)} (or use "
                          "--inception FILE)")
    from gantransfer.metrics.classifier import extract_batch, load_classifier
    clf = load_classifier(protocols[protocol], device)

    def features(images: torch.Tensor) -> torch.Tensor:
        if images.dtype != torch.uint8:
            raise ValueError(f"expected uint8 images, got {images.dtype}")
        return extract_batch(clf, images.float() / 127.5 - 1)[0]
    return FeatureNetwork(protocol, clf.feature_dim, features, {"classifier": protocols[protocol].name})


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Generator images in [-1, 1] -> uint8 [0, 255] (rounded, clamped), as the sample grids are written."""
    return ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def _decode_native(path: Path) -> np.ndarray:
    """uint8 (C, H, W) of an image file at its own size: C = 1 for gray, 3 for colour."""
    from PIL import Image, ImageOps

    from gantransfer.data.folder import _GRAY_MODES, check_pixels
    with Image.open(path) as im:
        check_pixels(im.size)  # before decoding: a small file may declare a huge or absurdly thin image
        im.load()
        im = ImageOps.exif_transpose(im)
        if im.mode in _GRAY_MODES:
            if im.mode.startswith("I"):  # 16-bit gray: 0..65535
                im = Image.fromarray((np.asarray(im, dtype=np.float64) / 257.0).round().clip(0, 255).astype(np.uint8))
            return np.array(im.convert("L"), dtype=np.uint8)[None]
        arr = np.array(im.convert("RGB"), dtype=np.uint8).transpose(2, 0, 1)
    return arr[:1].copy() if (arr[0] == arr[1]).all() and (arr[1] == arr[2]).all() else arr


def real_images(source: str | Path, split: str = "test") -> tuple[list[torch.Tensor], str]:
    """Batches of uint8 images (consecutive images of one shape share a batch) and a description of the source: an
    image folder's every PNG/JPEG (recursively) at its native size, as pytorch-fid feeds them; a built-in data set's
    ``split`` as the data pipeline gives it to generators (Fashion-MNIST: 28 -> 32 by zero padding, because every
    protocol, Inception included, tells the padded framing from the native one)."""
    from gantransfer.data.registry import DATASETS, load_dataset
    name = str(source)
    if name in DATASETS:  # as the data pipeline gives them to generators (28 -> 32 by zero padding)
        data = load_dataset(name, split)
        if data.kind != "image":
            raise DataError(f"{name} is a data set of 2-D points; reference statistics are of images")
        size = data.x.shape[-1]
        return list(data.x.split(BATCH)), (f"{name} ({split} split, {len(data.x)} images at {size} px as generators "
                                           f"are trained on them; native {data.meta['native_resolution']} px)")
    from gantransfer.data.folder import _DECODE_ERRORS, list_images
    root = Path(name).expanduser()
    if not root.is_dir():
        raise DataError(f"{name} is neither an image folder nor a built-in data set ({', '.join(sorted(DATASETS))})")
    files, _, _ = list_images(root)
    batches: list[torch.Tensor] = []
    run: list[np.ndarray] = []
    bad = []
    for path in files:
        try:
            arr = _decode_native(path)
        except _DECODE_ERRORS:
            bad.append(path)
            continue
        if run and (arr.shape != run[0].shape or len(run) == BATCH):
            batches.append(torch.from_numpy(np.stack(run)))
            run = []
        run.append(arr)
    if run:
        batches.append(torch.from_numpy(np.stack(run)))
    if bad:
        warnings.warn(f"skipped {len(bad)} unreadable image file(s) in {root}", UserWarning, stacklevel=2)
    if not batches:
        raise DataError(f"no readable image in {root}")
    return batches, f"image folder {root.resolve()} ({sum(len(b) for b in batches)} images at native size)"


def reference_stats(source: str | Path, inception: str | Path | None = None, protocol: str | None = None,
                    split: str = "test", device: str | torch.device = "cpu") -> dict[str, Any]:
    """``mu`` (D,) and ``sigma`` (D, D) float64 of the features of the real images of ``source`` (a folder or a
    built-in data set), and what made them."""
    net = feature_network(inception, protocol, device)
    batches, described = real_images(source, split)
    stats = RunningStats(net.dim)
    with torch.inference_mode():
        for b in batches:
            stats.update(net.features(b))
    if stats.n < 2:
        raise DataError(f"{described} has {stats.n} image; statistics need at least 2")
    mu, sigma = stats.result()
    sizes = {tuple(b.shape[-2:]) for b in batches}
    h, w = next(iter(sizes))
    size = h if len(sizes) == 1 and h == w else 0  # recorded when every image has one square size
    return {"mu": mu, "sigma": sigma, "network": net.name, "images": stats.n, "image_size": size,
            "source": described, **net.source}


def is_stats_file(path: Path) -> bool:
    """True when ``path`` is a stats file this tool wrote (an npz whose ``format`` is ``STATS_FORMAT``)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            return "format" in f.files and str(f["format"]) == STATS_FORMAT
    except (OSError, ValueError, zipfile.BadZipFile, EOFError):
        return False


def check_stats_out(out: str | Path, overwrite: bool) -> Path:
    """ConfigError unless stats may be written at ``out`` (nothing is created): a new file in an existing
    directory, or, with ``overwrite``, a stats file this tool wrote; any other existing file is never replaced."""
    from gantransfer.io import check_file_out
    p = Path(out)
    if p.suffix != ".npz":
        raise ConfigError(f"--out {p} must end in .npz (pytorch-fid's stats format)")
    if p.exists() and not p.is_dir() and not is_stats_file(p):
        raise ConfigError(f"--out {p} exists and is not a stats file written by `gantransfer stats`; it is never "
                          "replaced. Choose another --out")
    return check_file_out(p, overwrite, "ref.npz")


def write_stats(out: str | Path, stats: dict[str, Any]) -> Path:
    """Write ``stats`` as an npz (atomically): ``mu``, ``sigma`` and the record of what made them."""
    from gantransfer.io import atomic_write
    arrays = {"mu": stats["mu"].numpy(), "sigma": stats["sigma"].numpy(), "format": np.array(STATS_FORMAT),
              "network": np.array(stats["network"]), "images": np.array(stats["images"], dtype=np.int64),
              "image_size": np.array(stats.get("image_size", 0), dtype=np.int64)}

    def write(tmp: str) -> None:
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        Path(tmp).write_bytes(buf.getvalue())
    atomic_write(out, write)
    return Path(out)


MAX_STATS_DIM = 16384  # features of a stats file (Inception: 2048); sigma of 16384^2 float64 is 2 GiB
SYMMETRY_TOL = 1e-6  # relative to sigma's largest magnitude
PSD_TOL = 1e-6  # relative to sigma's mean diagonal: added to the diagonal before a Cholesky test


def _check_members(p: Path) -> None:
    """CheckpointError when an npz member's header declares more data than the member holds or more than a stats
    file needs: read from the headers alone, before anything is allocated."""
    try:
        with zipfile.ZipFile(p) as z:
            for info in z.infolist()[:64]:
                if not info.filename.endswith(".npy"):
                    continue
                with z.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                        np.lib.format.read_array_header_2_0
                    shape, _, dtype = read(f)
                count = int(np.prod(shape, dtype=np.float64)) if shape else 1
                name = info.filename[:-4]
                if dtype.hasobject:
                    raise CheckpointError(f"reference stats {p}: '{name}' holds Python objects, not numbers; a "
                                          "stats file holds arrays of numbers")
                if count * dtype.itemsize > info.file_size or (name in ("mu", "sigma")
                                                               and max(shape or (1,)) > MAX_STATS_DIM):
                    raise CheckpointError(f"reference stats {p}: '{name}' declares shape {tuple(shape)} of "
                                          f"{dtype}, but the file holds {info.file_size} bytes for it (at most "
                                          f"{MAX_STATS_DIM} features allowed); re-create them with `gantransfer "
                                          "stats`")
    except CheckpointError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, TypeError, SyntaxError) as e:
        raise CheckpointError(f"reference stats {p} are not a readable npz ({str(e)[:120]}); re-create them with "
                              "`gantransfer stats`") from None


def check_covariance(mu: np.ndarray, sigma: np.ndarray, where: str) -> None:
    """CheckpointError unless ``sigma`` is a covariance: symmetric and positive semi-definite within tolerance (a
    negative-definite one makes FID meaningless, e.g. -1.3e8). O(D^3): run once, where the FID is computed
    (``fid_against``); reading a stats file checks only what is O(D) (``read_stats``)."""
    scale = max(1.0, float(np.abs(sigma).max())) if sigma.size else 1.0
    asym = float(np.abs(sigma - sigma.T).max()) if sigma.size else 0.0
    if asym > SYMMETRY_TOL * scale:
        raise CheckpointError(f"reference stats {where}: sigma is not symmetric (|sigma - sigma^T| up to {asym:.3g}); "
                              "a covariance is. Re-create them with `gantransfer stats`")
    d = sigma.shape[0]
    if d:
        t = torch.from_numpy(sigma)
        eps = PSD_TOL * max(float(torch.diagonal(t).abs().mean()), 1e-12)
        _, info = torch.linalg.cholesky_ex(t + eps * torch.eye(d, dtype=t.dtype))
        if int(info) != 0 or bool((torch.diagonal(t) < -eps).any()):
            raise CheckpointError(f"reference stats {where}: sigma is not positive semi-definite (a covariance is); "
                                  "FID against it would be meaningless. Re-create them with `gantransfer stats`")


def read_stats(path: str | Path, dim: int | None = None, network: str | None = None) -> dict[str, Any]:
    """``mu``, ``sigma`` (float64 tensors) and the recorded ``network`` / ``images`` (None when not recorded) of a
    stats file; CheckpointError when it is unreadable, lacks ``mu``/``sigma``, or is not of dimension ``dim`` (or
    was made by another network than ``network``)."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"reference stats {p} do not exist; make them with `gantransfer stats DIR --inception "
                              "FILE --out ref.npz` (or --protocol NAME)")
    _check_members(p)
    try:
        with np.load(p, allow_pickle=False) as f:
            files = set(f.files)
            if not {"mu", "sigma"} <= files:
                lacking = " and ".join(k for k in ("mu", "sigma") if k not in files)
                raise CheckpointError(f"reference stats {p} hold no {lacking} "
                                      f"(found: {', '.join(sorted(files)) or 'nothing'}); a stats file is an npz "
                                      "with mu and sigma, as `gantransfer stats` or pytorch-fid --save-stats write")
            mu, sigma = np.asarray(f["mu"], dtype=np.float64), np.asarray(f["sigma"], dtype=np.float64)
            recorded = str(f["network"]) if "network" in files else None
            images = int(f["images"]) if "images" in files else None
            size = int(f["image_size"]) if "image_size" in files else 0
    except CheckpointError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, TypeError) as e:
        raise CheckpointError(f"reference stats {p} are not a readable npz ({e}); re-create them with "
                              "`gantransfer stats`") from None
    d = mu.shape[0] if mu.ndim == 1 else -1
    if mu.ndim != 1 or sigma.shape != (d, d):
        raise CheckpointError(f"reference stats {p}: mu {mu.shape} and sigma {sigma.shape} must be (D,) and (D, D)")
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise CheckpointError(f"reference stats {p} hold NaN or infinite values; re-create them")
    if d and float(np.diagonal(sigma).min()) < 0:  # O(D) here; symmetry and PSD before the FID (fid_against)
        raise CheckpointError(f"reference stats {p}: sigma has negative variances on its diagonal, so it is no "
                              "covariance (not positive semi-definite); re-create them with `gantransfer stats`")
    if dim is not None and d != dim:
        raise CheckpointError(f"reference stats {p} are {d}-dimensional but the {network or 'chosen'} features are "
                              f"{dim}-dimensional; use stats made with the same network"
                              + (f" (these were made with {recorded})" if recorded else ""))
    if network is not None and recorded is not None and recorded != network:
        raise CheckpointError(f"reference stats {p} were made with {recorded}, not {network}; use stats made with "
                              "the same network")
    return {"mu": torch.from_numpy(mu), "sigma": torch.from_numpy(sigma), "network": recorded, "images": images,
            "image_size": size or None, "path": str(p)}


def fid_against(features: RunningStats, ref: dict[str, Any]) -> float:
    """FID of accumulated features against a stats file's ``mu``/``sigma``."""
    if not ref.get("checked"):  # once per file read: a covariance, or no figure at all
        check_covariance(ref["mu"].numpy(), ref["sigma"].numpy(), str(ref.get("path", "")))
        ref["checked"] = True
    return frechet_distance(*features.result(), ref["mu"], ref["sigma"])


def prepare_reference(stats_path: str | Path | None, inception: str | Path | None, dataset: str | None,
                      device: str | torch.device = "cpu") -> tuple[FeatureNetwork, dict[str, Any]]:
    """The feature network and the checked stats of ``eval --reference`` (before any sample is drawn): Inception-v3
    with ``inception``, else the protocol network the stats record (default: ``dataset``'s protocol)."""
    if stats_path is None:
        raise ConfigError("Inception FID needs reference statistics of real images: make them once with "
                          "`gantransfer stats DIR --inception FILE --out ref.npz` (DIR: a folder of images, or a "
                          "built-in data set such as fashion-mnist), then pass --reference ref.npz")
    from gantransfer.metrics.inception import FEATURE_DIM, INCEPTION_PROTOCOL
    protocol = None
    if inception is None:
        pre = read_stats(stats_path)
        recorded = pre["network"]
        if recorded == INCEPTION_PROTOCOL or (recorded is None and pre["mu"].shape[0] == FEATURE_DIM):
            raise ConfigError(f"reference stats {stats_path} are of Inception-v3 features; pass --inception FILE "
                              "(the weights they were made with)")
        protocol = recorded or (f"{dataset}-classifier-v1" if dataset else None)
        if protocol is None:
            raise ConfigError(f"reference stats {stats_path} do not record their network and this generator has no "
                              "data set; pass --data NAME (its protocol) or --inception FILE")
    else:
        read_stats(stats_path)  # a missing or malformed file is reported before the weights are loaded
    net = feature_network(inception, protocol, device)
    return net, read_stats(stats_path, net.dim, net.name)


class ReferenceAccumulator:
    """FID against the stats ``ref`` under ``net`` (both from ``prepare_reference``), fed batches of generated
    images in [-1, 1] as they are made: ``eval`` hands it the very batches its protocols score, so that the samples
    are generated once."""

    def __init__(self, net: FeatureNetwork, ref: dict[str, Any], stats_path: str | Path, gcfg: Any) -> None:
        if gcfg.kind != "image":
            raise ConfigError("reference statistics are of images, but this generator makes 2-D points")
        if ref["image_size"] and ref["image_size"] != gcfg.resolution:
            warnings.warn(f"reference stats {stats_path} were made from {ref['image_size']} px images but this "
                          f"generator makes {gcfg.resolution} px images: the figure also measures the change of "
                          "framing (under fashion-mnist-classifier-v1, 300 Fashion-MNIST test images fed at 28 px "
                          "against the same images padded to 32 px are FID 5.0, 7x the real-vs-real floor; "
                          "docs/results.md). Make the stats from images at the generator's size", UserWarning,
                          stacklevel=3)
        self.net, self.ref, self.stats_path = net, ref, stats_path
        self.stats = RunningStats(net.dim)

    def update(self, images: torch.Tensor) -> None:
        """Accumulate the features of a batch of generated images (float, [-1, 1]), as uint8 images."""
        images = to_uint8(images)
        with torch.inference_mode():
            for j in range(0, len(images), BATCH):
                self.stats.update(self.net.features(images[j:j + BATCH]))

    def result(self) -> dict[str, Any]:
        """The ``reference_stats`` record of ``eval``: the figure ``fid/<network>/<count>`` and what made it."""
        from gantransfer.metrics.protocols import count_label
        return {"file": str(self.stats_path), "network": self.net.name, "images": self.ref["images"],
                **self.net.source,
                "metrics": {f"fid/{self.net.name}/{count_label(self.stats.n)}": fid_against(self.stats, self.ref)}}


def reference_evaluation(g: torch.nn.Module, gcfg: Any, n: int, seed: int, classes: list[int] | None,
                         stats_path: str | Path, net: FeatureNetwork, ref: dict[str, Any], batch_size: int = 500,
                         device: str | torch.device = "cpu") -> dict[str, Any]:
    """FID of ``n`` samples (the latents and labels ``eval`` draws for ``seed``) against the stats ``ref`` under
    ``net`` (both from ``prepare_reference``), for a generator without a shipped protocol (with one, ``eval`` feeds
    a ``ReferenceAccumulator`` the protocols' own batches instead)."""
    from gantransfer.models.sampling import check_finite, draw_inputs
    acc = ReferenceAccumulator(net, ref, stats_path, gcfg)
    labels = None
    if gcfg.num_classes and classes and gcfg.labels_are_data_classes:  # as ``evaluate_generator`` draws them
        pick = torch.randint(len(classes), (n,), generator=torch.Generator().manual_seed(seed + 1))
        labels = torch.tensor(classes)[pick]
    z, y = draw_inputs(gcfg, n, torch.Generator().manual_seed(seed), labels)
    with torch.inference_mode():
        for i in range(0, n, batch_size):
            yi = None if y is None else y[i:i + batch_size].to(device)
            acc.update(check_finite(g(z[i:i + batch_size].to(device), yi).float(), f"generator {gcfg.arch}"))
    return acc.result()
