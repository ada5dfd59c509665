"""Fusion: several teachers into one student, the brute-force baseline, per-teacher evaluation."""
import json

import pytest
import torch

from gantransfer.cli import main
from gantransfer.config import FuseConfig, TrainConfig
from gantransfer.models.dcgan import DCGANGenerator, mixture_ids
from gantransfer.models.config import build_generator
from gantransfer.models.store import load_config, load_generator, save_generator
from gantransfer.image_space import convert_images as to_image_space
from gantransfer.tasks.fuse import fuse
from gantransfer.teacher_set import balanced_counts, load_teacher_set
from gantransfer.tasks.train import train

pytestmark = pytest.mark.slow  # builds teachers once for the module (about 10 s) and trains a student per test

FAST = dict(steps=3, batch_size=32, progress=False)


@pytest.fixture(scope="module")
def teachers(tmp_path_factory):
    """Two tiny digits teachers on disjoint classes (0-4 unconditional, 5-9 conditional) and an RGB 32x32 one."""
    root = tmp_path_factory.mktemp("teachers")
    low = train(TrainConfig(data="digits", classes=[0, 1, 2, 3, 4], width=0.25, out=str(root / "low"), **FAST))
    high = train(TrainConfig(data="digits", classes=[5, 6, 7, 8, 9], conditional=True, width=0.25,
                             out=str(root / "high"), **FAST))
    rgb = train(TrainConfig(data="digits", classes=[1], width=0.25, resolution=32, channels=3,
                            out=str(root / "rgb"), **FAST))
    return {"low": str(low), "high": str(high), "rgb": str(rgb)}


def log(run):
    return [json.loads(line) for line in (run / "logs" / "metrics.jsonl").read_text().splitlines()]


def test_fused_student_conditional_on_the_teacher(teachers, tmp_path):
    run = fuse(FuseConfig(teachers=[teachers["low"], teachers["high"]], width=0.25, terms="pixel=1,perceptual=1",
                          eval_n=100, log_every=3, out=str(tmp_path / "f"), **FAST))
    last = log(run)[-1]
    assert {"loss/G/pixel", "loss/G/perceptual", "loss/G/pixel@low", "loss/G/pixel@high"} <= set(last)
    cfg = load_config(run)
    assert cfg.num_classes == 2 and cfg.class_names == ["low", "high"] and cfg.data_classes == list(range(10))
    ev = json.loads((run / "eval.json").read_text())
    assert set(ev["teacher_shares"]) == {"low", "high"} and abs(sum(ev["teacher_shares"].values()) - 1) < 1e-6
    assert 0.5 <= ev["domain_classifier_accuracy"] <= 1
    for row in ev["per_teacher"].values():
        assert row["fid_student_vs_teacher"] > 0 and row["fid_teacher_vs_real"] > 0
        by_class = row["by_class"].values()  # the class mix, and the domain share as a class-weighted mean
        assert sum(c["student_share"] for c in by_class) == pytest.approx(1)
        assert sum(c["teacher_share"] for c in by_class) == pytest.approx(1)
        assert row["own_domain_share"] == pytest.approx(
            sum(c["student_share"] * c["own_domain_share"] for c in by_class if c["own_domain_share"] is not None))
        assert 0 <= row["teacher_own_domain_share"] <= 1
    assert "fid/digits-classifier-v1/100" in ev["union"]["metrics"]
    assert ev["cost"]["params_vs_largest"] > 1  # smaller than the largest teacher
    assert (run / "samples" / "step-0000003.png").is_file()
    # eval --teachers reproduces the figures from the saved student, reusing the cached domain classifier
    assert main(["eval", str(run), "--teachers", f"{teachers['low']},{teachers['high']}", "--n", "100",
                 "--device", "cpu"]) == 0
    assert len(list((run / "eval-cache").iterdir())) == 1


def test_an_unreliable_domain_classifier_is_flagged(teachers, tmp_path, monkeypatch):
    from gantransfer.metrics import fusion
    run = fuse(FuseConfig(teachers=[teachers["low"], teachers["high"]], width=0.25, terms="pixel=1", eval_n=0,
                          out=str(tmp_path / "f"), **FAST))
    monkeypatch.setattr(fusion, "DOMAIN_MIN_ACCURACY", 1.01)  # no classifier reaches it
    with pytest.warns(UserWarning, match="shares below are not reliable"):
        fusion.evaluate_fusion(run, [teachers["low"], teachers["high"]], n=100)


