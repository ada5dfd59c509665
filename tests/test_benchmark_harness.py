"""benchmarks/harness.py: the clock, timing reductions, result JSON and Markdown tables every benchmark shares."""
from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import harness  # noqa: E402


def fake_clock(monkeypatch: pytest.MonkeyPatch, durations: list[float]) -> None:
    """Make the wall clock tick so that the timed calls take ``durations`` seconds in turn."""
    stamps = itertools.accumulate(x for d in durations for x in (0.0, d))
    monkeypatch.setitem(harness.CLOCKS, "wall", lambda: next(stamps))


def test_timed_warms_up_untimed_and_reduces_the_timed_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    fake_clock(monkeypatch, [5.0, 1.0, 3.0, 2.0])
    out, seconds = harness.timed(lambda: calls.append(1) or len(calls), repeats=4, warmup=2)
    assert len(calls) == 6 and out == 6  # the last result comes back
    assert seconds == 2.5  # median of 5, 1, 3, 2
    fake_clock(monkeypatch, [5.0, 1.0, 3.0])
    assert harness.timed(lambda: None, repeats=3, reduce="best")[1] == 1.0
    fake_clock(monkeypatch, [5.0, 1.0, 3.0])
    assert harness.timed(lambda: None, repeats=3)[1] == 3.0


def test_timed_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="repeats"):
        harness.timed(lambda: None, repeats=0)
    with pytest.raises(ValueError, match="unknown reduction"):
        harness.timed(lambda: None, reduce="max")
    with pytest.raises(ValueError, match="unknown clock"):
        harness.timed(lambda: None, clock_kind="gpu")


def test_stopwatch_measures_on_its_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    ticks = iter([10.0, 11.0, 12.5, 14.0])
    monkeypatch.setitem(harness.CLOCKS, "cpu", lambda: next(ticks))
    watch = harness.Stopwatch("cpu")  # started at 10
    with watch:  # restarted at 11
        assert watch.elapsed() == 1.5  # read at 12.5
    assert watch.seconds == 3.0 and watch.elapsed() == 3.0  # stopped at 14


def test_write_results_writes_the_bytes_the_scripts_wrote(tmp_path: Path) -> None:
    result = {"b": [1, 2.5], "a": {"x": None}}
    harness.write_results(tmp_path / "r.json", result)
    assert (tmp_path / "r.json").read_text() == json.dumps(result, indent=2) + "\n"
    harness.write_results(tmp_path / "r1.json", result, indent=1)
    assert (tmp_path / "r1.json").read_text() == json.dumps(result, indent=1) + "\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "r1.json"]  # no temporary file left


def test_merge_row_adds_replaces_by_key_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    harness.merge_row(path, {"run": "a", "fid": 1.0}, {"script": "s.py"})
    harness.merge_row(path, {"run": "b", "fid": 2.0}, {"script": "ignored once the file exists"})
    data = json.loads(path.read_text())
    data["controls"] = ["kept"]
    path.write_text(json.dumps(data))
    harness.merge_row(path, {"run": "a", "fid": 3.0}, {})
    data = json.loads(path.read_text())
    assert data["script"] == "s.py" and data["controls"] == ["kept"]
    assert data["rows"] == [{"run": "b", "fid": 2.0}, {"run": "a", "fid": 3.0}]


def test_markdown_table() -> None:
    assert harness.markdown_table(["a", "b"], [[1, "x"], [2.5, ""]]) == "| a | b |\n|---|---|\n| 1 | x |\n| 2.5 |  |"
    with pytest.raises(ValueError, match="3 cells, the header 2"):
        harness.markdown_table(["a", "b"], [[1, 2, 3]])
