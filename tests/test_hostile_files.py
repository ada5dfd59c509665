"""Files from outside are hostile: no code from a file unless the user asks, and nothing of the user's is deleted
or replaced (manifest-bound --overwrite, --out files, locks, links, crafted report records)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_cli

RING = ["--data", "ring8", "--steps", "2", "--no-progress", "--device", "cpu"]


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory) -> Path:
    from gantransfer.cli import main
    run = tmp_path_factory.mktemp("ring") / "run"
    assert main(["train", *RING, "--out", str(run)]) == 0
    return run


@pytest.fixture(scope="module")
def ts_file(ring_run, tmp_path_factory) -> Path:
    from gantransfer.cli import main
    out = tmp_path_factory.mktemp("ts") / "g.pt"
    assert main(["export", str(ring_run), "--format", "torchscript", "--out", str(out)]) == 0
    return out


def _one_clear_error(code, err, needle):
    assert code == 2 and needle in err and "Traceback" not in err and err.strip().count("\n") == 0, err


@pytest.mark.parametrize("argv", [["sample", "{ts}", "--out", "{tmp}/s.png"],
                                  ["eval", "{ts}", "--n", "20"],
                                  ["distill", "--teacher", "{ts}", "--steps", "1", "--out", "{tmp}/d",
                                   "--device", "cpu"]])
def test_a_torchscript_file_runs_only_with_trust_code(ts_file, tmp_path, capsys, monkeypatch, argv):
    import torch
    loads = []
    real = torch.jit.load
    monkeypatch.setattr(torch.jit, "load", lambda *a, **k: loads.append(a) or real(*a, **k))
    argv = [a.format(ts=ts_file, tmp=tmp_path) for a in argv]
    code, _, err = run_cli(capsys, *argv)
    _one_clear_error(code, err, "--trust-code")
    assert "ONNX" in err and loads == [] and list(tmp_path.iterdir()) == []
    if argv[0] == "sample":
        code, _, err = run_cli(capsys, *argv, "--trust-code")
        assert code == 0 and loads and (tmp_path / "s.png").is_file()


@pytest.mark.parametrize("field", ["teacher_module", "perceptual_net"])
def test_an_entry_point_in_a_config_file_is_refused(ring_run, tmp_path, capsys, field):
    cfg = tmp_path / "recipe.json"
    teacher = {} if field == "teacher_module" else {"teacher": str(ring_run), "terms": "pixel=1,perceptual=1"}
    cfg.write_text(json.dumps({field: "faulthandler:_sigsegv", **teacher}))  # would crash the process
    code, _, err = run_cli(capsys, "distill", "--config", str(cfg), "--steps", "1", "--device", "cpu",
                           "--out", str(tmp_path / "d"))
    _one_clear_error(code, err, "'faulthandler:_sigsegv'")
    assert "--allow-entry-points" in err and field in err and not (tmp_path / "d").exists()


def test_an_entry_point_in_a_config_file_is_taken_when_allowed(tmp_path, capsys, monkeypatch):
    import gantransfer.teachers as teachers
    called = []
    monkeypatch.setattr(teachers, "import_entry_point", lambda spec, flag: called.append(spec) or 1 / 0)
    cfg = tmp_path / "recipe.json"
    cfg.write_text(json.dumps({"teacher_module": "mypkg.gens:make", "latent_dim": 4}))
    with pytest.raises(ZeroDivisionError):
        run_cli(capsys, "distill", "--config", str(cfg), "--steps", "1", "--device", "cpu",
                "--out", str(tmp_path / "d"), "--allow-entry-points")
    assert called == ["mypkg.gens:make"]


def test_overwrite_removes_only_the_files_the_run_recorded(tmp_path, capsys):
    from gantransfer.cli import main
    run = tmp_path / "t"
    assert main(["train", *RING, "--out", str(run)]) == 0
    assert json.loads((run / "manifest.json").read_text())["files"]["generator/model.safetensors"]
    mine = {run / "samples" / "my_notes.txt": "notes", run / "logs" / "my_analysis.txt": "analysis",
            run / "report" / "figs_i_made" / "f.txt": "fig", run / "state" / "keep.txt": "k"}
    for p, text in mine.items():
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    assert main(["train", *RING, "--seed", "3", "--out", str(run), "--overwrite"]) == 0
    assert all(p.read_text() == text for p, text in mine.items())
    assert json.loads((run / "run.json").read_text())["config"]["seed"] == 3


def test_a_crafted_manifest_deletes_nothing_of_the_users(ring_run, tmp_path, capsys):
    import shutil
    run = tmp_path / "handed"
    shutil.copytree(ring_run, run)  # a run folder someone handed over, its manifest crafted
    (run / "notes.txt").write_text("mine")
    outside = tmp_path / "outside.txt"
    outside.write_text("mine too")
    crafted = {"kind": "gantransfer run manifest", "version": 1,
               "files": {"notes.txt": [4, 0], "../outside.txt": [8, outside.stat().st_mtime_ns],
                         str(outside): [8, outside.stat().st_mtime_ns]}}
    (run / "manifest.json").write_text(json.dumps(crafted))
    code, _, err = run_cli(capsys, "train", *RING, "--out", str(run), "--overwrite")
    assert code == 0, err
    assert (run / "notes.txt").read_text() == "mine" and outside.read_text() == "mine too"


def test_sample_does_not_replace_a_file_unasked(ring_run, tmp_path, capsys):
    notes = tmp_path / "notes.md"
    notes.write_text("my notes")
    code, _, err = run_cli(capsys, "sample", str(ring_run), "--out", str(notes))
    _one_clear_error(code, err, "already exists; pass --overwrite")
    assert notes.read_text() == "my notes"


def test_a_run_of_the_python_api_gives_its_lock_back_when_it_ends(tmp_path):
    """A run started from Python holds its folder only while it runs, not until the interpreter exits."""
    from gantransfer.config import TrainConfig
    from gantransfer.tasks.train import train
    run = train(TrainConfig(data="ring8", steps=2, progress=False, device="cpu", out=str(tmp_path / "api")))
    assert (run / "generator").is_dir() and not (run / ".gantransfer.lock").exists()


def test_a_second_command_on_a_held_run_is_refused_and_a_stale_lock_is_taken_over(ring_run, tmp_path, capsys):
    import shutil
    run = tmp_path / "r"
    shutil.copytree(ring_run, run)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (run / ".gantransfer.lock").write_text(f"{holder.pid}\n")
        code, _, err = run_cli(capsys, "train", *RING, "--out", str(run), "--resume", "--dry-run")
        _one_clear_error(code, err, f"in use by another gantransfer command (process {holder.pid})")
    finally:
        holder.kill()
        holder.wait()
    code, _, err = run_cli(capsys, "train", *RING, "--steps", "3", "--out", str(run), "--resume")
    assert code == 0, err
    assert not (run / ".gantransfer.lock").exists()  # released at the end


def test_a_symlink_inside_a_run_is_refused_not_followed(ring_run, tmp_path, capsys):
    import shutil
    run = tmp_path / "r"
    shutil.copytree(ring_run, run)
    elsewhere = tmp_path / "elsewhere"
    shutil.move(str(run / "generator"), str(elsewhere))
    os.symlink(elsewhere, run / "generator")
    before = sorted((p.name, p.stat().st_mtime_ns) for p in elsewhere.iterdir())
    for extra in (["--resume", "--steps", "3"], ["--overwrite"]):
        code, _, err = run_cli(capsys, "train", *RING, *extra, "--out", str(run))
        _one_clear_error(code, err, "is a symbolic link")
    assert sorted((p.name, p.stat().st_mtime_ns) for p in elsewhere.iterdir()) == before


def test_a_report_record_it_did_not_write_deletes_nothing(ring_run, tmp_path, capsys):
    out = tmp_path / "rep"
    out.mkdir()
    (out / "precious.txt").write_text("mine")
    (out / "report.json").write_text(json.dumps({"kind": "gantransfer report", "files": ["precious.txt"],
                                                 "stamps": {"precious.txt": [1, 1]}}))
    run_cli(capsys, "report", str(ring_run), "--out", str(out), "--no-bench")
    assert (out / "precious.txt").read_text() == "mine"


def test_a_run_named_like_a_url_scheme_is_no_link_target(ring_run, tmp_path, capsys):
    import shutil
    odd = tmp_path / "javascript:alert(1)"
    shutil.copytree(ring_run, odd)
    code, _, err = run_cli(capsys, "report", str(ring_run), str(odd), "--out", str(tmp_path / "cmp"), "--no-bench")
    assert code == 0, err
    html = (tmp_path / "cmp" / "index.html").read_text()
    assert 'href="javascript:' not in html and 'href="javascript%3Aalert%281%29/index.html"' in html


# ---- wrong numbers are errors ------------------------------------------------------------------------------------

TEACHER = Path(__file__).resolve().parents[1] / "src" / "gantransfer" / "assets" / "teachers" / "fashion-mnist-dcgan"
STUDENT_DIR = TEACHER.parents[1] / "students" / "fashion-mnist-dcgan-w0.125"


@pytest.fixture(scope="module")
def nan_generator(tmp_path_factory) -> Path:
    """The shipped teacher with one negative batch-norm variance: finite weights, NaN images."""
    import shutil
    from safetensors.torch import load_file, save_file
    d = tmp_path_factory.mktemp("nan") / "gen"
    shutil.copytree(TEACHER, d, ignore=shutil.ignore_patterns("discriminator"))
    w = load_file(str(d / "model.safetensors"))
    w["main.1.running_var"] = -w["main.1.running_var"].abs() - 1
    save_file(w, str(d / "model.safetensors"))
    return d


@pytest.mark.parametrize("argv", [["sample", "{g}", "--out", "{tmp}/s.png"],
                                  ["eval", "{g}", "--n", "50"],
                                  ["eval", "{g}", "--n", "50", "--reference", "{ref}"],
                                  ["export", "{g}", "--format", "onnx", "--out", "{tmp}/g.onnx"],
                                  ["bench", "{g}", "--repeats", "1"]])
def test_a_generator_of_nan_images_is_refused(nan_generator, tmp_path_factory, tmp_path, capsys, argv):
    import numpy as np
    ref = tmp_path_factory.mktemp("ref") / "ref.npz"  # the shipped classifier protocol's 128 features
    np.savez(ref, mu=np.zeros(128), sigma=np.eye(128))
    code, _, err = run_cli(capsys, *[a.format(g=nan_generator, tmp=tmp_path, ref=ref) for a in argv])
    _one_clear_error(code, err, "NaN or infinite values")
    assert list(tmp_path.iterdir()) == []


def _stats(path, mu, sigma):
    import numpy as np
    np.savez(path, mu=mu, sigma=sigma)
    return path


@pytest.mark.parametrize("case, needle", [("asymmetric", "not symmetric"), ("indefinite", "not positive semi")])
def test_reference_statistics_are_checked_before_the_fid(tmp_path, capsys, case, needle):
    import numpy as np
    sigma = np.eye(128)
    if case == "asymmetric":
        sigma[0, 1] = 0.5
    else:  # positive variances, and still no covariance: FID against it would be meaningless
        sigma[0, 1] = sigma[1, 0] = 3.0
    ref = _stats(tmp_path / "ref.npz", np.zeros(128), sigma)
    code, _, err = run_cli(capsys, "eval", str(STUDENT_DIR), "--n", "20", "--reference", str(ref))
    _one_clear_error(code, err, needle)


@pytest.mark.parametrize("case, needle", [("negative_definite", "negative variances"),
                                          ("header_bomb", "declares shape")])
def test_reference_statistics_are_checked_before_use(tmp_path, case, needle):
    import numpy as np
    from gantransfer.errors import CheckpointError
    from gantransfer.metrics.reference_stats import read_stats
    d = 16
    mu = np.zeros(d)
    if case == "negative_definite":
        p = _stats(tmp_path / "s.npz", mu, -np.eye(d) * 1e3)
    else:  # a header that declares 1e10 elements over a few bytes of data
        p = _stats(tmp_path / "s.npz", mu, np.eye(d))
        import zipfile
        with zipfile.ZipFile(p) as z:
            members = {n: z.read(n) for n in z.namelist()}
        members["sigma.npy"] = members["sigma.npy"].replace(b"(16, 16)", b"(100000, 100000)")
        with zipfile.ZipFile(p, "w") as z:
            for n, b in members.items():
                z.writestr(n, b)
    with pytest.raises(CheckpointError, match=needle):
        read_stats(p)
    good = _stats(tmp_path / "good.npz", mu, np.cov(np.random.default_rng(0).normal(size=(d, 100))))
    assert read_stats(good)["sigma"].shape == (d, d)


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory) -> Path:
    from gantransfer.cli import main
    out = tmp_path_factory.mktemp("onnx") / "g.onnx"
    assert main(["export", str(TEACHER), "--format", "onnx", "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("case, needle", [("fixed_batch", "free batch size"), ("symbolic_latent", "latent size"),
                                          ("output_disagrees", "its own metadata says")])
def test_a_crafted_onnx_file_is_refused(onnx_file, tmp_path, capsys, case, needle):
    import onnx
    model = onnx.load(str(onnx_file))
    z = model.graph.input[0].type.tensor_type.shape.dim
    if case == "fixed_batch":
        z[0].dim_value = 1
    elif case == "symbolic_latent":
        z[1].dim_param = "latent"
    else:  # the metadata claims another image size than the graph makes
        meta = {p.key: p.value for p in model.metadata_props}
        cfg = json.loads(meta["gantransfer.config"])
        cfg["resolution"] = 2 * cfg["resolution"]
        meta["gantransfer.config"] = json.dumps(cfg)
        shape = json.loads(meta["sample_shape"])
        meta["sample_shape"] = json.dumps([shape[0], 2 * shape[1], 2 * shape[2]])
        del model.metadata_props[:]
        for k, v in meta.items():
            model.metadata_props.add(key=k, value=v)
    path = tmp_path / "crafted.onnx"
    onnx.save(model, str(path))
    code, _, err = run_cli(capsys, "sample", str(path), "--out", str(tmp_path / "s.png"))
    _one_clear_error(code, err, needle)
    assert not (tmp_path / "s.png").exists()


# ---- budgets before allocation -----------------------------------------------------------------------------------

def _teacher_with(tmp_path, **changes) -> Path:
    import shutil
    d = tmp_path / "gen"
    shutil.copytree(TEACHER, d, ignore=shutil.ignore_patterns("discriminator"))
    cfg = json.loads((d / "config.json").read_text())
    cfg.update(changes)
    (d / "config.json").write_text(json.dumps(cfg))
    return d


@pytest.mark.parametrize("changes, needle", [({"latent_dim": 10 ** 9}, "'latent_dim' is 1000000000"),
                                             ({"latent_dim": 60000}, "'main.0.weight' is (100, 256, 4, 4)"),
                                             ({"num_classes": 900000}, "embed.weight"),
                                             ({"channels": 10 ** 6}, "channels must be 1 (gray) or 3")])
def test_a_config_declaring_a_huge_model_is_refused_before_it_is_built(tmp_path, capsys, changes, needle):
    d = _teacher_with(tmp_path, **changes)
    code, _, err = run_cli(capsys, "sample", str(d), "--out", str(tmp_path / "s.png"))
    _one_clear_error(code, err, needle)
    assert not (tmp_path / "s.png").exists()


@pytest.mark.parametrize("argv, needle", [
    (["sample", "{t}", "--n", "100000000", "--out", "{tmp}/s.png"], "needs about 1.1 TiB"),
    (["sample", "{t}", "--n", "100", "--out", "{tmp}/s.png", "--max-memory", "100K"], "limit of 100.0 KiB (--max-memory)"),
    (["eval", "{t}", "--n", "1000000000"], "--n 1000000000 is beyond"),
    (["bench", "{t}", "--batch", "100000000", "--repeats", "1"], "TiB of memory"),
    (["export", "{t}", "--format", "onnx", "--int8", "--calibration", "2000000", "--out", "{tmp}/g.onnx"],
     "--calibration 2000000 is beyond"),
    (["distill", "--teacher", "{t}", "--bank-size", "1000000000", "--steps", "1", "--out", "{tmp}/d", "--device",
      "cpu"], "--bank-size 1000000000 is beyond"),
    (["distill", "--teacher", "{t}", "--student-arch", "stylegan2", "--student-options", '{{"w_dim": 1000000}}',
      "--steps", "1", "--out", "{tmp}/d", "--device", "cpu"], "'options.w_dim' is 1000000"),
])
def test_counts_and_sizes_from_flags_are_refused_before_allocation(tmp_path, capsys, argv, needle):
    code, _, err = run_cli(capsys, *[a.format(t=TEACHER, tmp=tmp_path) for a in argv])
    assert code == 2 and needle in err and "Traceback" not in err, err
    assert err.strip().splitlines()[-1].startswith("gantransfer ") and list(tmp_path.iterdir()) == []


def test_a_thin_png_is_skipped_and_a_gzip_bomb_refused(tmp_path, monkeypatch):
    import gzip
    from PIL import Image
    from gantransfer.data.folder import decode_image
    from gantransfer.data.idx import read_idx
    from gantransfer.errors import DataError
    Image.new("L", (1, 2_000_000)).save(tmp_path / "thin.png")  # 4 KB on disk
    with pytest.raises(ValueError, match="side ratio"):
        decode_image(tmp_path / "thin.png", 28)
    monkeypatch.setattr("gantransfer.data.idx.MAX_IDX_BYTES", 1 << 20)  # 1 GiB in use; a small bomb here
    (tmp_path / "x-idx3-ubyte.gz").write_bytes(gzip.compress(b"\0\0\x08\x01" + b"\0" * (2 << 20), 1))
    with pytest.raises(DataError, match="gzip bomb"):
        read_idx(tmp_path / "x-idx3-ubyte.gz")


def test_an_onnx_file_that_loops_without_end_is_stopped_on_its_first_call(onnx_file, tmp_path, capsys, monkeypatch):
    import onnx
    from onnx import TensorProto, helper
    model = onnx.load(str(onnx_file))
    for node in model.graph.node:  # the graph reads z only through a Loop of 10^15 turns
        node.input[:] = ["z_looped" if i == "z" else i for i in node.input]
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Identity", ["v_in"], ["v_out"])],
        "body", [helper.make_tensor_value_info("i", TensorProto.INT64, []),
                 helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
                 helper.make_tensor_value_info("v_in", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", TensorProto.FLOAT, None)])
    model.graph.initializer.extend([helper.make_tensor("trips", TensorProto.INT64, [], [10 ** 15]),
                                    helper.make_tensor("go", TensorProto.BOOL, [], [True])])
    model.graph.node.insert(0, helper.make_node("Loop", ["trips", "go", "z"], ["z_looped"], body=body))
    path = tmp_path / "loop.onnx"
    onnx.save(model, str(path))
    monkeypatch.setattr("gantransfer.deploy.runtime.OnnxGenerator.FIRST_CALL_SECONDS", 1.0)
    code, _, err = run_cli(capsys, "sample", str(path), "--n", "4", "--out", str(tmp_path / "s.png"))
    _one_clear_error(code, err, "was stopped; the graph may loop without end")


def test_sigterm_during_export_leaves_no_temporary_file(tmp_path, capsys, monkeypatch):
    import signal
    import gantransfer.deploy.export as export
    real = export._parity

    def terminated(*a, **k):  # SIGTERM while the temporary export is being checked
        assert any(p.name.endswith(".tmp") for p in tmp_path.iterdir())
        os.kill(os.getpid(), signal.SIGTERM)
        return real(*a, **k)
    monkeypatch.setattr(export, "_parity", terminated)
    code, _, err = run_cli(capsys, "export", str(STUDENT_DIR), "--format", "onnx", "--out", str(tmp_path / "g.onnx"))
    assert code == 143 and "terminated" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_errors_name_the_users_path_not_a_temporary_name():
    from gantransfer.io import user_path
    assert user_path("out/.ro.buxdef3_.tmp") == "out/ro"
    assert user_path("d/.g.onnx.abc12345.fp32.tmp") == "d/g.onnx"
    assert user_path("x/.rep.report-ab12cd34/index.html") == "x/rep/index.html"
    assert user_path("a/.hidden/file") == "a/.hidden/file"


@pytest.mark.parametrize("case", ["data_range", "inception_text", "same_teacher"])
def test_listed_tracebacks_are_one_message(tmp_path, capsys, case):
    if case == "data_range":
        d = _teacher_with(tmp_path, data_range=[1, 1])
        argv, needle = ["sample", str(d), "--out", str(tmp_path / "s.png")], "data_range must be two finite numbers"
    elif case == "inception_text":
        (tmp_path / "inception.pth").write_text("hello")
        (tmp_path / "imgs").mkdir()
        from PIL import Image
        Image.new("L", (28, 28)).save(tmp_path / "imgs" / "a.png")
        argv = ["stats", str(tmp_path / "imgs"), "--inception", str(tmp_path / "inception.pth"), "--out",
                str(tmp_path / "s.npz")]
        needle = "cannot be read as a state dict"
    else:
        argv = ["fuse", "--teacher", str(TEACHER), "--teacher", str(TEACHER) + "/", "--steps", "1", "--out",
                str(tmp_path / "f")]
        needle = "the same teacher is given twice"
    code, _, err = run_cli(capsys, *argv)
    _one_clear_error(code, err, needle)


@pytest.mark.parametrize("line, needle", [('{"step": "abc"}', "'step' is abc"),
                                          ('{"step": 1, "time/sec_per_step": [1]}', "expected a finite number"),
                                          ('{"step": 1, "time/sec_per_step": NaN}', "expected a finite number"),
                                          ('"just a string"', "expected a JSON object"),
                                          ('{"generator": ' + "[" * 5000 + "]" * 5000 + '}', "not valid JSON")])
def test_a_run_record_or_log_of_wrong_types_is_one_message(ring_run, tmp_path, capsys, line, needle):
    import shutil
    run = tmp_path / "r"
    shutil.copytree(ring_run, run)
    log = run / "logs" / "metrics.jsonl"
    if line.startswith('{"generator"'):
        (run / "run.json").write_text(line)
    else:
        log.write_text(line + "\n" + log.read_text())
    code, _, err = run_cli(capsys, "report", str(run), "--no-bench", "--out", str(tmp_path / "rep"))
    _one_clear_error(code, err, needle)


def test_a_run_record_whose_generator_is_a_list_is_one_message(ring_run, tmp_path, capsys):
    import shutil
    run = tmp_path / "r"
    shutil.copytree(ring_run, run)
    record = json.loads((run / "run.json").read_text())
    record["generator"] = [1, 2]
    (run / "run.json").write_text(json.dumps(record))
    code, _, err = run_cli(capsys, "report", str(run), "--no-bench", "--out", str(tmp_path / "rep"))
    _one_clear_error(code, err, "run.json generator: found list, expected a JSON object")


@pytest.mark.parametrize("recorded", ["[1]", "[" * 100000 + "]" * 100000, "null"])
def test_export_metadata_that_is_not_a_config_object_is_one_clear_error(recorded):
    """An exported file's recorded config that is a list, null or nested past Python's recursion limit."""
    from gantransfer.deploy.metadata import config_from_metadata
    from gantransfer.errors import CheckpointError
    meta = {"gantransfer.config": recorded, "latent_dim": "8", "value_range": "[-1, 1]", "sample_shape": "[1, 8, 8]"}
    with pytest.raises(CheckpointError, match="x.onnx has unreadable gantransfer metadata"):
        config_from_metadata(meta, "x.onnx")


@pytest.mark.parametrize("width", [1e7, 60.0])
def test_a_discriminator_config_declaring_a_huge_width_is_refused_before_allocating(tmp_path, width):
    """A run's discriminator/config.json is read by distill and adapt: its declared width is range-checked and,
    when unusual, its memory estimated on the meta device before anything is allocated."""
    from gantransfer.errors import CheckpointError
    from gantransfer.models.config import GeneratorConfig, build_discriminator, discriminator_config_for
    from gantransfer.budget import limited
    from gantransfer.models.store import load_discriminator, save_discriminator
    dcfg = discriminator_config_for(GeneratorConfig(arch="dcgan", resolution=32, channels=1, width=0.25))
    save_discriminator(build_discriminator(dcfg), dcfg, tmp_path / "disc")
    raw = json.loads((tmp_path / "disc" / "config.json").read_text())
    (tmp_path / "disc" / "config.json").write_text(json.dumps({**raw, "width": width}))
    with limited(2 ** 30), pytest.raises(CheckpointError, match=r"disc/config.json is invalid: .*(width|memory)"):
        load_discriminator(tmp_path / "disc")
