"""Deployment: Conv-BN folding, exact int8-ready rewrites, ONNX/TorchScript export with parity checked before a
file is written, int8 quantization, runtime generators under the Generator contract, and the backend grid."""
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

pytest.importorskip("onnxruntime", reason="pip install -e '.[deploy]'")
pytest.importorskip("onnx", reason="pip install -e '.[deploy]'")

from gantransfer.cli import main  # noqa: E402
from conftest import run_cli  # noqa: E402
from gantransfer.api import export
from gantransfer.deploy.export import ExportError, export_generator
from gantransfer.deploy.inference import FOLD_TOLERANCE, fold_batchnorm, prepare_for_inference
from gantransfer.deploy.int8_layout import int8_friendly, up2_as_conv
from gantransfer.deploy.runtime import OnnxGenerator, TorchScriptGenerator, open_exported
from gantransfer.models.contract import Generator, config_of
from gantransfer.models.config import GeneratorConfig, build_generator, with_options
from gantransfer.models.store import save_generator

STUDENT = Path(__file__).parents[1] / "src/gantransfer/assets/students/fashion-mnist-dcgan-w0.125"




def trained_like(cfg: GeneratorConfig, seed: int = 0) -> nn.Module:
    """A generator with non-trivial batch-norm statistics (as after training)."""
    torch.manual_seed(seed)
    g = build_generator(cfg)
    for m in g.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.bias.data.uniform_(-0.2, 0.2)
    if hasattr(g, "cond_const"):  # affine conditioning: a learned per-label constant (zero at initialisation)
        g.cond_const.data.normal_()
    return g.eval()


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("gens")
    out = {}
    for name, cfg in {"uncond": GeneratorConfig(width=0.125, latent_dim=16, dataset="fashion-mnist"),
                      "cond": GeneratorConfig(width=0.125, latent_dim=16, num_classes=3,
                                              class_names=["a", "b", "c"]),
                      "affine": with_options(GeneratorConfig(width=0.125, latent_dim=16, num_classes=3),
                                             conditioning="affine"),
                      "points": GeneratorConfig(arch="mlp", latent_dim=2, resolution=0, channels=2, width=0.25,
                                                data_range=(-4.0, 4.0))}.items():
        out[name] = save_generator(trained_like(cfg), cfg, root / name)
    source = GeneratorConfig(width=0.125, latent_dim=16).to_dict()
    cfg = GeneratorConfig(arch="minegan", latent_dim=16, options={"sources": [source, source], "hidden": 8})
    g = build_generator(cfg)
    g.selector.data = torch.tensor([0.0, 0.5])  # two sources, each picked for some samples
    for miner in g.miners:
        nn.init.normal_(miner.mlp[-1].weight, 0, 0.5)
    out["mined"] = save_generator(g.eval(), cfg, root / "mined")
    return out


def test_folding_batchnorm_keeps_the_function_and_removes_the_norms(dirs):
    from gantransfer.api import load
    g, cfg = load(dirs["uncond"])
    folded, count = fold_batchnorm(g)
    assert count == 3 and not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    z = torch.randn(8, 16)
    with torch.no_grad():
        assert (folded(z) - g(z)).abs().max() < 1e-5


@pytest.mark.slow
def test_folding_is_refused_where_it_would_change_the_output(dirs):
    from gantransfer.api import load
    g, cfg = load(dirs["affine"])  # a per-label constant is added between the first conv and its batch norm
    folded, _ = fold_batchnorm(g)
    z, y = torch.randn(8, 16), torch.arange(8) % 3
    with torch.no_grad():
        assert (folded(z, y) - g(z, y)).abs().max() > 10 * FOLD_TOLERANCE  # folding alone: wrong here
    prepared, plan = prepare_for_inference(g, cfg)
    assert plan.fold_rejected and plan.folded == 0 and plan.difference == 0


