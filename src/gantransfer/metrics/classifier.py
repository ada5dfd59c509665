"""The small feature classifiers that define this project's offline evaluation protocols.

One per built-in image data set, trained by ``scripts/make_classifier.py`` and shipped under
``assets/classifiers/<data set>/`` with the reference features of the real test split. The 128-d globally
pooled activations before the last layer are the features for FID/KID/PRDC; the logits give class shares.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gantransfer.errors import CheckpointError, ConfigError
from gantransfer.image_space import resize, to_channel_count
from gantransfer.io import read_json, read_tensors, write_json, write_tensors


@dataclass
class ClassifierConfig:
    dataset: str
    num_classes: int
    resolution: int
    channels: int = 1
    widths: list[int] = field(default_factory=lambda: [32, 64, 128, 128])
    version: int = 1
    meta: dict[str, Any] = field(default_factory=dict)
    arch: str = "vgg"   # "vgg" (the first protocol), "resnet" (the judge protocol), "avgvgg" (the perceptual net)
    role: str = "classifier"  # "classifier" and "judge": protocol networks; "perceptual": a training loss's

    @property
    def protocol(self) -> str:
        """Name of the feature extractor and its version, e.g. ``fashion-mnist-classifier-v1`` or
        ``fashion-mnist-judge-v1`` (``fashion-mnist-perceptual-v1`` for the loss network, which is no protocol)."""
        return f"{self.dataset}-{self.role}-v{self.version}"


ARCHS = ("vgg", "resnet", "avgvgg")
ROLES = {"classifier": "classifiers", "judge": "judges", "perceptual": "perceptual"}  # role -> assets folder


class ResidualConv(nn.Module):
    """x + SiLU(BN(conv3x3(x))): the judge's residual block."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv, self.bn, self.act = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.act(self.bn(self.conv(x)))


def _body(cfg: ClassifierConfig) -> tuple[nn.Sequential, int]:
    """The convolutional body of an architecture and its output channels (the feature dimension).

    vgg: Conv3x3-BN-ReLU per width, 2x2 max pooling between. resnet: a 3x3 stem, then per further width a strided
    3x3 Conv-BN-SiLU and (but for the last) a residual block, a 1x1 Conv-BN-SiLU at the end; no pooling layer.
    avgvgg: Conv3x3-BN-ReLU per width, 2x2 average pooling between (the perceptual net: its ReLU maps are the
    perceptual term's feature maps)."""
    layers: list[nn.Module] = []
    c = cfg.channels
    if cfg.arch in ("vgg", "avgvgg"):
        pool = nn.MaxPool2d if cfg.arch == "vgg" else nn.AvgPool2d
        for i, w in enumerate(cfg.widths):
            layers += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
            if i < len(cfg.widths) - 1:
                layers.append(pool(2))
            c = w
        return nn.Sequential(*layers), c
    if cfg.arch == "resnet":
        for i, w in enumerate(cfg.widths):
            layers += [nn.Conv2d(c, w, 3, stride=1 if i == 0 else 2, padding=1, bias=False), nn.BatchNorm2d(w),
                       nn.SiLU()]
            if 0 < i < len(cfg.widths) - 1:
                layers.append(ResidualConv(w))
            c = w
        layers += [nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c), nn.SiLU()]
        return nn.Sequential(*layers), c
    raise ConfigError(f"unknown classifier architecture {cfg.arch!r}; known: {', '.join(ARCHS)}")


