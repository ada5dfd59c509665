"""Evaluation under the shipped protocol: sanity of FID scales, names, class coverage, exact toy metrics."""
import pytest
import torch

from conftest import needs_fmnist
from gantransfer.config import EvalConfig
from gantransfer.data import load_dataset
from gantransfer.metrics.classifier import extract, load_classifier
from gantransfer.metrics.evaluate import evaluate, image_metrics, reference_for
from gantransfer.metrics.fid import fid_from_features
from gantransfer.models.config import GeneratorConfig, build_generator
from gantransfer.models.store import save_generator


def test_shipped_classifier_meets_its_accuracy_bar():
    clf = load_classifier("fashion-mnist")
    assert clf.cfg.protocol == "fashion-mnist-classifier-v1"
    assert clf.cfg.meta["test_accuracy"] >= 0.92
    assert not clf.training and not any(p.requires_grad for p in clf.parameters())


@needs_fmnist
def test_shipped_reference_matches_real_test_split():
    clf = load_classifier("fashion-mnist")
    test = load_dataset("fashion-mnist", "test", limit=500, seed=0)
    feats, probs = extract(clf, test.as_float())
    ref = reference_for("fashion-mnist", None)
    idx = torch.randperm(10000, generator=torch.Generator().manual_seed(0))[:500].sort().values
    assert torch.allclose(feats, ref["features"][idx], atol=2e-2, rtol=1e-2)  # stored as float16
    assert (probs.argmax(1) == test.y).float().mean() > 0.88


@pytest.mark.slow
@needs_fmnist
def test_fid_real_vs_real_is_far_below_real_vs_weak_generator():
    clf = load_classifier("fashion-mnist")
    train = load_dataset("fashion-mnist", "train", limit=3000, seed=0)
    test = load_dataset("fashion-mnist", "test", limit=3000, seed=0)
    f_train, _ = extract(clf, train.as_float())
    f_test, _ = extract(clf, test.as_float())
    cfg = GeneratorConfig(width=0.25)
    torch.manual_seed(0)
    g = build_generator(cfg).eval()
    with torch.no_grad():
        fake = g(torch.randn(3000, cfg.latent_dim))
    f_fake, _ = extract(clf, fake)
    real_real, real_fake = fid_from_features(f_train, f_test), fid_from_features(f_fake, f_test)
    assert real_real < 0.05 * real_fake


@pytest.mark.slow
def test_eval_names_every_figure_by_protocol(tmp_path):
    cfg = GeneratorConfig(width=0.125, dataset="fashion-mnist", class_names=[str(i) for i in range(10)])
    save_generator(build_generator(cfg), cfg, tmp_path / "g")
    res = evaluate(EvalConfig(generator=str(tmp_path / "g"), n=600, device="cpu"))
    tag = "fashion-mnist-classifier-v1/600"
    for name in ("fid", "kid", "kid_std", "classes_covered", "confidence", "class_share_tv"):
        assert f"{name}/{tag}" in res["metrics"]
    for name in ("precision", "recall", "density", "coverage"):
        assert f"{name}/{tag}/k5" in res["metrics"]
    assert sum(res["class_shares"].values()) == pytest.approx(1.0, abs=1e-3)
    again = evaluate(EvalConfig(generator=str(tmp_path / "g"), n=600, device="cpu"))
    assert again["metrics"] == res["metrics"]


@needs_fmnist
def test_class_coverage_counts_missing_classes():
    clf = load_classifier("fashion-mnist")
    ref = reference_for("fashion-mnist", [0, 1, 2])
    assert set(ref["labels"].tolist()) == {0, 1, 2}
    # real images of class 1 only, against a 3-class reference: 1 class covered out of 3 expected
    ones = load_dataset("fashion-mnist", "test", classes=[1], limit=300).as_float()
    res = image_metrics(ones, clf, ref, [str(i) for i in range(10)], "t")
    assert res["metrics"]["classes_covered/t"] == 1 and res["classes_expected"] == 3
    assert res["class_shares"]["1"] > 0.9


def test_toy_eval_is_exact(tmp_path):
    cfg = GeneratorConfig(arch="mlp", latent_dim=2, resolution=0, channels=2, dataset="ring8")
    save_generator(build_generator(cfg), cfg, tmp_path / "g")
    res = evaluate(EvalConfig(generator=str(tmp_path / "g"), n=1000, device="cpu"))
    assert res["protocol"] == "ring8-exact"
    assert res["metrics"]["num_modes/ring8-exact/1k"] == 8
    assert 0 <= res["metrics"]["modes_covered/ring8-exact/1k"] <= 8
