"""The field's file conventions: model cards (hub snapshots load back), StyleGAN2-ADA dataset_tool zips read and
written, and the standalone ONNX sampler of ``export --with-example``."""
from __future__ import annotations

import importlib.util
import io
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import run_cli
from gantransfer.card import render_card, yaml_float
from gantransfer.data import load_dataset
from gantransfer.data import ada_layout
from gantransfer.errors import DataError
from gantransfer.metrics.classifier import assets_dir

STUDENT = assets_dir() / "students" / "fashion-mnist-dcgan-w0.125"
TEACHER = assets_dir() / "teachers" / "fashion-mnist-dcgan"


def front_matter(card: str) -> list[str]:
    assert card.startswith("---\n")
    return card[4:card.index("\n---\n", 4)].splitlines()


def top_level_keys(card: str) -> list[str]:
    return [line.split(":")[0] for line in front_matter(card) if line and not line.startswith((" ", "-"))]


# ---- model cards -------------------------------------------------------------------------------------------------

def test_a_card_escapes_every_hostile_field(tmp_path):
    d = tmp_path / "evil"
    shutil.copytree(STUDENT, d)
    cfg = json.loads((d / "config.json").read_text())
    cfg["dataset"] = "x\nlicense: stolen\n---\n# <script>alert(1)</script>"
    cfg["num_classes"] = 2
    cfg["class_names"] = ["<img src=x onerror=alert(1)>", "a | b ``` [link](http://evil)"]
    cfg["meta"] = {"teacher": "```\nrm -rf /\n```", "evaluation": {"student": {
        "fid/p-v1/1k": 1.5, "fid/p-v1/2k": float("nan"), "fid/<b>/1k": 2.0, "kid/p-v1/1k": "1.0", "x": [1]}}}
    (d / "config.json").write_text(json.dumps(cfg))
    card = render_card(d)
    assert top_level_keys(card) == ["library_name", "license", "license_name", "tags", "datasets", "model-index"]
    assert sum(line.startswith("license:") for line in front_matter(card)) == 1
    for line in front_matter(card):  # every value from the files is one JSON-quoted YAML scalar
        if "script" in line or "stolen" in line:
            item = line.strip()
            value = item[2:] if item.startswith("- ") else item.split(": ", 1)[1]
            assert json.loads(value).startswith("x license: stolen")
    body = card[card.index("\n---\n", 4) + 5:]
    assert "<img" not in body and "<script" not in body and not re.search(r"(?<!\\)\]\(http", body)
    assert "```\nrm -rf" not in body  # the teacher string cannot open a code block
    figures = [line for line in front_matter(card) if line.strip().startswith("name: \"fid/")]
    assert figures == ['      name: "fid/p-v1/1k"']  # NaN, a string value and an invalid protocol are left out
    assert yaml_float(1e-05) == "1.0e-05" and yaml_float(2.5e-07) == "2.5e-07" and yaml_float(3.0) == "3.0"
    rows = [r for r in body.splitlines() if r.startswith("| this model")]
    assert len(rows) == 1 and len(re.split(r"(?<!\\)\|", rows[0])) == 7


def test_a_run_writes_its_card_and_a_hub_snapshot_loads_back(tmp_path, capsys):
    import gantransfer
    run = tmp_path / "run"
    code, _, err = run_cli(capsys, "distill", "--teacher", str(TEACHER), "--width", "0.125", "--steps", "2",
                           "--batch-size", "8", "--eval-n", "100", "--out", str(run))
    assert code == 0, err
    card = (run / "generator" / "README.md").read_text()
    lines = front_matter(card)
    assert "library_name: gantransfer" in lines and "license: mit" in lines
    assert '- "knowledge-distillation"' in lines and '- "zalando-datasets/fashion_mnist"' in lines
    evaluation = json.loads((run / "eval.json").read_text())
    fid = evaluation["student"]["fid/fashion-mnist-classifier-v1/100"]
    i = lines.index('      name: "fid/fashion-mnist-classifier-v1/100"')
    assert lines[i + 1] == f"      value: {yaml_float(fid)}" and lines[i + 4] == "        samples: 100"
    assert "gantransfer distill" in card and "--steps 2" in card and "## Costs" in card and "x this model's" in card
    # the folder as a hub snapshot (models--user--name/snapshots/<hash>/) loads back with gantransfer.load
    snap = tmp_path / "hub" / "models--user--student" / "snapshots" / ("ab" * 20)
    snap.mkdir(parents=True)
    for name in ("README.md", "config.json", "model.safetensors"):
        shutil.copyfile(run / "generator" / name, snap / name)
    g1, _ = gantransfer.load(run / "generator")
    g2, cfg = gantransfer.load(snap)
    z = torch.randn(3, cfg.latent_dim)
    with torch.no_grad():
        assert torch.equal(g1(z), g2(z))
    # `gantransfer card` rewrites the same card from the directory's files
    before = card
    (run / "generator" / "README.md").unlink()
    assert run_cli(capsys, "card", str(run))[0] == 0
    assert (run / "generator" / "README.md").read_text() == before
    # a hub folder missing its weights: one clear line, non-zero exit
    (snap / "model.safetensors").unlink()
    code, _, err = run_cli(capsys, "sample", str(snap), "--out", str(tmp_path / "s.png"))
    assert code != 0 and "model.safetensors" in err and "Traceback" not in err


