"""The per-step snapshot every export, grid and evaluation uses: batch norm re-estimated for noise-to-image
generators (after weight averaging), kept as trained for translators (their statistics come from real inputs)."""
import torch

from gantransfer.models.config import GeneratorConfig, build_generator
from gantransfer.models.sampling import RecalibratedSnapshot


def _norms(g):
    return [m for m in g.modules() if isinstance(m, torch.nn.BatchNorm2d)]


def test_a_translators_batch_norm_keeps_the_statistics_of_its_inputs():
    cfg = GeneratorConfig(arch="unet", latent_dim=0, input_channels=1, channels=1, resolution=32,
                          options={"ngf": 4, "num_downs": 5, "norm": "batch"})
    torch.manual_seed(0)
    g = build_generator(cfg).train()
    with torch.no_grad():
        for _ in range(20):  # inputs far from uniform noise: a bright constant with small variation
            g(0.8 + 0.05 * torch.randn(8, 1, 32, 32))
    trained = [m.running_mean.clone() for m in _norms(g)]
    assert trained
    snap = RecalibratedSnapshot(lambda: g, cfg).at(1)
    assert snap is not g and not snap.training
    for m, before in zip(_norms(snap), trained):
        assert torch.equal(m.running_mean, before)


def test_a_noise_generators_batch_norm_is_recalibrated_on_its_own_samples():
    cfg = GeneratorConfig(arch="dcgan", latent_dim=8, resolution=16, channels=1, width=0.25)
    torch.manual_seed(0)
    g = build_generator(cfg)
    for m in _norms(g):
        m.running_mean.fill_(5.0)  # stale statistics, as after weight averaging
    snap = RecalibratedSnapshot(lambda: g, cfg).at(1)
    assert all(not torch.allclose(m.running_mean, torch.full_like(m.running_mean, 5.0)) for m in _norms(snap))
    assert all(torch.all(m.running_mean == 5.0) for m in _norms(g))  # the live generator is untouched
