"""Transfer from StyleGAN2 teachers: distillation in W and Z space, feature matching, students of either family,
fusion, MineGAN in Z and W, imported teachers, export of a student, and bad input."""
import json

import pytest
import torch

from gantransfer.cli import main
from gantransfer.config import DistillConfig
from gantransfer.errors import ConfigError
from gantransfer.models.config import GeneratorConfig, build_generator
from gantransfer.models.store import load_generator, save_generator
from gantransfer.tasks.distill import distill
from test_stylegan2_import import nvlabs_modules  # noqa: F401 (a fixture: stand-ins to write NVlabs pickles)

OPTIONS = {"w_dim": 16, "mapping_layers": 2, "channel_max": 16, "channel_base": 128}


def make_teacher(path, num_classes=0):
    """A tiny 16 px gray StyleGAN2 'teacher' of digits with non-zero noise strengths and biases."""
    cfg = GeneratorConfig(arch="stylegan2", latent_dim=12, resolution=16, channels=1, width=0.5,
                          num_classes=num_classes, dataset="digits", options=dict(OPTIONS))
    torch.manual_seed(0)
    g = build_generator(cfg).eval()
    with torch.no_grad():
        for name, p in g.named_parameters():
            if name.endswith(("noise_strength", "bias")):
                p.add_(0.3 * torch.randn_like(p))
        g.mapping.w_avg.normal_()
    save_generator(g, cfg, path)
    return path


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    return make_teacher(tmp_path_factory.mktemp("sg2t") / "teacher")


def losses(run, key):
    return [r[key] for r in map(json.loads, (run / "logs" / "metrics.jsonl").read_text().splitlines()) if key in r]


def config(teacher, out, **kw):
    base = dict(teacher=str(teacher), width=0.25, terms="pixel=1", steps=24, batch_size=16, log_every=4,
                eval_n=0, progress=False, out=str(out))
    return DistillConfig(**{**base, **kw})


@pytest.mark.slow
def test_w_space_student_reuses_the_frozen_mapping_and_keeps_psi(teacher, tmp_path):
    # a random start (the loss check below is of learning from scratch; pruned starts: tests/test_prune.py)
    run = distill(config(teacher, tmp_path / "w", latent_space="w", truncation_psi=0.7, terms="pixel=1,feature=1",
                         init="random"))
    s, scfg = load_generator(run)
    t, tcfg = load_generator(teacher)
    assert scfg.latent_space == "w" and scfg.options.truncation_psi == 0.7 and s.truncation_psi == 0.7
    for k, v in t.mapping.state_dict().items():  # weights and mean W untouched by training
        assert torch.equal(s.mapping.state_dict()[k], v), k
    # --width 0.25: a quarter of the teacher's channels at every resolution (the channel cap scaled too)
    assert scfg.options.channel_max == 4 and s.synthesis.const.shape[0] == t.synthesis.const.shape[0] // 4
    z = torch.randn(5, 12)
    with torch.no_grad():
        assert torch.equal(s.mapping(z, None, s.truncation_psi), t.mapping(z, None, 0.7))
    pixel = losses(run, "loss/G/pixel")
    assert pixel[-1] < pixel[0] and losses(run, "loss/G/feature")


def test_the_student_sees_the_teachers_w_and_noise(teacher):
    """A student equal to its teacher matches it exactly on a step's batch (W and noise shared), in W and Z."""
    from gantransfer.tasks.latent_space import student_providers
    from gantransfer.tasks.samplers import StyledTeacherSampler
    from gantransfer.teachers import load_teacher
    from gantransfer.engine.terms import StepContext
    t = load_teacher(teacher)
    copy, cfg = load_generator(teacher)
    sampler = StyledTeacherSampler(t, 6, 0, 0, with_features=True, psi=0.5)
    batch = sampler.next(torch.Generator().manual_seed(3), torch.device("cpu"))
    assert len(batch["noise"]) == len(copy.synthesis.noise_layers()) and batch["teacher_features_g"]
    for space in ("w", "z"):
        ws_psi = 0.5 if space == "w" else 1.0  # Z space: the student maps z itself (here untruncated)
        copy.truncation_psi = ws_psi
        ctx = StepContext(batch, student_providers(copy.train(), cfg, space, True))
        if space == "w":
            assert torch.equal(ctx["student"], batch["teacher"])
            assert all(torch.equal(a, b) for a, b in zip(ctx["student_features"], batch["teacher_features_g"]))
        else:
            ws = t.module.mapping(batch["z"], None)
            with torch.no_grad():
                assert torch.allclose(ctx["student"], t.module.synthesis(ws, noise=batch["noise"]), atol=1e-6)
    fresh = sampler.next(torch.Generator().manual_seed(3), torch.device("cpu"))
    assert torch.equal(fresh["teacher"], batch["teacher"])  # a function of the engine's generator: exact resume


