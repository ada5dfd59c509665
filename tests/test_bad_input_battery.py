"""The bad-input battery: command lines of every command, each run as its own process (forked from one driver:
see forked_cli.py), each refused with a non-zero exit, a message naming the cause, no traceback, and no file of
the workspace created, changed or removed. tests/test_bad_input.py holds 20 more (in-process); none is repeated
here. Suspicious but legal inputs run, with a warning."""
import gzip
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from forked_cli import run_forked, tree_hashes

ASSETS = Path(__file__).resolve().parents[1] / "src" / "gantransfer" / "assets"
TEACHER = ASSETS / "teachers" / "fashion-mnist-dcgan"
R = ["--no-progress", "--device", "cpu", "--steps", "1"]
TR = ["train", "--data", "ring8", *R, "--out", "o"]
RES = ["train", "--data", "ring8", "--no-progress", "--device", "cpu", "--checkpoint-every", "1", "--steps", "3"]


def _set(path: Path, **changes) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def _variant(ws: Path, src: str, name: str, edit) -> None:
    shutil.copytree(ws / src, ws / name)
    edit(ws / name)


def _state_with_bad_step(d: Path) -> None:
    """state.json of the newest checkpoint with a wrong type, its checksums recomputed (a consistent bad file)."""
    s = d / "state" / "step-0000002"
    _set(s / "state.json", step="five")
    (s / "checksums.json").write_text(json.dumps(
        {f: hashlib.sha256((s / f).read_bytes()).hexdigest() for f in ("tensors.safetensors", "state.json")}))


def build_workspace(ws: Path) -> None:
    """A user's folder: a generator, a 2-step run, and corrupt or mistyped copies of every file the tool reads."""
    from gantransfer.cli import main
    assert main(["train", "--data", "ring8", "--steps", "2", "--checkpoint-every", "1", "--no-progress",
                 "--device", "cpu", "--out", str(ws / "run")]) == 0
    shutil.copytree(TEACHER, ws / "gen")
    (ws / "notes.txt").write_text("mine")
    (ws / "empty").mkdir()
    cfg = "config.json"
    _variant(ws, "gen", "gen-badtype", lambda d: _set(d / cfg, latent_dim="big"))
    _variant(ws, "gen", "gen-list", lambda d: (d / cfg).write_text("[1]"))
    _variant(ws, "gen", "gen-unknown", lambda d: (d / cfg).write_text((d / cfg).read_text()
                                                                       .replace('"width": ', '"w": 1, "width": ')))
    _variant(ws, "gen", "gen-arch", lambda d: _set(d / cfg, arch="nosuch"))
    _variant(ws, "gen", "gen-version", lambda d: _set(d / cfg, format_version=99))
    _variant(ws, "gen", "gen-trunc", lambda d: (d / "model.safetensors").write_bytes(
        (d / "model.safetensors").read_bytes()[:5000]))
    _variant(ws, "gen", "gen-noweights", lambda d: (d / "model.safetensors").unlink())
    _variant(ws, "gen", "gen-wrongshape", lambda d: shutil.copy(
        ASSETS / "students" / "fashion-mnist-dcgan-w0.125" / "model.safetensors", d / "model.safetensors"))
    _variant(ws, "gen", "gen-dbad", lambda d: _set(d / "discriminator" / cfg, width="wide"))
    _variant(ws, "run", "run-list", lambda d: (d / "run.json").write_text("[]"))
    _variant(ws, "run", "run-cfgtype", lambda d: _set(d / "run.json", config="steps"))
    _variant(ws, "run", "run-latest", lambda d: (d / "state" / "latest.json").write_text('{"step": "x", "dir": 5}'))
    _variant(ws, "run", "run-sums", lambda d: [(s / "checksums.json").write_text("[]")
                                               for s in (d / "state").glob("step-*")])
    _variant(ws, "run", "run-log", lambda d: (d / "logs" / "metrics.jsonl").write_text(
        '{"step": 1}\n{"step": 2, "bro\n{"step": 3}\n'))
    _variant(ws, "run", "run-nostate", lambda d: [shutil.rmtree(s) for s in (d / "state").glob("step-*")])
    (ws / "imgs").mkdir()
    (ws / "imgs" / "a.png").write_bytes(b"not a png at all")
    (ws / "badidx").mkdir()
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        (ws / "badidx" / f"{name}.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x03garbage"))
    (ws / "eval-cfg.json").write_text(json.dumps({"n": "x"}))
    (ws / "fuse-cfg.json").write_text(json.dumps({"teachers": "gen"}))
    (ws / "adapt-cfg.json").write_text(json.dumps({"sources": 5}))
    (ws / "inf.json").write_text('{"lr": Infinity}')
    (ws / "opts.json").write_text(json.dumps({"arch_options": [1, 2]}))
    (ws / "terms.json").write_text(json.dumps({"terms": {"pixel": "heavy"}}))
    (ws / "onepng").mkdir()
    Image.new("L", (28, 28), 128).save(ws / "onepng" / "x.png")