class FeatureClassifier(nn.Module):
    """A convolutional body (``cfg.arch``), global average pooling to features, dropout, linear head."""

    def __init__(self, cfg: ClassifierConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.body, c = _body(cfg)
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(c, cfg.num_classes)
        self.feature_dim = c

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Map images in [-1, 1] of any channel count and size to this classifier's input."""
        if x.dim() != 4:
            raise ValueError(f"expected images of shape (N, C, H, W), got {tuple(x.shape)}")
        if x.shape[1] not in (1, 3) or self.cfg.channels not in (1, 3):
            raise ValueError(f"cannot feed {x.shape[1]}-channel images to a {self.cfg.channels}-channel classifier")
        return resize(to_channel_count(x, self.cfg.channels), self.cfg.resolution, antialias=True)

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.body(self.prepare(x)).mean(dim=(2, 3))
        return f, self.head(self.dropout(f))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features_and_logits(x)[1]


@torch.no_grad()
def recompute_batchnorm(model: FeatureClassifier, images: torch.Tensor, batch_size: int = 500) -> None:
    """Replace every BatchNorm layer's running statistics by their averages over ``images`` (in [-1, 1]): the
    mean exactly, the variance as the batch-size-weighted mean of the batches' variances.

    The moving averages kept during training trail weights that a high learning rate moves quickly; a classifier
    that fits its training batches can then misclassify in eval mode (held-out accuracy 0.67 against 0.99 was
    seen on a teacher-domain classifier). Leaves the model in eval mode."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
    device = next(model.parameters()).device
    model.train()
    for i in range(0, len(images), batch_size):
        batch = images[i:i + batch_size]
        for m in norms:  # running = running + w * (batch - running), w = this batch's share so far
            m.momentum = len(batch) / (i + len(batch))
        model.body(model.prepare(batch.to(device).float()))
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    model.eval()


def assets_dir() -> Path:
    """The package's shipped assets folder."""
    return Path(str(resources.files("gantransfer") / "assets"))


def classifier_dir(dataset: str, role: str = "classifier") -> Path:
    """Where the shipped network of ``role`` (classifier, judge, perceptual) for ``dataset`` lives."""
    return assets_dir() / ROLES[role] / dataset


def ships(dataset: str, role: str = "classifier") -> bool:
    """Whether gantransfer ships a network of ``role`` (classifier, judge or perceptual) for ``dataset``."""
    return bool(dataset) and (classifier_dir(dataset, role) / "config.json").is_file()


def shipped_networks(dataset: str) -> tuple[str, ...]:
    """The roles of the networks shipped for ``dataset``, e.g. ``("classifier", "judge", "perceptual")``."""
    return tuple(role for role in ROLES if ships(dataset, role))


def save_classifier(model: FeatureClassifier, path: str | Path) -> None:
    p = Path(path)
    write_tensors(p / "model.safetensors", model.state_dict())
    write_json(p / "config.json", {"kind": "classifier", **asdict(model.cfg)})


def load_classifier(dataset_or_dir: str | Path, device: str | torch.device = "cpu",
                    role: str = "classifier") -> FeatureClassifier:
    """A shipped network of ``role`` by data set name, or one from a directory; frozen, in eval mode."""
    p = Path(dataset_or_dir)
    if not (p / "config.json").is_file():
        p = classifier_dir(str(dataset_or_dir), role)
        if not (p / "config.json").is_file():
            shipped = sorted(d.name for d in (assets_dir() / ROLES[role]).glob("*") if (d / "config.json").is_file())
            raise ConfigError(f"no feature {role} network for data set {dataset_or_dir!r}; shipped ones: "
                              f"{', '.join(shipped) or 'none'}. Evaluate against one of those data sets")
    raw = read_json(p / "config.json", "classifier config")
    if raw.pop("kind", None) != "classifier":
        raise CheckpointError(f"{p / 'config.json'} is not a classifier config")
    model = FeatureClassifier(ClassifierConfig(**raw))
    model.load_state_dict(read_tensors(p / "model.safetensors", "classifier weights"))
    return model.to(device).eval().requires_grad_(False)


@torch.inference_mode()
def extract_batch(model: FeatureClassifier, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(features float32 (B, D), class probabilities (B, K)), both on CPU, of one batch of images in [-1, 1],
    in a single forward pass (the caller chooses the batch; ``extract`` and the streaming evaluation both use
    batches of 500, so their figures agree bit for bit)."""
    device = next(model.parameters()).device
    f, logits = model.features_and_logits(images.to(device).float())
    return f.float().cpu(), logits.float().softmax(1).cpu()


@torch.inference_mode()
def extract(model: FeatureClassifier, images: torch.Tensor, batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    """(features float32 (N, D), class probabilities (N, K)) for images in [-1, 1], in batches."""
    feats, probs = [], []
    for i in range(0, len(images), batch_size):
        f, p = extract_batch(model, images[i:i + batch_size])
        feats.append(f)
        probs.append(p)
    return torch.cat(feats), torch.cat(probs)


def reference_path(dataset: str, role: str = "classifier") -> Path:
    return classifier_dir(dataset, role) / "reference-test.safetensors"


def load_reference(dataset: str, role: str = "classifier") -> dict[str, torch.Tensor]:
    """Shipped features (float16), labels, and float64 mean/covariance of the real test split."""
    return read_tensors(reference_path(dataset, role), "reference statistics")
