"""--terms auto for any teacher, and the teacher-relative metrics (two-sample test, FD/KID in a space learned
from the teacher's samples, eval --against), on tiny 16x16 RGB teachers of a domain gantransfer ships nothing for."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gantransfer import cli
from gantransfer.errors import DataError
from gantransfer.metrics import teacher_space as space
from gantransfer.metrics.teacher_relative import teacher_relative
from gantransfer.metrics.two_sample import MIN_PER_SIDE, two_sample_test, wilson_interval
from gantransfer.models.config import (GeneratorConfig, build_discriminator, build_generator,
                                         discriminator_config_for)
from gantransfer.models.store import load_generator, save_discriminator, save_generator
from gantransfer.tasks.default_terms import distill_terms, fuse_terms
from gantransfer.teachers import load_teacher

ASSETS = Path(__file__).resolve().parents[1] / "src" / "gantransfer" / "assets"
TINY = space.SpaceSettings(images=256, steps=4, batch_size=32)
UNKNOWN = "/data/colour-garments"  # a folder data set: no shipped perceptual network


def make_generator(path: Path, seed: int = 0, channels: int = 3, with_d: bool = True, latent_dim: int = 16) -> Path:
    torch.manual_seed(seed)
    cfg = GeneratorConfig(latent_dim=latent_dim, resolution=16, channels=channels, width=0.125, dataset=UNKNOWN)
    save_generator(build_generator(cfg), cfg, path)
    if with_d:
        dcfg = discriminator_config_for(cfg)
        save_discriminator(build_discriminator(dcfg), dcfg, path / "discriminator")
    return path


def test_auto_keeps_the_builtin_default_and_chooses_from_what_an_unknown_teacher_offers(tmp_path):
    shipped = load_teacher(ASSETS / "teachers" / "fashion-mnist-dcgan")
    assert distill_terms("auto", "auto", shipped, True).terms == "pixel=1,perceptual=1"
    assert fuse_terms("auto", "auto", "fashion-mnist").terms == "pixel=1,perceptual=1"
    white = load_teacher(make_generator(tmp_path / "t"))
    choice = distill_terms("auto", "auto", white, True)  # white-box: pixel + feature, nothing on its D
    assert choice.terms == "pixel=1,feature=1" and choice.perceptual_net == "auto"
    no_taps = distill_terms("auto", "auto", white, False)  # a student without taps: pixel alone
    assert no_taps.terms == "pixel=1" and any("made the student worse" in r for r in no_taps.reasons)
    black = load_teacher(tmp_path / "t", black_box=True)
    assert distill_terms("auto", "auto", black, True).terms == "pixel=1"
    assert fuse_terms("auto", "auto", UNKNOWN).terms == "pixel=1,adversarial=0.1"
    explicit = distill_terms("pixel=1", "auto", white, True)
    assert explicit.terms == "pixel=1" and not explicit.auto


@pytest.mark.slow
def test_distill_with_no_loss_flags_runs_for_an_unknown_teacher_and_records_why(tmp_path):
    teacher = make_generator(tmp_path / "t")
    out = tmp_path / "s"
    proc = subprocess.run([sys.executable, "-m", "gantransfer", "distill", "--teacher", str(teacher), "--width",
                           "0.0625", "--steps", "2", "--batch-size", "8", "--eval-n", "20", "--no-progress",
                           "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "--terms auto -> pixel=1,feature=1\n" in proc.stderr
    run = json.loads((out / "run.json").read_text())
    assert run["config"]["terms"] == "pixel=1,feature=1"
    assert run["terms_chosen"]["auto"] and any("white-box" in r for r in run["terms_chosen"]["reasons"])
    ev = json.loads((out / "eval.json").read_text())
    assert f"at least {MIN_PER_SIDE}" in ev["teacher_relative"]["skipped"]


def test_wilson_interval_and_two_sample_reads_half_on_one_distribution_and_near_one_on_two():
    lo, hi = wilson_interval(50, 100)
    assert lo == pytest.approx(0.4038, abs=1e-3) and hi == pytest.approx(0.5962, abs=1e-3)
    g = torch.Generator().manual_seed(0)
    a = torch.rand(2 * MIN_PER_SIDE, 3, 16, 16, generator=g) * 2 - 1
    same = two_sample_test(a[:MIN_PER_SIDE], a[MIN_PER_SIDE:])
    assert same["ci95"][0] <= 0.5 <= same["ci95"][1] and same["n_test"] == MIN_PER_SIDE
    different = two_sample_test(a[:MIN_PER_SIDE], (a[MIN_PER_SIDE:] * 0.3 + 0.5))
    assert different["accuracy"] > 0.9 and different["ci95"][0] > 0.5
    with pytest.raises(DataError, match=f"at least {MIN_PER_SIDE}"):
        two_sample_test(a[:50], a[50:100])


def test_teacher_space_is_cached_by_the_teachers_weights_and_never_written_where_the_run_does_not_own(
        tmp_path, monkeypatch):
    monkeypatch.delenv(space.CACHE_ENV, raising=False)
    teacher_dir = make_generator(tmp_path / "shipped-like")   # not a gantransfer run: nothing is written there
    teacher = load_teacher(teacher_dir)
    student, scfg = load_generator(make_generator(tmp_path / "student", seed=1, with_d=False))
    run = tmp_path / "run"
    run.mkdir()
    first = teacher_relative(student, scfg, teacher, MIN_PER_SIDE, torch.device("cpu"), run, settings=TINY)
    assert not first["space"]["cached"] and first["space"]["cache"].startswith(str(run / "eval-cache"))
    assert sorted(p.name for p in teacher_dir.rglob("*")) == sorted(
        ["config.json", "model.safetensors", "discriminator", "config.json", "model.safetensors"])
    again = teacher_relative(student, scfg, teacher, MIN_PER_SIDE, torch.device("cpu"), run, settings=TINY)
    assert again["space"]["cached"] and again["space"]["encoder_sha256"] == first["space"]["encoder_sha256"]
    assert again["fd"] == pytest.approx(first["fd"]) and 0.0 <= first["two_sample"]["accuracy"] <= 1.0
    other = load_teacher(make_generator(tmp_path / "other", seed=5))
    shape, key = (3, 16, 16), space.teacher_key(teacher.module, (3, 16, 16), 16, 0)
    assert space.teacher_key(other.module, shape, 16, 0) != key == space.teacher_key(teacher.module, shape, 16, 0)
    shared = tmp_path / "shared"
    monkeypatch.setenv(space.CACHE_ENV, str(shared))
    third = teacher_relative(student, scfg, teacher, MIN_PER_SIDE, torch.device("cpu"), None, settings=TINY)
    assert third["space"]["cache"].startswith(str(shared)) and "fidelity_fresh" in third


def test_a_teacher_that_is_a_run_is_read_from_but_never_written_into(tmp_path, monkeypatch):
    """A run writes only its own files: the teacher's space goes to the student's run even when the teacher is a
    gantransfer run; one already cached in the teacher run's eval-cache is read."""
    import shutil
    monkeypatch.delenv(space.CACHE_ENV, raising=False)
    trun = tmp_path / "teacher-run"
    make_generator(trun / "generator")
    (trun / "run.json").write_text("{}")
    before = sorted(str(p.relative_to(trun)) for p in trun.rglob("*"))
    teacher = load_teacher(trun)
    student, scfg = load_generator(make_generator(tmp_path / "student", seed=1, with_d=False))
    run = tmp_path / "run"
    run.mkdir()
    first = teacher_relative(student, scfg, teacher, MIN_PER_SIDE, torch.device("cpu"), run, settings=TINY)
    assert first["space"]["cache"].startswith(str(run / "eval-cache"))
    assert sorted(str(p.relative_to(trun)) for p in trun.rglob("*")) == before
    shutil.copytree(run / "eval-cache", trun / "eval-cache")  # as an older version left it: read, not learned
    shutil.rmtree(run / "eval-cache")
    again = teacher_relative(student, scfg, teacher, MIN_PER_SIDE, torch.device("cpu"), run, settings=TINY)
    assert again["space"]["cached"] and again["space"]["cache"].startswith(str(trun / "eval-cache"))


