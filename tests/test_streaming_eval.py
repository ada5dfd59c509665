"""Streaming evaluation: ``FeatureAccumulator`` reduces batches to the figures the one-shot computation gives,
independently of batching, keeping only the first ``KID_PRDC_SAMPLES`` features for KID and PRDC."""
import pytest
import torch

import gantransfer.metrics.evaluate as ev
from gantransfer.metrics.classifier import assets_dir, extract, load_classifier
from gantransfer.metrics.evaluate import FeatureAccumulator, format_results, image_metrics, reference_for
from gantransfer.metrics.fid import frechet_distance, gaussian_stats
from gantransfer.metrics.kid import kernel_inception_distance
from gantransfer.metrics.prdc import prdc
from gantransfer.models.sampling import generate
from gantransfer.models.store import load_generator

STUDENT = assets_dir() / "students" / "fashion-mnist-dcgan-w0.125"


def one_shot(feats, probs, ref, names, tag, seed=0):
    """The evaluation as it was before streaming: every feature at once (the oracle)."""
    mu, sigma = gaussian_stats(feats)
    kid_mean, kid_std = kernel_inception_distance(ref["features"], feats, seed=seed)
    pr = prdc(ref["features"], feats, k=5)
    k = probs.shape[1]
    shares = torch.bincount(probs.argmax(1), minlength=k).double() / len(probs)
    ref_shares = torch.bincount(ref["labels"], minlength=k).double() / len(ref["labels"])
    expected = ref_shares > 0
    metrics = {
        f"fid/{tag}": frechet_distance(mu, sigma, ref["mu"], ref["sigma"]),
        f"kid/{tag}": kid_mean, f"kid_std/{tag}": kid_std,
        **{f"{name}/{tag}/k5": value for name, value in pr.items()},
        f"classes_covered/{tag}": int(((shares >= ev.COVERED_SHARE * ref_shares) & expected).sum()),
        f"class_share_tv/{tag}": float(0.5 * (shares - ref_shares).abs().sum()),
        f"confidence/{tag}": float(probs.max(1).values.mean()),
    }
    return {"metrics": metrics, "class_shares": {names[i]: round(float(shares[i]), 4) for i in range(k)},
            "classes_expected": int(expected.sum())}


def assert_same_figures(got, want, fid_rel=1e-9):
    """Every figure bit-identical, except FID (running sums against two passes) within ``fid_rel``."""
    assert got["metrics"].keys() == want["metrics"].keys()
    for key, value in want["metrics"].items():
        if key.startswith("fid/"):
            assert got["metrics"][key] == pytest.approx(value, rel=fid_rel, abs=0), key
        else:
            assert got["metrics"][key] == value, key
    assert got["class_shares"] == want["class_shares"]
    assert got["classes_expected"] == want["classes_expected"]


def random_case(n=900, d=16, k=5, n_ref=400, seed=0):
    gen = torch.Generator().manual_seed(seed)
    ref_feats = torch.randn(n_ref, d, generator=gen) * 2 + 3       # an offset mean, as real features have
    ref_labels = torch.randint(k - 1, (n_ref,), generator=gen)      # the last class never occurs in the reference
    mu, sigma = gaussian_stats(ref_feats)
    ref = {"features": ref_feats, "labels": ref_labels, "mu": mu, "sigma": sigma}
    feats = torch.randn(n, d, generator=gen) * 1.8 + 3.2
    probs = (torch.randn(n, k, generator=gen) * 2).softmax(1)
    return ref, feats, probs, [f"c{i}" for i in range(k)]


def feed(acc, feats, probs, sizes):
    i = 0
    for size in sizes:
        acc.add(feats[i:i + size], probs[i:i + size])
        i += size
    assert i == len(feats)


@pytest.mark.slow
def test_streaming_equals_one_shot_on_random_features():
    ref, feats, probs, names = random_case()
    acc = FeatureAccumulator(None, ref, names, "t", seed=3)
    feed(acc, feats, probs, [1, 2, 97, 300, 500])
    res = acc.result()
    assert_same_figures(res, one_shot(feats, probs, ref, names, "t", seed=3))
    assert res["kid_prdc_samples"] == 900 and acc.n == 900 and acc.held == 900
    mu, sigma = acc.stats.stats()
    mu1, sigma1 = gaussian_stats(feats)
    assert torch.allclose(mu, mu1, rtol=0, atol=1e-12) and torch.allclose(sigma, sigma1, rtol=0, atol=1e-12)


@pytest.mark.slow
def test_batching_of_features_does_not_change_the_figures():
    ref, feats, probs, names = random_case(n=700, seed=1)
    results = []
    for sizes in ([700], [350, 350], [1] * 10 + [690], [123, 456, 121]):
        acc = FeatureAccumulator(None, ref, names, "t", cap=250)  # capped: the running confidence too
        feed(acc, feats, probs, sizes)
        results.append(acc.result())
    for r in results[1:]:
        assert r["metrics"].keys() == results[0]["metrics"].keys()
        for key, value in results[0]["metrics"].items():
            assert r["metrics"][key] == pytest.approx(value, rel=1e-12, abs=0) if key.startswith("fid/") \
                else r["metrics"][key] == value, key
        assert r["class_shares"] == results[0]["class_shares"]


