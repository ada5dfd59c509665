"""Fusing image-to-image translators (``gantransfer fuse --teacher A --teacher B --data DIR``: one label-conditional
student, per-teacher figures, ``translate --label``), its refusals, and resume after a kill; and adapting a
translator to a few paired examples (``gantransfer adapt --teacher T --data PAIRS``)."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import run_cli
from forked_cli import run_forked, tree_hashes
from gantransfer.models.config import GeneratorConfig, build_generator
from gantransfer.models.store import load_generator, save_generator

SIZE = 16


def make_translator(tmp_path, name, seed=0, cin=3, cout=3, resolution=SIZE, negate=False, arch="resnet"):
    """A small random translator; ``negate``: the seed's translator with its last convolution negated, so that its
    outputs are the exact negatives (tanh is odd) of the un-negated one's."""
    cfg = GeneratorConfig(arch=arch, latent_dim=0, input_channels=cin, channels=cout, resolution=resolution,
                          options={"ngf": 8, "n_blocks": 2})
    torch.manual_seed(seed)
    g = build_generator(cfg)
    if negate:
        last = [m for m in g.modules() if isinstance(m, torch.nn.Conv2d)][-1]
        with torch.no_grad():
            last.weight.neg_(), last.bias.neg_()
    return save_generator(g, cfg, tmp_path / name)


def make_inputs(tmp_path, n=30, channels=3, name="inputs"):
    rng = np.random.default_rng(0)
    folder = tmp_path / name
    folder.mkdir()
    for i in range(n):
        arr = rng.integers(0, 256, (SIZE, SIZE, channels), dtype=np.uint8)
        Image.fromarray(arr[..., 0] if channels == 1 else arr).save(folder / f"{i:02d}.png")
    return folder


def make_pairs(tmp_path, n=20, name="pairs"):
    """Paired folder A/, B/: B is A mirrored and inverted (a deterministic mapping)."""
    rng = np.random.default_rng(1)
    for side in "AB":
        (tmp_path / name / side).mkdir(parents=True)
    for i in range(n):
        a = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
        Image.fromarray(a).save(tmp_path / name / "A" / f"{i:02d}.png")
        Image.fromarray(255 - a[:, ::-1]).save(tmp_path / name / "B" / f"{i:02d}.png")
    return tmp_path / name


def fuse_argv(a, b, data, out, *extra):
    return ["fuse", "--teacher", str(a), "--teacher", str(b), "--data", str(data), "--out", str(out),
            "--batch-size", "8", "--log-every", "1", "--no-progress", *extra]


def test_fused_translators_train_record_per_teacher_figures_and_translate_by_label(tmp_path, capsys):
    a, b = make_translator(tmp_path, "edges", 0), make_translator(tmp_path, "stripes", 1)
    data = make_inputs(tmp_path)
    code, _, err = run_cli(capsys, *fuse_argv(a, b, data, tmp_path / "run", "--steps", "4", "--eval-n", "10",
                                              "--checkpoint-every", "4"))
    assert code == 0, err
    run = tmp_path / "run"
    g, cfg = load_generator(run)
    assert cfg.is_translator and cfg.num_classes == 2 and cfg.class_names == ["edges", "stripes"]
    assert cfg.fusion.teachers == [str(a), str(b)] and cfg.options.ngf == 4  # teacher ngf 8 x width 0.5
    ev = json.loads((run / "eval.json").read_text())
    assert ev["held_out_inputs"] == 7  # at most a quarter of the 30 inputs, never trained on
    for k, name in enumerate(["edges", "stripes"]):
        row = ev["per_teacher"][name]
        assert row["label"] == k and set(row["fidelity"]) == {"psnr", "ssim", "l1"}
        assert "skipped" in row["teacher_relative"]  # 7 held-out inputs: too few for a distribution figure
    cost = ev["cost"]
    assert cost["teachers_params_sum"] == sum(t["params"] for t in cost["teachers"].values())
    assert cost["params_reduction_vs_sum"] > 2 and cost["macs_reduction_vs_sum"] > 2
    logged = {k for line in (run / "logs" / "metrics.jsonl").read_text().splitlines() for k in json.loads(line)}
    assert {"loss/G/pixel@edges", "loss/G/pixel@stripes"} <= logged
    assert (run / "report" / "per_teacher.png").is_file()
    # translate picks the mapping by name or index; the two differ (the labels condition every norm)
    outs = {}
    for label in ("edges", "1"):
        code, _, err = run_cli(capsys, "translate", str(run), "--input", str(data), "--out",
                               str(tmp_path / f"out-{label}"), "--label", label)
        assert code == 0, err
        outs[label] = np.asarray(Image.open(tmp_path / f"out-{label}" / "00.png"), dtype=np.int16)
    assert np.abs(outs["edges"] - outs["1"]).mean() > 0
    code, _, err = run_cli(capsys, "translate", str(run), "--input", str(data), "--out", str(tmp_path / "o"))
    assert code != 0 and "--label K or --label NAME" in err and "edges, stripes" in err
    assert not (tmp_path / "o").exists()
    # eval --input scores the mapping --label picks (4 steps: the two mappings differ, neither has learned yet)
    scores = {}
    for label, teacher in (("edges", a), ("stripes", a), ("stripes", b)):
        code, out, err = run_cli(capsys, "eval", str(run), "--input", str(data), "--against", str(teacher),
                                 "--label", label)
        assert code == 0, err
        got = json.loads(out)
        assert got["label"] == label
        scores[label, teacher.name] = got["against"]["l1"]
    assert scores["edges", "edges"] != scores["stripes", "edges"] and scores["stripes", "stripes"] > 0
    code, _, err = run_cli(capsys, "eval", str(run), "--input", str(data), "--against", str(a))
    assert code != 0 and "--label K or --label NAME" in err
    code, _, err = run_cli(capsys, "eval", str(run), "--label", "edges")
    assert code != 0 and "give --input DIR" in err
    # the ONNX export takes the label as an input and passes its parity check with labels fed
    code, out, err = run_cli(capsys, "export", str(run), "--format", "onnx", "--out", str(tmp_path / "f.onnx"))
    assert code == 0, err
    import onnxruntime as ort
    session = ort.InferenceSession(str(tmp_path / "f.onnx"))
    assert [i.name for i in session.get_inputs()] == ["input", "label"]


