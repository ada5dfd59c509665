"""Distillation on the one engine, and the bench's counts and ratios."""
import json

import pytest
import torch
from torch import nn

from gantransfer.cli import main
from gantransfer.config import DistillConfig, TrainConfig
from gantransfer.deploy.bench import measure
from gantransfer.models.cost import count_macs
from gantransfer.models.config import GeneratorConfig, build_generator
from gantransfer.tasks.distill import distill
from gantransfer.tasks.train import train


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    """A small digits run; its generator is then made high-contrast, so that matching it is not trivial."""
    out = tmp_path_factory.mktemp("teacher") / "t"
    run = train(TrainConfig(data="digits", width=0.5, steps=4, batch_size=32, progress=False, out=str(out)))
    from gantransfer.models.store import load_generator, save_generator
    g, cfg = load_generator(run)
    with torch.no_grad():
        g.main[-2].weight.mul_(30.0)
    save_generator(g, cfg, run / "generator")
    return run


def log(run):
    return [json.loads(line) for line in (run / "logs" / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_pixel_distillation_reduces_the_gap(teacher, tmp_path):
    run = distill(DistillConfig(teacher=str(teacher), width=0.25, terms="pixel=1", steps=80, log_every=10,
                                eval_n=0, progress=False, out=str(tmp_path / "s")))
    from gantransfer import generate, load
    s, scfg = load(run)
    t, tcfg = load(teacher)
    assert scfg.width == 0.125 and scfg.resolution == 16 and scfg.dataset == "digits"
    torch.manual_seed(0)
    untrained = build_generator(scfg).eval()
    xt, _ = generate(t, tcfg, 256, seed=99)  # fresh latents, never seen in training
    xs, _ = generate(s, scfg, 256, seed=99)
    x0, _ = generate(untrained, scfg, 256, seed=99)
    assert (xs - xt).abs().mean() < 0.75 * (x0 - xt).abs().mean()


def test_all_terms_with_a_bank_and_the_teachers_discriminator(teacher, tmp_path):
    run = distill(DistillConfig(teacher=str(teacher), width=0.125,
                                terms="pixel=1,perceptual=1,adversarial=0.1,feature=1",
                                perceptual_net="discriminator", bank_size=64, steps=6, log_every=3,
                                sample_every=3, eval_n=100, progress=False, out=str(tmp_path / "s")))
    last = log(run)[-1]
    for key in ("loss/G/pixel", "loss/G/perceptual", "loss/G/adv", "loss/D/adv", "loss/G/feature"):
        assert key in last
    assert (run / "samples" / "step-0000006.png").is_file()
    ev = json.loads((run / "eval.json").read_text())
    assert set(ev["fidelity"]) == {"bank", "fresh"} and ev["fidelity"]["fresh"]["psnr"] > 0
    assert ev["cost"]["macs_reduction"] > 4 and ev["cost"]["params_reduction"] > 4
    assert "fid/digits-classifier-v1/100" in ev["student"] and "fid/digits-classifier-v1/100" in ev["teacher_metrics"]
    assert (run / "report" / "teacher_vs_student.png").is_file()


@pytest.mark.parametrize("argv,needle", [
    (["--teacher", "/no/such/dir"], "does not exist"),
    (["--width", "0"], "width must be positive"),
    (["--loss", "pixel=1,blur=1"], "unknown loss term 'blur'"),
    (["--loss", "pixel=abc"], "must be a number"),
])
def test_bad_distill_input(teacher, tmp_path, capsys, argv, needle):
    args = ["distill", "--teacher", str(teacher), "--steps", "2", "--no-progress", "--out", str(tmp_path / "s"), *argv]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert not (tmp_path / "s" / "state").exists()


def test_mac_count_matches_a_hand_count_on_one_layer():
    cfg = GeneratorConfig(latent_dim=100, resolution=32, width=1.0)
    g = build_generator(cfg)
    first = g.main[0]
    assert isinstance(first, nn.ConvTranspose2d) and first.out_channels == 256
    # a 4x4 transposed convolution of a 1x1 input: every output pixel takes in_channels products per channel
    by_hand = 100 * 256 * 4 * 4
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as c:
        first(torch.randn(1, 100, 1, 1))
    assert c.get_total_flops() // 2 == by_hand
    total = count_macs(g, cfg)
    assert total > by_hand and total == 17_448_960


def test_bench_reports_ratios(teacher, tmp_path, capsys):
    small = tmp_path / "small"
    from gantransfer.models.store import load_config, save_generator
    cfg = load_config(teacher)
    cfg.width = 0.125
    save_generator(build_generator(cfg), cfg, small)
    assert main(["bench", str(small), "--against", str(teacher), "--repeats", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ratios"]["params_reduction"] > 4 and out["ratios"]["macs_reduction"] > 4
    assert out["generator"]["macs"] * out["ratios"]["macs_reduction"] == pytest.approx(out["reference"]["macs"])


def example_dcgan(nz=20, ngf=16, nc=1):
    """The PyTorch DCGAN example's generator layout, at 32x32."""
    return nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
        nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())


class Holder(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = example_dcgan()

    def forward(self, z):
        return self.main(z[:, :, None, None])


def test_dcgan_checkpoint_imports_with_identical_outputs(tmp_path):
    from gantransfer.models.dcgan_import import import_dcgan
    torch.manual_seed(0)
    ref = Holder()
    for m in ref.modules():  # non-trivial batch-norm statistics
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    ref.eval()
    torch.save({"netG_state_dict": ref.state_dict(), "epoch": 3}, tmp_path / "g.pth")
    g, cfg = import_dcgan(tmp_path / "g.pth")
    assert (cfg.latent_dim, cfg.resolution, cfg.channels, cfg.width) == (20, 32, 1, 0.25)
    z = torch.randn(5, 20)
    with torch.no_grad():
        assert torch.allclose(g(z), ref(z), atol=1e-6)


def test_unknown_checkpoint_layout_names_the_keys(tmp_path, capsys):
    torch.save({"encoder.weight": torch.zeros(3, 3)}, tmp_path / "x.pt")
    assert main(["distill", "--teacher", str(tmp_path / "x.pt"), "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert "not a DCGAN generator" in err and "encoder.weight" in err


def test_entry_point_teacher_black_box(tmp_path, monkeypatch, capsys):
    (tmp_path / "myteacher.py").write_text(
        "import torch\n"
        "def make():\n"
        "    torch.manual_seed(0)\n"
        "    net = torch.nn.Sequential(torch.nn.Linear(8, 256), torch.nn.Tanh())\n"
        "    return lambda z: net(z).view(-1, 1, 16, 16)\n"
        "def wrong():\n"
        "    return lambda z: z\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "s"
    assert main(["distill", "--teacher-module", "myteacher:make", "--latent-dim", "8", "--dataset", "digits",
                 "--width", "0.0625", "--steps", "3", "--eval-n", "0", "--loss", "pixel=1,perceptual=1", "--no-progress",
                 "--out", str(out)]) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["white_box"] is False and run["generator"]["resolution"] == 16
    assert main(["distill", "--teacher-module", "myteacher:wrong", "--latent-dim", "8", "--out",
                 str(tmp_path / "w")]) == 2
    assert "must return square images" in capsys.readouterr().err
    assert main(["distill", "--teacher-module", "nosuchmod:make", "--latent-dim", "8", "--out",
                 str(tmp_path / "w")]) == 2
    assert "cannot import" in capsys.readouterr().err
    assert main(["distill", "--teacher-module", "myteacher:make", "--out", str(tmp_path / "w")]) == 2
    assert "--latent-dim" in capsys.readouterr().err


def test_feature_term_needs_a_white_box_teacher(teacher, tmp_path, capsys):
    args = ["distill", "--teacher", str(teacher), "--black-box", "--loss", "pixel=1,feature=1", "--steps", "2",
            "--no-progress", "--out", str(tmp_path / "s")]
    assert main(args) == 2
    assert "needs a white-box teacher" in capsys.readouterr().err


def test_truncation_keeps_every_latent_component_inside():
    from gantransfer.models.sampling import truncated_normal
    z = truncated_normal(4000, 16, torch.Generator().manual_seed(0), truncation=0.5)
    assert z.abs().max() <= 0.5 and z.std() < 0.35  # N(0,1) cut at +-0.5 has std 0.28
    assert truncated_normal(10, 4, torch.Generator().manual_seed(0)).abs().max() > 0  # 0: no truncation


def test_truncated_bank_and_real_images_for_the_adversarial_term(teacher, tmp_path):
    run = distill(DistillConfig(teacher=str(teacher), width=0.125, terms="pixel=1,adversarial=0.1",
                                real_data="digits", truncation=1.0, bank_size=32, steps=4, log_every=2, eval_n=20,
                                progress=False, out=str(tmp_path / "s")))
    ev = json.loads((run / "eval.json").read_text())
    assert ev["truncation"] == 1.0 and "loss/D/adv" in log(run)[-1]
    from gantransfer.teachers import load_teacher
    from gantransfer.tasks.samplers import RealDataSampler, TeacherLatentSampler
    from gantransfer.data.registry import load_dataset
    t = load_teacher(teacher)
    real = RealDataSampler(load_dataset("digits", resolution=16), 8, t.config.latent_dim, 0, False)
    sampler = TeacherLatentSampler(t, 8, 0, 0, truncation=1.0, real_data=real)
    batch = sampler.next(torch.Generator().manual_seed(0), torch.device("cpu"))
    assert batch["z"].abs().max() <= 1.0
    assert not torch.equal(batch["real"], batch["teacher"])  # the real side is real images, not the teacher's
    assert sampler.state_dict() == {"real_data": {"epoch": 0, "pos": 8}}


@pytest.mark.parametrize("argv,needle", [
    (["--data", "digits"], "add adversarial=W"),
    (["--truncation", "-1"], "truncation must be 0 (none) or at least 0.5"),
    (["--truncation", "1e-7"], "truncation must be 0 (none) or at least 0.5"),
    (["--max-seconds", "-5"], "max_seconds must be >= 0"),
    (["--lr-decay", "linear"], "lr_decay must be one of none, cosine"),
    (["--loss", "pixel=1,adversarial=0.1", "--data", "/no/such/folder"], "unknown data set"),
    (["--loss", "pixel=1,adversarial=0.1", "--discriminator-width", "-1"], "discriminator_width must be >= 0"),
    (["--loss", "pixel=1", "--discriminator-width", "0.25"], "applies only with an adversarial term"),
])
def test_bad_real_data_and_truncation_input(teacher, tmp_path, capsys, argv, needle):
    args = ["distill", "--teacher", str(teacher), "--steps", "2", "--no-progress", "--out", str(tmp_path / "s"), *argv]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert not (tmp_path / "s" / "state").exists()


def test_python_api_takes_a_module_a_loaded_pair_or_a_black_box_callable(teacher, tmp_path):
    from gantransfer import load
    g, gcfg = load(teacher)
    pair_run = distill(DistillConfig(width=0.125, terms="pixel=1,feature=1", steps=2, eval_n=0, progress=False,
                                     out=str(tmp_path / "pair")), teacher=(g, gcfg))
    assert "loss/G/feature" in log(pair_run)[-1]  # a loaded generator stays white-box
    run = distill(DistillConfig(width=0.125, terms="pixel=1", steps=2, eval_n=0, progress=False, teacher_data="digits",
                                latent_dim=gcfg.latent_dim, out=str(tmp_path / "fn")), teacher=lambda z: g(z))
    from gantransfer.models.store import load_config
    scfg = load_config(run)
    assert (scfg.resolution, scfg.latent_dim, scfg.width) == (gcfg.resolution, gcfg.latent_dim, 0.125)
    with pytest.raises(Exception, match="white-box"):  # a bare callable is black-box: no hidden features
        distill(DistillConfig(width=0.125, terms="pixel=1,feature=1", steps=2, eval_n=0, progress=False,
                              latent_dim=gcfg.latent_dim, out=str(tmp_path / "fn2")), teacher=lambda z: g(z))
    with pytest.raises(Exception, match="exactly one teacher"):
        distill(DistillConfig(teacher=str(teacher), out=str(tmp_path / "x")), teacher=(g, gcfg))


def test_user_feature_network_for_the_perceptual_term_and_l2_pixels(teacher, tmp_path, monkeypatch, capsys):
    (tmp_path / "myfeatures.py").write_text(
        "import torch\n"
        "class Two(torch.nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.a = torch.nn.Conv2d(1, 4, 3)\n"
        "        self.b = torch.nn.Conv2d(4, 4, 3)\n"
        "    def forward(self, x):\n"
        "        h = torch.relu(self.a(x))\n"
        "        return [h, self.b(h)]\n"
        "def make():\n"
        "    return Two()\n"
        "def not_a_module():\n"
        "    return 3\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    run = distill(DistillConfig(teacher=str(teacher), width=0.125, terms="pixel_l2=1,perceptual=1",
                                perceptual_net="myfeatures:make", steps=3, log_every=1, eval_n=0, progress=False,
                                out=str(tmp_path / "s")))
    last = log(run)[-1]
    assert last["loss/G/pixel_l2"] > 0 and last["loss/G/perceptual"] > 0 and "loss/G/pixel" not in last
    assert main(["distill", "--teacher", str(teacher), "--perceptual-net", "myfeatures:not_a_module",
                 "--steps", "2", "--out", str(tmp_path / "w")]) == 2
    assert "must return an nn.Module" in capsys.readouterr().err


def test_a_shallower_student_matches_features_by_resolution(teacher, tmp_path):
    run = distill(DistillConfig(teacher=str(teacher), width=0.125, start_resolution=8, terms="pixel=1,feature=1",
                                steps=3, log_every=1, eval_n=20, progress=False, out=str(tmp_path / "s")))
    from gantransfer import load
    s, scfg = load(run)
    t, _ = load(teacher)
    convs = lambda g: sum(isinstance(m, nn.ConvTranspose2d) for m in g.modules())  # noqa: E731
    assert scfg.options.start_resolution == 8 and convs(s) == convs(t) - 1
    assert log(run)[-1]["loss/G/feature"] > 0 and s(torch.randn(2, scfg.latent_dim)).shape == (2, 1, 16, 16)
    assert main(["distill", "--teacher", str(teacher), "--start-resolution", "16", "--steps", "1", "--out",
                 str(tmp_path / "bad")]) == 2


def test_bank_teacher_images_are_computed_once_and_equal_the_teachers(teacher):
    from gantransfer.teachers import load_teacher
    from gantransfer.tasks.samplers import TeacherLatentSampler
    t = load_teacher(teacher)
    calls = []
    module = t.module
    t.module = lambda z, y=None: (calls.append(len(z)), module(z, y))[1]
    sampler = TeacherLatentSampler(t, 16, 8, 0)
    assert sampler.cache_bank
    rng, cpu = torch.Generator().manual_seed(0), torch.device("cpu")
    batches = [sampler.next(rng, cpu) for _ in range(6)]
    assert sum(calls) <= 8  # 96 draws from a bank of 8: each entry's image computed once
    for b in batches:
        with torch.no_grad():
            assert torch.allclose(b["teacher"], module(b["z"]), atol=1e-5)
    assert torch.equal(batches[0]["real"], batches[0]["teacher"])
    assert TeacherLatentSampler(t, 16, 8, 0, with_features=True).cache_bank  # hidden features cached too
    assert not TeacherLatentSampler(t, 16, 0, 0).cache_bank


def test_folded_classifier_features_equal_the_unfolded_ones():
    from gantransfer.losses.distillation import feature_maps_of_classifier
    from gantransfer.metrics.classifier import load_classifier
    clf = load_classifier("digits")
    x = torch.rand(4, 1, 16, 16) * 2 - 1
    folded = feature_maps_of_classifier(clf)(x)
    h, plain = clf.prepare(x), []
    with torch.no_grad():
        for layer in clf.body:
            h = layer(h)
            if isinstance(layer, nn.ReLU):
                plain.append(h.clone())
    assert len(folded) == len(plain) and all(torch.allclose(a, b, atol=1e-4) for a, b in zip(folded, plain))


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_perceptual_distance_equals_normalising_both_maps(layout):
    """The expanded form in unit_distance gives the LPIPS-style distance of explicitly normalised maps, value and
    gradient, including all-zero feature vectors (ReLU maps have them) on either side."""
    from gantransfer.losses.distillation import UNIT_EPS, unit_distance
    torch.manual_seed(0)
    fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    a = torch.relu(torch.randn(4, 6, 5, 5)).contiguous(memory_format=fmt)
    b = torch.relu(torch.randn(4, 6, 5, 5)).contiguous(memory_format=fmt)
    a[0, :, 1, 1], b[1, :, 2, 2], a[2, :, 3, 3], b[2, :, 3, 3] = 0, 0, 0, 0

    def unit(x):
        return x / x.pow(2).sum(1, keepdim=True).add(UNIT_EPS).sqrt()
    a1, a2 = a.clone().requires_grad_(True), a.clone().requires_grad_(True)
    want = unit(a1).sub(unit(b)).pow(2).sum(1).mean()
    got = unit_distance(a2, b)
    want.backward()
    got.backward()
    assert torch.allclose(got, want, rtol=1e-5, atol=1e-6) and want.item() > 0.1
    assert torch.allclose(a2.grad, a1.grad, rtol=1e-4, atol=1e-6)
    assert unit_distance(b, b).abs().item() < 1e-5  # a map against itself: zero
    ah, bh = a.bfloat16(), b.bfloat16()  # maps from a bfloat16 autocast: computed in float32 all the same
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = unit_distance(ah, bh)
    assert low.dtype == torch.float32
    assert torch.allclose(low, unit(ah.float()).sub(unit(bh.float())).pow(2).sum(1).mean(), rtol=1e-5)


def test_cosine_lr_decay_follows_the_schedule_and_resumes_exactly(teacher, tmp_path):
    from gantransfer.engine.schedules import lr_factor
    assert lr_factor("none", 7, 10) == 1.0 and lr_factor("cosine", 0, 10) == 1.0
    assert lr_factor("cosine", 5, 10) == pytest.approx(0.5) and lr_factor("cosine", 10, 10) == pytest.approx(0.0)
    kw = dict(teacher=str(teacher), width=0.125, terms="pixel=1", steps=6, log_every=1, checkpoint_every=3,
              sample_every=100, eval_n=0, progress=False)

    def last_state(run):
        latest = json.loads((run / "state" / "latest.json").read_text())
        return json.loads((run / "state" / latest["dir"] / "state.json").read_text())

    cosine = distill(DistillConfig(**kw, lr_decay="cosine", out=str(tmp_path / "c")))
    group = last_state(cosine)["optimizers"]["G"]["param_groups"][0]
    assert group["initial_lr"] == 1e-3 and group["lr"] == pytest.approx(1e-3 * lr_factor("cosine", 5, 6))
    constant = distill(DistillConfig(**kw, out=str(tmp_path / "n")))
    assert last_state(constant)["optimizers"]["G"]["param_groups"][0]["lr"] == 1e-3
    from safetensors.torch import load_file
    w = lambda run: load_file(str(run / "generator" / "model.safetensors"))  # noqa: E731
    assert any(not torch.equal(v, w(constant)[k]) for k, v in w(cosine).items())
    # a run stopped by its time limit after one step and resumed ends where the uninterrupted one did
    part = tmp_path / "p"
    with pytest.warns(UserWarning, match="time limit"):
        distill(DistillConfig(**{**kw, "max_seconds": 1e-9}, lr_decay="cosine", out=str(part)))
    distill(DistillConfig(**kw, lr_decay="cosine", out=str(part)), resume=True)
    assert all(torch.equal(v, w(cosine)[k]) for k, v in w(part).items())


def test_a_small_discriminator_of_its_own_for_the_adversarial_term(teacher, tmp_path, monkeypatch):
    """--discriminator-width W: a fresh discriminator of width W (not a copy of the teacher's) is trained."""
    import gantransfer.tasks.distill as distill_module
    from gantransfer.models.config import DiscriminatorConfig, build_discriminator
    from gantransfer.teachers import load_teacher
    seen, real_phases = {}, distill_module.student_phases

    def spy(student, s_opt, terms, providers, adv_weight=0.0, d=None, d_opt=None):
        seen["d"] = d
        return real_phases(student, s_opt, terms, providers, adv_weight, d, d_opt)
    monkeypatch.setattr(distill_module, "student_phases", spy)
    run = distill(DistillConfig(teacher=str(teacher), width=0.125, terms="pixel=1,adversarial=0.1",
                                discriminator_width=0.125, steps=3, log_every=1, eval_n=0, progress=False,
                                out=str(tmp_path / "s")))
    assert "loss/D/adv" in log(run)[-1]
    t = load_teacher(teacher)
    small = build_discriminator(DiscriminatorConfig(arch="dcgan", resolution=16, channels=t.config.channels,
                                                    width=0.125, num_classes=0))
    shapes = lambda m: [tuple(p.shape) for p in m.parameters()]  # noqa: E731
    assert shapes(seen["d"]) == shapes(small) != shapes(t.discriminator)
    assert sum(p.numel() for p in seen["d"].parameters()) * 4 < sum(p.numel() for p in t.discriminator.parameters())
