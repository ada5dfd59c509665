"""The ``shuffle-resnet`` translator family: shapes, taps, labels, validation, a distilled student from a resnet
teacher (feature taps paired at the teacher's resolution) and its ONNX export."""
import json

import pytest
import torch

from conftest import run_cli
from gantransfer.models.config import GeneratorConfig, build_generator
from gantransfer.models.cost import count_macs
from gantransfer.models.family import family_names_of_kind
from gantransfer.models.store import load_generator
from test_distill_translator import distill_argv, make_inputs, make_teacher


def shuffle_cfg(**options):
    return GeneratorConfig(arch="shuffle-resnet", latent_dim=0, input_channels=3, channels=1, resolution=32,
                           options={"ngf": 4, "n_blocks": 2, **options})


@pytest.mark.parametrize("factor", [2, 4, 8])
def test_shapes_and_taps_follow_the_factor(factor):
    cfg = shuffle_cfg(factor=factor)
    g = build_generator(cfg)
    x = torch.rand(2, 3, 32, 48) * 2 - 1
    y, feats = g.forward_features(x)
    assert y.shape == (2, 1, 32, 48) and y.abs().max() <= 1
    assert [f.shape for f in feats] == [(2, 16, 32 // factor, 48 // factor)] * 2
    assert torch.equal(g(x), y)
    with pytest.raises(ValueError, match=f"multiples of {factor}"):
        g(torch.zeros(1, 3, 33, 32))


def test_no_full_size_layer_fewer_macs_than_resnet_of_the_same_ngf():
    s = shuffle_cfg(ngf=8, n_blocks=6)
    r = GeneratorConfig(arch="resnet", latent_dim=0, input_channels=3, channels=1, resolution=32,
                        options={"ngf": 8, "n_blocks": 6})
    g = build_generator(s)
    assert count_macs(g, s) < count_macs(build_generator(r), r) / 4
    convs = [m for m in g.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(not isinstance(m, torch.nn.ConvTranspose2d) for m in g.modules())
    seen = []
    hooks = [m.register_forward_hook(lambda m, i, o: seen.append(o.shape[-1])) for m in convs]
    g(torch.zeros(1, 3, 32, 32))
    for h in hooks:
        h.remove()
    assert max(seen) == 8  # every convolution runs at 1/4 of the side


def test_label_conditional_mappings_differ():
    cfg = GeneratorConfig(arch="shuffle-resnet", latent_dim=0, input_channels=3, channels=3, resolution=32,
                          num_classes=2, options={"ngf": 4, "n_blocks": 1})
    g = build_generator(cfg)
    for m in g.modules():
        if hasattr(m, "shift") and isinstance(m.shift, torch.nn.Embedding):
            torch.nn.init.normal_(m.shift.weight)
    x = torch.rand(2, 3, 32, 32)
    assert not torch.allclose(g(x, torch.tensor([0, 0])), g(x, torch.tensor([1, 1])))
    with pytest.raises(ValueError, match="applies one of 2 mappings"):
        g(x)


@pytest.mark.parametrize("options,match", [({"factor": 3}, "factor must be one of 2, 4, 8"),
                                           ({"n_blocks": 65}, "n_blocks must be between 0 and 64"),
                                           ({"ngf": 0}, "ngf must be between 1 and 1024"),
                                           ({"norm": "layer"}, "norm must be one of")])
def test_bad_options_are_refused(options, match):
    with pytest.raises(ValueError, match=match):
        shuffle_cfg(**options).validate()


def test_listed_among_translator_families():
    assert "shuffle-resnet" in family_names_of_kind("translator")
    assert "dcgan" not in family_names_of_kind("translator")


def test_distilled_from_a_resnet_teacher_with_feature_taps_and_exported(tmp_path, capsys):
    teacher, data = make_teacher(tmp_path), make_inputs(tmp_path)
    code, _, err = run_cli(capsys, *distill_argv(teacher, data, tmp_path / "run", "--terms", "pixel=1,feature=0.01",
                                                 "--student-arch", "shuffle-resnet", "--width", "0.5"))
    assert code == 0, err
    assert "--init auto -> random" in err  # another family: no pruned start
    g, cfg = load_generator(tmp_path / "run")
    assert cfg.arch == "shuffle-resnet" and cfg.options.ngf == 4 and cfg.options.n_blocks == 3  # teacher's blocks
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["feature_pairs"] == [[0, 0], [1, 1], [2, 2]]  # 1/4-size taps meet the teacher's trunk
    ev = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert ev["cost"]["macs_reduction"] > 4
    code, out, err = run_cli(capsys, "export", str(tmp_path / "run"), "--format", "onnx",
                             "--out", str(tmp_path / "s.onnx"))
    assert code == 0, err
    assert "parity max_abs_error_batch1" in out


def test_a_noise_family_as_student_arch_lists_the_translator_families(tmp_path, capsys):
    teacher, data = make_teacher(tmp_path), make_inputs(tmp_path)
    code, _, err = run_cli(capsys, *distill_argv(teacher, data, tmp_path / "run", "--student-arch", "dcgan"))
    assert code == 2
    assert "shuffle-resnet" in err and "mobile-resnet" in err
    assert not (tmp_path / "run").exists()


def test_batch_norm_variant_exports_with_parity(tmp_path, capsys):
    from gantransfer.models.store import save_generator
    cfg = shuffle_cfg(norm="batch")
    torch.manual_seed(0)
    g = build_generator(cfg).eval()
    path = save_generator(g, cfg, tmp_path / "g")
    code, out, err = run_cli(capsys, "export", str(path), "--format", "onnx", "--out", str(tmp_path / "g.onnx"))
    assert code == 0, err
    assert "parity max_abs_error_batch1" in out
    assert int(out.split(" batch norms folded")[0].rsplit(" ", 1)[1]) >= 1  # the head's conv + norm, in torch