def test_label_k_output_moves_toward_teacher_k(tmp_path, capsys):
    """Teacher B's outputs are exactly minus teacher A's: a student that ignored its label could only learn their
    mean (zero), equally far from both; the fused student's mapping k must be much nearer teacher k."""
    a, b = make_translator(tmp_path, "plus", 3), make_translator(tmp_path, "minus", 3, negate=True)
    data = make_inputs(tmp_path, n=40)
    code, _, err = run_cli(capsys, *fuse_argv(a, b, data, tmp_path / "run", "--steps", "60", "--eval-n", "0",
                                              "--lr", "3e-3", "--width", "1", "--ema-beta", "0"))
    assert code == 0, err
    g, _ = load_generator(tmp_path / "run")
    ta, tb = load_generator(a)[0], load_generator(b)[0]
    x = torch.rand(16, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(9)) * 2 - 1
    with torch.no_grad():
        ya, yb = ta(x), tb(x)
        assert torch.allclose(ya, -yb, atol=1e-6)
        s0, s1 = g(x, torch.zeros(16, dtype=torch.long)), g(x, torch.ones(16, dtype=torch.long))
    for s, own, other in ((s0, ya, yb), (s1, yb, ya)):
        assert (s - own).abs().mean() < 0.6 * (s - other).abs().mean()


def test_fuse_refuses_translators_of_different_input_kinds_and_mixes(tmp_path, capsys):
    rgb, gray = make_translator(tmp_path, "rgb", 0), make_translator(tmp_path, "gray", 1, cin=1)
    big = make_translator(tmp_path, "big", 2, resolution=32)
    data = make_inputs(tmp_path)
    code, _, err = run_cli(capsys, *fuse_argv(rgb, gray, data, tmp_path / "r1", "--steps", "1"))
    assert code != 0 and "input channels (rgb: 3, gray: 1)" in err and "Traceback" not in err
    code, _, err = run_cli(capsys, *fuse_argv(rgb, big, data, tmp_path / "r2", "--steps", "1"))
    assert code != 0 and "sizes (trained at rgb: 16, big: 32)" in err and "--input-size" in err
    code, _, err = run_cli(capsys, *fuse_argv(rgb, big, data, tmp_path / "r3", "--steps", "1", "--input-size", "18"))
    assert code != 0 and "multiples of 4" in err
    noise = GeneratorConfig(arch="dcgan", latent_dim=8, resolution=16, channels=3, width=0.25)
    dcgan = save_generator(build_generator(noise), noise, tmp_path / "noise")
    code, _, err = run_cli(capsys, *fuse_argv(rgb, dcgan, data, tmp_path / "r4", "--steps", "1"))
    assert code != 0 and "is an image-to-image translator" in err and "gantransfer distill" in err
    code, _, err = run_cli(capsys, "fuse", "--teacher", str(dcgan), "--teacher", str(dcgan.parent / "noise"),
                           "--data", str(data), "--out", str(tmp_path / "r5"))
    assert code != 0
    for r in ("r1", "r2", "r3", "r4", "r5"):
        assert not (tmp_path / r / "run.json").exists()


def _fuse_weights(run):
    from safetensors.torch import load_file
    return load_file(str(run / "generator" / "model.safetensors"))


