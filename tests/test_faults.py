"""Faults while writing: a full disk leaves every earlier file intact, removes the partial file and ends in one
clear message; a torn last log line does not block --resume."""
import errno
import json

import pytest
import torch

from gantransfer.cli import main
from gantransfer.engine.logger import MetricsLog, read_log
from gantransfer.errors import CheckpointError
from gantransfer.grid import save_image_grid

RING = ["train", "--data", "ring8", "--steps", "4", "--checkpoint-every", "2", "--no-progress", "--device", "cpu"]


def disk_full(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


class NaNAboveRate:
    """A loss that is NaN while its optimizer's learning rate is above ``limit`` from step ``at`` on."""

    name, weight = "blowup", 1.0

    def __init__(self, module, opt, at: int, limit: float) -> None:
        self.module, self.opt, self.at, self.limit, self.calls = module, opt, at, limit, 0

    def __call__(self, ctx):
        self.calls += 1
        loss = self.module(ctx["x"]).pow(2).mean()
        return loss * float("nan") if ctx["step"] >= self.at and self.opt.param_groups[0]["lr"] > self.limit else loss


class StepSampler:
    def __init__(self) -> None:
        self.n = 0

    def next(self, rng, device):
        self.n += 1
        return {"x": torch.randn(8, 4, generator=rng), "step": self.n - 1}

    def state_dict(self):
        return {"n": self.n}

    def load_state_dict(self, state):
        self.n = state["n"]


def nan_task(at: int, limit: float):
    from gantransfer.engine.loop import Phase, TrainingTask
    module = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(module.parameters(), lr=0.1)
    term = NaNAboveRate(module, opt, at, limit)
    return TrainingTask(modules={"G": module}, optimizers={"G": opt}, phases=[Phase("G", opt, [term], {})],
                        sampler=StepSampler()), term


def test_on_nan_rollback_reloads_the_last_checkpoint_at_a_lower_rate(tmp_path):
    from gantransfer.engine.loop import Engine
    from gantransfer.engine.settings import EngineSettings
    from gantransfer.errors import TrainingDiverged
    settings = dict(steps=10, checkpoint_every=4, log_every=1, sample_every=100, progress=False, device="cpu")
    task, _ = nan_task(at=6, limit=0.06)
    with pytest.raises(TrainingDiverged, match="--on-nan rollback"):
        Engine(task, EngineSettings(**settings), tmp_path / "stop").fit()
    task, term = nan_task(at=6, limit=0.06)
    with pytest.warns(UserWarning, match=r"rolled back to the checkpoint of step 4 with the learning rates at x0\.5"):
        Engine(task, EngineSettings(**settings, on_nan="rollback"), tmp_path / "roll").fit()
    records = read_log(tmp_path / "roll" / "logs" / "metrics.jsonl")
    assert [r["step"] for r in records if "nan/rollback_to_step" in r] == [4]
    assert [r["step"] for r in records if "loss/G/blowup" in r] == list(range(1, 11))  # steps 5-6 once each
    assert json.loads((tmp_path / "roll" / "state" / "step-0000010" / "state.json").read_text())["lr_scale"] == 0.5
    task, _ = nan_task(at=6, limit=0.0)  # NaN at any rate: gives up after three rollbacks
    with pytest.raises(TrainingDiverged):
        with pytest.warns(UserWarning, match="3 of 3"):
            Engine(task, EngineSettings(**settings, on_nan="rollback"), tmp_path / "give-up").fit()
