"""SIGKILL at deterministic points of a run (GANTRANSFER_KILL_AT=KIND:N: before a step, and inside checkpoint,
export, log, grid and run.json writes), then --resume: the final weights, checkpoint, log and grids are
bit-identical to an uninterrupted run's (CPU, fixed seed)."""
import json

import pytest

from forked_cli import run_forked, tree_hashes

pytestmark = pytest.mark.slow  # trains, kills and resumes a run at every kill point

ARGS = ["train", "--data", "ring8", "--steps", "8", "--checkpoint-every", "3", "--sample-every", "4",
        "--log-every", "1", "--batch-size", "64", "--no-progress", "--device", "cpu"]
# a checkpoint has 5 points: tensors, state.json, checksums (each complete but not renamed), the step directory
# renamed before latest.json, latest.json; an export 5 (generator weights, config and model card, discriminator
# weights and config)
KILLS = ["step:6", "checkpoint:2", "checkpoint:9", "export:3", "log:5", "grid:2", "run:1"]


def comparable(run):
    """What must not depend on the kill: every file, and the log but for its timing fields (the HTML report shows
    the run's wall times: it must exist, but its bytes may differ); the manifest (file stamps: times) must list
    every file the run holds."""
    assert (run / "report" / "index.html").is_file()
    hashes = {k: v for k, v in tree_hashes(run).items()
              if k not in ("logs/metrics.jsonl", "manifest.json") and not k.startswith("report/")}
    listed = json.loads((run / "manifest.json").read_text())["files"]
    assert sorted(k for k, v in hashes.items() if v != "<dir>") == sorted(k for k in listed if (run / k).is_file()
                                                                         and not k.startswith(("report/", "logs/")))
    log = [{k: v for k, v in json.loads(ln).items() if not k.startswith("time/")}
           for ln in (run / "logs" / "metrics.jsonl").read_text().splitlines()]
    return hashes, log


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("kills")
    # each run is "run" in a directory of its own, so that the configs it records are the same
    for name in ["straight", *KILLS]:
        (root / name.replace(":", "-")).mkdir()
    cases = [{"argv": [*ARGS, "--out", "run"], "cwd": str(root / "straight")}]
    for kill in KILLS:
        cwd = str(root / kill.replace(":", "-"))
        cases.append({"argv": [*ARGS, "--out", "run"], "cwd": cwd, "env": {"GANTRANSFER_KILL_AT": kill}})
        cases.append({"argv": [*ARGS, "--out", "run", "--resume"], "cwd": cwd})
        if kill == "run:1":  # killed before its run.json existed: not a run to resume, but free to start again
            cases.append({"argv": [*ARGS, "--out", "run"], "cwd": cwd})
    return root, run_forked(cases)


def results_for(runs, kill):
    root, res = runs
    i = 1 + sum(3 if k == "run:1" else 2 for k in KILLS[:KILLS.index(kill)])
    return root, res[0], res[i:i + (3 if kill == "run:1" else 2)]


@pytest.mark.parametrize("kill", KILLS)
def test_a_run_killed_then_resumed_ends_bit_identical(runs, kill):
    root, straight, (killed, *after) = results_for(runs, kill)
    assert straight["code"] == 0, straight["err"]
    assert killed["code"] == -9, killed["err"]  # SIGKILL reached at that point
    run = root / kill.replace(":", "-") / "run"
    if kill == "run:1":
        assert after[0]["code"] == 2 and "holds no run to resume; drop --resume" in after[0]["err"]
        after = after[1:]
    assert after[0]["code"] == 0 and "Traceback" not in after[0]["err"], after[0]["err"]
    hashes, log = comparable(run)
    ref_hashes, ref_log = comparable(root / "straight" / "run")
    assert log == ref_log  # every step logged once, with the same losses
    differ = sorted(k for k in set(hashes) | set(ref_hashes) if hashes.get(k) != ref_hashes.get(k))
    assert differ == []  # weights, checkpoints, exports, grids, run.json: byte for byte; no temporary file left
    assert not [k for k in hashes if k.endswith(".tmp")]
