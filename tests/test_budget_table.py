"""benchmarks/budget_table.py's pieces: the distill job it shares with prune_init.py, the ONNX speed-up read from
one bench run, and a refused budget's message."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import budget_table  # noqa: E402
from prune_init import distill_job  # noqa: E402


def _bench_row(generator: str, backend: str, batch: int, ms: float, peak: float) -> dict:
    return {"generator": generator, "backend": backend, "batch": batch, "latency_ms_median": ms,
            "peak_fraction": peak}


def test_onnx_speedup_is_the_teachers_onnx_latency_over_the_students() -> None:
    bench = {"reference": {"generator": "teacher", "backend": "eager"},
             "rows": [_bench_row("teacher", "eager", 1, 9.0, 0.1), _bench_row("teacher", "onnx", 1, 2.0, 0.4),
                      _bench_row("s", "eager", 1, 3.0, 0.1), _bench_row("s", "onnx", 1, 0.5, 0.2),
                      _bench_row("teacher", "onnx", 256, 100.0, 0.5), _bench_row("s", "onnx", 256, 4.0, 0.1)]}
    got = budget_table.onnx_speedups(bench, "s")
    assert got["1"]["speedup"] == 4.0  # ONNX against ONNX, not against the eager reference (18x)
    assert got["256"]["speedup"] == 25.0
    assert got["256"]["teacher_peak_fraction"] == 0.5 and got["256"]["student_ms"] == 4.0


def test_a_refused_budget_keeps_the_tools_message(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_text("starting\ngantransfer distill: error: --target-macs 1000x asks for at most 17 macs, out of "
                   "reach: the closest a dcgan student gets is 9,000\n")
    row = budget_table.row(tmp_path / "run", "1000x", log)
    assert row["error"].startswith("gantransfer distill: error: --target-macs 1000x")
    assert "out of reach" in row["error"]
    assert budget_table.row(tmp_path / "run", "2x", tmp_path / "none.log")["error"].startswith("no eval.json")


def test_the_distill_job_asks_for_the_budget_and_writes_beside_its_run(tmp_path: Path) -> None:
    name, cmd, marker, log = distill_job(tmp_path, "macs50x-500-s0", ["--target-macs", "50x"], 500, 0, 2000)
    assert cmd[cmd.index("--target-macs") + 1] == "50x" and cmd[cmd.index("--steps") + 1] == "500"
    assert "--init" not in cmd  # the default init
    assert marker == tmp_path / name / "eval.json" and log == tmp_path / f"{name}.log"
    assert cmd[cmd.index("--out") + 1] == str(tmp_path / name)
