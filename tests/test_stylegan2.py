"""The stylegan2 family: ops, calling convention, noise modes, truncation, training extras, exact resume."""
import json

import pytest
import torch
import torch.nn.functional as F

from gantransfer.cli import main
from gantransfer.config import TrainConfig
from gantransfer.errors import ConfigError
from gantransfer.models import stylegan2_ops as ops
from gantransfer.models.config import GeneratorConfig, build_discriminator, build_generator
from gantransfer.tasks.train import train

TINY = {"w_dim": 16, "mapping_layers": 2, "channel_max": 8}


def tiny(resolution=16, num_classes=0, channels=3, **options):
    cfg = GeneratorConfig(arch="stylegan2", latent_dim=12, resolution=resolution, channels=channels,
                          width=1 / 16, num_classes=num_classes, options={**TINY, **options})
    torch.manual_seed(0)
    g = build_generator(cfg).eval()
    with torch.no_grad():  # non-zero noise strengths and biases so that every path matters
        for name, p in g.named_parameters():
            if name.endswith(("noise_strength", "bias")):
                p.add_(0.3 * torch.randn_like(p))
    return g, cfg


def reference_upfirdn(x, taps, up, down, pad, gain):
    """Zero insertion, padding, 2-D true convolution, decimation: the textbook definition."""
    f = torch.tensor(taps, dtype=torch.float32)
    f2 = torch.outer(f, f) / f.sum() ** 2 * gain
    n, c, h, w = x.shape
    u = torch.zeros(n, c, h * up, w * up)
    u[:, :, ::up, ::up] = x
    x0, x1, y0, y1 = pad
    u = F.pad(u, [max(x0, 0), max(x1, 0), max(y0, 0), max(y1, 0)])
    u = u[:, :, max(-y0, 0):u.shape[2] - max(-y1, 0), max(-x0, 0):u.shape[3] - max(-x1, 0)]
    y = F.conv2d(u, f2.flip(0, 1).expand(c, 1, *f2.shape).contiguous(), groups=c)
    return y[:, :, ::down, ::down]


@pytest.mark.parametrize("up,down,pad,gain", [(2, 1, (2, 1, 2, 1), 4), (1, 2, (1, 1, 1, 1), 1),
                                              (1, 1, (2, 2, 2, 2), 1), (2, 1, (0, -1, 1, 0), 4),
                                              (1, 1, (-1, 2, 0, -1), 1), (2, 2, (1, 2, 1, 2), 4)])
def test_upfirdn2d_matches_the_textbook_definition(up, down, pad, gain):
    x = torch.randn(2, 3, 7, 9, generator=torch.Generator().manual_seed(1))
    taps = [1, 3, 3, 1]
    got = ops.upfirdn2d(x, ops.setup_filter(taps), up, down, pad, gain)
    want = reference_upfirdn(x, taps, up, down, pad, gain)
    assert got.shape == want.shape
    assert (got - want).abs().max() < 1e-5


def test_asymmetric_filter_is_a_true_convolution():
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 2, 2] = 1
    got = ops.upfirdn2d(x, ops.setup_filter([1, 2]), padding=(1, 0, 1, 0))  # impulse response = the filter itself
    assert torch.allclose(got[0, 0, 2, 2:4], torch.tensor([1 / 9, 2 / 9]))


def test_fused_and_unfused_modulated_conv_agree():
    g = torch.Generator().manual_seed(2)
    x, w, s = torch.randn(3, 4, 8, 8, generator=g), torch.randn(5, 4, 3, 3, generator=g), torch.randn(3, 4, generator=g)
    f = ops.setup_filter()
    for up in (1, 2):
        a = ops.modulated_conv2d(x, w, s, up=up, f=f, fused=True)
        b = ops.modulated_conv2d(x, w, s, up=up, f=f, fused=False)
        assert a.shape == (3, 5, 8 * up, 8 * up) and (a - b).abs().max() < 1e-5
    demod = ops.modulated_conv2d(x, w, s, fused=False)  # demodulation: unit-norm weights per output channel
    plain = F.conv2d(x * s[:, :, None, None], w, padding=1)
    ratio = (demod / plain)[:, :, 4, 4]
    want = (w[None] * s[:, None, :, None, None]).square().sum((2, 3, 4)).add(1e-8).rsqrt()
    assert torch.allclose(ratio, want, rtol=1e-4)