# (what is wrong, command line run in the workspace, a word of the cause the message must name)
CASES = [
    # paths and permissions (tests run as root: /proc refuses new files even to root)
    ("teacher missing", ["distill", "--teacher", "nope", *R, "--out", "o"], "nope does not exist"),
    ("teacher a plain file", ["distill", "--teacher", "notes.txt", *R, "--out", "o"], "has no config.json"),
    ("image folder of undecodable files", ["train", "--data", "imgs", *R, "--out", "o"], "failed to decode"),
    ("IDX files corrupt", ["train", "--data", "fashion-mnist", "--data-dir", "badidx", *R, "--out", "o"],
     "truncated or corrupt"),
    ("--data-dir missing", ["train", "--data", "fashion-mnist", "--data-dir", "nodir", *R, "--out", "o"],
     "nodir is not a directory"),
    ("sample generator missing", ["sample", "nope", "--out", "s.png"], "nope does not exist"),
    ("sample --out a directory", ["sample", "gen", "--out", "imgs"], "is a directory"),
    ("sample --out unwritable", ["sample", "gen", "--out", "/proc/gt.png"], "check the path and its permissions"),
    ("train --out unwritable", ["train", "--data", "ring8", *R, "--out", "/proc/gt-run"],
     "check the path and its permissions"),
    ("export into a missing directory", ["export", "gen", "--format", "onnx", "--out", "missing/g.onnx"],
     "does not exist; create it"),
    ("export unknown format", ["export", "gen", "--format", "tflite", "--out", "g.tfl"], "unknown --format"),
    ("export over a user's file", ["export", "gen", "--format", "onnx", "--out", "notes.txt"],
     "already exists; pass --overwrite"),
    ("eval --out over a user's file", ["eval", "gen", "--n", "100", "--out", "notes.txt"],
     "already exists; pass --overwrite"),
    ("import missing file", ["import", "nope.pt", "--out", "imp"], "does not exist"),
    ("import a text file", ["import", "notes.txt", "--out", "imp"], "cannot be read as a weights-only"),
    ("bench generator missing", ["bench", "nope"], "nope does not exist"),
    # types inside every JSON file read: generator and discriminator configs, run.json, latest.json, checksums,
    # state.json, metrics.jsonl, config files of each command
    ("generator config: wrong type", ["sample", "gen-badtype", "--out", "s.png"], "'latent_dim' must be an integer"),
    ("generator config: a list", ["sample", "gen-list", "--out", "s.png"], "not a gantransfer generator config"),
    ("generator config: unknown key", ["sample", "gen-unknown", "--out", "s.png"], "unknown config field(s) 'w'"),
    ("generator config: unknown family", ["sample", "gen-arch", "--out", "s.png"], "unknown architecture 'nosuch'"),
    ("generator config: future format", ["sample", "gen-version", "--out", "s.png"], "format_version 99"),
    ("discriminator config: wrong type", ["distill", "--teacher", "gen-dbad", *R, "--out", "o"],
     "'width' must be a number"),
    ("run.json a list", [*RES, "--out", "run-list", "--resume"], "is not a gantransfer run record"),
    ("run.json config not an object", [*RES, "--out", "run-cfgtype", "--resume"], "'config' is not a JSON object"),
    ("latest.json wrong types", [*RES, "--out", "run-latest", "--resume"], "does not name a step"),
    ("checksums.json a list", [*RES, "--out", "run-sums", "--resume"], "is not a JSON object of file"),
    ("metrics.jsonl corrupt mid-file", [*RES, "--out", "run-log", "--resume"], "line 2 is not valid JSON"),
    ("latest.json names removed checkpoints", [*RES, "--out", "run-nostate", "--resume"], "no intact checkpoint"),
    ("eval config file: wrong type", ["eval", "gen", "--config", "eval-cfg.json"], "'n' must be an integer"),
    ("fuse config file: teachers not a list", ["fuse", "--config", "fuse-cfg.json", *R, "--out", "o"],
     "'teachers' must be a list"),
    ("adapt config file: sources not a list",
     ["adapt", "--config", "adapt-cfg.json", "--data", "onepng", *R, "--out", "o"], "'sources' must be a list"),
    ("config file: Infinity", ["train", "--config", "inf.json", "--data", "ring8", *R, "--out", "o"],
     "'lr' must be a finite number"),
    ("config file: options not an object", ["train", "--config", "opts.json", "--data", "ring8", *R, "--out", "o"],
     "'arch_options' must be an object"),
    ("config file: terms not a string", ["distill", "--config", "terms.json", "--teacher", "gen", *R, "--out", "o"],
     "'terms' must be a string"),
    # corrupt files of each kind
    ("weights truncated", ["sample", "gen-trunc", "--out", "s.png"], "truncated or corrupt"),
    ("weights missing", ["sample", "gen-noweights", "--out", "s.png"], "model.safetensors does not exist"),
    ("weights of another model", ["sample", "gen-wrongshape", "--out", "s.png"], "does not match"),
    ("teacher weights truncated", ["distill", "--teacher", "gen-trunc", *R, "--out", "o"], "truncated or corrupt"),
    ("export of truncated weights", ["export", "gen-trunc", "--format", "onnx", "--out", "g.onnx"],
     "truncated or corrupt"),
    # ranges
    ("steps 0", [*TR, "--steps", "0"], "steps must be >= 1"),
    ("batch 1", [*TR, "--batch-size", "1"], "batch_size must be >= 2"),
    ("ema beta 1.5", [*TR, "--ema-beta", "1.5"], "ema_beta must be in [0, 1)"),
    ("one beta", [*TR, "--betas", "0.5"], "betas must be two numbers"),
    ("log every 0", [*TR, "--log-every", "0"], "log_every must be >= 1"),
    ("negative weight decay", [*TR, "--weight-decay", "-1"], "weight_decay must be >= 0"),
    ("unknown schedule", [*TR, "--lr-decay", "linear"], "lr_decay must be one of"),
    ("unknown precision", [*TR, "--precision", "fp8"], "precision must be one of"),
    ("unknown on-nan", [*TR, "--on-nan", "ignore"], "on_nan must be one of"),
    ("negative checkpoint interval", [*TR, "--checkpoint-every", "-2"], "checkpoint_every must be >= 1"),
    ("negative eval interval", [*TR, "--eval-every", "-1"], "eval_every must be >= 0"),
    ("width 0", [*TR, "--width", "0"], "width"),
    ("negative limit", [*TR, "--limit", "-3"], "limit"),
    ("student width 100", ["distill", "--teacher", "gen", *R, "--width", "100", "--out", "o"], "width"),
    ("negative bank", ["distill", "--teacher", "gen", *R, "--bank-size", "-1", "--out", "o"], "bank_size"),
    ("baseline n 0", ["baseline", "--teacher", "gen", "--teacher", "gen-wrongshape", "--n", "0", *R, "--out", "o"],
     "n must be at least 2"),
    ("sample n 0", ["sample", "gen", "--n", "0", "--out", "s.png"], "--n must be at least 1"),
    ("sample seed -1", ["sample", "gen", "--seed", "-1", "--out", "s.png"], "--seed must be between 0"),
    ("sample a class of an unconditional generator", ["sample", "gen", "--classes", "3", "--out", "s.png"],
     "class"),
    ("eval n 0", ["eval", "gen", "--n", "0"], "n must be >= 2"),
    ("bench repeats 0", ["bench", "gen", "--repeats", "0"], "--repeats must be >= 1"),
    ("bench threads 0", ["bench", "gen", "--threads", "0"], "--threads must be between 1"),
    ("bench threads 100000 (segfaulted)", ["bench", "gen", "--threads", "100000"], "--threads must be between 1"),
    ("bench batch 0", ["bench", "gen", "--batch", "0", "--backends", "eager"], "--batch sizes must be >= 1"),
    ("int8 calibration 0", ["export", "gen", "--format", "onnx", "--int8", "--calibration", "0", "--out", "g.onnx"],
     "calibration"),
    ("demo n 0", ["demo", "--n", "0", "--out", "dm"], "--n >= 10"),
    ("demo steps 0", ["demo", "--steps", "0", "--out", "dm"], "--steps must be >= 1"),
    # NaN / inf
    ("ema beta NaN", [*TR, "--ema-beta", "nan"], "must be a finite number"),
    ("D learning-rate ratio inf", [*TR, "--d-lr-ratio", "inf"], "must be a finite number"),
    ("truncation psi NaN", ["sample", "gen", "--truncation-psi", "nan", "--out", "s.png"], "truncation"),
    # unknown options and values
    ("unknown flag", [*TR, "--stepz", "3"], "unrecognized arguments: --stepz"),
    ("unknown command", ["frobnicate"], "invalid choice: 'frobnicate'"),
    ("not a number", [*TR, "--width", "abc"], "invalid float value: 'abc'"),
    ("not a list of ints", [*TR, "--classes", "x,y"], "expected comma-separated int values"),
    ("options not an object", [*TR, "--arch-options", "[1]"], "expected a JSON object"),
    ("unknown term", ["distill", "--teacher", "gen", *R, "--terms", "pixel=1,magic=2", "--out", "o"], "magic"),
    ("unknown adapt method", ["adapt", "--source", "gen", "--data", "onepng", "--method", "magic", *R, "--out", "o"],
     "method"),
    ("unknown backend", ["bench", "gen", "--backends", "tpu"], "tpu"),
    ("demo unknown device", ["demo", "--device", "tpu", "--out", "dm"], "is not a device"),
    # conflicting flags
    ("resume and overwrite", [*TR, "--resume", "--overwrite"], "give one of them"),
    ("teacher and teacher module", ["distill", "--teacher", "gen", "--teacher-module", "os:getcwd", *R,
                                    "--out", "o"], "teacher"),
    ("int8 TorchScript", ["export", "gen", "--format", "torchscript", "--int8", "--out", "g.pt"], "int8"),
    # flags that do not apply / missing what a command needs
    ("resolution for 2-D points", [*TR, "--resolution", "32"], "--resolution does not apply: ring8 holds 2-D points"),
    ("image family for points", [*TR, "--arch", "dcgan"], "use --arch mlp"),
    ("points student for an image teacher", ["distill", "--teacher", "gen", *R, "--student-arch", "mlp", "--out",
                                             "o"], "mlp"),
    ("calibration without int8", ["export", "gen", "--format", "onnx", "--out", "g.onnx", "--calibration", "8"],
     "--int8"),
    ("psi for a DCGAN", ["sample", "gen", "--truncation-psi", "0.5", "--out", "s.png"], "truncation"),
    ("eval against a data set of another kind", ["eval", "gen", "--data", "ring8", "--n", "100"], "ring8"),
    ("distill without a teacher", ["distill", *R, "--out", "o"], "teacher"),
    ("fuse with one teacher", ["fuse", "--teacher", "gen", *R, "--out", "o"], "two"),
    ("fuse negative weight", ["fuse", "--teacher", "gen", "--teacher", "gen-wrongshape", "--weights", "1,-1", *R,
                              "--out", "o"], "weights"),
    ("adapt without a source", ["adapt", "--data", "onepng", *R, "--out", "o"], "source"),
    ("unknown flag --num-threads", ["train", "--data", "ring8", "--num-threads", "0", "--out", "o"],
     "unrecognized arguments"),
    # resume mismatches
    ("resume with another lr", [*RES, "--out", "run", "--resume", "--lr", "0.1"], "--resume with a different config"),
    ("resume to fewer steps than done", [*RES[:-1], "1", "--out", "run", "--resume"], "already at step 2"),
    ("resume another command's run", ["distill", "--teacher", "gen", *R, "--out", "run", "--resume"],
     "holds a `gantransfer train` run"),
    ("resume an empty directory", [*RES, "--out", "empty", "--resume"], "holds no run to resume"),
    ("restart a run without --resume", [*RES, "--out", "run"], "Pass --resume to continue it"),
]


