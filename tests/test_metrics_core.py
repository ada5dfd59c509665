"""FID, KID, PRDC, mixture and fidelity metrics against torchmetrics, closed forms and brute-force references."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scipy.linalg
import torch
from sklearn.neighbors import NearestNeighbors

from gantransfer.metrics.fid import RunningStats, fid_from_features, frechet_distance, gaussian_stats
from gantransfer.metrics.kid import kernel_inception_distance
from gantransfer.metrics.mixture import mixture_metrics
from gantransfer.metrics.prdc import prdc


pytestmark = pytest.mark.filterwarnings("ignore:Metric `Kernel Inception Distance` will save all extracted")


@pytest.fixture(autouse=True)
def _one_thread():
    """The test machine is shared: one intra-op thread avoids contention that makes small ops 30x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def feats(n: int, d: int, seed: int, shift: float = 0.0, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(d, d, generator=torch.Generator().manual_seed(1234)) / math.sqrt(d)
    return (torch.randn(n, d, generator=g) @ (torch.eye(d) + mix) + shift).to(dtype)


class Identity(torch.nn.Module):
    """A 'feature extractor' that returns its input, for torchmetrics' custom-feature path."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


# ---------------------------------------------------------------- FID

def test_fid_matches_torchmetrics():
    from torchmetrics.image.fid import FrechetInceptionDistance
    a, b = feats(2000, 64, seed=1), feats(2000, 64, seed=2, shift=0.3)
    tm = FrechetInceptionDistance(feature=Identity(64), normalize=False)
    for i in range(0, 2000, 500):
        tm.update(a[i:i + 500], real=True)
        tm.update(b[i:i + 500], real=False)
    ref = float(tm.compute())
    ours = fid_from_features(a, b)
    assert ours > 1.0
    assert abs(ours - ref) / ref < 1e-3


def _trace_sqrt_2x2(m: np.ndarray) -> float:
    # eigenvalues l1, l2 of a 2x2 PSD matrix: (sqrt l1 + sqrt l2)^2 = tr M + 2 sqrt(det M)
    return math.sqrt(np.trace(m) + 2 * math.sqrt(max(np.linalg.det(m), 0.0)))


def test_fid_closed_form_diagonal():
    mu1, mu2 = torch.tensor([0.0, 1.0, -2.0]), torch.tensor([1.0, 1.0, 0.5])
    a, b = torch.tensor([1.0, 4.0, 0.25]), torch.tensor([9.0, 1.0, 0.25])
    expected = float((mu1 - mu2).pow(2).sum() + (a + b - 2 * (a * b).sqrt()).sum())
    assert frechet_distance(mu1, torch.diag(a), mu2, torch.diag(b)) == pytest.approx(expected, rel=1e-12)


def test_fid_closed_form_non_diagonal():
    # commuting (shared eigenvectors) covariances in 5-D
    q, _ = torch.linalg.qr(torch.randn(5, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
    a = torch.tensor([3.0, 1.0, 0.5, 0.1, 2.0], dtype=torch.float64)
    b = torch.tensor([1.0, 1.0, 2.0, 0.4, 0.0], dtype=torch.float64)  # singular S2 on purpose
    s1, s2 = q @ torch.diag(a) @ q.T, q @ torch.diag(b) @ q.T
    mu1, mu2 = torch.zeros(5, dtype=torch.float64), torch.full((5,), 0.5, dtype=torch.float64)
    expected = float((mu1 - mu2).pow(2).sum() + (a + b - 2 * (a * b).sqrt()).sum())
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-10)

    # non-commuting 2x2: tr sqrt(S1^1/2 S2 S1^1/2) in closed form
    s1 = np.array([[2.0, 0.8], [0.8, 1.0]])
    s2 = np.array([[0.5, -0.3], [-0.3, 3.0]])
    r1 = np.real(scipy.linalg.sqrtm(s1))
    expected = np.trace(s1) + np.trace(s2) - 2 * _trace_sqrt_2x2(r1 @ s2 @ r1) + 1.0 ** 2 + 2.0 ** 2
    ours = frechet_distance(torch.tensor([0.0, 0.0]), torch.from_numpy(s1), torch.tensor([1.0, -2.0]),
                            torch.from_numpy(s2))
    assert ours == pytest.approx(expected, rel=1e-10)

    # general 16-D covariances against scipy's sqrtm
    g = torch.Generator().manual_seed(3)
    x1, x2 = torch.randn(16, 16, generator=g, dtype=torch.float64), torch.randn(16, 16, generator=g, dtype=torch.float64)
    s1, s2 = x1 @ x1.T, x2 @ x2.T
    r1 = np.real(scipy.linalg.sqrtm(s1.numpy()))
    expected = float(np.trace(s1.numpy() + s2.numpy()) - 2 * np.trace(np.real(scipy.linalg.sqrtm(r1 @ s2.numpy() @ r1))))
    zero = torch.zeros(16, dtype=torch.float64)
    assert frechet_distance(zero, s1, zero, s2) == pytest.approx(expected, rel=1e-8)


def test_fid_self_is_zero_and_order_invariant():
    a, b = feats(1500, 32, seed=4), feats(1500, 32, seed=5, shift=0.2)
    self_fid = fid_from_features(a, a)
    assert -1e-9 <= self_fid < 1e-8
    mu, sigma = gaussian_stats(a)
    assert -1e-9 <= frechet_distance(mu, sigma, mu, sigma) < 1e-8
    perm = torch.randperm(1500, generator=torch.Generator().manual_seed(0))
    assert fid_from_features(a[perm], b.flip(0)) == pytest.approx(fid_from_features(a, b), rel=1e-9)


def test_gaussian_stats_float64_and_unbiased():
    x = feats(500, 8, seed=6, dtype=torch.float32)
    mu, sigma = gaussian_stats(x)
    assert mu.dtype == sigma.dtype == torch.float64
    ref = np.cov(x.double().numpy(), rowvar=False, ddof=1)
    np.testing.assert_allclose(sigma.numpy(), ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(mu.numpy(), x.double().numpy().mean(0), rtol=1e-12)


def test_running_stats_equal_gaussian_stats():
    x = feats(1000, 8, seed=7, shift=1e4, dtype=torch.float32)  # large mean: the shifted sums keep precision
    rs = RunningStats(8)
    for batch in x.split(137):
        rs.update(batch)
    mu, sigma = gaussian_stats(x)
    assert rs.n == 1000 and rs.mean.dtype == torch.float64
    torch.testing.assert_close(rs.mean, mu, rtol=1e-12, atol=1e-9)
    torch.testing.assert_close(rs.cov, sigma, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(rs.stats()[1], sigma, rtol=1e-9, atol=1e-9)


def test_fid_errors():
    mu, sigma = torch.zeros(4), torch.eye(4)
    with pytest.raises(ValueError, match="statistics do not match"):
        frechet_distance(mu, sigma, torch.zeros(5), torch.eye(5))
    with pytest.raises(ValueError, match="statistics do not match"):
        frechet_distance(mu, torch.eye(3), mu, sigma)
    with pytest.raises(ValueError, match="feature dimensions differ"):
        fid_from_features(torch.randn(10, 3), torch.randn(10, 4))
    with pytest.raises(ValueError, match=r"shape \(N >= 2, D\)"):
        gaussian_stats(torch.randn(1, 3))
    with pytest.raises(ValueError, match="NaN or infinite"):
        gaussian_stats(torch.tensor([[0.0, float("nan")], [1.0, 2.0]]))
    rs = RunningStats(3)
    with pytest.raises(ValueError, match=r"shape \(B, 3\)"):
        rs.update(torch.randn(4, 2))
    rs.update(torch.randn(1, 3))
    with pytest.raises(ValueError, match="at least 2 samples"):
        rs.cov


# ---------------------------------------------------------------- KID

def test_kid_matches_torchmetrics_full_subset():
    from torchmetrics.image.kid import KernelInceptionDistance
    a, b = feats(600, 32, seed=8), feats(600, 32, seed=9, shift=0.3)
    tm = KernelInceptionDistance(feature=Identity(32), subsets=1, subset_size=600, normalize=False)
    tm.update(a, real=True)
    tm.update(b, real=False)
    ref_mean, _ = tm.compute()
    ours, std = kernel_inception_distance(a, b, subsets=1, subset_size=600)
    assert ours > 0 and std == 0.0
    assert abs(ours - float(ref_mean)) / abs(float(ref_mean)) < 1e-3
    # a full subset of a permutation is the same set: the estimator does not depend on the draw
    again, _ = kernel_inception_distance(a, b, subsets=3, subset_size=10_000, seed=5)
    assert again == pytest.approx(ours, rel=1e-9)


def test_kid_same_distribution_near_zero_and_reproducible():
    a, b = feats(1500, 16, seed=10), feats(1500, 16, seed=11)
    c = feats(1500, 16, seed=12, shift=0.5)
    same, _ = kernel_inception_distance(a, b, subsets=10, subset_size=500)
    diff, _ = kernel_inception_distance(a, c, subsets=10, subset_size=500)
    assert abs(same) < 0.05 * diff
    assert kernel_inception_distance(a, c, subsets=5, subset_size=300, seed=3) == \
        kernel_inception_distance(a, c, subsets=5, subset_size=300, seed=3)


def test_kid_errors():
    with pytest.raises(ValueError, match="at least 2 samples"):
        kernel_inception_distance(torch.randn(1, 4), torch.randn(10, 4))
    with pytest.raises(ValueError, match="feature dimensions differ"):
        kernel_inception_distance(torch.randn(10, 4), torch.randn(10, 5))
    with pytest.raises(ValueError, match="subsets must be"):
        kernel_inception_distance(torch.randn(10, 4), torch.randn(10, 4), subsets=0)


# ---------------------------------------------------------------- PRDC

def brute_prdc(real: torch.Tensor, fake: torch.Tensor, k: int) -> dict[str, float]:
    """Naeem et al.'s reference algorithm with exact pairwise distances and sklearn's k-NN."""
    r, f = real.double().numpy(), fake.double().numpy()
    # k + 1 neighbours: the query point itself is its own nearest neighbour at distance 0
    r_real = NearestNeighbors(n_neighbors=k + 1).fit(r).kneighbors(r)[0][:, k]
    r_fake = NearestNeighbors(n_neighbors=k + 1).fit(f).kneighbors(f)[0][:, k]
    d = np.sqrt(((r[:, None] - f[None]) ** 2).sum(-1))  # (N real, M fake)
    inside = d < r_real[:, None]
    return {"precision": float(inside.any(0).mean()), "recall": float((d < r_fake[None]).any(1).mean()),
            "density": float(inside.sum(0).mean() / k), "coverage": float((d.min(1) < r_real).mean())}


@pytest.mark.parametrize("k,chunk", [(5, 64), (3, 7), (10, 4096)])
def test_prdc_matches_brute_force(k, chunk):
    real, fake = feats(400, 8, seed=13), feats(300, 8, seed=14, shift=0.4, dtype=torch.float32)
    ours, ref = prdc(real, fake, k=k, chunk=chunk), brute_prdc(real, fake, k)
    assert set(ours) == {"precision", "recall", "density", "coverage"}
    for key in ref:
        assert ours[key] == pytest.approx(ref[key], abs=1e-6), key
    assert 0 < ours["precision"] < 1 and 0 < ours["coverage"] < 1


def test_prdc_identical_sets_and_order_invariance():
    real, fake = feats(500, 6, seed=15), feats(450, 6, seed=16, shift=0.3)
    same = prdc(real, real.clone(), k=5, chunk=100)
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0
    ours = prdc(real, fake, k=5, chunk=128)
    g = torch.Generator().manual_seed(1)
    shuffled = prdc(real[torch.randperm(500, generator=g)], fake[torch.randperm(450, generator=g)], k=5, chunk=33)
    assert shuffled == pytest.approx(ours, abs=1e-12)


def test_prdc_errors():
    with pytest.raises(ValueError, match="needs more than 5 samples"):
        prdc(torch.randn(5, 2), torch.randn(50, 2), k=5)
    with pytest.raises(ValueError, match="PRDC needs features"):
        prdc(torch.randn(50, 2), torch.randn(50, 3))


# ---------------------------------------------------------------- mixtures

def ring8() -> tuple[torch.Tensor, float]:
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    return 2.0 * torch.stack([angles.cos(), angles.sin()], 1), 0.02


def test_mixture_metrics_exact_samples():
    centers, std = ring8()
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(8, (8000,), generator=g)
    points = centers[labels] + std * torch.randn(8000, 2, generator=g, dtype=torch.float64)
    m = mixture_metrics(points.float(), centers, std)
    assert m["num_modes"] == 8 and m["modes_covered"] == 8
    assert m["hq_share"] > 0.98 and m["mode_share_tv"] < 0.05
    assert len(m["mode_shares"]) == 8 and sum(m["mode_shares"]) == pytest.approx(m["hq_share"])


def test_mixture_metrics_collapsed_and_low_quality():
    centers, std = ring8()
    g = torch.Generator().manual_seed(1)
    collapsed = centers[3] + std * torch.randn(4000, 2, generator=g, dtype=torch.float64)
    m = mixture_metrics(collapsed, centers, std)
    assert m["modes_covered"] == 1 and m["mode_shares"][3] == pytest.approx(m["hq_share"])
    assert m["mode_share_tv"] == pytest.approx(1 - 1 / 8)
    # half the samples at the origin, far from every centre: low quality, counted in no mode
    pts = torch.cat([collapsed, torch.zeros(4000, 2, dtype=torch.float64)])
    m = mixture_metrics(pts, centers, std)
    assert m["hq_share"] == pytest.approx(0.5, abs=0.01) and sum(m["mode_shares"]) == pytest.approx(m["hq_share"])
    assert mixture_metrics(torch.zeros(10, 2), centers, std)["mode_share_tv"] == 1.0
    with pytest.raises(ValueError, match="must share D"):
        mixture_metrics(torch.zeros(10, 3), centers, std)


def test_recompute_batchnorm_sets_the_exact_statistics_of_the_data():
    from gantransfer.metrics.classifier import ClassifierConfig, FeatureClassifier, recompute_batchnorm
    torch.manual_seed(0)
    model = FeatureClassifier(ClassifierConfig(dataset="t", num_classes=2, resolution=16, channels=1, widths=[4, 8]))
    for m in model.modules():  # stale statistics, as after fast training
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.fill_(5.0)
            m.running_var.fill_(0.01)
    x = torch.rand(1100, 1, 16, 16) * 2 - 1
    recompute_batchnorm(model, x, batch_size=500)  # three batches of unequal size
    assert not model.training
    conv, bn = model.body[0], model.body[1]
    with torch.no_grad():
        h = conv(x)
    assert torch.allclose(bn.running_mean, h.mean(dim=(0, 2, 3)), atol=1e-5)
    assert torch.allclose(bn.running_var, h.var(dim=(0, 2, 3)), rtol=0.02)
    assert bn.momentum == 0.1  # restored
    # the eval-mode output of the first block is then normalised over the data
    with torch.no_grad():
        out = bn(h)
    assert out.mean(dim=(0, 2, 3)).abs().max() < 1e-3


# ---------------------------------------------------------------- fidelity (PSNR, SSIM)

def test_fidelity_psnr_matches_its_definition():
    from gantransfer.metrics.fidelity import fidelity
    from gantransfer.models.config import GeneratorConfig
    cfg = GeneratorConfig(latent_dim=4, resolution=16)
    base = torch.nn.Sequential(torch.nn.Linear(4, 256), torch.nn.Tanh())
    teacher = lambda z, y: base(z).view(-1, 1, 16, 16)
    student = lambda z, y: (base(z).view(-1, 1, 16, 16) + 0.1).clamp(-1, 1)
    z = torch.randn(20, 4)
    res = fidelity(student, teacher, cfg, z, None, batch_size=7)
    with torch.no_grad():
        mse = (student(z, None) - teacher(z, None)).pow(2).flatten(1).mean(1)
    assert res["psnr"] == pytest.approx(float((10 * torch.log10(4 / mse)).mean()), rel=1e-5)
    same = fidelity(teacher, teacher, cfg, z, None)
    assert same["ssim"] == pytest.approx(1.0, abs=1e-5)
    from gantransfer.metrics.fidelity import PSNR_CEILING_DB  # identical images: the ceiling, valid JSON
    assert same["psnr"] == PSNR_CEILING_DB and json.loads(json.dumps(same, allow_nan=False)) == same
