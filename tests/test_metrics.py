"""Metrics against independent implementations (torchmetrics, brute force) and analytic cases."""
import json
import numpy as np
import pytest
import torch
from torch import nn

from gantransfer.metrics import (RunningStats, fid_from_features, frechet_distance, gaussian_stats,
                                 kernel_inception_distance, mixture_metrics, prdc)


class Identity(nn.Module):
    """A 'feature extractor' that passes features through, so torchmetrics sees our exact features."""

    def __init__(self, dim):
        super().__init__()
        self.num_features = dim

    def forward(self, x):
        return x


def features(n, d, shift=0.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(d, d, generator=g) / d ** 0.5
    return (torch.randn(n, d, generator=g) @ a + shift).float()


def test_fid_matches_torchmetrics():
    from torchmetrics.image.fid import FrechetInceptionDistance
    a, b = features(2000, 64, seed=1), features(2000, 64, shift=0.3, seed=2)
    tm = FrechetInceptionDistance(feature=Identity(64), normalize=False)
    tm.update(a, real=True)
    tm.update(b, real=False)
    ours = fid_from_features(a, b)
    assert ours > 1.0
    assert abs(ours - float(tm.compute())) / ours < 1e-3


def sqrtm_psd(m):
    w, v = np.linalg.eigh(m)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


@pytest.mark.parametrize("diagonal", [True, False])
def test_fid_closed_form_two_gaussians(diagonal):
    rng = np.random.default_rng(0)
    d = 16
    m1, m2 = rng.normal(size=d), rng.normal(size=d)
    if diagonal:
        s1, s2 = np.diag(rng.uniform(0.5, 2, d)), np.diag(rng.uniform(0.5, 2, d))
        expected = ((m1 - m2) ** 2).sum() + np.sum((np.sqrt(np.diag(s1)) - np.sqrt(np.diag(s2))) ** 2)
    else:
        a, b = rng.normal(size=(d, d)), rng.normal(size=(d, d))
        s1, s2 = a @ a.T + 0.1 * np.eye(d), b @ b.T + 0.1 * np.eye(d)
        r1 = sqrtm_psd(s1)
        expected = ((m1 - m2) ** 2).sum() + np.trace(s1 + s2 - 2 * sqrtm_psd(r1 @ s2 @ r1))
    t = lambda x: torch.tensor(x, dtype=torch.float64)
    assert frechet_distance(t(m1), t(s1), t(m2), t(s2)) == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_fid_identity_order_and_float64():
    a = features(3000, 32)
    mu, sigma = gaussian_stats(a)
    assert mu.dtype == torch.float64 and sigma.dtype == torch.float64
    assert abs(fid_from_features(a, a)) < 1e-8
    b = features(3000, 32, shift=0.2, seed=3)
    perm = torch.randperm(len(b), generator=torch.Generator().manual_seed(0))
    assert fid_from_features(a, b) == pytest.approx(fid_from_features(a[perm.flip(0)], b[perm]), rel=1e-10)
    with pytest.raises(ValueError, match="do not match"):
        frechet_distance(mu, sigma, mu[:3], sigma[:3, :3])


def test_running_stats_equal_batch_stats():
    a = features(1000, 8)
    rs = RunningStats(8)
    for chunk in a.split(128):
        rs.update(chunk)
    mu, sigma = rs.stats()
    mu2, sigma2 = gaussian_stats(a)
    assert torch.allclose(mu, mu2, atol=1e-10) and torch.allclose(sigma, sigma2, atol=1e-9)


def test_kid_matches_torchmetrics_on_one_full_subset():
    from torchmetrics.image.kid import KernelInceptionDistance
    a, b = features(300, 16, seed=4), features(300, 16, shift=0.5, seed=5)
    tm = KernelInceptionDistance(feature=Identity(16), subsets=1, subset_size=300, normalize=False)
    tm.update(a, real=True)
    tm.update(b, real=False)
    ours, _ = kernel_inception_distance(a, b, subsets=1, subset_size=300)
    assert ours > 0
    assert abs(ours - float(tm.compute()[0])) / ours < 1e-3


def test_kid_near_zero_for_same_distribution():
    a, b = features(2000, 16, seed=6), features(2000, 16, seed=6)
    c = features(2000, 16, shift=0.5, seed=7)
    same, _ = kernel_inception_distance(a, b[torch.randperm(2000)], subsets=20, subset_size=500)
    diff, _ = kernel_inception_distance(a, c, subsets=20, subset_size=500)
    assert abs(same) < 0.05 * diff


def brute_prdc(real, fake, k):
    real, fake = real.double().numpy(), fake.double().numpy()
    d_rr = ((real[:, None] - real[None]) ** 2).sum(-1)
    d_ff = ((fake[:, None] - fake[None]) ** 2).sum(-1)
    d_rf = ((real[:, None] - fake[None]) ** 2).sum(-1)
    r_real = np.sort(d_rr, 1)[:, k]
    r_fake = np.sort(d_ff, 1)[:, k]
    inside = d_rf <= r_real[:, None]
    return {"precision": inside.any(0).mean(), "recall": (d_rf <= r_fake[None]).any(1).mean(),
            "density": inside.sum(0).mean() / k, "coverage": inside.any(1).mean()}


def test_prdc_matches_brute_force_and_is_order_invariant():
    real, fake = features(300, 8, seed=8), features(250, 8, shift=0.4, seed=9)
    ours = prdc(real, fake, k=5, chunk=64)
    ref = brute_prdc(real, fake, 5)
    for key in ref:
        assert ours[key] == pytest.approx(ref[key], abs=1e-6), key
    shuffled = prdc(real.flip(0), fake[torch.randperm(250)], k=5, chunk=100)
    assert shuffled == pytest.approx(ours, abs=1e-12)
    same = prdc(real, real.clone(), k=5)
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0


def test_mixture_metrics_exact_and_collapsed():
    from gantransfer.data.toy import mixture_spec
    centers, std = mixture_spec("ring8")
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(8, (8000,), generator=g)
    good = centers[labels] + std * torch.randn(8000, 2, generator=g)
    m = mixture_metrics(good, centers, std)
    assert m["modes_covered"] == 8 and m["hq_share"] > 0.98 and m["mode_share_tv"] < 0.05
    collapsed = centers[3] + std * torch.randn(8000, 2, generator=g)
    m = mixture_metrics(collapsed, centers, std)
    assert m["modes_covered"] == 1 and m["mode_share_tv"] > 0.8


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
