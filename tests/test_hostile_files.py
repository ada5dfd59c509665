"""Files from outside are hostile: no code from a file unless the user asks, and nothing of the user's is deleted
or replaced (manifest-bound --overwrite, --out files, locks, links, crafted report records)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_cli

RING = ["--data", "ring8", "--steps", "2", "--no-progress", "--device", "cpu"]


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory) -> Path:
    from gantransfer.cli import main
    run = tmp_path_factory.mktemp("ring") / "run"
    assert main(["train", *RING, "--out", str(run)]) == 0
    return run


@pytest.fixture(scope="module")
def ts_file(ring_run, tmp_path_factory) -> Path:
    from gantransfer.cli import main
    out = tmp_path_factory.mktemp("ts") / "g.pt"
    assert main(["export", str(ring_run), "--format", "torchscript", "--out", str(out)]) == 0
    return out


def _one_clear_error(code, err, needle):
    assert code == 2 and needle in err and "Traceback" not in err and err.strip().count("\n") == 0, err


@pytest.mark.parametrize("argv", [["sample", "{ts}", "--out", "{tmp}/s.png"],
                                  ["eval", "{ts}", "--n", "20"],
                                  ["distill", "--teacher", "{ts}", "--steps", "1", "--out", "{tmp}/d",
                                   "--device", "cpu"]])
def test_a_torchscript_file_runs_only_with_trust_code(ts_file, tmp_path, capsys, monkeypatch, argv):
    import torch
    loads = []
    real = torch.jit.load
    monkeypatch.setattr(torch.jit, "load", lambda *a, **k: loads.append(a) or real(*a, **k))
    argv = [a.format(ts=ts_file, tmp=tmp_path) for a in argv]
    code, _, err = run_cli(capsys, *argv)
    _one_clear_error(code, err, "--trust-code")
    assert "ONNX" in err and loads == [] and list(tmp_path.iterdir()) == []
    if argv[0] == "sample":
        code, _, err = run_cli(capsys, *argv, "--trust-code")
        assert code == 0 and loads and (tmp_path / "s.png").is_file()


@pytest.mark.parametrize("field", ["teacher_module", "perceptual_net"])
def test_an_entry_point_in_a_config_file_is_refused(ring_run, tmp_path, capsys, field):
    cfg = tmp_path / "recipe.json"
    teacher = {} if field == "teacher_module" else {"teacher": str(ring_run), "terms": "pixel=1,perceptual=1"}
    cfg.write_text(json.dumps({field: "faulthandler:_sigsegv", **teacher}))  # would crash the process
    code, _, err = run_cli(capsys, "distill", "--config", str(cfg), "--steps", "1", "--device", "cpu",
                           "--out", str(tmp_path / "d"))
    _one_clear_error(code, err, "'faulthandler:_sigsegv'")
    assert "--allow-entry-points" in err and field in err and not (tmp_path / "d").exists()


def test_an_entry_point_in_a_config_file_is_taken_when_allowed(tmp_path, capsys, monkeypatch):
    import gantransfer.teachers as teachers
    called = []
    monkeypatch.setattr(teachers, "import_entry_point", lambda spec, flag: called.append(spec) or 1 / 0)
    cfg = tmp_path / "recipe.json"
    cfg.write_text(json.dumps({"teacher_module": "mypkg.gens:make", "latent_dim": 4}))
    with pytest.raises(ZeroDivisionError):
        run_cli(capsys, "distill", "--config", str(cfg), "--steps", "1", "--device", "cpu",
                "--out", str(tmp_path / "d"), "--allow-entry-points")
    assert called == ["mypkg.gens:make"]


def test_overwrite_removes_only_the_files_the_run_recorded(tmp_path, capsys):
    from gantransfer.cli import main
    run = tmp_path / "t"
    assert main(["train", *RING, "--out", str(run)]) == 0
    assert json.loads((run / "manifest.json").read_text())["files"]["generator/model.safetensors"]
    mine = {run / "samples" / "my_notes.txt": "notes", run / "logs" / "my_analysis.txt": "analysis",
            run / "report" / "figs_i_made" / "f.txt": "fig", run / "state" / "keep.txt": "k"}
    for p, text in mine.items():
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    assert main(["train", *RING, "--seed", "3", "--out", str(run), "--overwrite"]) == 0
    assert all(p.read_text() == text for p, text in mine.items())
    assert json.loads((run / "run.json").read_text())["config"]["seed"] == 3


def test_a_crafted_manifest_deletes_nothing_of_the_users(ring_run, tmp_path, capsys):
    import shutil
    run = tmp_path / "handed"
    shutil.copytree(ring_run, run)  # a run folder someone handed over, its manifest crafted
    (run / "notes.txt").write_text("mine")
    outside = tmp_path / "outside.txt"
    outside.write_text("mine too")
    crafted = {"kind": "gantransfer run manifest", "version": 1,
               "files": {"notes.txt": [4, 0], "../outside.txt": [8, outside.stat().st_mtime_ns],
                         str(outside): [8, outside.stat().st_mtime_ns]}}
    (run / "manifest.json").write_text(json.dumps(crafted))
    code, _, err = run_cli(capsys, "train", *RING, "--out", str(run), "--overwrite")
    assert code == 0, err
    assert (run / "notes.txt").read_text() == "mine" and outside.read_text() == "mine too"


def test_sample_does_not_replace_a_file_unasked(ring_run, tmp_path, capsys):
    notes = tmp_path / "notes.md"
    notes.write_text("my notes")
    code, _, err = run_cli(capsys, "sample", str(ring_run), "--out", str(notes))
    _one_clear_error(code, err, "already exists; pass --overwrite")
    assert notes.read_text() == "my notes"


def test_a_second_command_on_a_held_run_is_refused_and_a_stale_lock_is_taken_over(ring_run, tmp_path, capsys):
    import shutil
    run = tmp_path / "r"
    shutil.copytree(ring_run, run)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (run / ".gantransfer.lock").write_text(f"{holder.pid}\n")
        code, _, err = run_cli(capsys, "train", *RING, "--out", str(run), "--resume", "--dry-run")
        _one_clear_error(code, err, f"in use by another gantransfer command (process {holder.pid})")
    finally:
        holder.kill()
        holder.wait()
    code, _, err = run_cli(capsys, "train", *RING, "--steps", "3", "--out", str(run), "--resume")
    assert code == 0, err
    assert not (run / ".gantransfer.lock").exists()  # released at the end


def test_a_symlink_inside_a_run_is_refused_not_followed(ring_run, tmp_path, capsys):
    import shutil
    run = tmp_path / "r"
    shutil.copytree(ring_run, run)
    elsewhere = tmp_path / "elsewhere"
    shutil.move(str(run / "generator"), str(elsewhere))
    os.symlink(elsewhere, run / "generator")
    before = sorted((p.name, p.stat().st_mtime_ns) for p in elsewhere.iterdir())
    for extra in (["--resume", "--steps", "3"], ["--overwrite"]):
        code, _, err = run_cli(capsys, "train", *RING, *extra, "--out", str(run))
        _one_clear_error(code, err, "is a symbolic link")
    assert sorted((p.name, p.stat().st_mtime_ns) for p in elsewhere.iterdir()) == before


def test_a_report_record_it_did_not_write_deletes_nothing(ring_run, tmp_path, capsys):
    out = tmp_path / "rep"
    out.mkdir()
    (out / "precious.txt").write_text("mine")
    (out / "report.json").write_text(json.dumps({"kind": "gantransfer report", "files": ["precious.txt"],
                                                 "stamps": {"precious.txt": [1, 1]}}))
    run_cli(capsys, "report", str(ring_run), "--out", str(out), "--no-bench")
    assert (out / "precious.txt").read_text() == "mine"


def test_a_run_named_like_a_url_scheme_is_no_link_target(ring_run, tmp_path, capsys):
    import shutil
    odd = tmp_path / "javascript:alert(1)"
    shutil.copytree(ring_run, odd)
    code, _, err = run_cli(capsys, "report", str(ring_run), str(odd), "--out", str(tmp_path / "cmp"), "--no-bench")
    assert code == 0, err
    html = (tmp_path / "cmp" / "index.html").read_text()
    assert 'href="javascript:' not in html and 'href="./javascript%3Aalert%281%29/index.html"' in html