@pytest.mark.slow
def test_transposed_convolutions_rewritten_exactly():
    m = nn.ConvTranspose2d(5, 3, 4, 2, 1, bias=True)
    x = torch.randn(2, 5, 6, 7)
    with torch.no_grad():
        assert (up2_as_conv(m)(x) - m(x)).abs().max() < 1e-5
    cfg = GeneratorConfig(width=0.125, latent_dim=16)
    g = trained_like(cfg)
    friendly, count = int8_friendly(g, cfg, min_channels=1)
    assert count == 4 and not any(isinstance(m, nn.ConvTranspose2d) for m in friendly.modules())
    narrow, count = int8_friendly(g, cfg)  # the 1-channel last layer stays a ConvTranspose (no int8 gain)
    assert count == 3 and isinstance(narrow.main[-2], nn.ConvTranspose2d)
    z = torch.randn(4, 16)
    with torch.no_grad():
        assert (friendly(z) - g(z)).abs().max() < 1e-5
    prepared, plan = prepare_for_inference(g, cfg, as_convolutions=True, channels_last=True)
    assert plan.folded == 3 and plan.rewritten == 4 and plan.channels_last and plan.difference < 1e-5
    from gantransfer.deploy.inference import VARIANTS, fastest_for_inference
    fastest, plan, name = fastest_for_inference(g, cfg, batch=4, calls=1)
    assert name in VARIANTS and plan.difference < 1e-5 and plan.folded == 3


def test_onnx_export_has_dynamic_batch_names_metadata_and_parity(dirs, tmp_path):
    out = tmp_path / "g.onnx"
    report = export_generator(dirs["uncond"], "onnx", out)
    assert max(report["parity"].values()) <= 1e-4 and set(report["parity"]) == {"max_abs_error_batch1",
                                                                               "max_abs_error_batch64"}
    g = open_exported(out)
    assert isinstance(g, OnnxGenerator) and isinstance(g, Generator)
    assert [i.name for i in g.session.get_inputs()] == ["z"] and g.session.get_outputs()[0].name == "image"
    meta = g.session.get_modelmeta().custom_metadata_map
    assert json.loads(meta["value_range"]) == [-1.0, 1.0] and meta["latent_dim"] == "16"
    assert json.loads(meta["gantransfer.config"])["width"] == 0.125
    cfg = config_of(g)
    assert cfg.dataset == "fashion-mnist" and cfg.sample_shape == (1, 32, 32)
    from gantransfer.api import load
    module, _ = load(dirs["uncond"])
    for batch in (3, 7):  # any batch size
        z = torch.randn(batch, 16)
        with torch.no_grad():
            assert (g(z) - module(z)).abs().max() < 1e-4


@pytest.mark.slow
def test_conditional_onnx_export_takes_labels(dirs, tmp_path):
    out = tmp_path / "c.onnx"
    export_generator(dirs["cond"], "onnx", out)
    g = open_exported(out)
    assert [i.name for i in g.session.get_inputs()] == ["z", "label"]
    assert json.loads(g.session.get_modelmeta().custom_metadata_map["labels"]) == ["a", "b", "c"]
    z, y = torch.randn(4, 16).repeat(2, 1), torch.tensor([0, 0, 0, 0, 2, 2, 2, 2])
    x = g(z, y)
    from gantransfer.api import load
    module, _ = load(dirs["cond"])
    with torch.no_grad():
        assert (x - module(z, y)).abs().max() < 1e-6
    assert (x[:4] - x[4:]).abs().max() > 1e-5  # the label changes the image (100x the export's error)
    with pytest.raises(ValueError, match="pass labels"):
        g(z)


@pytest.mark.slow
def test_every_family_exports_faithfully(dirs, tmp_path):
    # affine conditioning, 2-D points (MLP), and a two-source MineGAN (per-sample source choice)
    for name in ("affine", "points", "mined"):
        for fmt, suffix in (("onnx", ".onnx"), ("torchscript", ".pt")):
            report = export_generator(dirs[name], fmt, tmp_path / f"{name}{suffix}")
            assert max(report["parity"].values()) <= 1e-4
    from gantransfer.trust import trusting
    with trusting(code=True):  # a TorchScript file is code: opened only when trusted
        ts = open_exported(tmp_path / "points.pt")
    assert isinstance(ts, TorchScriptGenerator) and ts.sample_shape == (2,) and ts.value_range == (-4.0, 4.0)