@pytest.mark.slow
def test_cap_is_honoured_and_reported():
    ref, feats, probs, names = random_case(n=900, seed=2)
    acc = FeatureAccumulator(None, ref, names, "t", seed=5, cap=300)
    feed(acc, feats, probs, [250, 250, 250, 150])
    assert acc.held == 300 and sum(len(f) for f in acc._kept) == 300
    res = acc.result()
    assert res["kid_prdc_samples"] == 300
    m = res["metrics"]
    # KID and PRDC on exactly the first 300 samples, in order
    assert (m["kid/t"], m["kid_std/t"]) == kernel_inception_distance(ref["features"], feats[:300], seed=5)
    for name, value in prdc(ref["features"], feats[:300], k=5).items():
        assert m[f"{name}/t/k5"] == value
    # FID, class shares and confidence on all 900
    full = one_shot(feats, probs, ref, names, "t", seed=5)
    assert m["fid/t"] == pytest.approx(full["metrics"]["fid/t"], rel=1e-9, abs=0)
    assert res["class_shares"] == full["class_shares"]
    assert m["class_share_tv/t"] == full["metrics"]["class_share_tv/t"]
    assert m["classes_covered/t"] == full["metrics"]["classes_covered/t"]
    assert m["confidence/t"] == pytest.approx(float(probs.max(1).values.double().mean()), rel=1e-12)
    assert m["kid/t"] != full["metrics"]["kid/t"]  # the cap did take effect
    text = format_results({"generator": "g", "dataset": "d", "n": 900, "protocol": "p", "seconds": 0.1, **res})
    assert "first 300 of 900 samples" in text
    res_all = FeatureAccumulator(None, ref, names, "t", cap=900)
    feed(res_all, feats, probs, [900])
    text = format_results({"generator": "g", "dataset": "d", "n": 900, "protocol": "p", "seconds": 0.1,
                           **res_all.result()})
    assert "from all 900 samples" in text


@pytest.mark.slow
def test_image_batching_does_not_change_the_figures():
    clf = load_classifier("fashion-mnist")
    full = reference_for("fashion-mnist", None)
    small = full["features"][:600]
    mu, sigma = gaussian_stats(small)
    ref = {"features": small, "labels": full["labels"][:600], "mu": mu, "sigma": sigma}
    images = torch.rand(800, 1, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    names = clf.cfg.meta.get("class_names") or [str(i) for i in range(10)]
    results = []
    for size in (800, 333, 97):
        acc = FeatureAccumulator(clf, ref, names, "t")
        for i in range(0, len(images), size):
            acc.update(images[i:i + size])
        assert acc._pending_n == 800 % 500
        results.append(acc.result())
        assert acc.n == 800 and acc._pending_n == 0
    for r in results[1:]:
        assert r == results[0]  # classifier passes of 500 aligned to the stream: bit for bit
    assert image_metrics(images, clf, ref, names, "t") == results[0]
    feats, probs = extract(clf, images)
    assert_same_figures(results[0], one_shot(feats, probs, ref, names, "t"))


@pytest.mark.slow
def test_evaluate_generator_holds_no_more_than_cap_features(monkeypatch):
    cap, n = 300, 600  # batches of 150 images, classifier passes of 500: the cap falls inside the first pass
    monkeypatch.setattr(ev, "KID_PRDC_SAMPLES", cap)
    held, fakes, batch = [], [], [150]
    update = FeatureAccumulator.update

    def watched_update(self, images):
        assert len(images) <= batch[0]
        update(self, images)
        held.append(self.held)
        assert sum(len(f) for f in self._kept) == self.held <= cap
        assert self._pending_n < self.chunk  # at most one classifier pass of images waits

    def watched(fn):
        def wrapper(real, fake, **kw):
            fakes.append(len(fake))
            return fn(real, fake, **kw)
        return wrapper

    monkeypatch.setattr(FeatureAccumulator, "update", watched_update)
    monkeypatch.setattr(ev, "kernel_inception_distance", watched(kernel_inception_distance))
    monkeypatch.setattr(ev, "prdc", watched(prdc))
    g, gcfg = load_generator(STUDENT)
    res = ev.evaluate_generator(g, gcfg, "fashion-mnist", n, seed=0, batch_size=batch[0],
                                protocols=["fashion-mnist-classifier-v1"])  # one accumulator watched
    assert held == [0, 0, 0, cap] and fakes == [cap, cap]
    assert res["kid_prdc_samples"] == cap and res["n"] == n
    assert "first 300 of 600 samples" in format_results({"generator": "g", "seconds": 0, **res})
    # FID and class shares over all n images: the one-shot figures of the same images
    images, _ = generate(g, gcfg, n, seed=0, batch_size=150)
    clf = load_classifier("fashion-mnist")
    feats, probs = extract(clf, images)
    names = clf.cfg.meta.get("class_names") or gcfg.class_names
    want = one_shot(feats, probs, reference_for("fashion-mnist", None), names, "x")
    tag = "fashion-mnist-classifier-v1/600"
    assert res["metrics"][f"fid/{tag}"] == pytest.approx(want["metrics"]["fid/x"], rel=1e-9, abs=0)
    assert res["class_shares"] == want["class_shares"]
    assert res["metrics"][f"confidence/{tag}"] == pytest.approx(float(probs.max(1).values.double().mean()), rel=1e-6)
    # the generation batch does not change the figures either
    batch[0] = n
    other = ev.evaluate_generator(g, gcfg, "fashion-mnist", n, seed=0, batch_size=batch[0])
    assert other["kid_prdc_samples"] == cap
    for key, value in res["metrics"].items():
        assert other["metrics"][key] == pytest.approx(value, rel=1e-6), key