def test_unconditional_student_picks_teachers_by_weight(teachers, tmp_path):
    z = torch.randn(40000, 5, generator=torch.Generator().manual_seed(0))
    shares = torch.bincount(mixture_ids(z, torch.tensor([0.7, 0.2, 0.1])), minlength=3) / len(z)
    assert torch.allclose(shares, torch.tensor([0.7, 0.2, 0.1]), atol=0.01)
    assert balanced_counts(torch.tensor([0.7, 0.3]), 64) == [45, 19]
    assert balanced_counts(torch.tensor([0.98, 0.01, 0.01]), 10) == [8, 1, 1]  # every teacher in every step
    cfg = FuseConfig(teachers=[teachers["low"], teachers["high"]], unconditional=True, weights=[0.7, 0.3])
    tset = load_teacher_set(cfg.teachers, torch.device("cpu"), mode="unconditional", weights=cfg.weights)
    assert tset.student.num_classes == 0 and tset.student.latent_dim == 101
    for k in range(2):  # latents drawn for teacher k select teacher k inside the student
        zk = tset.latents_for(k, 500, torch.Generator().manual_seed(k))
        assert (mixture_ids(zk, tset.weights) == k).all()
    run = fuse(FuseConfig(teachers=cfg.teachers, unconditional=True, weights=[0.7, 0.3], width=0.25,
                          terms="pixel=1", eval_n=0, out=str(tmp_path / "u"), **FAST))
    g, gcfg = load_generator(run)
    assert gcfg.num_classes == 0 and gcfg.options.mixture == pytest.approx([0.7, 0.3])
    assert g(torch.randn(4, gcfg.latent_dim)).shape == (4, 1, 16, 16)  # no labels needed


def test_merged_labels_and_affine_conditioning(teachers, tmp_path):
    run = fuse(FuseConfig(teachers=[teachers["high"], teachers["low"]], labels="merge", conditioning="affine",
                          width=0.25, terms="pixel=1", eval_n=0, out=str(tmp_path / "m"), **FAST))
    g, gcfg = load_generator(run)
    # the conditional teacher brings its five classes; the unconditional one is named after itself
    assert gcfg.class_names == ["5", "6", "7", "8", "9", "low"] and gcfg.options.conditioning == "affine"
    assert gcfg.label_weights == pytest.approx([0.1] * 5 + [0.5])
    y = torch.tensor([0, 5])
    z = torch.randn(2, gcfg.latent_dim)
    assert not torch.equal(g(z[:1].repeat(2, 1), y)[0], g(z[:1].repeat(2, 1), y)[1])  # labels change the image
    twin = build_generator(gcfg)
    twin.load_state_dict(g.state_dict())  # the config alone rebuilds the same network
    assert torch.equal(twin.eval()(z, y), g(z, y))
    with pytest.raises(Exception, match="made by teachers"):
        load_teacher_set([teachers["high"], teachers["high"]], "cpu", mode="merge")


def test_teachers_of_other_resolution_and_channels_are_converted(teachers, tmp_path):
    x = torch.rand(2, 1, 16, 16) * 2 - 1
    y = to_image_space(x, 32, 3)
    assert y.shape == (2, 3, 32, 32) and torch.equal(y[:, 0], y[:, 1])
    assert to_image_space(y, 16, 1).shape == (2, 1, 16, 16)
    run = fuse(FuseConfig(teachers=[teachers["low"], teachers["rgb"]], width=0.25, terms="pixel=1", eval_n=0,
                          out=str(tmp_path / "c"), **FAST))
    cfg = load_config(run)
    assert (cfg.resolution, cfg.channels) == (32, 3)


def test_brute_force_baseline_trains_on_teacher_samples(teachers, tmp_path, capsys):
    out = tmp_path / "b"
    assert main(["baseline", "--teacher", teachers["low"], "--teacher", teachers["high"], "--n", "200",
                 "--weights", "3,1", "--steps", "3", "--batch-size", "32", "--width", "0.25", "--no-progress",
                 "--out", str(out)]) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["train_samples"] == 200
    cfg = load_config(out)
    assert cfg.fusion.teacher_names == ["low", "high"] and cfg.fusion.weights == pytest.approx([0.75, 0.25])
    capsys.readouterr()
    assert main(["eval", str(out), "--teachers", f"{teachers['low']},{teachers['high']}", "--n", "100",
                 "--device", "cpu"]) == 0
    ev = json.loads(capsys.readouterr().out)
    assert ev["fused"] is False and sum(r["student_samples"] for r in ev["per_teacher"].values()) == 100


@pytest.mark.parametrize("argv,needle", [
    (["--teacher", "{low}"], "use `gantransfer distill`"),
    (["--teacher", "{low}", "--teacher", "{high}", "--weights", "1,2,3"], "3 values for 2 teachers"),
    (["--teacher", "{low}", "--teacher", "{high}", "--weights", "0,0"], "sum to a positive number"),
    (["--teacher", "{low}", "--teacher", "{high}", "--labels", "classes"], "labels must be teacher or merge"),
    (["--teacher", "{low}", "--teacher", "/no/such/teacher"], "does not exist"),
    (["--teacher", "{low}", "--teacher", "{high}", "--loss", "pixel=1,feature=1"], "feature term"),
])
def test_bad_fuse_input(teachers, tmp_path, capsys, argv, needle):
    argv = [a.format(**teachers) for a in argv]
    assert main(["fuse", *argv, "--steps", "2", "--no-progress", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert not (tmp_path / "x" / "state").exists()
