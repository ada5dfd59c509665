"""The demo on shipped assets: a short distillation, report, grids and figures written, nothing downloaded."""
import json

import pytest

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


@pytest.mark.slow
def test_demo_distils_and_writes_a_report(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--n", "500", "--device", "cpu", "--steps", "30"]) == 0
    assert str(out / "index.html") in capsys.readouterr().out
    html = (out / "index.html").read_text()
    for needle in ("Protocol: fashion-mnist-classifier-v1, 500 samples", "conditional.png",
                   "assets/teacher_vs_student.png", "assets/loss-curves.png", "PSNR", "multiply-accumulates per sample",
                   "gantransfer demo --n 500 --steps 30"):
        assert needle in html, needle
    assert "macs_reduction" not in html and "params_reduction" not in html  # the report's words, not raw keys
    from gantransfer.report.browser import unavailable
    if unavailable() is None:  # the same checks as tests/test_report_browser.py, on the demo's page
        from gantransfer.report.browser import check_page
        for width, r in check_page(out / "index.html", (1280, 390), screenshots=tmp_path).items():
            assert not r["errors"] and not r["wide"] and not r["broken"] and r["scrollWidth"] <= width, (width, r)
        print(f"screenshots of the demo page: {tmp_path}")
    metrics = json.loads((out / "metrics.json").read_text())
    ev = metrics["distillation"]["eval"]
    assert ev["cost"]["macs_reduction"] >= 20
    assert set(ev["fidelity"]) == {"bank", "fresh"}
    assert metrics["distillation"]["bench"]["ratios"]["params_reduction"] > 9  # width 0.2: 9.8x
    # both protocols, and no protocol a loss of the demo used
    assert set(ev["fid_ratio"]) == {"fashion-mnist-classifier-v1", "fashion-mnist-judge-v1"}
    assert ev["loss_networks"] == ["fashion-mnist-perceptual-v1"]
    assert not any(m["used_by_loss"] for m in ev["protocols"].values())
    assert "Protocol: fashion-mnist-judge-v1, 500 samples" in html  # the second protocol has its own table
    assert metrics["distillation"]["steps"] == 30
    for kind in TEACHERS:
        assert metrics[kind]["metrics"]["fid/fashion-mnist-classifier-v1/500"] > 0
        assert (out / f"{kind}.png").stat().st_size > 1000
    for png in ("assets/teacher_vs_student.png", "assets/loss-curves.png"):
        assert (out / png).stat().st_size > 1000


def test_demo_refuses_to_delete_a_folder_that_is_not_its_run(tmp_path, capsys):
    (tmp_path / "student").mkdir()
    (tmp_path / "student" / "keep.txt").write_text("mine")
    assert main(["demo", "--out", str(tmp_path), "--n", "500", "--steps", "2"]) == 2
    assert main(["demo", "--out", str(tmp_path), "--n", "500", "--steps", "2", "--overwrite"]) == 2
    assert "not a gantransfer run" in capsys.readouterr().err
    assert (tmp_path / "student" / "keep.txt").exists()


def test_shipped_students_are_over_20x_cheaper_and_the_teacher_ships_its_discriminator():
    from gantransfer.models.cost import count_macs
    from gantransfer.demo import STUDENTS, shipped
    from gantransfer.models.store import load_generator
    from gantransfer.teachers import load_teacher
    t = load_teacher(shipped_teacher(TEACHERS["unconditional"]))
    assert t.discriminator is not None
    for name in STUDENTS:
        s, scfg = load_generator(shipped("students", name))
        assert count_macs(t.module, t.config) / count_macs(s, scfg) > 20
        ev = scfg.meta["evaluation"]
        assert ev["cost"]["macs_reduction"] > 20 and scfg.meta["training"]["command"].startswith("gantransfer distill")