def test_export_that_fails_parity_writes_nothing(dirs, tmp_path, monkeypatch):
    import gantransfer.deploy.onnx_export as onnx_export
    real = onnx_export.write_onnx

    def wrong(module, cfg, path, opset=onnx_export.OPSET):  # a different generator of the same shape
        real(trained_like(GeneratorConfig(width=0.125, latent_dim=16), seed=1), cfg, path, opset)
    monkeypatch.setattr(onnx_export, "write_onnx", wrong)
    with pytest.raises(ExportError, match="does not reproduce"):
        export_generator(dirs["uncond"], "onnx", tmp_path / "bad.onnx")
    assert list(tmp_path.iterdir()) == []  # neither the file nor a temporary one


@pytest.mark.slow
def test_int8_export_quantizes_the_convolutions_and_reports_quality(tmp_path):
    out = tmp_path / "s8.onnx"
    report = export(STUDENT, "onnx", out, int8=True, calibration=64, fid_n=200)  # the API passes the judge
    q = report["int8"]
    assert q["kernels"]["int8"] == {"QGemm": 1, "QLinearConv": 2} and q["kernels"]["float"]["ConvTranspose"] == 1
    assert 20 < q["psnr_vs_fp32_db"] < 60  # quantized: close to fp32 but not equal
    assert q["fid"]["key"] == "fid/fashion-mnist-classifier-v1/200" and abs(q["fid"]["relative_change"]) < 0.5
    g = open_exported(out)
    assert g.session.get_modelmeta().custom_metadata_map["precision"] == "int8"


@pytest.mark.slow
def test_cli_export_sample_and_eval_an_exported_file(capsys, tmp_path):
    out = tmp_path / "s.onnx"
    code, text, _ = run_cli(capsys, "export", str(STUDENT), "--format", "onnx", "--out", str(out))
    assert code == 0 and "wrote" in text and out.is_file()
    code, _, _ = run_cli(capsys, "sample", str(out), "--n", "8", "--out", str(tmp_path / "g.png"))
    assert code == 0 and (tmp_path / "g.png").stat().st_size > 0
    code, text, _ = run_cli(capsys, "eval", str(out), "--data", "fashion-mnist", "--n", "300", "--json")
    assert code == 0 and json.loads(text)["metrics"]["fid/fashion-mnist-classifier-v1/300"] > 0


def _foreign_onnx(path: Path) -> None:
    class Doubler(nn.Module):
        def forward(self, x):
            return x * 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(Doubler(), (torch.randn(1, 4),), str(path), input_names=["x"], output_names=["y"],
                          dynamo=False)


@pytest.mark.parametrize("case", ["not_a_generator", "unknown_format", "missing_dir", "calibration_0",
                                  "exists", "foreign_onnx_sample", "foreign_onnx_eval"])
def test_bad_input_is_one_clear_message_and_leaves_no_file(capsys, tmp_path, case):
    out = tmp_path / "x.onnx"
    argv = {"not_a_generator": ["export", str(tmp_path), "--format", "onnx", "--out", str(out)],
            "unknown_format": ["export", str(STUDENT), "--format", "tflite", "--out", str(out)],
            "missing_dir": ["export", str(STUDENT), "--format", "onnx", "--out", str(tmp_path / "no" / "x.onnx")],
            "calibration_0": ["export", str(STUDENT), "--format", "onnx", "--int8", "--calibration", "0",
                              "--out", str(out)],
            "exists": ["export", str(STUDENT), "--format", "onnx", "--out", str(out)],
            "foreign_onnx_sample": ["sample", str(out), "--out", str(tmp_path / "g.png")],
            "foreign_onnx_eval": ["eval", str(out), "--data", "fashion-mnist", "--n", "100"]}[case]
    needle = {"not_a_generator": "not a generator", "unknown_format": "unknown --format",
              "missing_dir": "does not exist", "calibration_0": "at least 1", "exists": "already exists",
              "foreign_onnx_sample": "not a gantransfer export", "foreign_onnx_eval": "not a gantransfer export"}[case]
    if case == "exists":
        out.write_text("mine")
    if case.startswith("foreign"):
        _foreign_onnx(out)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    code, _, err = run_cli(capsys, *argv)
    assert code != 0 and needle in err and "Traceback" not in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    if case == "exists":
        assert out.read_text() == "mine"


