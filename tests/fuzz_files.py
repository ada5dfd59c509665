"""A fuzz harness for every file format gantransfer reads: valid files are mutated (truncation, flipped bytes, type
swaps, huge numbers, NaN, missing and extra keys, deep nesting, symbolic links) with a fixed seed, and the command
that reads each is run in a forked process (tests/forked_cli.py).

What must hold for every case (``check``): an exit status below 128 (0 when the mutation left a valid file), no
traceback, exactly one error line when refused, and no file outside the case's own folder changed (the pristine
originals and a sentinel folder, which the symbolic links point into, are hashed before and after).

Used by tests/test_fuzz_files.py (a fixed-seed subset, about a minute) and benchmarks/fuzz_files.py (more cases).
"""
from __future__ import annotations

import copy
import json
import math
import random
import shutil
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
STUDENT = REPO / "src" / "gantransfer" / "assets" / "students" / "fashion-mnist-dcgan-w0.125"
TEACHER = REPO / "src" / "gantransfer" / "assets" / "teachers" / "fashion-mnist-dcgan"
RING = ["--data", "ring8", "--no-progress", "--device", "cpu"]

# ---- mutations -------------------------------------------------------------------------------------------------

SWAPS: list[Any] = ["abc", "", [], {}, None, True, [1, 2], {"a": 1}, 10 ** 30, -1, 0, 1e308, -1e308, 2 ** 63,
                    0.5, "1e10", 1e10]


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path of a JSON document (dict keys and list indices)."""
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:20]):
            out += _paths(v, prefix + (i,))
    return out


def _set(doc: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    parent[path[-1]] = value
    return doc


def mutate_json(doc: Any, rng: random.Random) -> tuple[str, str]:
    """(name of the mutation, the mutated JSON text) of document ``doc``."""
    doc = copy.deepcopy(doc)
    text = json.dumps(doc)
    kind = rng.choice(["swap", "swap", "swap", "huge", "nan", "delete", "extra", "deep", "truncate", "whole"])
    paths = _paths(doc)
    path = rng.choice(paths[1:] or paths)
    where = ".".join(map(str, path)) or "<root>"
    if kind == "swap":
        return f"swap {where}", json.dumps(_set(doc, path, rng.choice(SWAPS)))
    if kind == "huge":
        return f"huge {where}", json.dumps(_set(doc, path, rng.choice([10 ** 9, 10 ** 12, 2 ** 31, 10 ** 100])))
    if kind == "nan":
        return f"nan {where}", json.dumps(_set(doc, path, rng.choice([math.nan, math.inf, -math.inf])))
    if kind == "delete" and path:
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        del parent[path[-1]]
        return f"delete {where}", json.dumps(doc)
    if kind == "extra":
        dicts = [p for p in paths if isinstance(_get(doc, p), dict)]
        if dicts:
            p = rng.choice(dicts)
            _get(doc, p)["surprise"] = rng.choice(SWAPS)
            return f"extra key in {'.'.join(map(str, p)) or '<root>'}", json.dumps(doc)
    if kind == "deep":
        depth = rng.choice([100, 5000, 100_000])
        return f"deep nesting ({depth}) at {where}", json.dumps(_set(doc, path, "__DEEP__")).replace(
            '"__DEEP__"', "[" * depth + "0" + "]" * depth)
    if kind == "truncate":
        cut = rng.randrange(len(text))
        return f"truncated at {cut}/{len(text)}", text[:cut]
    return "whole document replaced", rng.choice([json.dumps(v) for v in ([], "x", 1, None, [doc])] + ["[" * 3000])


def _get(doc: Any, path: tuple) -> Any:
    for k in path:
        doc = doc[k]
    return doc


def mutate_bytes(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """(name, mutated bytes) of a binary file."""
    kind = rng.choice(["truncate", "flip", "flip", "empty", "garbage", "header"])
    if kind == "truncate":
        cut = rng.randrange(len(data))
        return f"truncated at {cut}/{len(data)}", data[:cut]
    if kind == "flip":
        b = bytearray(data)
        for _ in range(rng.choice([1, 8, 64])):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
        return "flipped bits", bytes(b)
    if kind == "empty":
        return "empty", b""
    if kind == "garbage":
        return "garbage appended", data + bytes(rng.randrange(256) for _ in range(1024))
    n = min(len(data), 128)
    return "first 128 bytes scrambled", bytes(rng.randrange(256) for _ in range(n)) + data[n:]


# ---- the valid sources, made once per workspace ------------------------------------------------------------------

def build_sources(ws: Path) -> dict[str, Path]:
    """Valid files of every format under ``ws/sources`` (and a sentinel folder ``ws/outside``)."""
    import numpy as np
    import torch
    from gantransfer.cli import main
    src = ws / "sources"
    src.mkdir(parents=True)
    (ws / "outside").mkdir()
    (ws / "outside" / "precious.txt").write_text("the user's")
    shutil.copytree(STUDENT, src / "gen")
    assert main(["train", *RING, "--steps", "2", "--checkpoint-every", "1", "--out", str(src / "run")]) == 0
    (src / "run" / "eval.json").write_text(json.dumps({"generator": "x", "dataset": "ring8", "n": 10,
                                                       "metrics": {"fid/ring8": 1.0}, "seconds": 1.0}))
    assert main(["export", str(STUDENT), "--format", "onnx", "--out", str(src / "g.onnx")]) == 0
    assert main(["export", str(STUDENT), "--format", "torchscript", "--out", str(src / "g.pt")]) == 0
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(300, 128))
    np.savez(src / "ref.npz", mu=feats.mean(0), sigma=np.cov(feats, rowvar=False))
    (src / "train.json").write_text(json.dumps({"data": "ring8", "steps": 1, "batch_size": 8, "lr": 0.0002,
                                                "seed": 1, "width": 0.5, "device": "cpu"}))
    (src / "sequence.json").write_text(json.dumps([{"data": "ring8", "classes": [0]}]))
    from PIL import Image
    (src / "imgs").mkdir()
    for i in range(2):
        Image.fromarray((rng.random((28, 28)) * 255).astype(np.uint8)).save(src / "imgs" / f"{i}.png")
    import sys
    sys.path.insert(0, str(REPO / "tests"))
    from test_stylegan2_import import rgb_generator, to_rosinality
    g, _ = rgb_generator()
    torch.save({"g_ema": to_rosinality(g), "latent_avg": torch.zeros(12),
                "args": {"size": 32, "latent": 12, "n_mlp": 2, "channel_multiplier": 2}}, src / "rosinality.pt")
    from gantransfer.models.store import load_generator
    dcgan, _ = load_generator(STUDENT)
    torch.save(dcgan.state_dict(), src / "dcgan.pt")
    import pickle
    from test_stylegan2_import import nvlabs_stand_in_modules, to_nvlabs
    stand_ins = nvlabs_stand_in_modules()
    sys.modules.update(stand_ins)
    try:
        (src / "net.pkl").write_bytes(pickle.dumps({"G_ema": to_nvlabs(g), "training_set_kwargs": {"resolution": 32}}))
    finally:
        for name in stand_ins:
            sys.modules.pop(name, None)
    from junyanz_reference import RefResnetGenerator, randomise
    torch.save(randomise(RefResnetGenerator(3, 3, 8, "instance", False, 2)).state_dict(), src / "latest_net_G.pth")
    assert main(["dataset", "export", "--data", "digits", "--limit", "40", "--out", str(src / "ada.zip")]) == 0
    return {p.name: p for p in src.iterdir()}


# ---- the cases ---------------------------------------------------------------------------------------------------

Case = dict[str, Any]


def _json_case(src: Path, case_dir: Path, rel: str, rng: random.Random, jsonl: bool = False) -> str:
    """Copy ``src`` (a file or folder) into ``case_dir`` and mutate its JSON file ``rel``; returns the mutation."""
    target = case_dir / src.name
    shutil.copytree(src, target, symlinks=True) if src.is_dir() else shutil.copy(src, target)
    f = target / rel if rel else target
    if jsonl:
        lines = f.read_text().splitlines()
        i = rng.randrange(len(lines))
        what, text = mutate_json(json.loads(lines[i]), rng)
        lines[i] = text.replace("\n", " ")
        f.write_text("\n".join(lines) + "\n")
        return f"line {i + 1}: {what}"
    what, text = mutate_json(json.loads(f.read_text()), rng)
    f.write_text(text)
    return what


def _bytes_case(src: Path, case_dir: Path, rel: str, rng: random.Random) -> str:
    target = case_dir / src.name
    shutil.copytree(src, target, symlinks=True) if src.is_dir() else shutil.copy(src, target)
    f = target / rel if rel else target
    what, data = mutate_bytes(f.read_bytes(), rng)
    f.write_bytes(data)
    return what


def _importer_case(src: Path, case_dir: Path, rng: random.Random) -> str:
    """A rosinality checkpoint with one value swapped for another type (tensors for numbers, 0-d tensors, ...)."""
    import torch
    d = torch.load(src, weights_only=True)
    kind = rng.choice(["tensor->int", "0-d tensor", "args str", "args list", "empty latent_avg", "missing key",
                       "string size", "huge size", "nan tensor", "wrong shape"])
    key = rng.choice(sorted(d["g_ema"]))
    if kind == "tensor->int":
        d["g_ema"][key] = 3
    elif kind == "0-d tensor":
        d["g_ema"][key] = torch.tensor(1.0)
    elif kind == "args str":
        d["args"] = "size=32"
    elif kind == "args list":
        d["args"] = [32, 12]
    elif kind == "empty latent_avg":
        d["latent_avg"] = torch.zeros(0)
    elif kind == "missing key":
        key = rng.choice([k for k in d["g_ema"] if "conv1" in k] or [key])
        del d["g_ema"][key]
    elif kind == "string size":
        d["args"]["latent"] = "12"
    elif kind == "huge size":
        d["args"][rng.choice(["size", "latent", "n_mlp", "channel_multiplier"])] = 10 ** 9
    elif kind == "nan tensor":
        d["g_ema"][key] = torch.full_like(d["g_ema"][key], math.nan)
    else:
        d["g_ema"][key] = torch.zeros(3, 5, 7)
    out = case_dir / "ckpt.pt"
    torch.save(d, out)
    return f"{kind} ({key})"


def _state_dict_case(src: Path, case_dir: Path, rng: random.Random) -> str:
    """A bare state_dict (a DCGAN or a pix2pix/CycleGAN generator) with one entry dropped, made 0-d, an int, NaN or
    of a huge shape; written under ``src``'s name."""
    import torch
    sd = torch.load(src, weights_only=True)
    key = rng.choice(sorted(sd))
    kind = rng.choice(["drop", "0-d", "int", "nan", "huge shape"])
    if kind == "drop":
        del sd[key]
    elif kind == "0-d":
        sd[key] = torch.tensor(1.0)
    elif kind == "int":
        sd[key] = 7
    elif kind == "nan":
        sd[key] = torch.full_like(sd[key], math.nan) if sd[key].is_floating_point() else sd[key]
    else:
        sd[key] = torch.zeros(1, 100000)
    torch.save(sd, case_dir / src.name)
    return f"{kind} ({key})"


