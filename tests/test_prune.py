"""Pruned students: the channel-group mechanism, the importance criteria, SVS, and `distill --init`."""
import dataclasses
import json

import pytest
import torch

from gantransfer.errors import ConfigError
from gantransfer.models.importance import CRITERIA, channel_scores
from gantransfer.models.prune import copy_kept, group_sizes, groups_of, singular_value_scaling, top_channels
from gantransfer.models.config import GeneratorConfig, build_generator

TINY_SG2 = {"w_dim": 16, "mapping_layers": 2, "channel_base": 512, "channel_max": 32}


def dcgan(width=0.25, **kw):
    cfg = GeneratorConfig(arch="dcgan", latent_dim=8, resolution=16, channels=1, width=width, **kw)
    torch.manual_seed(0)
    g = build_generator(cfg).eval()
    with torch.no_grad():  # non-trivial batch-norm statistics
        for m in g.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    return g, cfg


def stylegan2(width=1 / 16):
    cfg = GeneratorConfig(arch="stylegan2", latent_dim=12, resolution=16, channels=3, width=width, options=TINY_SG2)
    torch.manual_seed(0)
    g = build_generator(cfg).eval()
    with torch.no_grad():
        for name, p in g.named_parameters():
            if name.endswith(("noise_strength", "bias")):
                p.add_(0.3 * torch.randn_like(p))
    return g, cfg


def prune_into(t, tcfg, scfg, criterion="magnitude", svs=False):
    s = build_generator(scfg).eval()
    groups = groups_of(tcfg.family, t)
    z = torch.randn(16, tcfg.latent_dim, generator=torch.Generator().manual_seed(1))
    keep = top_channels(channel_scores(criterion, t, groups, z, None), group_sizes(s, groups_of(scfg.family, s)))
    copy_kept(t, s, groups, keep, svs)
    return s, keep


@pytest.mark.parametrize("make", [dcgan, stylegan2])
@pytest.mark.parametrize("criterion", CRITERIA)
def test_keeping_every_channel_reproduces_the_teacher(make, criterion):
    t, cfg = make()
    s, keep = prune_into(t, cfg, cfg, criterion)
    assert all(torch.equal(idx, torch.arange(len(idx))) for idx in keep.values())
    z = torch.randn(4, cfg.latent_dim)
    with torch.no_grad():
        assert torch.allclose(s(z, noise_mode="const") if cfg.arch == "stylegan2" else s(z),
                              t(z, noise_mode="const") if cfg.arch == "stylegan2" else t(z), atol=1e-5)


def test_pruned_dcgan_computes_the_teachers_kept_channels():
    """The student's first block output is exactly the teacher's at the kept channels (same BN statistics)."""
    t, cfg = dcgan(width=0.5)
    scfg = dataclasses.replace(cfg, width=0.25)
    s, keep = prune_into(t, cfg, scfg, "activation")
    z = torch.randn(5, 8)
    with torch.no_grad():
        ft, fs = t.forward_features(z)[1], s.forward_features(z)[1]
    assert torch.allclose(fs[0], ft[0][:, keep["block0"]], atol=1e-6)
    assert fs[1].shape[1] == group_sizes(s, groups_of(scfg.family, s))["block1"]


def test_stylegan2_prune_keeps_mapping_and_compensates_torgb_gain():
    t, cfg = stylegan2(width=1 / 8)
    scfg = dataclasses.replace(cfg, width=1 / 16)
    s, keep = prune_into(t, cfg, scfg, "diversity")
    for a, b in zip(s.mapping.state_dict().values(), t.mapping.state_dict().values()):
        assert torch.equal(a, b)
    k4 = keep["b4.conv1"]
    ratio = (len(k4) / t.synthesis.blocks[0].torgb.weight.shape[1]) ** 0.5
    assert torch.allclose(s.synthesis.blocks[0].torgb.weight, t.synthesis.blocks[0].torgb.weight[:, k4] * ratio)
    assert torch.equal(s.synthesis.const, t.synthesis.const[keep["const"]])
    k0 = keep["b8.conv0"]
    assert torch.equal(s.synthesis.blocks[1].conv0.weight, t.synthesis.blocks[1].conv0.weight[k0][:, k4])
    assert len(k4) < t.synthesis.blocks[0].torgb.weight.shape[1]
    assert s(torch.randn(2, 12)).shape == (2, 3, 16, 16)