@pytest.fixture(scope="module")
def battery(tmp_path_factory):
    ws = tmp_path_factory.mktemp("user")
    build_workspace(ws)
    before = tree_hashes(ws)
    results = run_forked([{"argv": argv, "cwd": str(ws), "watch": str(ws)} for _, argv, _ in CASES])
    return ws, before, dict(zip((c[0] for c in CASES), results))


def test_the_battery_is_distinct_and_large_enough():
    from test_bad_input import CASES as IN_PROCESS
    lines = [tuple(argv) for _, argv, _ in CASES]
    assert len(set(lines)) == len(lines) and len({c[0] for c in CASES}) == len(CASES)
    assert not set(lines) & {tuple(a) for a, _ in IN_PROCESS}
    assert len(CASES) + len(IN_PROCESS) >= 60


@pytest.mark.slow
@pytest.mark.parametrize("what, argv, needle", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_with_its_cause_and_nothing_changes(battery, what, argv, needle):
    ws, before, results = battery
    r = results[what]
    assert r["code"] > 0 and r["code"] != 99, (r["code"], r["err"][-1500:])  # an exit status, not a signal or crash
    assert "Traceback" not in r["err"], r["err"][-1500:]
    assert needle in r["err"], r["err"][-1500:]
    assert r["changed"] == [], r["changed"]


@pytest.mark.slow
def test_the_workspace_is_intact_after_the_battery(battery):
    ws, before, _ = battery
    assert tree_hashes(ws) == before


@pytest.mark.slow
def test_suspicious_but_legal_input_runs_with_a_warning(tmp_path):
    from gantransfer.cli import main
    (tmp_path / "one").mkdir()
    Image.new("L", (28, 28), 90).save(tmp_path / "one" / "x.png")
    assert main(["train", "--data", "ring8", "--steps", "2", "--checkpoint-every", "1", "--no-progress",
                 "--device", "cpu", "--out", str(tmp_path / "run")]) == 0
    _state_with_bad_step(tmp_path / "run")
    res = run_forked([
        {"argv": ["train", "--data", "ring8", "--lr", "3", "--steps", "8", "--no-progress", "--device", "cpu",
                  "--out", "lr"], "cwd": str(tmp_path)},
        {"argv": ["adapt", "--source", str(TEACHER), "--data", "one", "--steps", "1", "--no-progress", "--device",
                  "cpu", "--out", "adapted"], "cwd": str(tmp_path)},
        {"argv": [*RES, "--out", "run", "--resume"], "cwd": str(tmp_path)}])
    assert [r["code"] for r in res] == [0, 0, 0], [r["err"][-1500:] for r in res]
    assert "warning:" in res[0]["err"] and "is likely too high" in res[0]["err"]
    assert "warning:" in res[1]["err"] and "holds one image" in res[1]["err"]
    assert "warning:" in res[2]["err"] and "'step' must be an integer" in res[2]["err"] \
        and "resuming from the earlier checkpoint step-0000001" in res[2]["err"]