def test_bias_act_is_leaky_relu_times_sqrt2_with_clamp():
    x = torch.tensor([[-1.0, 0.5, 300.0]]).reshape(1, 3, 1, 1)
    y = ops.bias_act(x, torch.zeros(3), clamp=256).flatten()
    assert torch.allclose(y, torch.tensor([-0.2 * 2 ** 0.5, 0.5 * 2 ** 0.5, 256.0]))


def test_a_matching_discriminator_shares_the_generators_cap_clamp_and_mbstd_settings():
    """A fresh discriminator for a generator capped at 64 channels is capped at 64 too (it was 512: at width
    1/16 four times the generator's channels at 4-16 px), and takes the minibatch-stddev settings and clamp the
    generator's options hold (they were ignored); default settings leave the options empty, as before."""
    from gantransfer.models.config import discriminator_config_for
    small = GeneratorConfig(arch="stylegan2", resolution=32, channels=3, width=1 / 16,
                            options={"w_dim": 32, "mapping_layers": 2, "channel_max": 64})
    dcfg = discriminator_config_for(small, 1 / 16)
    assert dcfg.options == {"channel_max": 64}
    widest = max(m.weight.shape[0] for m in build_discriminator(small, 1 / 16).modules()
                 if isinstance(m, torch.nn.Module) and getattr(m, "weight", None) is not None
                 and m.weight.dim() == 4)
    assert widest == 64
    assert discriminator_config_for(GeneratorConfig(arch="stylegan2", resolution=32, channels=3)).options == {}
    nv = GeneratorConfig(arch="stylegan2", resolution=32, channels=3, width=1 / 16,
                         options={"w_dim": 32, "mapping_layers": 2, "mbstd_group": 8, "mbstd_channels": 2,
                                  "conv_clamp": 256})  # the options' minibatch-stddev settings are the D's
    d = build_discriminator(nv, 1 / 16)
    assert discriminator_config_for(nv).options == {"conv_clamp": 256.0, "mbstd_group": 8, "mbstd_channels": 2}
    assert (d.mbstd_group, d.mbstd_channels) == (8, 2)
    odd = GeneratorConfig(arch="stylegan2", resolution=32, channels=3, width=1 / 16,
                          options={"w_dim": 32, "mapping_layers": 2, "channel_max": 64, "mbstd_channels": 3})
    with pytest.raises(ConfigError, match="discriminator cannot be built: .*mbstd_channels 3 must divide the 64"):
        build_discriminator(odd, 1 / 16)  # one clear line (train exits 2), no traceback
    assert discriminator_config_for(GeneratorConfig(arch="dcgan", resolution=32, channels=1)).options == {}
    from gantransfer.models.config import DiscriminatorConfig
    with pytest.raises(ConfigError, match="dcgan discriminators take no options"):
        build_discriminator(DiscriminatorConfig(arch="dcgan", resolution=16, options={"channel_max": 8}))
    with pytest.raises(ConfigError, match="mlp discriminators take no options"):
        build_discriminator(DiscriminatorConfig(arch="mlp", resolution=0, channels=2, options={"hidden": 8}))