def test_criteria_rank_channels_by_what_they_measure():
    t, cfg = dcgan(width=0.25)
    groups = groups_of(cfg.family, t)
    with torch.no_grad():  # channel 3 of block0: huge weights; channel 5: a constant (same for every sample)
        t.main[0].weight[:, 3] *= 50
        t.main[0].weight[:, 5] = 0
        t.main[1].bias[5] = 40.0
    z = torch.randn(32, 8, generator=torch.Generator().manual_seed(0))
    mag = channel_scores("magnitude", t, groups, z, None)["block0"]
    act = channel_scores("activation", t, groups, z, None)["block0"]
    div = channel_scores("diversity", t, groups, z, None)["block0"]
    assert int(mag.argmax()) == 3 and int(act.argmax()) == 5
    # a constant channel tells samples apart only through later nonlinearities: diversity ranks it below the
    # large-weight channel that activation ranks it above
    assert float(div[3]) > 5 * float(div[5]) and float(act[5]) > float(act[3])
    with pytest.raises(ValueError, match="unknown pruning criterion"):
        channel_scores("nope", t, groups, z, None)


def test_svs_square_roots_singular_values_at_equal_energy():
    w = torch.randn(6, 4, 3, 3) * torch.linspace(0.1, 5, 6)[:, None, None, None]
    v = singular_value_scaling(w, 0)
    s0 = torch.linalg.svdvals(w.reshape(6, -1).double())
    s1 = torch.linalg.svdvals(v.reshape(6, -1).double())
    assert torch.allclose(s1.norm(), s0.norm(), rtol=1e-5)
    assert torch.allclose(s1 / s1[0], (s0 / s0[0]).sqrt(), rtol=1e-4)
    u = singular_value_scaling(w.transpose(0, 1).contiguous(), 1)  # same matrix read along dim 1
    assert torch.allclose(u.transpose(0, 1), v, atol=1e-5)


def test_wider_student_or_other_layout_cannot_be_pruned():
    t, cfg = dcgan(width=0.25)
    with pytest.raises(ConfigError, match="narrower than its teacher"):
        prune_into(t, cfg, dataclasses.replace(cfg, width=0.5))
    other = dataclasses.replace(cfg, options=dataclasses.replace(cfg.options, start_resolution=8))
    with pytest.raises(ConfigError, match="cannot prune"):
        prune_into(t, cfg, other)
    with pytest.raises(ConfigError, match="no channel groups"):
        groups_of(GeneratorConfig(arch="mlp", resolution=0, channels=2).family, t)


def test_distill_init_prune_records_and_random_stays_reachable(tmp_path, capsys):
    from gantransfer.config import DistillConfig
    from gantransfer.models.store import save_generator
    from gantransfer.tasks.distill import distill
    t, cfg = dcgan(width=0.5)
    save_generator(t, cfg, tmp_path / "teacher")
    kw = dict(teacher=str(tmp_path / "teacher"), width=0.5, terms="pixel=1", steps=2, eval_n=0, progress=False)
    run = distill(DistillConfig(**kw, out=str(tmp_path / "p"), svs=True, prune_criterion="diversity"))
    info = json.loads((run / "run.json").read_text())["student_init"]
    assert info["init"] == "prune" and info["criterion"] == "diversity" and info["svs"]
    assert info["kept"] == {"block0": "32/64", "block1": "16/32"}
    assert "initialised from the teacher's channels" in capsys.readouterr().out
    run = distill(DistillConfig(**kw, out=str(tmp_path / "r"), init="random"))
    assert json.loads((run / "run.json").read_text())["student_init"] == {"init": "random"}
    with pytest.raises(ConfigError, match="same family|teacher's family"):
        distill(DistillConfig(**kw, out=str(tmp_path / "x"), init="prune", student_arch="stylegan2"))
    run = distill(DistillConfig(**kw, out=str(tmp_path / "a"), student_arch="stylegan2",
                                student_options=TINY_SG2))
    assert json.loads((run / "run.json").read_text())["student_init"]["init"] == "random"
    assert "--init auto -> random" in capsys.readouterr().err
