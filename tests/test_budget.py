"""Compression to a budget: `distill --target-macs/--target-params/--target-latency` choose channels per layer."""
import json
import math

import pytest
import torch

from gantransfer.config import DistillConfig
from gantransfer.errors import ConfigError
from gantransfer.tasks.budget import floors_of, greedy_path, parse_target, uniform_fraction
from gantransfer.tasks.distill import distill


def test_targets_read_as_reductions_or_counts():
    assert parse_target("50x", 1000.0, "macs") == 20.0
    assert parse_target("1.5M", 0, "macs") == 1.5e6 and parse_target("200k", 0, "params") == 2e5
    assert parse_target("12345", 0, "params") == 12345
    for bad in ("x50", "-3x", "0x", "fast", ""):
        with pytest.raises(ConfigError, match="--target-macs"):
            parse_target(bad, 1000.0, "macs")


def test_greedy_removes_where_importance_per_cost_is_lowest():
    """Layer a's channels cost 1 each and matter equally; layer b's cost 10 each and matter equally: b gives up
    channels first (each saves 10x the cost for the same share of its layer)."""
    scores = {"a": torch.ones(16), "b": torch.ones(16)}
    cost = lambda s: s[0] * 1.0 + s[1] * 10.0  # noqa: E731
    path = greedy_path(scores, {"a": 16, "b": 16}, cost, stop=100)
    sizes, c = path[-1]
    assert c <= 100 and sizes[1] < sizes[0] and path[0] == ([16, 16], 176.0)
    assert all(later[1] < earlier[1] for earlier, later in zip(path, path[1:]))
    floor = greedy_path(scores, {"a": 16, "b": 16}, cost, stop=None)[-1]
    assert floor == ([1, 1], 11.0)


def test_floors_keep_the_uniform_share_where_scores_would_empty_a_layer():
    """Layer b's score sits in one channel, so each of its other channels costs nothing to lose; unbounded, the
    search empties b to its last channel. With floors no layer keeps under the uniform width's share (or a part of
    it), and the floors alone meet the target."""
    scores = {"a": torch.ones(32), "b": torch.cat([torch.full((31,), 1e-6), torch.ones(1)])}
    start = {"a": 32, "b": 32}
    cost = lambda s: float(s[0] * 4 + s[1] * 4 + s[0] * s[1])  # noqa: E731
    goal = cost([32, 32]) / 8
    assert greedy_path(scores, start, cost, goal)[-1][0][1] == 1
    f = uniform_fraction(start, cost, goal)
    assert cost([round(f * 32)] * 2) <= goal < cost([round(f * 32) + 1] * 2)
    floors = floors_of(start, f)
    assert floors == [round(f * 32)] * 2 and cost(floors) <= goal  # the default floor: the uniform width itself
    sizes, c = greedy_path(scores, start, cost, goal, floors)[-1]
    assert c <= goal and all(s >= fl for s, fl in zip(sizes, floors))
    half = floors_of(start, f, 0.5)
    assert half == [max(1, math.ceil(0.5 * f * 32))] * 2
    sizes, c = greedy_path(scores, start, cost, goal, half)[-1]
    assert c <= goal and sizes[1] == half[1] < sizes[0]  # b given up to its floor, no further


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    from gantransfer.models.config import GeneratorConfig, build_generator
    from gantransfer.models.store import save_generator
    cfg = GeneratorConfig(arch="dcgan", latent_dim=8, resolution=16, channels=1, width=0.5)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("budget") / "teacher"
    save_generator(build_generator(cfg).eval(), cfg, path)
    return path


def config(teacher, out, **kw):
    return DistillConfig(**{**dict(teacher=str(teacher), terms="pixel=1", steps=2, eval_n=0, progress=False,
                                   out=str(out)), **kw})


def test_target_macs_chooses_per_layer_channels_and_records_predicted_and_measured(teacher, tmp_path, capsys):
    from gantransfer.models.store import load_config
    run = distill(config(teacher, tmp_path / "m", target_macs="8x", prune_criterion="magnitude"))
    b = json.loads((run / "run.json").read_text())["student_init"]["budget"]
    assert b["measured"] == b["predicted"] <= b["target"] == b["teacher"] / 8 and b["reduction"] >= 8
    assert b["teacher_channels"] == {"block0": 64, "block1": 32}
    assert all(1 <= b["channels"][n] < b["teacher_channels"][n] for n in b["channels"])
    assert b["floor_of_uniform"] == 1.0
    scfg = load_config(run)
    assert scfg.options.channels == list(b["channels"].values())
    assert "--target-macs 8x: channels block0" in capsys.readouterr().out
    run = distill(config(teacher, tmp_path / "p", target_params="20k"))
    b = json.loads((run / "run.json").read_text())["student_init"]["budget"]
    assert b["measured"] <= 20000


