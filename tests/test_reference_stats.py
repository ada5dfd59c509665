"""`gantransfer stats` and `eval --reference/--inception`: pytorch-fid's npz, native-size features, an FID of zero
against the stats of the generator's own samples, and clear errors for every bad input."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import needs_fmnist, run_cli
from gantransfer.api import load
from gantransfer.metrics.classifier import assets_dir
from gantransfer.metrics.reference_stats import feature_network, real_images, to_uint8
from gantransfer.models.sampling import generate

TEACHER = assets_dir() / "teachers" / "fashion-mnist-dcgan"
PROTOCOL = "fashion-mnist-classifier-v1"


def write_pngs(images: torch.Tensor, folder: Path) -> Path:
    folder.mkdir()
    for i, im in enumerate(images):
        Image.fromarray(im[0].numpy()).save(folder / f"{i:04d}.png")
    return folder


@pytest.fixture(scope="module")
def own_samples(tmp_path_factory):
    """A folder holding the teacher's first 64 eval samples (seed 0) as PNGs."""
    g, cfg = load(TEACHER)
    x, _ = generate(g, cfg, 64, seed=0)
    return write_pngs(to_uint8(x), tmp_path_factory.mktemp("own") / "samples")


@pytest.mark.slow
def test_stats_then_eval_of_the_same_images_is_zero(own_samples, tmp_path, capsys):
    out = tmp_path / "ref.npz"
    code, stdout, err = run_cli(capsys, "stats", str(own_samples), "--protocol", PROTOCOL, "--out", str(out))
    assert code == 0, err
    with np.load(out) as f:  # pytorch-fid's layout, plus the record of what made it
        assert f["mu"].shape == (128,) and f["sigma"].shape == (128, 128) and f["mu"].dtype == np.float64
        assert str(f["network"]) == PROTOCOL and int(f["images"]) == 64
    code, stdout, err = run_cli(capsys, "eval", str(TEACHER), "--n", "64", "--reference", str(out), "--json")
    assert code == 0, err
    r = json.loads(stdout)["reference_stats"]
    assert r["network"] == PROTOCOL and r["images"] == 64
    assert abs(r["metrics"][f"fid/{PROTOCOL}/64"]) < 1e-6  # the same uint8 images, the same features
    code, stdout, _ = run_cli(capsys, "eval", str(TEACHER), "--n", "64", "--seed", "1", "--reference", str(out),
                              "--json")
    assert json.loads(stdout)["reference_stats"]["metrics"][f"fid/{PROTOCOL}/64"] > 1.0  # other samples


@pytest.mark.slow
def test_inception_stats_and_eval(tmp_path, capsys):
    from test_inception import random_state
    weights = tmp_path / "inception.pth"
    torch.save(random_state(), weights)
    g, cfg = load(TEACHER)
    x, _ = generate(g, cfg, 2, seed=0)  # eval's 2 samples (the first 2 of 64 differ: torch draws randn in blocks)
    few = write_pngs(to_uint8(x), tmp_path / "few")
    out = tmp_path / "inception.npz"
    code, _, err = run_cli(capsys, "stats", str(few), "--inception", str(weights), "--out", str(out))
    assert code == 0, err
    with np.load(out) as f:
        assert f["mu"].shape == (2048,) and f["sigma"].shape == (2048, 2048)
    code, stdout, err = run_cli(capsys, "eval", str(TEACHER), "--n", "2", "--reference", str(out), "--inception",
                                str(weights), "--data", "nothing-shipped", "--json")
    assert code == 0, err
    r = json.loads(stdout)
    assert r["protocol"] is None and r["metrics"] == {}  # no shipped protocol for that name: the stats' figure alone
    fid = r["reference_stats"]["metrics"]["fid/inception-v3-compat/2"]
    assert abs(fid) < 1e-4 * float(np.trace(np.load(out)["sigma"])) + 1e-6
    assert r["reference_stats"]["sha256"] and r["reference_stats"]["weights"] == str(weights)


@pytest.mark.slow
@needs_fmnist
def test_folders_native_size_builtins_as_generators_see_them(tmp_path, capsys):
    from gantransfer.data.registry import DATASETS
    batches, described = real_images("fashion-mnist", "test")
    assert batches[0].shape[-2:] == (32, 32) and "10000 images at 32 px" in described
    raw = DATASETS["fashion-mnist"]("test", None).x[:50]
    assert torch.equal(batches[0][:, :, 2:30, 2:30], raw) and batches[0][:, :, :2].max() == 0  # zero padding
    folder = write_pngs(raw, tmp_path / "fm")
    fb, _ = real_images(folder)
    assert torch.equal(torch.cat(fb), raw)  # a folder: its PNGs at their own 28 x 28
    out = tmp_path / "native.npz"
    assert run_cli(capsys, "stats", str(folder), "--protocol", PROTOCOL, "--out", str(out))[0] == 0
    assert int(np.load(out)["image_size"]) == 28
    with pytest.warns(UserWarning, match="made from 28 px images but this generator makes 32 px"):
        code, _, err = run_cli(capsys, "eval", str(TEACHER), "--n", "8", "--reference", str(out))
    assert code == 0, err