class Shifted(torch.nn.Module):
    """The teacher's images, dimmed and shifted: another distribution of the same shape."""

    def __init__(self, g: torch.nn.Module) -> None:
        super().__init__()
        self.g = g

    def forward(self, z, labels=None):
        return self.g(z, labels) * 0.5 + 0.4


def test_fd_of_two_halves_of_a_teacher_is_near_zero_and_grows_for_a_different_generator(tmp_path, monkeypatch):
    monkeypatch.delenv(space.CACHE_ENV, raising=False)
    teacher = load_teacher(make_generator(tmp_path / "t"))
    same, scfg = teacher.module, teacher.config
    half = teacher_relative(same, scfg, teacher, MIN_PER_SIDE, torch.device("cpu"), None, settings=TINY)
    far = teacher_relative(Shifted(same), scfg, teacher, MIN_PER_SIDE, torch.device("cpu"), None, settings=TINY)
    assert half["space"]["where"].startswith("not cached")
    assert half["fidelity_fresh"]["psnr"] == float("inf") or half["fidelity_fresh"]["psnr"] > 80
    assert far["fd"] > 10 * max(half["fd"], 1e-6) and far["kid"] > half["kid"]
    assert far["two_sample"]["accuracy"] > 0.9


def test_eval_against_converts_another_shape_and_refuses_bad_input(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(space.CACHE_ENV, raising=False)
    monkeypatch.setattr(space, "DEFAULT_SPACE", TINY)
    teacher = make_generator(tmp_path / "t")
    gray = make_generator(tmp_path / "gray", channels=1, with_d=False, latent_dim=8)
    out = tmp_path / "r.json"
    with pytest.warns(UserWarning, match="converted to the teacher's 3x16x16"):
        assert cli.main(["eval", str(gray), "--against", str(teacher), "--n", str(MIN_PER_SIDE),
                         "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert "skipped" in result["fidelity_fresh"] and result["two_sample"]["n_test"] == MIN_PER_SIDE
    capsys.readouterr()
    assert cli.main(["eval", str(gray), "--against", str(teacher), "--n", "50"]) == 2
    assert f"at least {MIN_PER_SIDE} samples (--n) of each side" in capsys.readouterr().err
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "notes.txt").write_text("hello")
    assert cli.main(["eval", str(gray), "--against", str(junk), "--n", str(MIN_PER_SIDE)]) == 2
    err = capsys.readouterr().err
    assert f"--against {junk} is not a generator" in err and "Traceback" not in err
    assert cli.main(["eval", str(gray), "--against", str(teacher), "--teachers", f"{teacher},{gray}"]) == 2
    assert "not both" in capsys.readouterr().err


def _colour_folder(folder: Path, n: int, seed: int = 0) -> Path:
    """``n`` 16x16 RGB PNGs of a domain gantransfer ships nothing for: a coloured square on a dark background."""
    from PIL import Image
    g = torch.Generator().manual_seed(seed)
    folder.mkdir(parents=True)
    for i in range(n):
        x = torch.full((16, 16, 3), 30, dtype=torch.uint8)
        a, b = (int(v) for v in torch.randint(0, 8, (2,), generator=g))
        x[a:a + 8, b:b + 8] = torch.randint(80, 256, (3,), generator=g).to(torch.uint8)
        Image.fromarray(x.numpy()).save(folder / f"{i:04d}.png")
    return folder


def test_adapt_to_an_unknown_domain_ends_with_figures_against_held_out_images(tmp_path, monkeypatch):
    from gantransfer.config import AdaptConfig
    from gantransfer.tasks.adapt import adapt
    monkeypatch.setattr(space, "DEFAULT_SPACE", TINY)
    monkeypatch.setenv(space.CACHE_ENV, str(tmp_path / "cache"))
    data = _colour_folder(tmp_path / "squares", 1300)  # 1/6 of a folder is its test split: 216 images
    source = make_generator(tmp_path / "src")
    kw = dict(sources=[str(source)], data=str(data), limit=20, steps=2, batch_size=8, eval_n=250, progress=False,
              log_every=1, sample_every=100, checkpoint_every=100)
    with pytest.warns(UserWarning, match="no held-out protocol"):  # it ran with the defaults' --eval-every
        ev = json.loads((adapt(AdaptConfig(**kw, out=str(tmp_path / "a"))) / "eval.json").read_text())
    fig = ev["data_relative"]
    assert fig["n"] == 216 and fig["space"]["learned_from"] == "those test split images alone"
    for name in ("adapted", "source"):  # the source's samples are blobs of noise: far from the squares
        assert fig[name]["fd"] > 0 and 0.5 <= fig[name]["two_sample"]["accuracy"] <= 1
    assert fig["source"]["two_sample"]["n_test"] == 216
    # a second method, judged in the same space
    ev2 = json.loads((adapt(AdaptConfig(**kw, method="scratch", out=str(tmp_path / "b"))) / "eval.json").read_text())
    assert ev2["data_relative"]["space"]["cached"]
    assert ev2["data_relative"]["space"]["encoder_sha256"] == fig["space"]["encoder_sha256"]
    assert ev2["data_relative"]["source"]["fd"] == pytest.approx(fig["source"]["fd"])
    ev3 = json.loads((adapt(AdaptConfig(**{**kw, "eval_n": 150}, out=str(tmp_path / "c"))) / "eval.json").read_text())
    assert f"need at least {MIN_PER_SIDE}" in ev3["data_relative"]["skipped"]