@pytest.mark.slow
def test_z_space_and_dcgan_students_with_feature_matching(teacher, tmp_path):
    z = distill(config(teacher, tmp_path / "z", latent_space="z", terms="pixel=1,feature=1", eval_n=20))
    s, scfg = load_generator(z)
    t, _ = load_generator(teacher)
    assert scfg.latent_space == "z"
    assert not torch.equal(s.mapping.fc[0].weight, t.mapping.fc[0].weight)  # its own mapping, trained
    ev = json.loads((z / "eval.json").read_text())
    assert ev["noise"].startswith("const") and ev["cost"]["macs_reduction"] > 5
    d = distill(config(teacher, tmp_path / "d", student_arch="dcgan", terms="pixel=1,feature=1"))
    _, dcfg = load_generator(d)
    assert dcfg.arch == "dcgan" and dcfg.latent_space == "z" and losses(d, "loss/G/feature")


def test_auto_space_is_w_for_a_stylegan2_student(teacher, tmp_path):
    from gantransfer.tasks.distill import student_config
    from gantransfer.teachers import load_teacher
    t = load_teacher(teacher)
    assert student_config(config(teacher, tmp_path / "a"), t).latent_space == "w"
    assert student_config(config(teacher, tmp_path / "a", student_arch="dcgan"), t).latent_space == "z"
    assert student_config(config(teacher, tmp_path / "a", black_box=True), load_teacher(teacher, black_box=True)
                          ).latent_space == "z"


@pytest.mark.slow
def test_an_imported_rosinality_teacher_distils_and_the_student_exports(tmp_path):
    from test_stylegan2_import import rgb_generator, to_rosinality
    g, _ = rgb_generator()
    torch.save({"g_ema": to_rosinality(g), "latent_avg": torch.randn(12)}, tmp_path / "ros.pt")
    run = distill(DistillConfig(teacher=str(tmp_path / "ros.pt"), width=1 / 16, terms="pixel=1", steps=3,
                                batch_size=4, eval_n=0, progress=False, truncation_psi=0.8, out=str(tmp_path / "s")))
    _, scfg = load_generator(run)
    assert scfg.latent_space == "w" and scfg.resolution == 32
    from gantransfer.deploy.export import export_generator
    report = export_generator(run, "onnx", tmp_path / "s.onnx")  # the baked psi is traced; parity is checked
    assert max(report["parity"].values()) <= 1e-4


@pytest.mark.slow
def test_fusion_of_a_stylegan2_and_a_dcgan_teacher(teacher, tmp_path):
    dcgan = distill(config(teacher, tmp_path / "d", student_arch="dcgan", steps=2))
    code = main(["fuse", "--teacher", str(teacher), "--teacher", str(dcgan), "--steps", "3", "--batch-size", "8",
                 "--eval-n", "0", "--no-progress", "--out", str(tmp_path / "f")])
    assert code == 0
    _, fcfg = load_generator(tmp_path / "f")
    assert fcfg.fusion.teacher_names == ["teacher", "d"] and fcfg.num_classes == 2


@pytest.mark.slow
def test_minegan_in_w_starts_as_the_source_and_trains(teacher, tmp_path):
    from gantransfer.models.miner import MinedGenerator, MinerOptions, WMiner
    t, tcfg = load_generator(teacher)
    mined = MinedGenerator([t], [12], 12, 16, "w").eval()
    z = torch.randn(4, 12)
    with torch.no_grad():
        assert torch.allclose(mined(z), t(z), atol=1e-6)  # miner zero at start: the source itself
    code = main(["adapt", "--source", str(teacher), "--data", "digits", "--limit", "16", "--method", "minegan",
                 "--miner-space", "w", "--steps", "2", "--batch-size", "8", "--eval-every", "0", "--eval-n", "10",
                 "--no-progress", "--out", str(tmp_path / "m")])
    assert code == 0
    g, cfg = load_generator(tmp_path / "m")
    assert cfg.options.space == "w" and isinstance(g.miners[0], WMiner)
    assert MinerOptions(sources=[tcfg.to_dict()], space="w").source_configs()[0].arch == "stylegan2"


# ---- bad input ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("psi", ["0", "1.5", "-0.2"])
def test_truncation_psi_outside_0_1_is_refused(teacher, tmp_path, capsys, psi):
    code = main(["distill", "--teacher", str(teacher), "--truncation-psi", psi, "--steps", "1",
                 "--out", str(tmp_path / "s")])
    assert code == 2 and "--truncation-psi must be in (0, 1]" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


