"""Figures in words: metric keys, units and rounding for the report's tables (torch-free)."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

# What each metric measures and which way is better ("lower", "higher" or None: neither).
METRICS: dict[str, tuple[str, str | None]] = {
    "fid": ("FID", "lower"), "kid": ("KID", "lower"), "kid_std": ("KID std", None),
    "precision": ("precision", "higher"), "recall": ("recall", "higher"), "density": ("density", "higher"),
    "coverage": ("coverage", "higher"), "classes_covered": ("classes covered", "higher"),
    "class_share_tv": ("class-share distance (TV)", "lower"), "confidence": ("classifier confidence", "higher"),
    "psnr": ("PSNR (dB)", "higher"), "ssim": ("SSIM", "higher"), "held_out_fid": ("held-out FID", "lower"),
    "memorised_share": ("share of near-copies of a training image", "lower"),
    "median_nn_distance_samples": ("median distance, sample to nearest training image", "higher"),
    "median_nn_distance_test": ("median distance, test image to nearest training image", None),
    "near_copy_threshold": ("near-copy threshold (1% of test images closer)", None),
    "fid_student_vs_teacher": ("FID student vs teacher", "lower"),
    "fid_student_vs_real": ("FID student vs real", "lower"), "fid_teacher_vs_real": ("FID teacher vs real", "lower"),
    "fid_ratio_to_teacher": ("FID vs real, student / teacher", "lower"),
    "own_domain_share": ("share in the teacher's own domain", "higher"),
    "teacher_own_domain_share": ("teacher's share in its own domain", None),
    "domain_classifier_accuracy": ("domain classifier accuracy", None),
    "modes_covered": ("modes covered", "higher"), "num_modes": ("modes in the data", None),
    "hq_share": ("share of high-quality samples", "higher"), "mode_share_tv": ("mode-share distance (TV)", "lower"),
}


@dataclass(frozen=True)
class MetricKey:
    """A key ``<metric>/<protocol>/<count>[/<option>]`` of the evaluation, read apart."""

    metric: str
    protocol: str
    n: str | None
    option: str = ""

    @property
    def label(self) -> str:
        name = METRICS.get(self.metric, (words(self.metric), None))[0]
        return f"{name} ({self.option})" if self.option else name

    @property
    def better(self) -> str | None:
        return METRICS.get(self.metric, ("", None))[1]

    @property
    def where(self) -> str:
        """The protocol in words: its feature network and sample count."""
        return self.protocol + (f", {self.n} samples" if self.n else "")


def parse_metric_key(key: str) -> MetricKey | None:
    """``fid/digits-classifier-v1/200`` -> MetricKey; None for a key that is not a protocol metric."""
    parts = key.split("/")
    if len(parts) < 2 or not parts[0] or not parts[1]:
        return None
    n = parts[2] if len(parts) > 2 and re.fullmatch(r"\d+k?", parts[2]) else None
    if n is not None and n.isdigit():
        n = f"{int(n):,}"
    option = "/".join(parts[3:] if n is not None else parts[2:])
    return MetricKey(parts[0], parts[1], n, option)


def better_of(name: str) -> str | None:
    """Which way is better for a plain metric name or a protocol key (None when neither)."""
    key = parse_metric_key(name)
    return key.better if key else METRICS.get(name, ("", None))[1]


def label_of(name: str) -> str:
    key = parse_metric_key(name)
    return key.label if key else METRICS.get(name, (words(name), None))[0]


def words(key: str) -> str:
    """``params_vs_largest`` -> ``params vs largest``."""
    return re.sub(r"[_\-]+", " ", key).strip()


def number(x: Any, digits: int = 3) -> str:
    """Sensible rounding: integers with thousands separators, floats to ``digits`` significant digits (at least
    the units), never trailing zeros such as ``70.1000``."""
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    if not isinstance(x, float):
        return str(x)
    if math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    mag = math.floor(math.log10(abs(x)))
    decimals = max(0, digits - 1 - mag)
    text = f"{x:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def si(x: float, unit: str = "") -> str:
    """1234567 -> ``1.23 M`` (k, M, G, T), with ``unit`` after the prefix."""
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= factor:
            return f"{number(x / factor)} {prefix}{unit}".rstrip()
    return f"{number(float(x))} {unit}".rstrip()


def ratio(x: float) -> str:
    """A ratio as ``21.3x``."""
    return f"{number(float(x))}x"


def seconds(x: float) -> str:
    """Wall time: ``42 s``, ``3 min 20 s``, ``1 h 5 min``."""
    if x < 60:
        return f"{number(float(x))} s"
    m, s = divmod(int(round(x)), 60)
    if m < 60:
        return f"{m} min {s} s"
    h, m = divmod(m, 60)
    return f"{h} h {m} min"