def test_card_refuses_what_is_not_a_generator(tmp_path, capsys):
    code, _, err = run_cli(capsys, "card", str(tmp_path))
    assert code != 0 and "not a generator directory" in err
    shutil.copytree(STUDENT, tmp_path / "run" / "generator")
    (tmp_path / "run" / "run.json").write_text("[" * 100_000 + "]" * 100_000)  # a hostile record: one clear line
    code, _, err = run_cli(capsys, "card", str(tmp_path / "run"))
    assert code != 0 and "run.json" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


# ---- StyleGAN2-ADA dataset_tool data sets ------------------------------------------------------------------------

def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _images(n: int, size: int = 16) -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    return {f"00000/img{i:08d}.png": _png(rng.integers(0, 256, (size, size), dtype=np.uint8)) for i in range(n)}


def test_dataset_export_round_trips_and_trains(tmp_path, capsys):
    out = tmp_path / "digits.zip"
    code, stdout, err = run_cli(capsys, "dataset", "export", "--data", "digits", "--out", str(out), "--limit", "300")
    assert code == 0, err
    assert "300 images of 16x16x1, 10 classes" in stdout
    with zipfile.ZipFile(out) as zf:  # dataset_tool's layout
        labels = json.loads(zf.read("dataset.json"))["labels"]
        assert labels[0][0] == "00000/img00000000.png" and len(zf.namelist()) == 301
    source = load_dataset("digits", limit=300)
    x, y, names, _ = ada_layout.load_ada(out)
    assert torch.equal(x, source.x) and torch.equal(y, source.y) and names == [str(i) for i in range(10)]
    assert run_cli(capsys, "dataset", "export", "--data", "digits", "--out", str(out))[0] != 0  # no --overwrite
    run = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", "--data", str(out), "--steps", "2", "--batch-size", "8", "--width", "0.25",
                           "--eval-every", "0", "--out", str(run))
    assert code == 0, err
    gen = json.loads((run / "generator" / "config.json").read_text())
    assert gen["num_classes"] in (0, 10) and (run / "generator" / "README.md").is_file()


def test_a_dataset_tool_folder_with_mixed_sizes_and_one_hot_labels(tmp_path):
    root = tmp_path / "ada"
    (root / "00000").mkdir(parents=True)
    files = {"00000/a.png": np.zeros((16, 16), np.uint8), "00000/b.png": np.full((20, 24), 255, np.uint8),
             "00000/c.png": np.full((16, 16), 128, np.uint8)}
    for name, arr in files.items():
        (root / name).write_bytes(_png(arr))
    (root / "dataset.json").write_text(json.dumps({"labels": [["00000/a.png", 1], ["00000/b.png", [0, 0, 1]],
                                                              ["00000/c.png", 0]]}))
    with pytest.warns(UserWarning, match="2 sizes"):
        x, y, names, _ = ada_layout.load_ada(root)
    assert x.shape == (3, 1, 16, 16) and y.tolist() == [1, 2, 0] and names == ["0", "1", "2"]


@pytest.mark.parametrize("members, needle", [
    ({"../evil.png": b"x"}, "unsafe name"),
    ({"/etc/evil.png": b"x"}, "unsafe name"),
    ({**_images(2), "dataset.json": json.dumps({"labels": [["00000/img00000000.png", 0],
                                                         ["00000/gone.png", 1]]}).encode()}, "'00000/gone.png'"),
    ({**_images(2), "dataset.json": json.dumps({"labels": [["00000/img00000000.png", 0]]}).encode()},
     "has no label"),
    ({**_images(2), "dataset.json": json.dumps({"labels": [["00000/img00000000.png", "cat"],
                                                         ["00000/img00000001.png", 1]]}).encode()}, "a label must"),
    ({**_images(1), "dataset.json": b"{not json"}, "not valid JSON"),
    ({"notes.txt": b"x"}, "no PNG or JPEG"),
])
def test_bad_dataset_zips_are_refused_with_one_clear_line(tmp_path, capsys, members, needle):
    z = _zip(tmp_path / "bad.zip", members)
    code, _, err = run_cli(capsys, "dataset", "export", "--data", str(z), "--out", str(tmp_path / "o.zip"))
    assert code != 0 and needle in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o.zip").exists()


