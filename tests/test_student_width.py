"""`distill --width` is a fraction of the teacher's channels (issue 31, item 4), and the student's size is stated
against the teacher's before training."""
import json

import pytest
import torch

from gantransfer.config import DistillConfig
from gantransfer.errors import ConfigError
from gantransfer.models.config import GeneratorConfig, build_generator
from gantransfer.models.prune import group_sizes, groups_of
from gantransfer.models.store import load_config, load_generator, save_generator
from gantransfer.tasks.distill import distill


def save_teacher(cfg, path):
    torch.manual_seed(0)
    save_generator(build_generator(cfg).eval(), cfg, path)
    return str(path)


def test_stylegan2_student_of_a_narrow_teacher_is_a_fraction_of_it(tmp_path, capsys):
    """The issue's case: a teacher at width 0.0625, channel_max 64, w_dim 64; --width 0.25 once gave a student 12x
    larger than the teacher."""
    tcfg = GeneratorConfig(arch="stylegan2", latent_dim=64, resolution=16, channels=3, width=0.0625,
                           options={"w_dim": 64, "mapping_layers": 2, "channel_max": 64})
    teacher = save_teacher(tcfg, tmp_path / "teacher")
    run = distill(DistillConfig(teacher=teacher, width=0.25, terms="pixel=1", steps=1, eval_n=0, progress=False,
                                init="random", out=str(tmp_path / "s")))
    scfg = load_config(run)
    assert scfg.width == pytest.approx(0.0625 * 0.25) and scfg.options.channel_max == 16
    assert scfg.options.w_dim == 64 and scfg.meta["width_of_teacher"] == 0.25  # W space: the teacher's W
    s, _ = load_generator(run)
    t, _ = load_generator(teacher)
    t_sizes, s_sizes = (group_sizes(g, groups_of(c.family, g)) for g, c in ((t, tcfg), (s, scfg)))
    assert s_sizes == {k: v // 4 for k, v in t_sizes.items()}  # every resolution: a quarter of the channels
    size = json.loads((run / "run.json").read_text())["student_size"]
    assert size["student_params"] < size["teacher_params"] and size["params_reduction"] > 1
    assert size["student_macs"] < size["teacher_macs"] and size["macs_reduction"] > 4
    err = capsys.readouterr().err
    assert "fewer params" in err and "fewer MACs than the teacher" in err


def test_dcgan_width_is_relative_and_elastic_widths_too(tmp_path, capsys):
    from conftest import run_cli
    tcfg = GeneratorConfig(arch="dcgan", latent_dim=8, resolution=16, channels=1, width=0.5)
    teacher = save_teacher(tcfg, tmp_path / "teacher")
    kw = dict(teacher=teacher, terms="pixel=1", steps=1, eval_n=0, progress=False)
    run = distill(DistillConfig(**kw, width=0.5, out=str(tmp_path / "half")))
    assert load_config(run).width == 0.25
    info = json.loads((run / "run.json").read_text())
    assert info["student_init"]["kept"] == {"block0": "32/64", "block1": "16/32"}
    assert info["student_size"]["macs_reduction"] > 3
    run = distill(DistillConfig(**kw, elastic="0.25,0.5", out=str(tmp_path / "e")))
    scfg = load_config(run)
    assert scfg.width == 0.25 and scfg.meta["elastic"] == [0.25, 0.5] and scfg.meta["elastic_unit"] == 0.5
    code, out, err = run_cli(capsys, "bench", str(run), "--width", "0.25", "--repeats", "1", "--json")
    assert code == 0, err
    with pytest.raises(ConfigError, match="teacher's width 0.5 gives width 0.00195"):
        distill(DistillConfig(**kw, width=1 / 256, out=str(tmp_path / "tiny")))
    assert not (tmp_path / "tiny").exists()