@pytest.mark.slow
def test_calling_convention_noise_modes_and_truncation():
    g, cfg = tiny(32)
    z = torch.randn(4, 12, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        img = g(z, noise_mode="const")
        assert img.shape == (4, 3, 32, 32)
        assert torch.equal(img, g(z, noise_mode="const"))                         # stored buffers: deterministic
        assert torch.equal(g(z), g(z)) and not torch.allclose(g(z), img)           # eval: seeded from W
        state = torch.get_rng_state()
        g(z)
        assert torch.equal(torch.get_rng_state(), state)                          # global RNG untouched
        g.train()
        assert not torch.equal(g(z, noise_mode="random"), g(z, noise_mode="random"))
        g.eval()
        assert not torch.allclose(img, g(z, noise_mode="none"))
        ws = g.mapping(z, None)
        assert ws.shape == (4, g.num_ws, 16) and g.num_ws == 2 * 4
        assert torch.equal(g.synthesis(ws, noise_mode="const"), img)              # W-space round trip
        g.mapping.w_avg.copy_(torch.randn(16))
        centre = g.synthesis(g.mapping.w_avg.expand(4, g.num_ws, 16), noise_mode="none")
        assert torch.allclose(g(z, truncation_psi=0.0, noise_mode="none"), centre, atol=1e-6)
        half = g.mapping(z, None, truncation_psi=0.5)
        assert torch.allclose(half, g.mapping.w_avg + 0.5 * (ws - g.mapping.w_avg), atol=1e-6)
    with pytest.raises(ConfigError, match="unknown noise mode 'fresh'"):
        g(z, noise_mode="fresh")


def test_conditional_generator_and_discriminator_use_labels():
    g, cfg = tiny(16, num_classes=3, channels=1)
    d = build_discriminator(cfg)
    z = torch.randn(4, 12)
    with torch.no_grad():
        a, b = g(z, torch.zeros(4, dtype=torch.long), noise_mode="none"), g(z, torch.ones(4, dtype=torch.long), noise_mode="none")
        assert a.shape == (4, 1, 16, 16) and not torch.allclose(a, b)
        onehot = g(z, F.one_hot(torch.ones(4, dtype=torch.long), 3).float(), noise_mode="none")
        assert torch.allclose(onehot, b)
        assert d(a, torch.zeros(4, dtype=torch.long)).shape == (4,)
    with pytest.raises(ConfigError, match="pass labels"):
        g(z)


def test_channel_plan_multiplier_cap_and_sizes():
    from gantransfer.models.stylegan2 import channels_at
    assert [channels_at(r, 1.0) for r in (4, 32, 64, 256, 1024)] == [512, 512, 256, 64, 16]   # rosinality cm=1
    assert [channels_at(r, 2.0) for r in (4, 64, 256, 1024)] == [512, 512, 128, 32]           # cm=2
    assert channels_at(64, 0.25, channel_max=32) == 32
    for bad in (8, 48, 2048):
        with pytest.raises(ValueError, match="power of two between 16 and 1024"):
            GeneratorConfig(arch="stylegan2", resolution=bad, channels=3).family.validate(
                GeneratorConfig(arch="stylegan2", resolution=bad, channels=3))


@pytest.mark.slow
def test_feature_taps_and_discriminator_blocks():
    g, cfg = tiny(32)
    img, feats = g.forward_features(torch.randn(2, 12))
    assert [f.shape[-1] for f in feats] == cfg.family.feature_resolutions(cfg) == [4, 8, 16]
    d = build_discriminator(cfg)
    assert [f.shape[-1] for f in d.features(img)] == [16, 8, 4] and len(d.blocks) == 3
    assert d(torch.randn(6, 3, 32, 32)).shape == (6,)  # batch 6: minibatch-stddev group falls back to 3


def test_style_mixing_switches_ws_at_one_layer():
    g, _ = tiny(16)
    z1, z2 = torch.randn(2, 12), torch.randn(2, 12)
    torch.manual_seed(4)
    with torch.no_grad():
        ws = g.mixed_ws(z1, z2, None, prob=1.0)
        a, b = g.mapping(z1, None), g.mapping(z2, None)
    same_a = torch.isclose(ws, a).all(2)[0]
    same_b = torch.isclose(ws, b).all(2)[0]
    k = int(same_a.long().sum())
    assert 1 <= k < g.num_ws and same_a[:k].all() and same_b[k:].all()


SG2_TRAIN = dict(data="digits", arch="stylegan2", resolution=16, width=1 / 16, batch_size=8, limit=64, r1=1.0,
                 progress=False, checkpoint_every=2, sample_every=100, log_every=1, lr=2e-3)


def _weights(run):
    from safetensors.torch import load_file
    state = json.loads((run / "state" / "latest.json").read_text())
    return load_file(str(run / "state" / state["dir"] / "tensors.safetensors"))


@pytest.mark.slow
def test_training_runs_lazy_regularisers_and_resumes_bit_identically(tmp_path, monkeypatch):
    from gantransfer.models import stylegan2
    monkeypatch.setattr(stylegan2.StyleGAN2Options, "__init__", _small_defaults(stylegan2.StyleGAN2Options))
    full = train(TrainConfig(**SG2_TRAIN, steps=4, out=str(tmp_path / "a")))
    part = train(TrainConfig(**SG2_TRAIN, steps=2, out=str(tmp_path / "b")))
    train(TrainConfig(**SG2_TRAIN, steps=4, out=str(tmp_path / "b")), resume=True)
    a, b = _weights(full), _weights(part)
    assert a.keys() == b.keys() and "module.PL.pl_mean" in a
    for k in a:
        if not k.startswith("rng."):
            assert torch.equal(a[k], b[k]), k
    assert float(a["module.PL.pl_mean"]) > 0
    rows = [json.loads(r) for r in (full / "logs" / "metrics.jsonl").read_text().splitlines()]
    logged = {k for r in rows for k in r}
    assert {"loss/D/adv", "loss/G/adv", "loss/D_reg/r1", "loss/G_reg/pl"} <= logged
    r1 = {r["step"]: r["loss/D_reg/r1"] for r in rows if "loss/D_reg/r1" in r}
    assert r1[1] == r1[2] != r1[3]  # lazy: computed at steps 0 and 2 only (every r1_every = 2), the log carries it
    assert not torch.equal(a["module.G_ema.mapping.w_avg"], torch.zeros_like(a["module.G_ema.mapping.w_avg"]))


def _small_defaults(cls):
    original = cls.__init__

    def init(self, *args, **kw):
        original(self, *args, **{**dict(w_dim=16, mapping_layers=2, channel_max=16, r1_every=2, pl_every=2), **kw})
    return init


def test_train_discriminator_follows_arch_options_unless_d_arch_options_say_otherwise(tmp_path, capsys):
    opts = json.dumps({"channel_max": 32, "w_dim": 16, "mapping_layers": 2})
    base = ["train", "--data", "digits", "--limit", "32", "--arch", "stylegan2", "--resolution", "16", "--width",
            "0.0625", "--arch-options", opts, "--steps", "1", "--batch-size", "8", "--no-progress"]
    assert main([*base, "--out", str(tmp_path / "a")]) == 0
    assert main([*base, "--d-arch-options", '{"channel_max": 512}', "--out", str(tmp_path / "b")]) == 0
    read = lambda run: json.loads((run / "discriminator" / "config.json").read_text())["options"]  # noqa: E731
    assert read(tmp_path / "a") == {"channel_max": 32} and read(tmp_path / "b") == {"channel_max": 512}
    capsys.readouterr()
    assert main([*base, "--d-arch-options", '{"channel_cap": 5}', "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "discriminator cannot be built" in err and "channel_cap" in err and "Traceback" not in err
    assert not (tmp_path / "c").exists()


def test_sample_flags(tmp_path, capsys, monkeypatch):
    from gantransfer.models.store import save_generator
    g, cfg = tiny(16)
    save_generator(g, cfg, tmp_path / "g")
    assert main(["sample", str(tmp_path / "g"), "--n", "4", "--truncation-psi", "0.5", "--noise-mode", "const",
                 "--out", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").is_file()
    assert main(["sample", str(tmp_path / "g"), "--truncation-psi", "1.5", "--out", str(tmp_path / "t.png")]) == 2
    assert "--truncation-psi must be in [0, 1]" in capsys.readouterr().err and not (tmp_path / "t.png").exists()
    with pytest.raises(SystemExit):
        main(["sample", str(tmp_path / "g"), "--noise-mode", "fresh"])


def test_lazy_regularisation_corrects_the_optimizers_as_stylegan2_does():
    from gantransfer.models.stylegan2_train import lazy_adam_correction
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=0.002, betas=(0.0, 0.99))
    lazy_adam_correction(opt, 16)
    group = opt.param_groups[0]
    assert group["lr"] == pytest.approx(0.002 * 16 / 17) and group["betas"] == pytest.approx((0.0, 0.99 ** (16 / 17)))


def test_the_polyphase_toRGB_upsampling_equals_the_general_upfirdn2d():
    from gantransfer.models.stylegan2_ops import setup_filter, upfirdn2d, upsample2d
    f = setup_filter()
    for shape in ((2, 3, 8, 8), (1, 1, 16, 4), (3, 16, 5, 7)):
        x = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
        general = upfirdn2d(x, f, up=2, padding=(2, 1, 2, 1), gain=4)
        assert general.shape[-2:] == (2 * shape[2], 2 * shape[3])
        assert torch.allclose(upsample2d(x, f), general, atol=1e-6)
