"""The demo on shipped assets: report, grids and figures written, nothing downloaded."""
import json

from gantransfer.cli import main
from gantransfer.demo import TEACHERS, shipped_teacher
from gantransfer.models.store import load_config


def test_shipped_teachers_record_their_training_and_figures():
    for name in TEACHERS.values():
        cfg = load_config(shipped_teacher(name))
        assert cfg.dataset == "fashion-mnist"
        assert cfg.meta["training"]["command"].startswith("gantransfer train")
        shares = cfg.meta["evaluation"]["class_shares"]
        assert len(shares) == 10 and all(0.05 <= s <= 0.15 for s in shares.values()), shares


def test_demo_writes_a_report(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "demo"), "--n", "1000", "--device", "cpu"]) == 0
    assert str(tmp_path / "demo" / "index.html") in capsys.readouterr().out
    html = (tmp_path / "demo" / "index.html").read_text()
    assert "fid/fashion-mnist-classifier-v1/1k" in html and "conditional.png" in html
    metrics = json.loads((tmp_path / "demo" / "metrics.json").read_text())
    for kind in TEACHERS:
        assert metrics[kind]["metrics"]["fid/fashion-mnist-classifier-v1/1k"] > 0
        assert (tmp_path / "demo" / f"{kind}.png").stat().st_size > 1000