@pytest.mark.slow
def test_a_killed_fuse_run_resumes_bit_identical(tmp_path):
    a, b = make_translator(tmp_path, "ta", 0), make_translator(tmp_path, "tb", 1)
    data = make_inputs(tmp_path)
    argv = ["fuse", "--teacher", str(a), "--teacher", str(b), "--data", str(data), "--steps", "6",
            "--checkpoint-every", "2", "--batch-size", "6", "--eval-n", "0", "--log-every", "1", "--no-progress",
            "--terms", "pixel=1,adversarial=0.1", "--device", "cpu"]
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    res = run_forked([{"argv": [*argv, "--out", str(straight)]},
                      {"argv": [*argv, "--out", str(killed)], "env": {"GANTRANSFER_KILL_AT": "step:4"}},
                      {"argv": [*argv, "--out", str(killed), "--resume"]}])
    assert [r["code"] for r in res] == [0, -9, 0], [r["err"][-1500:] for r in res]
    one, two = _fuse_weights(straight), _fuse_weights(killed)
    assert one.keys() == two.keys() and all(torch.equal(one[k], two[k]) for k in one)
    h1, h2 = tree_hashes(straight / "state"), tree_hashes(killed / "state")
    assert h1 == h2

    def log(run):
        return [{k: v for k, v in json.loads(ln).items() if not k.startswith("time/")}
                for ln in (run / "logs" / "metrics.jsonl").read_text().splitlines()]
    assert log(straight) == log(killed)


def test_adapt_a_translator_on_eight_pairs_writes_held_out_figures(tmp_path, capsys):
    src, pairs = make_translator(tmp_path, "src", 0), make_pairs(tmp_path)
    with pytest.warns(UserWarning, match="larger than the 8 training pairs; using batches of 8"):
        code, _, err = run_cli(capsys, "adapt", "--teacher", str(src), "--data", str(pairs), "--limit", "8",
                               "--method", "freezed", "--steps", "6", "--eval-every", "3", "--batch-size", "16",
                               "--checkpoint-every", "3", "--log-every", "1", "--no-progress", "--out",
                               str(tmp_path / "run"))
    assert code == 0, err
    run = tmp_path / "run"
    ev = json.loads((run / "eval.json").read_text())
    assert ev["train_pairs"] == 8 and ev["best_step"] in (3, 6) and ev["best_held_out_l1"] > 0
    for name in ("adapted", "source"):
        assert set(ev["test"][name]["fidelity"]) == {"psnr", "ssim", "l1"}
    assert ev["test_pairs"] == 3 and "skipped" in ev["test"]["distribution"]
    info = json.loads((run / "run.json").read_text())
    assert info["pairs"]["few"] == 8 and info["pairs"]["held_out"] == 9 and info["frozen_d_blocks"] == 2
    logged = [json.loads(line) for line in (run / "logs" / "metrics.jsonl").read_text().splitlines()]
    assert any("eval/held_out_l1" in r for r in logged)
    assert (run / "best" / "generator" / "config.json").is_file() and (run / "report" / "adapted_rows.png").is_file()
    # the first two discriminator blocks stayed frozen between the checkpoints, the rest trained; the source's
    # weights moved (fine-tuned)
    from safetensors.torch import load_file
    s3, s6 = (load_file(str(run / "state" / f"step-000000{k}" / "tensors.safetensors")) for k in (3, 6))
    for key in ("module.D.model.0.weight", "module.D.model.2.weight"):
        assert torch.equal(s3[key], s6[key]), key
    assert not torch.equal(s3["module.D.model.5.weight"], s6["module.D.model.5.weight"])
    g, _ = load_generator(run)
    s, _ = load_generator(src)
    assert any(not torch.equal(p, q) for p, q in zip(g.state_dict().values(), s.state_dict().values()))


def test_adapt_a_translator_refuses_unpaired_data_and_noise_only_settings(tmp_path, capsys):
    src = make_translator(tmp_path, "src", 0)
    (tmp_path / "unpaired").mkdir()
    for d in ("trainA", "trainB", "testA", "testB"):
        make_inputs(tmp_path / "unpaired", n=3, name=d)
    code, _, err = run_cli(capsys, "adapt", "--teacher", str(src), "--data", str(tmp_path / "unpaired"), "--out",
                           str(tmp_path / "run"), "--steps", "1")
    assert code != 0 and "unpaired" in err and "paired data only" in err
    pairs = make_pairs(tmp_path)
    code, _, err = run_cli(capsys, "adapt", "--teacher", str(src), "--data", str(pairs), "--method", "minegan",
                           "--out", str(tmp_path / "run"), "--steps", "1")
    assert code != 0 and "finetune, freezed, l2sp, scratch" in err
    assert not (tmp_path / "run" / "run.json").exists()