def test_onnx_with_unexpected_inputs_is_refused(dirs, tmp_path):
    import onnx
    out = tmp_path / "g.onnx"
    export_generator(dirs["uncond"], "onnx", out)
    model = onnx.load(str(out))
    model.graph.input[0].name = "noise"
    for node in model.graph.node:
        node.input[:] = ["noise" if i == "z" else i for i in node.input]
    onnx.save(model, str(out))
    from gantransfer.errors import CheckpointError
    with pytest.raises(CheckpointError, match="unexpected inputs"):
        open_exported(out)


@pytest.mark.slow
def test_bench_grid_rows_ratios_and_flops(dirs, capsys, tmp_path):
    out = tmp_path / "bench.json"
    code, text, _ = run_cli(capsys, "bench", str(dirs["uncond"]), "--against", str(dirs["cond"]), "--backends",
                            "eager-plain,eager,onnx", "--batch", "1,4", "--threads", "1", "--repeats", "2",
                            "--rounds", "1", "--out", str(out))
    assert code == 0 and "samples/s" in text
    r = json.loads(out.read_text())
    assert r["reference"] == {"generator": "cond", "backend": "eager"}
    rows = {(x["generator"], x["backend"], x["batch"]): x for x in r["rows"]}
    assert len(rows) == 2 * 2 * 3  # both generators, both batches, every backend
    assert rows[("cond", "eager", 4)]["speedup_vs_reference"] == 1.0
    x = rows[("uncond", "onnx", 4)]
    macs = r["generators"]["uncond"]["macs"]
    assert x["gflops"] == pytest.approx(2 * macs * x["throughput_per_s"] / 1e9)
    assert x["throughput_per_s"] == pytest.approx(4 / (x["latency_ms_median"] / 1e3))
    assert x["latency_ms_p90"] >= x["latency_ms_median"] and x["timed_calls"] == 2
    assert r["machine"]["matmul_peak_gflops"]["1"] > 0
    assert r["exports"]["uncond"]["onnx"]["parity"]["max_abs_error_batch64"] <= 1e-4
    code, _, err = run_cli(capsys, "bench", str(dirs["uncond"]), "--backends", "tensorrt")
    assert code != 0 and "unknown backend" in err


@pytest.mark.slow
def test_a_stylegan2_onnx_export_takes_its_noise_as_optional_inputs(tmp_path):
    """The noise is not baked in: noise_0.. (N, 1, R, R) are inputs that default to the stored noise."""
    cfg = GeneratorConfig(arch="stylegan2", latent_dim=12, resolution=16, channels=3, width=1 / 16, num_classes=2,
                          options={"w_dim": 16, "mapping_layers": 2, "channel_max": 16})
    torch.manual_seed(0)
    g = build_generator(cfg).eval()
    for m in g.modules():
        if hasattr(m, "noise_strength"):
            m.noise_strength.data.fill_(0.5)  # zero at initialisation: make the noise matter
    save_generator(g, cfg, tmp_path / "g")
    report = export_generator(tmp_path / "g", "onnx", tmp_path / "g.onnx")
    assert max(report["parity"].values()) <= 1e-4 and "noise" in report
    onnx_g = OnnxGenerator(tmp_path / "g.onnx")
    assert onnx_g.noise_inputs == [f"noise_{i}" for i in range(5)]
    assert onnx_g.noise_shapes() == [(4, 4), (8, 8), (8, 8), (16, 16), (16, 16)]
    z, y = torch.randn(3, 12), torch.tensor([0, 1, 1])
    noise = [torch.randn(3, 1, r, r) for r, _ in onnx_g.noise_shapes()]
    with torch.no_grad():
        assert (onnx_g(z, y) - g(z, y, noise_mode="const")).abs().max() < 1e-4      # not fed: the stored noise
        assert (onnx_g(z, y, noise=noise) - g(z, y, noise=noise)).abs().max() < 1e-4  # fed: that noise
        assert (onnx_g(z, y, noise=noise) - onnx_g(z, y)).abs().max() > 1e-2
        assert (onnx_g(z, y, noise_mode="none") - g(z, y, noise_mode="none")).abs().max() < 1e-4
        assert torch.equal(onnx_g(z, y, noise_mode="random"), onnx_g(z, y, noise_mode="random"))
    from gantransfer.errors import ConfigError
    with pytest.raises(ConfigError, match="--int8 is not offered for stylegan2"):
        export_generator(tmp_path / "g", "onnx", tmp_path / "g8.onnx", int8=True)
    assert not (tmp_path / "g8.onnx").exists()
