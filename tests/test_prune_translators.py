"""Pruned translator students (issue 31 for the resnet, mobile-resnet and unet families): their channel groups,
the kept weights, a start closer to the teacher than a random student, and `distill --teacher TRANSLATOR --width`."""
import dataclasses
import json
import warnings

import pytest
import torch

from conftest import run_cli
from gantransfer.models.config import GeneratorConfig, build_generator
from gantransfer.models.importance import CRITERIA, channel_scores
from gantransfer.models.prune import group_sizes, groups_of, top_channels
from gantransfer.tasks.student_init import prune_from_teacher
from test_distill_translator import distill_argv, make_inputs, make_teacher

FAMILIES = [("resnet", {"ngf": 8, "n_blocks": 2, "norm": "batch", "dropout": True}),
            ("resnet", {"ngf": 8, "n_blocks": 3, "norm": "instance"}),
            ("mobile-resnet", {"ngf": 8, "n_blocks": 2, "norm": "instance"}),
            ("mobile-resnet", {"ngf": 8, "n_blocks": 2, "norm": "batch"}),
            ("unet", {"ngf": 8, "num_downs": 5, "norm": "batch"}),
            ("unet", {"ngf": 4, "num_downs": 5, "norm": "instance", "dropout": True})]
IDS = [f"{a}-{o['norm']}" for a, o in FAMILIES]