@pytest.mark.slow
def test_w_space_needs_a_mapping_network_on_both_sides(teacher, tmp_path, capsys):
    dcgan = distill(config(teacher, tmp_path / "d", student_arch="dcgan", steps=1))
    cases = [(["--teacher", str(dcgan), "--latent-space", "w"], "is a dcgan generator, without one; use "
                                                                 "--latent-space z"),
             (["--teacher", str(teacher), "--black-box", "--latent-space", "w"],
              "is used black-box (its layers cannot be read)"),
             (["--teacher", str(teacher), "--student-arch", "dcgan", "--latent-space", "w"],
              "a dcgan student maps z itself: use --latent-space z"),
             (["--teacher", str(dcgan), "--truncation-psi", "0.5"], "use --truncation T")]
    for args, message in cases:
        code = main(["distill", *args, "--steps", "1", "--out", str(tmp_path / "s")])
        err = capsys.readouterr().err
        assert code == 2 and message in err and "Traceback" not in err, err
        assert not (tmp_path / "s").exists()
    code = main(["adapt", "--source", str(dcgan), "--data", "digits", "--method", "minegan", "--miner-space", "w",
                 "--out", str(tmp_path / "s")])
    assert code == 2 and "use --miner-space z" in capsys.readouterr().err and not (tmp_path / "s").exists()


def test_a_student_family_without_labels_is_refused_for_a_conditional_teacher(tmp_path, monkeypatch):
    import dataclasses
    from gantransfer.models import family as families
    cond = make_teacher(tmp_path / "cond", num_classes=3)
    dcgan = families.family("dcgan")
    monkeypatch.setitem(families._REGISTRY, "nolabels-test", dataclasses.replace(
        dcgan, name="nolabels-test", capabilities=dataclasses.replace(dcgan.capabilities, labels=False)))
    with pytest.raises(ConfigError, match="cannot take labels"):
        distill(config(cond, tmp_path / "s", student_arch="nolabels-test"))
    assert not (tmp_path / "s").exists()


@pytest.mark.slow
def test_imported_files_in_fuse_and_adapt_and_a_w_student_through_the_export_command(tmp_path, capsys,
                                                                                      nvlabs_modules):
    """Issue 15 part 3: a rosinality .pt and an NVlabs .pkl teacher (read without running pickled code) work in
    fuse and adapt; a W-space student of the .pkl leaves through `gantransfer export`, ONNX and TorchScript, with
    its parity checked, and the exported files give the student's images."""
    import pickle
    from test_stylegan2 import tiny
    from test_stylegan2_import import rgb_generator, to_nvlabs, to_rosinality
    from gantransfer.deploy.runtime import open_exported
    ros, _ = rgb_generator()
    torch.save({"g_ema": to_rosinality(ros), "latent_avg": torch.randn(12)}, tmp_path / "ros.pt")
    nv, _ = tiny(32)
    with open(tmp_path / "net.pkl", "wb") as fh:
        pickle.dump({"G_ema": to_nvlabs(nv), "training_set_kwargs": {"resolution": 32}}, fh)
    common = ["--steps", "2", "--batch-size", "4", "--eval-n", "0", "--no-progress"]
    assert main(["fuse", "--teacher", str(tmp_path / "ros.pt"), "--teacher", str(tmp_path / "net.pkl"),
                 "--terms", "pixel=1", *common, "--out", str(tmp_path / "f")]) == 0
    _, fcfg = load_generator(tmp_path / "f")
    assert fcfg.fusion.teacher_names == ["ros", "net"] and fcfg.resolution == 32
    assert main(["adapt", "--source", str(tmp_path / "ros.pt"), "--data", "digits", "--limit", "16", "--method",
                 "minegan", "--miner-space", "w", "--steps", "2", "--batch-size", "4", "--eval-every", "0",
                 "--eval-n", "10", "--no-progress", "--out", str(tmp_path / "m")]) == 0
    assert load_generator(tmp_path / "m")[1].options.space == "w"
    assert main(["distill", "--teacher", str(tmp_path / "net.pkl"), "--width", "0.0625", "--latent-space", "w",
                 "--truncation-psi", "0.7", "--terms", "pixel=1", *common, "--out", str(tmp_path / "s")]) == 0
    student, scfg = load_generator(tmp_path / "s")
    assert scfg.arch == "stylegan2" and scfg.latent_space == "w"
    capsys.readouterr()
    z = torch.randn(5, 12)
    with torch.no_grad():
        expected = student(z, noise_mode="const")  # the exports take the stored noise (and the baked psi)
    for fmt, name in (("onnx", "s.onnx"), ("torchscript", "s.pt")):
        assert main(["export", str(tmp_path / "s"), "--format", fmt, "--out", str(tmp_path / name), "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["format"] == fmt and max(report["parity"].values()) <= 1e-4
        from gantransfer.trust import trusting
        with trusting(code=True):  # a TorchScript file is code: opened only when trusted
            assert (open_exported(tmp_path / name)(z) - expected).abs().max() < 1e-4
