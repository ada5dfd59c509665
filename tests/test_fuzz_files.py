"""Fuzzed files of every format (tests/fuzz_files.py), a fixed-seed subset: each ends in success or one clear
message (exit status below 128, no traceback), and nothing outside the case's own folder changes."""
import collections

import pytest

from forked_cli import run_forked, tree_hashes
from fuzz_files import build_sources, check, make_cases

CI_CASES = {"generator config.json": 14, "generator model.safetensors": 6, "run.json": 10, "metrics.jsonl": 6,
            "eval.json": 6, "state latest.json": 4, "state step state.json": 4, "run generator config.json": 4,
            "ONNX file": 6, "TorchScript file": 2, "npz statistics": 6, "--config JSON": 10, "extend sequence": 6,
            "PNG in an image folder": 4, "rosinality checkpoint": 12, "DCGAN checkpoint": 6,
            "pix2pix/CycleGAN checkpoint": 6, "NVlabs pickle": 6, "dataset_tool zip": 6, "dataset_tool dataset.json": 6,
            "symbolic link in a run": 6}


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
    ws = tmp_path_factory.mktemp("fuzz")
    sources = build_sources(ws)
    cases = make_cases(ws, sources, CI_CASES, seed=0)
    before = {d: tree_hashes(ws / d) for d in ("sources", "outside")}
    results = run_forked([{k: c[k] for k in ("argv", "cwd", "timeout")} for c in cases])
    after = {d: tree_hashes(ws / d) for d in ("sources", "outside")}
    return cases, results, before, after


def test_every_fuzzed_file_ends_in_success_or_one_clear_message(fuzzed):
    cases, results, _, _ = fuzzed
    assert len(cases) == sum(CI_CASES.values())
    failures = [f"{c['format']} / {c['mutation']}: {'; '.join(check(r))}\n{r['err'][-800:]}"
                for c, r in zip(cases, results) if check(r)]
    counts = collections.Counter((c["format"], "refused" if r["code"] else "accepted")
                                 for c, r in zip(cases, results))
    print(dict(counts))
    assert not failures, f"{len(failures)} of {len(cases)} cases:\n" + "\n".join(failures[:15])


def test_no_file_outside_a_case_changes(fuzzed):
    _, _, before, after = fuzzed
    assert before == after