def test_zip_caps_are_checked_before_decoding(tmp_path, monkeypatch):
    z = _zip(tmp_path / "d.zip", {**_images(3), "dataset.json": b'{"labels": null}'})
    monkeypatch.setattr(ada_layout, "MAX_MEMBERS", 3)
    with pytest.raises(DataError, match="4 members"):
        ada_layout.load_ada(z)
    monkeypatch.setattr(ada_layout, "MAX_MEMBERS", 10)
    monkeypatch.setattr(ada_layout, "MAX_PIXELS", 100)
    monkeypatch.setattr(ada_layout, "decode_image", lambda *a: pytest.fail("decoded before the pixel check"))
    with pytest.raises(DataError, match="16x16 pixels"):
        ada_layout.load_ada(z)
    monkeypatch.setattr(ada_layout, "MAX_MEMBER_BYTES", 10)
    with pytest.raises(DataError, match="declares"):
        ada_layout.load_ada(z)


def test_a_member_that_lies_about_its_size_is_refused(tmp_path):
    data = _images(1)["00000/img00000000.png"]
    raw = bytearray((_zip(tmp_path / "d.zip", {"00000/img00000000.png": data})).read_bytes())
    size = len(data).to_bytes(4, "little")
    small = (len(data) // 2).to_bytes(4, "little")
    for sig, off in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # local header and central directory
        at = raw.index(sig)
        assert raw[at + off:at + off + 4] == size
        raw[at + off:at + off + 4] = small
    (tmp_path / "d.zip").write_bytes(bytes(raw))
    with pytest.raises(DataError, match="cannot be read|decompresses"):
        ada_layout.load_ada(tmp_path / "d.zip")


# ---- export --with-example ---------------------------------------------------------------------------------------

def _exported(tmp_path: Path, capsys) -> Path:
    out = tmp_path / "share" / "student.onnx"
    out.parent.mkdir()
    code, stdout, err = run_cli(capsys, "export", str(STUDENT), "--format", "onnx", "--out", str(out),
                                "--with-example")
    assert code == 0, err
    assert "student_sample.py" in stdout and "README.md" in stdout
    return out


def test_export_with_example_writes_a_sampler_and_a_card_that_names_it(tmp_path, capsys):
    import gantransfer
    out = _exported(tmp_path, capsys)
    card = (out.parent / "README.md").read_text()
    assert '- "onnx"' in front_matter(card) and "python student_sample.py" in card
    spec = importlib.util.spec_from_file_location("student_sample", out.parent / "student_sample.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.MODEL == "student.onnx"
    x, (low, high) = mod.sample(out, 4, seed=3)
    z = np.random.default_rng(3).standard_normal((4, 100)).astype(np.float32)
    g, cfg = gantransfer.load(STUDENT)
    with torch.no_grad():
        ref = g(torch.from_numpy(z)).numpy()
    assert (low, high) == tuple(cfg.data_range) and np.abs(x - ref).max() < 1e-4
    # a second export refuses to replace the script; --overwrite replaces it and the card
    code, _, err = run_cli(capsys, "export", str(STUDENT), "--format", "onnx", "--out", str(out), "--with-example")
    assert code != 0 and "already exists" in err
    # a README.md that gantransfer did not write is kept: the card goes to student.md
    (out.parent / "README.md").write_text("my notes")
    assert run_cli(capsys, "export", str(STUDENT), "--format", "onnx", "--out", str(out), "--overwrite")[0] == 0
    assert (out.parent / "README.md").read_text() == "my notes" and (out.parent / "student.md").is_file()


@pytest.mark.slow
def test_the_example_runs_in_a_venv_without_gantransfer(tmp_path, capsys):
    out = _exported(tmp_path, capsys)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)  # no system site-packages
    py = venv / "bin" / "python"
    pip = subprocess.run([str(py), "-m", "pip", "install", "-q", "onnxruntime", "numpy"], capture_output=True,
                         text=True)
    if pip.returncode != 0:
        pytest.skip(f"onnxruntime and numpy cannot be installed here: {pip.stderr[-300:]}")
    assert subprocess.run([str(py), "-c", "import gantransfer"], capture_output=True).returncode != 0
    assert subprocess.run([str(py), "-c", "import torch"], capture_output=True).returncode != 0
    done = subprocess.run([str(py), str(out.parent / "student_sample.py"), "--n", "9", "--out",
                           str(tmp_path / "grid.png")], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    with Image.open(tmp_path / "grid.png") as im:
        arr = np.asarray(im)
    assert arr.shape == (3 * 34 + 2, 3 * 34 + 2) and arr.std() > 10