def test_target_latency_is_timed_and_resume_keeps_the_channels(teacher, tmp_path):
    from gantransfer.tasks.budget import fit_budget, previous_budget
    from gantransfer.tasks.distill import resolve_teacher, student_config
    run = distill(config(teacher, tmp_path / "l", target_latency=1000.0, latency_batch=2))
    b = json.loads((run / "run.json").read_text())["student_init"]["budget"]
    assert b["kind"] == "latency" and b["batch"] == 2 and b["predicted"] <= 1000 and b["measured"] > 0
    assert b["channels"] == b["teacher_channels"]  # an easy target keeps the whole teacher
    distill(config(teacher, tmp_path / "l", target_latency=1000.0, latency_batch=2, steps=4), resume=True)
    assert previous_budget(run)["channels"] == b["channels"]
    # a resumed segment takes the recorded channels, not a new timing's
    cfg = config(teacher, tmp_path / "x", target_latency=1000.0)
    t = resolve_teacher(cfg, torch.device("cpu"))
    earlier = {**b, "asked": "1000.0", "channels": {"block0": 5, "block1": 3}}
    scfg, record = fit_budget(t, student_config(cfg, t), "latency", 1000.0, "activation", 0, previous=earlier)
    assert scfg.options.channels == [5, 3] and record["channels"] == {"block0": 5, "block1": 3}


def test_bad_budgets_say_what_is_reachable(teacher, tmp_path):
    with pytest.raises(ConfigError, match=r"out of reach: the closest .* channels \[1, 1\]"):
        distill(config(teacher, tmp_path / "a", target_macs="1e6x"))
    with pytest.raises(ConfigError, match="out of reach"):
        distill(config(teacher, tmp_path / "b", target_latency=1e-9))
    with pytest.raises(ConfigError, match="one budget"):
        config(teacher, tmp_path / "c", target_macs="2x", target_params="2x").validate()
    with pytest.raises(ConfigError, match="not random"):
        config(teacher, tmp_path / "d", target_macs="2x", init="random").validate()
    with pytest.raises(ConfigError, match="teacher's family"):
        distill(config(teacher, tmp_path / "e", target_macs="2x", student_arch="stylegan2"))


def test_stylegan2_budget_plans_the_synthesis_channels_per_layer(tmp_path, capsys):
    """A StyleGAN2 student to a MACs budget: channels chosen per synthesis layer (constant, each block's conv0 and
    conv1 apart), the mapping network kept, and the default plan the width's (the same network as before)."""
    from gantransfer.models.config import GeneratorConfig, build_generator
    from gantransfer.models.prune import group_sizes, groups_of
    from gantransfer.models.store import load_config, load_generator, save_generator
    from gantransfer.models.stylegan2 import synthesis_plan
    opts = {"w_dim": 16, "mapping_layers": 2, "channel_base": 512, "channel_max": 32}
    tcfg = GeneratorConfig(arch="stylegan2", latent_dim=16, resolution=16, channels=3, width=1.0, options=opts)
    torch.manual_seed(0)
    t = build_generator(tcfg).eval()
    assert list(group_sizes(t, groups_of(tcfg.family, t)).values()) == synthesis_plan(16, 1.0, 512, 32) \
        == [32, 32, 32, 32, 32, 32]
    save_generator(t, tcfg, tmp_path / "teacher")
    run = distill(config(tmp_path / "teacher", tmp_path / "s", target_macs="3x"))
    b = json.loads((run / "run.json").read_text())["student_init"]["budget"]
    assert list(b["channels"]) == ["const", "b4.conv1", "b8.conv0", "b8.conv1", "b16.conv0", "b16.conv1"]
    assert b["measured"] == b["predicted"] <= b["target"] and b["reduction"] >= 3
    assert len(set(b["channels"].values())) > 1  # per layer, not one width
    scfg = load_config(run)
    s, _ = load_generator(run)
    assert scfg.options.channels == list(b["channels"].values())
    assert list(group_sizes(s, groups_of(scfg.family, s)).values()) == scfg.options.channels
    assert torch.equal(s.mapping.fc[0].weight, t.mapping.fc[0].weight)  # W space: the teacher's mapping
    with pytest.raises(ValueError, match="channels needs 6 positive counts"):
        build_generator(GeneratorConfig(arch="stylegan2", latent_dim=16, resolution=16, channels=3,
                                        options={**opts, "channels": [8, 8]}))


def test_a_budget_floor_outside_0_1_is_refused(teacher, tmp_path):
    for bad in (0, -0.5, 1.5):
        with pytest.raises(ConfigError, match="budget_floor must be in"):
            distill(config(teacher, tmp_path / f"f{bad}", target_macs="8x", budget_floor=bad))
        assert not (tmp_path / f"f{bad}").exists()
