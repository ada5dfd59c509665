"""Faults while writing: a full disk leaves every earlier file intact, removes the partial file and ends in one
clear message; a torn last log line does not block --resume."""
import errno
import json

import pytest
import torch

from gantransfer.cli import main
from gantransfer.engine.logger import MetricsLog, read_log
from gantransfer.errors import CheckpointError
from gantransfer.report.grid import save_image_grid

RING = ["train", "--data", "ring8", "--steps", "4", "--checkpoint-every", "2", "--no-progress", "--device", "cpu"]


def disk_full(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_during_a_checkpoint_keeps_the_earlier_one(tmp_path, capsys, monkeypatch):
    run = tmp_path / "r"
    assert main([*RING, "--steps", "2", "--out", str(run)]) == 0
    before = {p: p.read_bytes() for p in (run / "state").rglob("*") if p.is_file()}
    import gantransfer.engine.checkpoint as checkpoint
    monkeypatch.setattr(checkpoint, "write_tensors", disk_full)
    code = main([*RING, "--out", str(run), "--resume"])
    err = capsys.readouterr().err
    assert code == 2 and "No space left on device" in err and "free some space" in err and "Traceback" not in err
    assert {p: p.read_bytes() for p in (run / "state").rglob("*") if p.is_file()} == before
    assert not list((run / "state").glob(".*tmp"))  # its own partial step removed
    monkeypatch.undo()
    assert main([*RING, "--out", str(run), "--resume"]) == 0  # and the run goes on from the intact one
    assert json.loads((run / "state" / "latest.json").read_text())["step"] == 4


def test_a_failed_grid_write_leaves_the_earlier_png_and_no_temporary(tmp_path, monkeypatch):
    png = tmp_path / "grid.png"
    save_image_grid(torch.zeros(4, 1, 16, 16), png)
    before = png.read_bytes()
    from PIL import Image
    monkeypatch.setattr(Image.Image, "save", disk_full)
    with pytest.raises(OSError):
        save_image_grid(torch.ones(4, 1, 16, 16), png)
    assert png.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["grid.png"]


def test_a_torn_last_log_line_is_dropped_on_resume(tmp_path):
    run = tmp_path / "r"
    assert main([*RING, "--out", str(run)]) == 0
    log = run / "logs" / "metrics.jsonl"
    log.write_text(log.read_text() + '{"step": 5, "loss/G/ad')  # a write cut short
    assert read_log(log)[-1]["step"] == 4
    MetricsLog(run, resume_step=4)
    assert log.read_text().endswith("}\n") and all(json.loads(ln) for ln in log.read_text().splitlines())
    assert main([*RING, "--steps", "6", "--out", str(run), "--resume"]) == 0
    log.write_text('{"step": 1}\n{"step": 2, "torn\n{"step": 3}\n')
    with pytest.raises(CheckpointError, match="line 2 is not valid JSON"):
        read_log(log)


def test_a_corrupt_newest_checkpoint_falls_back_to_the_previous_one(tmp_path, capsys):
    from safetensors.torch import load_file
    straight, run = tmp_path / "straight", tmp_path / "r"
    assert main([*RING, "--steps", "6", "--out", str(straight)]) == 0
    assert main([*RING, "--out", str(run)]) == 0  # checkpoints at steps 2 and 4
    newest = run / "state" / "step-0000004" / "tensors.safetensors"
    data = bytearray(newest.read_bytes())
    data[-10:] = bytes(b ^ 0xFF for b in data[-10:])  # flipped bits: still a readable file, but not what was saved
    newest.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="does not match the checksum.*resuming from the earlier checkpoint "
                                         "step-0000002"):
        assert main([*RING, "--steps", "6", "--out", str(run), "--resume"]) == 0
    a, b = (load_file(str(r / "generator" / "model.safetensors")) for r in (straight, run))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)  # resumed from step 2, exactly
    for step in ("step-0000004", "step-0000006"):
        (run / "state" / step / "state.json").write_text("{")
    code = main([*RING, "--steps", "8", "--out", str(run), "--resume"])
    assert code == 2 and "no intact checkpoint" in capsys.readouterr().err