def teacher_of(arch, options, seed=0, weak=0.0):
    """A translator whose weights are far from its family's initialisation (std 0.3 instead of 0.02, batch norm
    statistics that are not 0 and 1), so that which channels are kept changes what it computes. ``weak``: half
    the channels of every group (chosen at random) are made and read with weights scaled by it, as channels a
    trained network barely uses."""
    cfg = GeneratorConfig(arch=arch, latent_dim=0, input_channels=3, channels=3, resolution=32, options=options)
    torch.manual_seed(seed)
    g = build_generator(cfg)
    with torch.no_grad():
        for p in g.parameters():
            p.normal_(0, 0.3)
        for name, b in g.named_buffers():
            if name.endswith("running_var"):
                b.uniform_(0.5, 2)
            elif name.endswith("running_mean"):
                b.normal_(0, 0.3)
        state = g.state_dict()
        for group in groups_of(cfg.family, g) if weak else []:
            size = group_sizes(g, [group])[group.name]
            few = torch.randperm(size)[: size // 2]
            for sl in group.slices:
                w = state[sl.entry]
                if w.is_floating_point() and w.dim() >= 2 and (sl.role == "in" or sl.dim == 0 or w.dim() == 4):
                    w.index_copy_(sl.dim, few + sl.offset, w.index_select(sl.dim, few + sl.offset) * weak)
    return g.eval(), cfg


def narrower(cfg, ngf):
    return dataclasses.replace(cfg, options=dataclasses.replace(cfg.options, ngf=ngf))


@pytest.mark.parametrize("arch,options", FAMILIES, ids=IDS)
def test_every_channel_kept_in_importance_order_computes_the_teacher(arch, options):
    """At full width with the channels reordered by importance, the student must compute the teacher's function:
    every slice of every group (skip connections, the residual trunk, depthwise filters, norms) is right."""
    t, cfg = teacher_of(arch, options)
    s = build_generator(cfg).eval()
    prune_from_teacher(s, t, cfg, cfg, "activation", False, seed=0, by_importance=True)
    assert any(not torch.equal(a, b) for a, b in zip(s.state_dict().values(), t.state_dict().values()))  # reordered
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert (s(x) - t(x)).abs().max() < 1e-4


@pytest.mark.parametrize("arch,options", FAMILIES, ids=IDS)
def test_the_kept_weights_are_the_teachers(arch, options):
    t, cfg = teacher_of(arch, options)
    scfg = narrower(cfg, options["ngf"] // 2)
    s = build_generator(scfg).eval()
    prune_from_teacher(s, t, cfg, scfg, "magnitude", False, seed=0)
    groups = groups_of(cfg.family, t)
    keep = top_channels(channel_scores("magnitude", t, groups, torch.empty(0), None), group_sizes(s, groups_of(
        scfg.family, s)))
    cuts = {}  # entry -> dim -> [(offset, kept teacher indices)]
    for g in groups:
        for sl in g.slices:
            cuts.setdefault(sl.entry, {}).setdefault(sl.dim, []).append((sl.offset, keep[g.name]))
    t_state, s_state = t.state_dict(), s.state_dict()
    for name, w in t_state.items():  # every entry: the teacher's values at the kept channels, nothing else
        for dim, parts in cuts.get(name, {}).items():
            w = w.index_select(dim, torch.cat([k + off for off, k in sorted(parts, key=lambda p: p[0])]))
        assert torch.equal(s_state[name], w), name
    assert any(k.tolist() != list(range(len(k))) for k in keep.values())  # not just the first channels


@pytest.mark.parametrize("arch,options", FAMILIES, ids=IDS)
@pytest.mark.parametrize("criterion", CRITERIA)
def test_a_pruned_student_starts_closer_to_its_teacher_than_a_random_one(arch, options, criterion):
    if criterion == "activation" and options["norm"] == "instance" and arch != "unet":
        pytest.skip("every tap of an instance-normalised ResNet has unit spread per channel: the activation "
                    "criterion cannot see channels that the next layer barely reads")
    t, cfg = teacher_of(arch, options, weak=0.1)
    scfg = narrower(cfg, options["ngf"] // 2)
    x = torch.rand(8, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        target = t(x)
    randoms = []
    for seed in range(3):  # random students: the family's initialisation, and the teacher's weight scale
        torch.manual_seed(seed)
        r = teacher_of(arch, {**options, "ngf": options["ngf"] // 2}, seed=seed + 1)[0]
        with torch.no_grad():
            randoms += [(build_generator(scfg).eval()(x) - target).abs().mean(), (r(x) - target).abs().mean()]
    s = build_generator(scfg).eval()
    prune_from_teacher(s, t, cfg, scfg, criterion, False, seed=0, inputs=x)
    with torch.no_grad():
        pruned = (s(x) - target).abs().mean()
    assert pruned < min(randoms), (float(pruned), [float(r) for r in randoms])


def test_distill_of_a_translator_starts_from_its_pruned_teacher(tmp_path, capsys):
    teacher, data = make_teacher(tmp_path), make_inputs(tmp_path)
    code, out, err = run_cli(capsys, *distill_argv(teacher, data, tmp_path / "run", "--width", "0.25",
                                                   "--terms", "pixel=1", "--eval-n", "0"))
    assert code == 0, err
    assert "student initialised from the teacher's channels (activation)" in out
    info = json.loads((tmp_path / "run" / "run.json").read_text())["student_init"]
    assert info["init"] == "prune" and info["kept"]["in"] == "2/8" and info["kept"]["trunk"] == "8/32"
    code, out, err = run_cli(capsys, *distill_argv(teacher, data, tmp_path / "div", "--init", "prune", "--svs",
                                                   "--prune-criterion", "diversity", "--terms", "pixel=1",
                                                   "--eval-n", "0"))
    assert code == 0, err
    info = json.loads((tmp_path / "div" / "run.json").read_text())["student_init"]
    assert info["criterion"] == "diversity" and info["svs"]
    code, _, err = run_cli(capsys, *distill_argv(teacher, data, tmp_path / "x", "--init", "prune",
                                                 "--student-arch", "mobile-resnet"))
    assert code != 0 and "needs a student of the teacher's family (resnet)" in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()
    with warnings.catch_warnings(record=True) as caught:  # another family starts at random: no pruning warning
        warnings.simplefilter("always")
        code, _, err = run_cli(capsys, *distill_argv(teacher, data, tmp_path / "auto", "--student-arch",
                                                     "mobile-resnet", "--terms", "pixel=1", "--eval-n", "0"))
    assert code == 0 and "--init auto -> random" in err
    assert not [w for w in caught if "close to chance" in str(w.message)] and "close to chance" not in err
    assert json.loads((tmp_path / "auto" / "run.json").read_text())["student_init"]["init"] == "random"
