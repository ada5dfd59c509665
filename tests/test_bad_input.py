"""Bad input on the command line: one clear message naming the problem and the fix, exit code 2, no traceback, and
no file of the user's changed."""
import hashlib
import json
from pathlib import Path

import pytest

from gantransfer.cli import main

TEACHER = str(Path(__file__).resolve().parents[1] / "src" / "gantransfer" / "assets" / "teachers" /
              "fashion-mnist-dcgan")


def digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture()
def workspace(tmp_path):
    """A folder of the user's: a config file with a wrong type, a NaN, an unknown key, a list, and a plain file."""
    (tmp_path / "wrong-type.json").write_text(json.dumps({"steps": "many"}))
    (tmp_path / "nan.json").write_text('{"lr": NaN}')
    (tmp_path / "unknown.json").write_text(json.dumps({"stepz": 3}))
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "broken.json").write_text("{")
    (tmp_path / "notes.txt").write_text("mine")
    return tmp_path


CASES = [
    (["train", "--data", "ring8", "--device", "gpu"], "is not a device; use auto, cpu, cuda or cuda:N"),
    (["train", "--data", "ring8", "--device", "mps"], "gantransfer runs on cpu and cuda devices"),
    (["train", "--data", "ring8", "--seed", "99999999999999999999"], "seed must be between 0 and 2**63 - 1"),
    (["train", "--data", "ring8", "--seed", "-1"], "seed must be between 0 and 2**63 - 1"),
    (["train", "--data", "ring8", "--lr", "inf"], "must be a finite number"),
    (["train", "--data", "ring8", "--max-seconds", "nan"], "must be a finite number"),
    (["train", "--config", "{ws}/wrong-type.json"], "config field 'steps' must be an integer"),
    (["train", "--config", "{ws}/nan.json"], "config field 'lr' must be a finite number"),
    (["train", "--config", "{ws}/unknown.json"], "unknown config field(s) 'stepz'"),
    (["train", "--config", "{ws}/list.json"], "must hold a JSON object"),
    (["train", "--config", "{ws}/broken.json"], "is not valid JSON"),
    (["train", "--config", "{ws}"], "(it is a directory)"),
    (["train", "--data", "ring8", "--out", "{ws}"], "is not empty and is not a gantransfer run"),
    (["train", "--data", "ring8", "--out", "{ws}/notes.txt"], "is a file, not a directory"),
    (["distill", "--teacher", TEACHER, "--out", TEACHER], "is not a gantransfer run (it has no run.json)"),
    (["distill", "--teacher", TEACHER, "--terms", "pixel=nan"], "must be a finite number >= 0"),
    (["distill", "--teacher", TEACHER, "--truncation", "1e-7"], "truncation must be 0 (none) or at least 0.5"),
    (["fuse", "--teacher", TEACHER, "--teacher", TEACHER], "the same teacher is given twice"),
    (["eval", "{ws}", "--n", "100"], "is not a generator"),
    (["eval", TEACHER, "--seed", "-3"], "seed must be between 0 and 2**63 - 1"),
]


@pytest.mark.parametrize("argv, needle", CASES, ids=[" ".join(a[:3]) + "|" + n[:30] for a, n in CASES])
def test_bad_input_is_refused_clearly_and_changes_nothing(workspace, capsys, argv, needle):
    before = digest(workspace)
    argv = [a.replace("{ws}", str(workspace)) for a in argv]
    if argv[0] in ("train", "distill", "fuse") and "--out" not in argv:
        argv += ["--out", str(workspace / "new-run")]
    code = main(argv + (["--no-progress"] if argv[0] != "eval" else []))
    err = capsys.readouterr().err
    assert code == 2 and needle in err and "Traceback" not in err, err
    assert digest(workspace) == before and not (workspace / "new-run").exists()
