"""Feature taps on a user's own module (`--teacher-module`): forward hooks found per resolution or named with
`--teacher-taps` (issue 31, item 5)."""
import json

import pytest
import torch

from gantransfer.cli import main
from gantransfer.models.hook_taps import auto_taps

USER_GENERATOR = '''
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.ConvTranspose2d(8, 32, 4, 1, 0), nn.BatchNorm2d(32), nn.ReLU())
        self.up1 = nn.Sequential(nn.ConvTranspose2d(32, 16, 4, 2, 1), nn.BatchNorm2d(16), nn.ReLU())
        self.head = nn.Sequential(nn.ConvTranspose2d(16, 1, 4, 2, 1), nn.Tanh())
        self.latent_dim = 8

    def forward(self, z):
        return self.head(self.up1(self.stem(z[:, :, None, None])))


def make():
    torch.manual_seed(0)
    return Net()
'''


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "usergen.py").write_text(USER_GENERATOR)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "usergen:make"


def test_auto_taps_take_the_last_output_of_each_size_below_the_image():
    shapes = [("a.0", (8, 4, 4)), ("a", (8, 4, 4)), ("b.0", (4, 8, 8)), ("b", (4, 8, 8)), ("c", (1, 16, 16))]
    assert auto_taps(shapes, 16) == ["a", "b"]
    assert auto_taps([("x", (3, 16, 16))], 16) == []


def test_user_module_teacher_gets_feature_matching_by_hooks(user_module, tmp_path, capsys):
    common = ["distill", "--teacher-module", user_module, "--width", "0.25", "--steps", "2", "--eval-n", "0",
              "--no-progress", "--device", "cpu"]
    assert main([*common, "--out", str(tmp_path / "auto")]) == 0  # --terms auto, a domain with no classifier
    err = capsys.readouterr().err
    assert "--terms auto -> pixel=1,feature=1" in err and "forward hooks at stem, up1" in err
    run = json.loads((tmp_path / "auto" / "run.json").read_text())
    assert run["teacher_taps"] == ["stem", "up1"] and run["terms_chosen"]["terms"] == "pixel=1,feature=1"
    log = [json.loads(x) for x in (tmp_path / "auto" / "logs" / "metrics.jsonl").read_text().splitlines()]
    assert any("loss/G/feature" in r for r in log)
    assert main([*common, "--terms", "pixel=1,feature=1", "--teacher-taps", "up1.1",
                 "--out", str(tmp_path / "named")]) == 0
    assert json.loads((tmp_path / "named" / "run.json").read_text())["teacher_taps"] == ["up1.1"]
    assert main([*common, "--terms", "pixel=1,feature=1", "--teacher-taps", "up1,nope",
                 "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert "nope names no layer" in err and "stem.0 32x4x4" in err and "up1 16x8x8" in err
    assert not (tmp_path / "bad").exists()


def test_teacher_taps_refused_where_there_is_no_user_module(user_module, tmp_path, capsys):
    assert main(["distill", "--teacher-module", user_module, "--black-box", "--teacher-taps", "stem", "--steps", "1",
                 "--eval-n", "0", "--no-progress", "--out", str(tmp_path / "bb")]) == 2
    assert "used black-box" in capsys.readouterr().err
    from gantransfer.models.config import GeneratorConfig, build_generator
    from gantransfer.models.store import save_generator
    cfg = GeneratorConfig(arch="dcgan", latent_dim=8, resolution=16, channels=1)
    torch.manual_seed(0)
    save_generator(build_generator(cfg).eval(), cfg, tmp_path / "native")
    assert main(["distill", "--teacher", str(tmp_path / "native"), "--teacher-taps", "main.2", "--steps", "1",
                 "--eval-n", "0", "--no-progress", "--out", str(tmp_path / "n")]) == 2
    assert "whose taps are its blocks" in capsys.readouterr().err
