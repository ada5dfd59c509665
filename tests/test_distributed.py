"""Data parallel training on CPU (gloo) with 2 processes, started with torchrun's environment (forked from one
driver, as torchrun would start them) and once with torchrun itself."""
import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from forked_cli import SRC, run_forked

pytestmark = pytest.mark.slow  # starts 2-process torchrun jobs

RING = ["train", "--data", "ring8", "--no-progress", "--device", "cpu", "--log-every", "1"]


def weights(run, step):
    t = load_file(str(run / "state" / f"step-{step:07d}" / "tensors.safetensors"))
    return {k: v for k, v in t.items() if k.startswith(("module.", "optim."))}


def assert_close(a, b, atol):
    assert a.keys() == b.keys()
    worst = max((a[k].float() - b[k].float()).abs().max().item() for k in a)
    assert worst <= atol, worst
    return worst


def records(run):
    return [json.loads(ln) for ln in (run / "logs" / "metrics.jsonl").read_text().splitlines()]


def test_two_processes_at_batch_b_equal_one_at_2b_and_only_rank_0_touches_the_run(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    step = [*RING, "--steps", "1", "--batch-size", "32", "--r1", "1"]
    res = run_forked([{"argv": [*step, "--out", str(one)]},
                      {"argv": [*step, "--out", str(two)], "procs": 2, "audit": str(two)}])
    assert [r["code"] for r in res] == [0, 0], [r["err_all"][-2000:] for r in res]
    assert_close(weights(one, 1), weights(two, 1), atol=1e-5)
    # the second process gets a different torch seed, recorded for an exact resume
    t = load_file(str(two / "state" / "step-0000001" / "tensors.safetensors"))
    assert not torch.equal(t["rng.torch"], t["rng.torch.rank1"])
    # losses are averaged over the processes: the global batch's mean
    (a,), (b,) = records(one), records(two)
    for k in ("loss/D/adv", "loss/D/r1", "loss/G/adv"):
        assert a[k] == pytest.approx(b[k], rel=1e-5, abs=1e-6)
    assert json.loads((two / "run.json").read_text())["processes"] == 2
    assert res[1]["touched"] == [[]], res[1]["touched"]  # rank 1 never opened, made or renamed a file in the run


def test_a_killed_distributed_run_resumes_with_two_processes_and_with_one(tmp_path):
    base = [*RING, "--steps", "6", "--checkpoint-every", "2", "--sample-every", "3", "--batch-size", "32"]
    ref, ref2, a, b = tmp_path / "ref", tmp_path / "ref2", tmp_path / "a", tmp_path / "b"
    kill = {"GANTRANSFER_KILL_AT": "checkpoint:9"}  # 2nd checkpoint (step 4): renamed, latest.json not yet updated
    res = run_forked([
        {"argv": [*base, "--out", str(ref)]},
        {"argv": [*base, "--out", str(ref2)], "procs": 2},
        {"argv": [*base, "--out", str(a)], "procs": 2, "env": kill},
        {"argv": [*base, "--out", str(a), "--resume"], "procs": 2},
        {"argv": [*base, "--out", str(b)], "procs": 2, "env": kill},
        {"argv": [*base, "--out", str(b), "--resume"]},
    ])
    codes = [r["code"] for r in res]
    assert codes == [0, 0, -9, 0, -9, 0], [r["err_all"][-1500:] for r in res]
    for run in (a, b):
        assert_close(weights(ref, 6), weights(run, 6), atol=1e-4)
        assert [r["step"] for r in records(run)] == list(range(1, 7))  # the log resumed without gaps or repeats
    # with the same number of processes the resumed run is the uninterrupted one, bit for bit
    t2, ta = (load_file(str(r / "state" / "step-0000006" / "tensors.safetensors")) for r in (ref2, a))
    assert t2.keys() == ta.keys() and all(torch.equal(t2[k], ta[k]) for k in t2)


def test_lazy_r1_and_path_length_phases_are_averaged_too(tmp_path):
    """StyleGAN2's lazy phases draw per-process noise (path-length directions, noise inputs, style mixing); the
    engine checks at each checkpoint that both processes still hold the same weights, which holds only when the
    gradients of every phase, D_reg and G_reg included, were averaged."""
    from PIL import Image
    import numpy as np
    (tmp_path / "imgs").mkdir()
    for i in range(10):
        Image.fromarray((np.random.RandomState(i).rand(16, 16) * 255).astype("uint8")).save(tmp_path / "imgs" / f"{i}.png")
    opts = '{"w_dim": 16, "mapping_layers": 1, "channel_max": 16, "pl_every": 1, "r1_every": 1}'
    res = run_forked([{"argv": ["train", "--data", str(tmp_path / "imgs"), "--arch", "stylegan2", "--resolution", "16",
                                "--arch-options", opts, "--r1", "1", "--steps", "1", "--batch-size", "8",
                                "--no-progress", "--device", "cpu", "--out", str(tmp_path / "sg")], "procs": 2}])
    assert res[0]["code"] == 0, res[0]["err_all"][-2000:]
    (rec,) = records(tmp_path / "sg")
    assert {"loss/D_reg/r1", "loss/G_reg/pl"} <= set(rec)


def test_batch_must_split_evenly_and_fp16_needs_cuda(tmp_path):
    res = run_forked([{"argv": [*RING, "--steps", "1", "--batch-size", "33", "--out", str(tmp_path / "odd")],
                       "procs": 2},
                      {"argv": [*RING, "--steps", "1", "--precision", "fp16", "--out", str(tmp_path / "h")]},
                      {"argv": [*RING, "--steps", "1", "--device", "cuda:1", "--out", str(tmp_path / "c")],
                       "procs": 2}])
    assert res[0]["code"] == 2 and "global batch" in res[0]["err"] and "multiple of 2" in res[0]["err"]
    assert res[1]["code"] == 2 and "fp16 needs a CUDA device" in res[1]["err"] and "bf16" in res[1]["err"]
    assert res[2]["code"] == 2 and "--device cuda or auto" in res[2]["err_all"]
    assert all("Traceback" not in r["err_all"] for r in res)
    assert not (tmp_path / "h").exists()  # refused before anything was written
    assert not (tmp_path / "odd").exists()  # the uneven batch too: no empty --out left behind


def test_distill_and_fuse_run_on_two_processes(tmp_path):
    teacher = os.path.join(SRC, "gantransfer", "assets", "teachers", "fashion-mnist-dcgan")
    common = ["--steps", "2", "--batch-size", "8", "--width", "0.0625", "--no-progress", "--device", "cpu",
              "--checkpoint-every", "2", "--eval-n", "0"]
    res = run_forked([
        {"argv": ["distill", "--teacher", teacher, "--bank-size", "64", *common, "--out", str(tmp_path / "d")],
         "procs": 2},
        {"argv": ["fuse", "--teacher", teacher, "--teacher", teacher + "-cond", *common, "--out",
                  str(tmp_path / "f")], "procs": 2}])
    assert [r["code"] for r in res] == [0, 0], [r["err_all"][-2000:] for r in res]
    for name in ("d", "f"):
        log = records(tmp_path / name)
        assert all(torch.isfinite(torch.tensor(v)) for r in log for k, v in r.items() if k.startswith("loss/"))
        assert (tmp_path / name / "generator" / "model.safetensors").is_file()


def test_torchrun_itself_launches_a_training_run(tmp_path):
    run = tmp_path / "tr"
    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                           "-m", "gantransfer", *RING, "--steps", "2", "--batch-size", "16", "--out", str(run)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((run / "run.json").read_text())["processes"] == 2
    assert done.stdout.count("done:") == 1  # rank 0 alone reports
