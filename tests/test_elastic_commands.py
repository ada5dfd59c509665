"""An elastic student's widths in the commands (issue 31, item 3): `eval --width`, `export --width`, the refusals,
and the end-of-run figures and report row of every width."""
import json

import pytest
import torch

from conftest import needs_fmnist, run_cli
from gantransfer.models.config import GeneratorConfig, build_generator
from gantransfer.models.store import save_generator

N = 20


@pytest.fixture(scope="module")
def elastic_run(tmp_path_factory):
    from gantransfer.config import DistillConfig
    from gantransfer.tasks.distill import distill
    root = tmp_path_factory.mktemp("elastic")
    cfg = GeneratorConfig(arch="dcgan", latent_dim=16, resolution=32, channels=1, width=0.25, dataset="fashion-mnist")
    torch.manual_seed(0)
    save_generator(build_generator(cfg).eval(), cfg, root / "teacher")
    run = distill(DistillConfig(teacher=str(root / "teacher"), elastic="0.5,1", terms="pixel=1", steps=2, eval_n=N,
                                progress=False, device="cpu", out=str(root / "e")))
    return root, run


@needs_fmnist
def test_every_width_is_evaluated_and_reported(elastic_run):
    _, run = elastic_run
    widths = json.loads((run / "eval.json").read_text())["widths"]
    assert sorted(widths) == ["0.5", "1"]
    assert widths["0.5"]["family_width"] == 0.125 and widths["1"]["family_width"] == 0.25
    assert widths["0.5"]["macs"] < widths["1"]["macs"] and widths["0.5"]["macs_reduction"] > 2
    for w in widths.values():
        assert set(w["fid_ratio"]) == {"fashion-mnist-classifier-v1", "fashion-mnist-judge-v1"}
        assert w["fidelity_fresh"]["psnr"] > 0
    html = (run / "report" / "index.html").read_text()
    assert "Every width of the elastic student" in html
    table = html.split("Every width of the elastic student")[1].split("</table>")[0]
    assert table.count("<tr") == 3  # a header and a row per width


@needs_fmnist
def test_eval_and_export_take_a_width_and_refuse_bad_ones(elastic_run, capsys):
    root, run = elastic_run
    code, out, err = run_cli(capsys, "eval", str(run), "--width", "0.5", "--data", "fashion-mnist", "--n", str(N),
                             "--json")
    assert code == 0, err
    assert f"fid/fashion-mnist-classifier-v1/{N}" in json.loads(out)["metrics"]
    for width, message in (("0.3", "trained at widths 0.5, 1"), ("1.5", "in (0, 1]"), ("0", "in (0, 1]")):
        code, _, err = run_cli(capsys, "eval", str(run), "--width", width, "--data", "fashion-mnist", "--n", str(N))
        assert code == 2 and message in err, err
    code, _, err = run_cli(capsys, "eval", str(root / "teacher"), "--width", "0.5", "--data", "fashion-mnist",
                           "--n", str(N))
    assert code == 2 and "not elastic" in err
    onnx = root / "w05.onnx"
    code, out, err = run_cli(capsys, "export", str(run), "--width", "0.5", "--format", "onnx", "--out", str(onnx))
    assert code == 0 and onnx.is_file(), err
    from gantransfer.deploy.opener import open_exported
    meta = open_exported(onnx).session.get_modelmeta().custom_metadata_map
    assert json.loads(meta["gantransfer.config"])["width"] == 0.125
    code, _, err = run_cli(capsys, "export", str(root / "teacher"), "--width", "0.5", "--format", "onnx",
                           "--out", str(root / "t.onnx"))
    assert code == 2 and "not elastic" in err and not (root / "t.onnx").exists()
