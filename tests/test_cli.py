"""The command line: help, config files and overrides, dry runs, and clear errors for bad input."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gantransfer.cli import main
from gantransfer.config import TrainConfig
from gantransfer.models.config import GeneratorConfig, build_generator
from gantransfer.models.store import save_generator


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as e:  # argparse errors and --help
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", ["train", "sample", "eval", "demo"])
def test_every_command_has_help(capsys, command):
    code, out, _ = run_cli(capsys, command, "--help")
    assert code == 0 and "usage: gantransfer " + command in out


def test_dry_run_resolves_config_file_and_flags(capsys, tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"data": "ring8", "steps": 123, "width": 0.5}))
    code, out, _ = run_cli(capsys, "train", "--config", str(cfg), "--steps", "77", "--dry-run")
    assert code == 0
    resolved = json.loads(out)
    assert resolved["steps"] == 77 and resolved["width"] == 0.5 and resolved["arch"] == "mlp"
    assert resolved["batch_size"] == 256 and resolved["latent_dim"] == 2 and resolved["r1"] == 1.0


def test_config_round_trips_through_json():
    from gantransfer.config import from_dict, to_dict
    cfg = TrainConfig(data="digits", classes=[1, 2], steps=5, betas=[0.0, 0.99])
    assert from_dict(TrainConfig, json.loads(json.dumps(to_dict(cfg)))) == cfg


BAD = [
    (["train", "--data", "/no/such/folder"], "no/such/folder"),
    (["train", "--data", "digits", "--classes", "42"], "42"),
    (["train", "--data", "digits", "--resolution", "48"], "power of two"),
    (["train", "--data", "ring8", "--width", "0"], "width must be positive"),
    (["train", "--data", "ring8", "--loss", "wasserstein"], "nonsaturating or hinge"),
    (["sample", "/no/such/generator"], "does not exist"),
]


@pytest.mark.parametrize("argv,needle", BAD)
def test_bad_input_is_a_clear_error(capsys, tmp_path, argv, needle):
    code, out, err = run_cli(capsys, *argv, *(["--out", str(tmp_path / "o")] if argv[0] == "train" else []))
    assert code != 0
    assert needle in err and "error" in err and "Traceback" not in err


def test_unknown_option_is_an_error(capsys):
    code, _, err = run_cli(capsys, "train", "--data", "ring8", "--stepz", "3")
    assert code == 2 and "unrecognized arguments: --stepz" in err


def test_wrong_type_in_config_file(capsys, tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"data": "ring8", "steps": "many"}))
    code, _, err = run_cli(capsys, "train", "--config", str(cfg), "--dry-run")
    assert code == 2 and "'steps' must be an integer" in err
    cfg.write_text(json.dumps({"data": "ring8", "stepz": 3}))
    code, _, err = run_cli(capsys, "train", "--config", str(cfg), "--dry-run")
    assert code == 2 and "unknown config field(s) 'stepz'" in err
    cfg.write_text("{not json")
    code, _, err = run_cli(capsys, "train", "--config", str(cfg), "--dry-run")
    assert code == 2 and "not valid JSON" in err


def _tiny_generator(path: Path) -> Path:
    cfg = GeneratorConfig(width=0.0625, latent_dim=4, resolution=16)
    return save_generator(build_generator(cfg), cfg, path)


def test_directory_that_is_not_a_generator(capsys, tmp_path):
    (tmp_path / "x").mkdir()
    code, _, err = run_cli(capsys, "sample", str(tmp_path / "x"), "--out", str(tmp_path / "g.png"))
    assert code == 2 and "is not a generator" in err


def test_truncated_weights_file(capsys, tmp_path):
    g = _tiny_generator(tmp_path / "g")
    data = (g / "model.safetensors").read_bytes()
    (g / "model.safetensors").write_bytes(data[: len(data) // 2])
    code, _, err = run_cli(capsys, "sample", str(g), "--out", str(tmp_path / "g.png"))
    assert code == 2 and "truncated or corrupt" in err and "Traceback" not in err


def test_config_that_does_not_match_weights(capsys, tmp_path):
    g = _tiny_generator(tmp_path / "g")
    cfg = json.loads((g / "config.json").read_text())
    cfg["width"] = 0.125
    (g / "config.json").write_text(json.dumps(cfg))
    code, _, err = run_cli(capsys, "sample", str(g), "--out", str(tmp_path / "g.png"))
    assert code == 2 and "does not match" in err


def test_sample_writes_grid(capsys, tmp_path):
    g = _tiny_generator(tmp_path / "g")
    code, out, _ = run_cli(capsys, "sample", str(g), "--n", "16", "--out", str(tmp_path / "g.png"))
    assert code == 0 and (tmp_path / "g.png").stat().st_size > 0


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "gantransfer.cli", "train", "--data", "ring8", "--steps", "0",
                          "--dry-run"], capture_output=True, text=True)
    assert out.returncode == 2 and "steps must be >= 1" in out.stderr and "Traceback" not in out.stderr


def test_conditional_images_default_to_r1_and_a_half_width_discriminator(capsys):
    code, out, _ = run_cli(capsys, "train", "--data", "digits", "--conditional", "--width", "0.5", "--dry-run")
    resolved = json.loads(out)
    assert code == 0 and resolved["r1"] == 1.0 and resolved["d_width"] == 0.25
    code, out, _ = run_cli(capsys, "train", "--data", "digits", "--dry-run")
    resolved = json.loads(out)
    assert resolved["r1"] == 0.0 and resolved["d_width"] is None


def test_weights_with_nan_are_a_clear_error(capsys, tmp_path):
    from safetensors.torch import load_file, save_file
    g = _tiny_generator(tmp_path / "g")
    state = load_file(str(g / "model.safetensors"))
    key = next(k for k, v in state.items() if v.is_floating_point())
    state[key][0] = float("nan")
    save_file(state, str(g / "model.safetensors"))
    for argv in (["sample", str(g), "--out", str(tmp_path / "g.png")], ["eval", str(g), "--n", "100"]):
        code, _, err = run_cli(capsys, *argv)
        assert code == 2 and "NaN or infinite" in err and key in err and "Traceback" not in err
