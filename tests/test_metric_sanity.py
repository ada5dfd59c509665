"""The metric sanity battery, for every shipped protocol (``shipped_protocols``: a protocol added later is covered
too) on real images of its own data set (skipped where the data set is absent), up to 600 reference and 300
sample images: known degradations move every figure the right way and in the order of their severity.

Where a figure does not, the test asserts what is true (figures: ``benchmarks/results/metric_sanity.json``,
discussed in docs/metrics.md): the fidelity figures (precision, density, confidence) fall with blur and noise but
can rebound at the strongest blur, where images melt into one class (digits: precision 0.24 -> 0.79 from 1 to 2
native px); precision and density do not fall under collapse or dropped classes; FID cannot see exact copies of
training images (the memorisation check can); the zero padding 28 -> 32 is not invisible to any protocol. On the
150-image digits sets (and for the judges) the mildest level may sit within 0.02 of the floor in recall, coverage
and the fidelity figures (the mnist-5k judge's confidence: 0.9451 at the floor and at blur 0.5; the digits judge's
recall 0.92 -> 0.93 at the mildest collapse).
"""
import pytest
import torch

from gantransfer.errors import DataError
from gantransfer.metrics.reference_stats import shipped_protocols
from gantransfer.metrics.sanity import BLUR_SIGMAS, DISTINCT, DROPPED, NOISE_STDS, battery

pytestmark = pytest.mark.slow  # scores degraded real images under every shipped protocol

PROTOCOLS = shipped_protocols()
REFERENCE, SAMPLES = 600, 300
HIGHER_IS_WORSE = ("fid", "kid")
DIVERSITY = ("recall", "coverage")
FIDELITY = ("precision", "density", "confidence")
MILD = 0.02  # how far above the floor the mildest level's recall/coverage may sit (sampling noise of small sets)


@pytest.fixture(scope="module", params=sorted(PROTOCOLS))
def figures(request):
    torch.set_num_threads(2)
    try:
        return battery(PROTOCOLS[request.param], max_reference=REFERENCE, max_samples=SAMPLES)
    except DataError as e:
        pytest.skip(f"{request.param}: its data set is not available ({e})")


def levels(fig, group, keys, metric):
    return [fig["floor"][metric]] + [fig[group][str(k)][metric] for k in keys]


def ordered(values, up: bool) -> bool:
    """Strictly increasing (``up``) or decreasing; two equal values are allowed only at 0 (a figure saturated)."""
    return all((b > a) if up else (b < a or a == b == 0) for a, b in zip(values, values[1:]))


def check(bad: list, ok: bool, what: str, values) -> None:
    if not ok:
        bad.append(f"{what}: {[round(v, 4) for v in values]}")


@pytest.mark.parametrize("group,keys", [("blur", BLUR_SIGMAS), ("noise", NOISE_STDS)])
def test_blur_and_noise_worsen_every_figure_in_order(figures, group, keys):
    bad: list[str] = []
    for m in HIGHER_IS_WORSE:
        check(bad, ordered(levels(figures, group, keys, m), up=True), m, levels(figures, group, keys, m))
    for m in DIVERSITY:
        v = levels(figures, group, keys, m)
        check(bad, v[1] <= v[0] + MILD and ordered(v[1:], up=False) and v[-1] < v[0], m, v)
    for m in FIDELITY:  # fall in order up to the middle level; the strongest stays below the floor
        v = levels(figures, group, keys, m)
        check(bad, v[1] <= v[0] + MILD and v[2] < v[1] and v[-1] < v[0], m, v)
    covered = levels(figures, group, keys, "classes_covered")
    check(bad, covered == sorted(covered, reverse=True), "classes_covered", covered)
    tv = levels(figures, group, keys, "class_share_tv")
    check(bad, tv[-1] > tv[0] + 0.05, "class_share_tv", tv)  # moves once the damage is severe: not a graded measure
    assert not bad, bad


def test_collapse_onto_few_images(figures):
    bad: list[str] = []
    for m in HIGHER_IS_WORSE:
        v = levels(figures, "distinct", DISTINCT, m)
        check(bad, ordered(v, up=True), m, v)
    cov = levels(figures, "distinct", DISTINCT, "coverage")
    check(bad, ordered(cov, up=False), "coverage", cov)
    recall = levels(figures, "distinct", DISTINCT, "recall")
    check(bad, recall[2] <= recall[1] < recall[0] + MILD and recall[2] < recall[0], "recall", recall)  # 0 once images repeat > k = 5 times
    # precision and density measure fidelity, not diversity: copies of real images keep them near the floor
    p = levels(figures, "distinct", DISTINCT, "precision")
    check(bad, min(p[1:]) >= 0.9 * p[0], "precision (stays)", p)
    d = levels(figures, "distinct", DISTINCT, "density")
    check(bad, d[1] >= 0.9 * d[0], "density (stays at 10 copies each)", d)
    covered = levels(figures, "distinct", DISTINCT, "classes_covered")
    check(bad, covered == sorted(covered, reverse=True), "classes_covered", covered)
    assert not bad, bad


def test_dropped_classes(figures):
    bad: list[str] = []
    for m in (*HIGHER_IS_WORSE, "class_share_tv"):
        check(bad, ordered(levels(figures, "dropped", DROPPED, m), up=True), m, levels(figures, "dropped", DROPPED, m))
    for m in ("recall", "coverage"):
        check(bad, ordered(levels(figures, "dropped", DROPPED, m), up=False), m,
              levels(figures, "dropped", DROPPED, m))
    for k in DROPPED:
        f = figures["dropped"][str(k)]
        check(bad, f["classes_covered"] == 10 - k, f"classes_covered, {k} dropped", [f["classes_covered"]])
        check(bad, abs(f["class_share_tv"] - k / 10) < 0.1, f"class_share_tv vs {k}/10", [f["class_share_tv"]])
        # precision and density do not see missing classes: every image is still a real one
        check(bad, f["precision"] > figures["floor"]["precision"] - 0.05, f"precision, {k} dropped", [f["precision"]])
        check(bad, f["density"] > 0.9 * figures["floor"]["density"], f"density, {k} dropped", [f["density"]])
    assert not bad, bad


def test_copies_of_training_images_score_as_real(figures):
    copies = figures["train_copies"]
    mildest = min(figures[g][str(k[0])]["fid"] for g, k in (("blur", BLUR_SIGMAS), ("noise", NOISE_STDS),
                                                           ("distinct", DISTINCT), ("dropped", DROPPED)))
    assert copies["fid"] < mildest  # FID cannot tell memorisation from generalisation ...
    assert copies["precision"] > 0.9 * figures["floor"]["precision"]
    assert copies["recall"] > 0.8 * figures["floor"]["recall"]
    assert copies["memorisation_memorised_share"] == 1.0  # ... the memorisation check can
    assert figures["held_out_memorisation"] <= 0.05


def test_invariances(figures):
    # uint8 quantisation: the same images dithered back to floats move FID by under 5% of the real-vs-real floor
    assert figures["quantisation_fid"] < 0.05 * figures["floor"]["fid"]
    if "padding_fid" in figures:
        # NOT insensitive: native 28 x 28 images resized by the classifier against the same images zero-padded to
        # 32 x 32 (the pipeline's framing, which generators learn) differ by several times the real-vs-real floor,
        # so stats of real images must be made in the generators' framing (``gantransfer stats`` does so for
        # built-in data sets, and ``eval`` warns when the sizes differ)
        assert figures["padding_fid"] > 3 * figures["floor"]["fid"]