def _zip_json_case(src: Path, case_dir: Path, rng: random.Random) -> str:
    """A dataset_tool zip whose dataset.json is mutated (its images intact)."""
    import zipfile
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(case_dir / src.name, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "dataset.json":
                what, text = mutate_json(json.loads(data), rng)
                data = text.encode()
            zout.writestr(info, data)
    return "dataset.json: " + what


def _symlink_case(src: Path, case_dir: Path, ws: Path, rng: random.Random) -> str:
    run = case_dir / "run"
    shutil.copytree(src, run, symlinks=True)
    rel = rng.choice(["generator", "logs/metrics.jsonl", "run.json", "state", "report", "eval.json"])
    target = ws / "outside" / f"target-{case_dir.name}"
    p = run / rel
    if p.is_dir():
        shutil.copytree(p, target)
        shutil.rmtree(p)
    else:
        shutil.copy(p, target)
        p.unlink()
    p.symlink_to(target)
    return f"{rel} is a symbolic link out of the run"


def _format_table(ws: Path, sources: dict[str, Path]) -> dict[str, tuple[Callable, Callable]]:
    """format -> (make(case_dir, rng) -> mutation, argv(case_dir) -> command line)."""
    s = sources
    out = lambda c: str(c / "out")  # noqa: E731
    return {
        "generator config.json": (lambda c, r: _json_case(s["gen"], c, "config.json", r),
                                  lambda c: ["sample", str(c / "gen"), "--n", "4", "--out", out(c) + ".png"]),
        "generator model.safetensors": (lambda c, r: _bytes_case(s["gen"], c, "model.safetensors", r),
                                        lambda c: ["sample", str(c / "gen"), "--n", "4", "--out", out(c) + ".png"]),
        "run.json": (lambda c, r: _json_case(s["run"], c, "run.json", r),
                     lambda c: ["report", str(c / "run"), "--no-bench", "--out", out(c)]),
        "metrics.jsonl": (lambda c, r: _json_case(s["run"], c, "logs/metrics.jsonl", r, jsonl=True),
                          lambda c: ["report", str(c / "run"), "--no-bench", "--out", out(c)]),
        "eval.json": (lambda c, r: _json_case(s["run"], c, "eval.json", r),
                      lambda c: ["report", str(c / "run"), "--no-bench", "--out", out(c)]),
        "state latest.json": (lambda c, r: _json_case(s["run"], c, "state/latest.json", r),
                              lambda c: ["train", *RING, "--steps", "3", "--checkpoint-every", "1", "--resume",
                                         "--out", str(c / "run")]),
        "state step state.json": (lambda c, r: _json_case(s["run"], c, "state/step-0000002/state.json", r),
                                  lambda c: ["train", *RING, "--steps", "3", "--checkpoint-every", "1", "--resume",
                                             "--out", str(c / "run")]),
        "run generator config.json": (lambda c, r: _json_case(s["run"], c, "generator/config.json", r),
                                      lambda c: ["sample", str(c / "run"), "--n", "4", "--out", out(c) + ".png"]),
        "ONNX file": (lambda c, r: _bytes_case(s["g.onnx"], c, "", r),
                      lambda c: ["sample", str(c / "g.onnx"), "--n", "4", "--out", out(c) + ".png"]),
        "TorchScript file": (lambda c, r: _bytes_case(s["g.pt"], c, "", r),
                             lambda c: ["sample", str(c / "g.pt"), "--n", "4", "--out", out(c) + ".png"]),
        "npz statistics": (lambda c, r: _bytes_case(s["ref.npz"], c, "", r),
                           lambda c: ["eval", str(STUDENT), "--n", "20", "--reference", str(c / "ref.npz")]),
        "--config JSON": (lambda c, r: _json_case(s["train.json"], c, "", r),
                          lambda c: ["train", "--config", str(c / "train.json"), "--dry-run", "--out", out(c)]),
        "extend sequence": (lambda c, r: _json_case(s["sequence.json"], c, "", r),
                            lambda c: ["extend-sequence", "--base", str(TEACHER), "--sequence",
                                       str(c / "sequence.json"), "--steps", "1", "--no-progress", "--device", "cpu",
                                       "--eval-n", "10", "--out", out(c)]),
        "PNG in an image folder": (lambda c, r: _bytes_case(s["imgs"], c, "0.png", r),
                                   lambda c: ["stats", str(c / "imgs"), "--protocol", "fashion-mnist-classifier-v1",
                                              "--out", out(c) + ".npz", "--device", "cpu"]),
        "rosinality checkpoint": (lambda c, r: _importer_case(s["rosinality.pt"], c, r),
                                  lambda c: ["import", str(c / "ckpt.pt"), "--out", out(c)]),
        "DCGAN checkpoint": (lambda c, r: _state_dict_case(s["dcgan.pt"], c, r),
                             lambda c: ["import", str(c / "dcgan.pt"), "--out", out(c)]),
        "pix2pix/CycleGAN checkpoint": (lambda c, r: _state_dict_case(s["latest_net_G.pth"], c, r),
                                        lambda c: ["import", str(c / "latest_net_G.pth"), "--out", out(c)]),
        "NVlabs pickle": (lambda c, r: _bytes_case(s["net.pkl"], c, "", r),
                          lambda c: ["import", str(c / "net.pkl"), "--out", out(c)]),
        "dataset_tool zip": (lambda c, r: _bytes_case(s["ada.zip"], c, "", r),
                             lambda c: ["dataset", "export", "--data", str(c / "ada.zip"), "--out", out(c) + ".zip"]),
        "dataset_tool dataset.json": (lambda c, r: _zip_json_case(s["ada.zip"], c, r),
                                      lambda c: ["dataset", "export", "--data", str(c / "ada.zip"), "--out",
                                                 out(c) + ".zip"]),
        "symbolic link in a run": (lambda c, r: _symlink_case(s["run"], c, ws, r),
                                   lambda c: (["train", *RING, "--steps", "3", "--resume", "--out", str(c / "run")]
                                              if c.name.endswith(("0", "2", "4", "6", "8")) else
                                              ["train", *RING, "--steps", "2", "--overwrite", "--out", str(c / "run")])),
    }


def make_cases(ws: Path, sources: dict[str, Path], per_format: dict[str, int] | int, seed: int = 0) -> list[Case]:
    """Mutated copies under ``ws/cases`` and their command lines; ``per_format``: cases of each format."""
    table = _format_table(ws, sources)
    cases = []
    for fmt, (make, argv) in table.items():
        n = per_format if isinstance(per_format, int) else per_format.get(fmt, 0)
        for i in range(n):
            rng = random.Random(f"{seed}/{fmt}/{i}")
            case_dir = ws / "cases" / f"{len(cases):04d}"
            case_dir.mkdir(parents=True)
            what = make(case_dir, rng)
            cases.append({"format": fmt, "mutation": what, "argv": argv(case_dir), "cwd": str(case_dir),
                          "timeout": 120})
    return cases


def check(result: dict[str, Any]) -> list[str]:
    """What is wrong with one case's result (empty: it holds)."""
    problems = []
    code, err = result["code"], result["err"]
    if not 0 <= code < 128:
        problems.append(f"exit status {code} (a signal, a kill on time-out or a crash)")
    if "Traceback" in err:
        problems.append("a traceback")
    errors = [ln for ln in err.splitlines() if ln.startswith("gantransfer ") and ": error: " in ln]
    if code != 0 and len(errors) != 1:
        problems.append(f"{len(errors)} error lines")
    return problems
