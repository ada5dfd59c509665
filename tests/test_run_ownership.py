"""A run owns only its own files: commands write only into a new or empty directory or their own earlier run,
--overwrite replaces a run (its files only), and nothing that a command did not create is changed or deleted."""
import hashlib
import json
from pathlib import Path

import pytest

from gantransfer.cli import main

SHIPPED_TEACHER = Path(__file__).resolve().parents[1] / "src" / "gantransfer" / "assets" / "teachers" / \
    "fashion-mnist-dcgan"
RING = ["--data", "ring8", "--steps", "2", "--no-progress", "--device", "cpu"]


def digest(root: Path) -> dict[str, str]:
    """Every file under ``root`` and its SHA-256."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


def test_a_directory_that_is_not_a_run_is_refused_and_left_alone(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my work")
    (mine / "samples").mkdir()
    (mine / "samples" / "keep.png").write_bytes(b"png")
    before = digest(mine)
    code, err = run_cli(capsys, "train", *RING, "--out", str(mine))
    assert code == 2 and "is not empty and is not a gantransfer run" in err and "Choose another --out" in err
    code, err = run_cli(capsys, "train", *RING, "--out", str(mine), "--overwrite")
    assert code == 2 and "is not a gantransfer run" in err
    assert digest(mine) == before
    (tmp_path / "file").write_text("x")
    code, err = run_cli(capsys, "train", *RING, "--out", str(tmp_path / "file"))
    assert code == 2 and "is a file, not a directory" in err


def test_another_commands_run_is_refused_and_resume_needs_a_run(tmp_path, capsys):
    run = tmp_path / "t"
    assert main(["train", *RING, "--out", str(run)]) == 0
    before = digest(run)
    code, err = run_cli(capsys, "distill", "--teacher", str(run), "--steps", "1", "--out", str(run))
    assert code == 2 and f"holds a `gantransfer train` run; `gantransfer distill` does not write" in err
    code, err = run_cli(capsys, "train", *RING, "--out", str(run))
    assert code == 2 and "--resume to continue it, --overwrite to replace it" in err
    assert digest(run) == before
    code, err = run_cli(capsys, "train", *RING, "--out", str(tmp_path / "empty"), "--resume")
    assert code == 2 and "holds no run to resume" in err and not (tmp_path / "empty").exists()
    code, err = run_cli(capsys, "train", *RING, "--out", str(run), "--resume", "--overwrite")
    assert code == 2 and "give one of them" in err


def test_overwrite_replaces_the_run_and_keeps_what_is_not_the_runs(tmp_path, capsys):
    run = tmp_path / "t"
    assert main(["train", *RING, "--out", str(run)]) == 0
    (run / "my-notes.md").write_text("analysis")
    old = json.loads((run / "run.json").read_text())["config"]["seed"]
    assert main(["train", *RING, "--seed", "3", "--out", str(run), "--overwrite"]) == 0
    assert json.loads((run / "run.json").read_text())["config"]["seed"] == 3 != old
    assert (run / "my-notes.md").read_text() == "analysis"
    assert sorted(p.name for p in (run / "state").glob("step-*")) == ["step-0000002"]


DEMO = ["--n", "40", "--steps", "2", "--device", "cpu"]


@pytest.mark.slow
def test_demo_writes_a_fresh_directory_of_its_own(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    user_run = tmp_path / "runs" / "demo" / "student"  # the user's own run where the demo used to write
    assert main(["train", *RING, "--out", str(user_run)]) == 0
    before = digest(tmp_path / "runs" / "demo")
    assert main(["demo", *DEMO]) == 0
    assert digest(tmp_path / "runs" / "demo") == before  # untouched
    report = tmp_path / "runs" / "demo-2" / "index.html"
    assert report.is_file() and str(Path("runs/demo-2/index.html")) in capsys.readouterr().out
    assert json.loads((tmp_path / "runs" / "demo-2" / "run.json").read_text())["command"] == "demo"
    code, err = run_cli(capsys, "demo", *DEMO, "--out", "runs/demo")
    assert code == 2 and "is not a gantransfer run" in err
    assert digest(tmp_path / "runs" / "demo") == before


@pytest.mark.slow
def test_demo_replaces_an_earlier_demo_only_when_asked(tmp_path, capsys):
    out = tmp_path / "d"
    assert main(["demo", *DEMO, "--out", str(out)]) == 0
    (out / "mine.txt").write_text("keep")
    before = digest(out)
    code, err = run_cli(capsys, "demo", *DEMO, "--out", str(out))
    assert code == 2 and "holds an earlier demo; pass --overwrite" in err and digest(out) == before
    assert main(["demo", *DEMO, "--out", str(out), "--overwrite", "--steps", "3"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["distillation"]["steps"] == 3 and (out / "mine.txt").read_text() == "keep"
