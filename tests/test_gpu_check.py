"""benchmarks/gpu_check.sh's dry mode runs every check's path on CPU at tiny sizes and writes its JSON, saying
what it skipped for want of CUDA."""
import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_dry_mode_runs_every_path_on_cpu(tmp_path):
    out = tmp_path / "gpu_check_dry.json"
    env = {**os.environ, "GANTRANSFER_GPU_DRY": "1", "OMP_NUM_THREADS": "1"}
    p = subprocess.run([str(ROOT / "benchmarks" / "gpu_check.sh"), "--out", str(out), "--work", str(tmp_path / "w")],
                       capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    r = json.loads(out.read_text())
    assert r["dry"] is True and r["device"] == "cpu" and r["failed_checks"] == []
    assert "needs CUDA" in r["precision"]["fp16"]["skipped"]
    for precision in ("fp32", "bf16"):
        assert r["precision"][precision]["rc"] == 0 and r["precision"][precision]["losses_finite"]
    for net in r["inference"].values():
        assert net["channels_last"]["max_abs_diff"] < 1e-4 and "eager" in net
    assert r["distributed"]["backend"] == "gloo" and r["distributed"]["1_process"]["rc"] == 0
    assert "skipped" in r["distributed"]["2_processes"]
    assert r["stylegan2_32px_distill"]["rc"] == 0 and r["stylegan2_32px_distill"]["steps_per_s"] > 0
    assert "skipped" in r["pytest_cuda"]["summary"] or r["pytest_cuda"]["rc"] == 5
