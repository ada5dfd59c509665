"""The engine: exact resume (also after SIGKILL), atomic checkpoints, NaN guard, logs."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from gantransfer.config import TrainConfig
from gantransfer.errors import ConfigError, TrainingDiverged
from gantransfer.tasks.train import train

TOY = dict(data="ring8", progress=False, log_every=5, sample_every=1000, checkpoint_every=10, batch_size=64, limit=2000)


def weights(run: Path) -> dict[str, torch.Tensor]:
    state = json.loads((run / "state" / "latest.json").read_text())
    return load_file(str(run / "state" / state["dir"] / "tensors.safetensors"))


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        if k.startswith("rng."):
            continue
        assert torch.equal(a[k], b[k]), k


def test_resume_continues_exactly(tmp_path):
    full = train(TrainConfig(**TOY, steps=30, out=str(tmp_path / "full")))
    part = train(TrainConfig(**TOY, steps=20, out=str(tmp_path / "part")))
    assert not torch.equal(weights(full)["module.G.main.0.weight"], weights(part)["module.G.main.0.weight"])
    train(TrainConfig(**TOY, steps=30, out=str(tmp_path / "part")), resume=True)
    assert_same(weights(full), weights(part))
    steps = [r["step"] for r in map(json.loads, (part / "logs" / "metrics.jsonl").read_text().splitlines())]
    assert steps == sorted(steps) and len(steps) == len(set(steps))


def test_image_gan_resume_exact(tmp_path):
    """DCGAN with batch norm, EMA and a conditional model resumes bit-exactly on CPU."""
    kw = dict(data="digits", conditional=True, width=0.125, batch_size=16, limit=200, progress=False,
              checkpoint_every=3, sample_every=3, log_every=1)
    full = train(TrainConfig(**kw, steps=6, out=str(tmp_path / "a")))
    part = train(TrainConfig(**kw, steps=3, out=str(tmp_path / "b")))
    train(TrainConfig(**kw, steps=6, out=str(tmp_path / "b")), resume=True)
    assert_same(weights(full), weights(part))
    assert (part / "samples" / "step-0000006.png").is_file()
    assert (part / "generator" / "model.safetensors").is_file()


@pytest.mark.slow
def test_sigkill_then_resume_matches_uninterrupted(tmp_path):
    steps = 400
    ref = train(TrainConfig(**TOY, steps=steps, out=str(tmp_path / "ref")))
    run = tmp_path / "killed"
    cmd = [sys.executable, "-m", "gantransfer.cli", "train", "--data", "ring8", "--steps", str(steps),
           "--checkpoint-every", "10", "--log-every", "5", "--batch-size", "64", "--limit", "2000",
           "--no-progress", "--out", str(run)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline and not (run / "state" / "latest.json").is_file():
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = json.loads((run / "state" / "latest.json").read_text())["step"]
    assert 0 < killed_at < steps, "the run should have been killed mid-way; make it longer"
    out = subprocess.run(cmd + ["--resume"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert_same(weights(ref), weights(run))


def test_existing_run_is_not_overwritten(tmp_path):
    run = train(TrainConfig(**TOY, steps=10, out=str(tmp_path / "r")))
    before = weights(run)
    with pytest.raises(ConfigError, match="--resume"):
        train(TrainConfig(**TOY, steps=10, out=str(run)))
    with pytest.raises(ConfigError, match="different config"):
        train(TrainConfig(**{**TOY, "seed": 5}, steps=20, out=str(run)), resume=True)
    assert_same(before, weights(run))


def test_nan_stops_with_message_and_keeps_checkpoint(tmp_path):
    run = tmp_path / "r"
    train(TrainConfig(**TOY, steps=10, out=str(run)))
    good = weights(run)
    with pytest.raises(TrainingDiverged, match=r"loss term loss/[DG]/adv became (nan|inf)"):
        train(TrainConfig(**{**TOY, "lr": 1e30}, steps=400, out=str(tmp_path / "nan")))
    # the diverging run wrote no checkpoint with NaN in it
    nan_run = tmp_path / "nan"
    if (nan_run / "state" / "latest.json").is_file():
        for k, v in weights(nan_run).items():
            if v.is_floating_point():
                assert torch.isfinite(v).all(), k
    assert_same(good, weights(run))


def test_resume_from_a_corrupt_checkpoint_is_a_clear_error(tmp_path, capsys):
    from gantransfer.cli import main
    run = train(TrainConfig(**TOY, steps=10, out=str(tmp_path / "r")))
    state = json.loads((run / "state" / "latest.json").read_text())
    tensors = run / "state" / state["dir"] / "tensors.safetensors"
    tensors.write_bytes(tensors.read_bytes()[:100])
    code = main(["train", "--data", "ring8", "--steps", "20", "--checkpoint-every", "10", "--log-every", "5",
                 "--batch-size", "64", "--limit", "2000", "--sample-every", "1000", "--no-progress",
                 "--out", str(run), "--resume"])
    err = capsys.readouterr().err
    assert code == 2 and "no intact checkpoint" in err and "does not match the checksum" in err
    assert "Traceback" not in err


def test_time_limit_stops_with_a_checkpoint_and_resume_goes_on_exactly(tmp_path):
    part = tmp_path / "part"
    with pytest.warns(UserWarning, match="time limit of 0.3 s reached"):
        train(TrainConfig(**TOY, steps=10**6, max_seconds=0.3, out=str(part)))
    stopped = json.loads((part / "state" / "latest.json").read_text())["step"]
    assert 0 < stopped < 10**6 and (part / "generator" / "config.json").is_file()
    assert json.loads((part / "logs" / "metrics.jsonl").read_text().splitlines()[-1])["time/stopped_at_limit"] == 1
    train(TrainConfig(**TOY, steps=stopped + 7, out=str(part)), resume=True)
    full = train(TrainConfig(**TOY, steps=stopped + 7, out=str(tmp_path / "full")))
    assert_same(weights(full), weights(part))


def test_a_time_limit_after_a_logged_step_leaves_one_record_of_that_step(tmp_path):
    from gantransfer.engine.logger import read_log
    run = tmp_path / "r"
    with pytest.warns(UserWarning, match="time limit"):  # every step logged: the limit strikes after a logged one
        train(TrainConfig(**{**TOY, "log_every": 1}, steps=10**6, max_seconds=0.3, out=str(run)))
    records = read_log(run / "logs" / "metrics.jsonl")
    steps = [r["step"] for r in records]
    assert steps == list(range(1, len(steps) + 1))  # no step twice
    assert records[-1]["time/stopped_at_limit"] == 1.0 and "loss/G/adv" in records[-1]
    stopped = steps[-1]
    train(TrainConfig(**{**TOY, "log_every": 1}, steps=stopped + 3, out=str(run)), resume=True)
    assert [r["step"] for r in read_log(run / "logs" / "metrics.jsonl")] == list(range(1, stopped + 4))


def test_training_seconds_sums_the_segments_of_a_resumed_run(tmp_path):
    from gantransfer.engine.logger import training_seconds
    log = tmp_path / "metrics.jsonl"
    records = [{"step": 50, "time/sec_per_step": 0.2}, {"step": 100, "time/sec_per_step": 0.1,
                                                        "time/stopped_at_limit": 1.0},
               {"step": 100, "fid/x": 3.0},  # an evaluation record: no timing
               {"step": 150, "time/sec_per_step": 0.5}, {"step": 300, "time/sec_per_step": 0.3}]
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert training_seconds(log) == pytest.approx(100 * 0.1 + 200 * 0.3)  # 0-100 at 0.1 s, then 100-300 at 0.3 s
    log.write_text("".join(json.dumps(r) + "\n" for r in records[:2]))
    assert training_seconds(log) == pytest.approx(10.0)


def test_loss_curves_plot_every_logged_term(tmp_path):
    from gantransfer.report.curves import loss_series, plot_loss_curves
    run = train(TrainConfig(**TOY, steps=20, out=str(tmp_path / "r")))
    series = loss_series(run / "logs" / "metrics.jsonl")
    assert set(series) == {"loss/D/adv", "loss/G/adv", "loss/D/r1"} and series["loss/G/adv"][0] == [5, 10, 15, 20]
    png = plot_loss_curves(run / "logs" / "metrics.jsonl", tmp_path / "c.png")
    assert png.stat().st_size > 5000
    assert plot_loss_curves(tmp_path / "missing.jsonl", tmp_path / "none.png") is None