def test_bad_inputs(own_samples, tmp_path, capsys):
    good = tmp_path / "good.npz"
    assert run_cli(capsys, "stats", str(own_samples), "--protocol", PROTOCOL, "--out", str(good))[0] == 0
    cases = []
    np.savez(tmp_path / "nomu.npz", sigma=np.eye(3))
    cases.append((["eval", str(TEACHER), "--n", "8", "--reference", str(tmp_path / "nomu.npz")], "hold no mu"))
    np.savez(tmp_path / "dim.npz", mu=np.zeros(64), sigma=np.eye(64))
    cases.append((["eval", str(TEACHER), "--n", "8", "--reference", str(tmp_path / "dim.npz")],
                  "64-dimensional but the fashion-mnist-classifier-v1 features are 128-dimensional"))
    cases.append((["eval", str(TEACHER), "--n", "8", "--reference", str(tmp_path / "none.npz")], "do not exist"))
    cases.append((["eval", str(TEACHER), "--n", "8", "--inception", str(tmp_path / "none.pth"), "--reference",
                   str(good)], "Inception weights file .* does not exist"))
    cases.append((["eval", str(TEACHER), "--n", "8", "--inception", "x.pth", "--teachers", "a,b"],
                  "--inception does not apply with --teachers"))
    cases.append((["stats", str(own_samples), "--protocol", "fashion-mnist-classifier-v9", "--out",
                   str(tmp_path / "a.npz")], "no protocol named 'fashion-mnist-classifier-v9'; the shipped ones"))
    cases.append((["stats", str(own_samples), "--out", str(tmp_path / "a.npz")], "exactly one feature network"))
    cases.append((["stats", str(tmp_path / "missing"), "--protocol", PROTOCOL, "--out", str(tmp_path / "a.npz")],
                  "neither an image folder nor a built-in"))
    cases.append((["stats", str(own_samples), "--protocol", PROTOCOL, "--out", str(tmp_path / "a.txt")],
                  "must end in .npz"))
    cases.append((["stats", str(own_samples), "--protocol", PROTOCOL, "--out", str(good)], "already exists"))
    foreign = tmp_path / "foreign.npz"
    foreign.write_bytes(b"someone else's file")
    cases.append((["stats", str(own_samples), "--protocol", PROTOCOL, "--out", str(foreign), "--overwrite"],
                  "not a stats file written by `gantransfer stats`; it is never replaced"))
    before = sorted(p.name for p in tmp_path.iterdir())
    for argv, message in cases:
        code, _, err = run_cli(capsys, *argv)
        assert code == 2, (argv, err)
        assert "Traceback" not in err
        import re
        assert re.search(message, err), (argv, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written, no temporary file left
    assert foreign.read_bytes() == b"someone else's file"
    assert run_cli(capsys, "stats", str(own_samples), "--protocol", PROTOCOL, "--out", str(good),
                   "--overwrite")[0] == 0  # its own earlier file may be replaced


def test_eval_reference_generates_the_samples_once(own_samples, tmp_path, monkeypatch):
    """`eval --reference` with a shipped protocol scores the protocols' own batches: the generator makes n samples,
    not 2n, and the figure is that of the same images scored apart."""
    import gantransfer.metrics.evaluate as evaluate_module
    from gantransfer.config import EvalConfig
    from gantransfer.metrics.reference_stats import prepare_reference, reference_evaluation, reference_stats, write_stats
    ref = write_stats(tmp_path / "ref.npz", reference_stats(own_samples, protocol="fashion-mnist-judge-v1"))
    made = []

    class Counting(torch.nn.Module):
        def __init__(self, g):
            super().__init__()
            self.g = g

        def forward(self, z, y=None):
            made.append(len(z))
            return self.g(z, y)

    import gantransfer.deploy.opener as opener_module  # evaluate opens generators through deploy/opener.py
    real_load = opener_module.load_generator
    monkeypatch.setattr(opener_module, "load_generator", lambda path, device: (lambda g, c: (Counting(g), c))(
        *real_load(path, device)))
    r = evaluate_module.evaluate(EvalConfig(generator=str(TEACHER), n=96, batch_size=40, reference=str(ref)))
    assert sum(made) == 96 and made == [40, 40, 16]  # once, in the protocols' batches
    fid = r["reference_stats"]["metrics"]["fid/fashion-mnist-judge-v1/96"]
    assert f"fid/{PROTOCOL}/96" in r["metrics"] and "fid/fashion-mnist-judge-v1/96" in r["metrics"]
    g, cfg = load(TEACHER)
    net, stats = prepare_reference(ref, None, "fashion-mnist")
    apart = reference_evaluation(g, cfg, 96, 0, None, ref, net, stats, batch_size=40)
    assert fid == pytest.approx(apart["metrics"]["fid/fashion-mnist-judge-v1/96"], rel=1e-9, abs=1e-9)
    assert fid > 0.1  # 96 samples against the stats of 64 others: not a degenerate zero
