"""int8 export of translators (`gantransfer export DIR --format onnx --int8`): the same check as image generators
get (PSNR against the fp32 export on the parity inputs, at least ``INT8_MIN_PSNR`` dB, recorded in the report and
the file), calibrated on input images; refused, with nothing written, below the tolerance."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import run_cli
from gantransfer.models.config import GeneratorConfig, build_generator
from gantransfer.models.store import save_generator
from junyanz_reference import randomise

pytest.importorskip("onnxruntime")


def _save(path, arch, options):
    cfg = GeneratorConfig(arch=arch, latent_dim=0, input_channels=3, channels=3, resolution=32, options=options)
    g = randomise(build_generator(cfg)).eval()
    save_generator(g, cfg, path)
    return g


@pytest.mark.parametrize("arch,options", [("resnet", {"ngf": 8, "n_blocks": 2, "norm": "instance"}),
                                          ("mobile-resnet", {"ngf": 8, "n_blocks": 2, "norm": "batch"}),
                                          ("unet", {"ngf": 8, "num_downs": 5, "norm": "batch"})])
def test_int8_export_of_a_translator_is_parity_checked_and_recorded(tmp_path, capsys, arch, options):
    from gantransfer.deploy.export import INT8_MIN_PSNR
    from gantransfer.deploy.runtime import open_exported
    g = _save(tmp_path / "t", arch, options)
    code, out, err = run_cli(capsys, "export", str(tmp_path / "t"), "--format", "onnx", "--int8",
                             "--out", str(tmp_path / "q.onnx"))
    assert code == 0, err
    q = open_exported(tmp_path / "q.onnx")
    report = json.loads(q.session.get_modelmeta().custom_metadata_map["gantransfer.report"])
    assert report["precision"] == "int8" and max(report["parity"].values()) <= 1e-4  # fp32 first, as always
    int8 = report["int8"]
    assert int8["psnr_vs_fp32_db"] >= INT8_MIN_PSNR and int8["calibration_latents"] == 32
    assert int8["kernels"]["int8"].get("QLinearConv", 0) > 0  # convolutions really run in int8
    assert "no FID protocol" in int8["fid"]["skipped"]
    if arch == "unet":  # its 4x4 stride-2 transposed convolutions get an exact int8-ready form
        assert int8["transposed_convolutions_rewritten"] > 0 and max(int8["rewrite_parity"].values()) <= 1e-4
    x = torch.rand(2, 3, 64, 64) * 2 - 1  # another size than the one calibrated: still close to PyTorch
    with torch.no_grad():
        ref, got = g(x), q(x)
    assert got.shape == ref.shape
    mse = float(((got - ref) ** 2).mean())
    assert 10 * torch.log10(torch.tensor(4.0 / max(mse, 1e-12))) > INT8_MIN_PSNR - 5
    # the int8 file is run by `translate` and judged against its source on real inputs by `eval --input`
    (tmp_path / "in").mkdir()
    for i in range(2):
        Image.fromarray(np.random.default_rng(i).integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(
            tmp_path / "in" / f"{i}.png")
    code, out, err = run_cli(capsys, "eval", str(tmp_path / "q.onnx"), "--input", str(tmp_path / "in"),
                             "--against", str(tmp_path / "t"))
    assert code == 0, err
    assert json.loads(out)["against"]["psnr"] > INT8_MIN_PSNR - 5
    code, out, err = run_cli(capsys, "translate", str(tmp_path / "q.onnx"), "--input", str(tmp_path / "in"),
                             "--out", str(tmp_path / "o"), "--size", "64")
    assert code == 0 and sorted(p.name for p in (tmp_path / "o").iterdir()) == ["0.png", "1.png"], err
    code, _, err = run_cli(capsys, "translate", str(tmp_path / "q.onnx"), "--input", str(tmp_path / "in"),
                           "--out", str(tmp_path / "o2"), "--size", "42")
    nearest = "multiple of 32; nearest valid: 32 or 64" if arch == "unet" else "multiple of 4; nearest valid: 40 or 44"
    assert code != 0 and nearest in err and not (tmp_path / "o2").exists()
    code, _, err = run_cli(capsys, "translate", str(tmp_path / "q.onnx"), "--input", str(tmp_path / "in"),
                           "--out", str(tmp_path / "o3"), "--train-mode")
    assert code != 0 and "exported file" in err and not (tmp_path / "o3").exists()


def test_int8_below_the_tolerance_writes_nothing(tmp_path, capsys, monkeypatch):
    _save(tmp_path / "t", "resnet", {"ngf": 4, "n_blocks": 1, "norm": "instance"})
    monkeypatch.setattr("gantransfer.deploy.export.INT8_MIN_PSNR", 200.0)
    code, _, err = run_cli(capsys, "export", str(tmp_path / "t"), "--format", "onnx", "--int8",
                           "--out", str(tmp_path / "q.onnx"))
    assert code != 0 and "the int8 model is too far from fp32" in err and "< 200 dB" in err
    assert "Traceback" not in err and not (tmp_path / "q.onnx").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".q.onnx")]  # no temporary file left
