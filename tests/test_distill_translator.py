"""Distilling image-to-image translators: ``gantransfer distill --teacher TRANSLATOR --data DIR`` with every matching
term, the tap pairing, the input sources, the evaluation on held-out inputs and the refusals."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import needs_fmnist, run_cli
from gantransfer.data.translator_inputs import augment_inputs, load_inputs
from gantransfer.losses.structure import RandomFeatures, gram
from gantransfer.models.config import GeneratorConfig, build_generator
from gantransfer.models.store import load_generator, save_generator
from gantransfer.tasks.distill_translator import pair_taps


def make_teacher(tmp_path, arch="resnet", options=None, cin=3, name="teacher"):
    options = options or {"ngf": 8, "n_blocks": 3, "norm": "instance"}
    cfg = GeneratorConfig(arch=arch, latent_dim=0, input_channels=cin, channels=3, resolution=32, options=options)
    torch.manual_seed(0)
    return save_generator(build_generator(cfg), cfg, tmp_path / name)


def make_inputs(tmp_path, n=40, channels=3, side=40, name="inputs"):
    rng = np.random.default_rng(0)
    folder = tmp_path / name
    folder.mkdir()
    for i in range(n):
        arr = rng.integers(0, 256, (side, side, channels), dtype=np.uint8)
        Image.fromarray(arr[..., 0] if channels == 1 else arr).save(folder / f"{i:02d}.png")
    return folder


def distill_argv(teacher, data, out, *extra):
    return ["distill", "--teacher", str(teacher), "--data", str(data), "--out", str(out), "--steps", "3",
            "--batch-size", "4", "--eval-n", "10", "--log-every", "1", "--checkpoint-every", "3", *extra]


def test_pair_taps_matches_relative_depth_within_a_resolution():
    assert pair_taps([8, 8, 8], [8] * 9) == [(0, 2), (1, 5), (2, 8)]
    assert pair_taps([16, 8, 4], [32, 16, 8, 4]) == [(0, 1), (1, 2), (2, 3)]
    assert pair_taps([8, 8], [4]) == []


@pytest.mark.parametrize("terms", ["pixel=1,feature=1", "pixel=1,perceptual=1,gram=10,ssim=1,tv=0.1,adversarial=0.1"])
def test_distill_translator_every_term_trains_and_evaluates(tmp_path, capsys, terms):
    teacher, data = make_teacher(tmp_path), make_inputs(tmp_path)
    code, out, err = run_cli(capsys, *distill_argv(teacher, data, tmp_path / "run", "--terms", terms,
                                                   "--student-arch", "mobile-resnet",
                                                   "--student-options", '{"n_blocks": 1}'))
    assert code == 0, err
    run = tmp_path / "run"
    g, cfg = load_generator(run)
    assert cfg.is_translator and cfg.arch == "mobile-resnet" and cfg.options.ngf == 2  # 8 x width 0.25
    assert g(torch.zeros(1, 3, 32, 32)).shape == (1, 3, 32, 32)
    ev = json.loads((run / "eval.json").read_text())
    assert ev["held_out_inputs"] == 10  # --eval-n 10 of the 40, never trained on
    assert set(ev["fidelity"]) == {"psnr", "ssim", "l1"} and ev["fidelity"]["psnr"] > 0
    assert ev["cost"]["params_reduction"] > 1 and ev["cost"]["macs_reduction"] > 1
    assert "fd" in ev["teacher_relative"]
    info = json.loads((run / "run.json").read_text())
    assert info["inputs"] == {"source": str(data), "train": 30, "held_out": 10, "augment": False}
    logged = {k for line in (run / "logs" / "metrics.jsonl").read_text().splitlines() for k in json.loads(line)}
    for name in [t.split("=")[0].replace("adversarial", "adv") for t in terms.split(",")]:
        assert any(name in k for k in logged), (name, logged)
    if "feature" in terms:
        assert info["feature_pairs"] == [[0, 2]]  # the student's one block meets the teacher's last of 3
    else:  # no protocol uses the frozen random network; the student records it as a loss network
        assert info["perceptual_network"] == "random-conv-v1" and cfg.loss_networks == ["random-conv-v1"]
    assert (run / "report" / "translation_rows.png").is_file()


def test_auto_terms_are_printed_and_recorded_and_resume_continues(tmp_path, capsys):
    teacher, data = make_teacher(tmp_path), make_inputs(tmp_path)
    code, _, err = run_cli(capsys, *distill_argv(teacher, data, tmp_path / "run", "--eval-n", "0"))
    assert code == 0, err
    assert "--terms auto -> pixel=1,feature=0.01,adversarial=0.05" in err and "translator_distill_trained" in err
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["terms_chosen"]["auto"] and info["terms_chosen"]["terms"] == "pixel=1,feature=0.01,adversarial=0.05"
    logged = {k for line in (tmp_path / "run" / "logs" / "metrics.jsonl").read_text().splitlines()
              for k in json.loads(line)}
    assert any("adv" in k for k in logged) and any("feature" in k for k in logged), logged
    code, _, err = run_cli(capsys, *distill_argv(teacher, data, tmp_path / "bb", "--eval-n", "0", "--black-box"))
    assert code == 0, err
    assert json.loads((tmp_path / "bb" / "run.json").read_text())["terms_chosen"]["terms"] == "pixel=1,adversarial=0.05"
    code, _, err = run_cli(capsys, *distill_argv(teacher, data, tmp_path / "run", "--eval-n", "0", "--steps", "5",
                                                 "--resume"))
    assert code == 0, err
    assert load_generator(tmp_path / "run")[1].meta["train_steps"] == 5


def test_a_few_inputs_are_augmented_and_the_batch_warning_says_so(tmp_path, capsys):
    teacher, data = make_teacher(tmp_path), make_inputs(tmp_path, n=4)
    with pytest.warns(UserWarning, match="only 3 training input"):
        code, _, err = run_cli(capsys, *distill_argv(teacher, data, tmp_path / "run", "--input-source", "augment",
                                                     "--terms", "pixel=1", "--eval-n", "10"))
    assert code == 0, err
    assert json.loads((tmp_path / "run" / "run.json").read_text())["inputs"]["augment"] is True


def test_augment_inputs_keeps_range_and_varies_views():
    x = torch.rand(6, 3, 16, 16) * 2 - 1
    a, b = augment_inputs(x, torch.Generator().manual_seed(0)), augment_inputs(x, torch.Generator().manual_seed(1))
    assert a.shape == x.shape and a.min() >= -1 and a.max() <= 1
    assert not torch.allclose(a, b) and not torch.allclose(a, x)


def test_held_out_split_is_fixed_and_limited(tmp_path):
    data = make_inputs(tmp_path, n=10)
    a = load_inputs(str(data), 3, 32, held_out=100, limit=3)
    b = load_inputs(str(data), 3, 32, held_out=100)
    assert len(a.held_out) == 2 and len(a.train) == 3 and len(b.train) == 8
    assert torch.equal(a.held_out, b.held_out)  # the same held-out images whatever the limit
    grey = load_inputs(str(data), 1, 16, held_out=0)
    assert grey.train.shape == (10, 1, 16, 16) and len(grey.held_out) == 0


def test_structure_pieces():
    x = torch.rand(2, 3, 16, 16)
    assert torch.allclose(gram(x), gram(x).transpose(1, 2))
    net = RandomFeatures(3)
    assert [f.shape[-1] for f in net(x)] == [16, 8, 4, 2]
    assert torch.equal(RandomFeatures(3).body[0].weight, net.body[0].weight)  # seeded: the same network every run


def test_imported_junyanz_file_is_a_teacher(tmp_path, capsys):
    from junyanz_reference import RefResnetGenerator, randomise
    ref = RefResnetGenerator(3, 3, 8, "instance", False, 6)
    randomise(ref, 0)
    torch.save(ref.state_dict(), tmp_path / "latest_net_G.pth")
    data = make_inputs(tmp_path)
    code, _, err = run_cli(capsys, *distill_argv(tmp_path / "latest_net_G.pth", data, tmp_path / "run",
                                                 "--terms", "pixel=1,feature=1", "--eval-n", "0",
                                                 "--input-size", "32"))
    assert code == 0, err
    _, cfg = load_generator(tmp_path / "run")
    assert cfg.arch == "resnet" and cfg.options.n_blocks == 6 and cfg.options.ngf == 2
    assert cfg.resolution == 32  # --input-size: the imported file's nominal 256 is not what it was distilled at


@pytest.mark.parametrize("make_args,needle", [
    (lambda t, d, p: ["--student-arch", "dcgan"], "not an image-to-image translator family"),
    (lambda t, d, p: ["--data", str(make_inputs(p, channels=1, name="grey"))], None),
    (lambda t, d, p: ["--data", str(p / "none")], "unknown data set"),
    (lambda t, d, p: ["--perceptual-net", "discriminator", "--terms", "pixel=1,perceptual=1"],
     "brings no discriminator"),
    (lambda t, d, p: ["--input-source", "teacher-data"], "records no data set"),
    (lambda t, d, p: ["--input-size", "30"], "multiple of 4"),
    (lambda t, d, p: ["--target-macs", "10x"], "not for translator teachers yet"),
])
def test_bad_translator_settings_are_refused_in_one_line(tmp_path, capsys, make_args, needle):
    teacher, data = make_teacher(tmp_path), make_inputs(tmp_path)
    extra = make_args(teacher, data, tmp_path)
    argv = distill_argv(teacher, data, tmp_path / "run", *extra)
    code, _, err = run_cli(capsys, *argv)
    if needle is None:  # a grey folder is converted to the teacher's input channels, as translate does
        assert code == 0, err
        return
    assert code != 0 and needle in err and "Traceback" not in err
    assert not (tmp_path / "run" / "generator").exists()


def test_a_noise_generator_is_not_given_input_settings(tmp_path, capsys):
    cfg = GeneratorConfig(arch="dcgan", latent_dim=8, channels=1, resolution=16)
    teacher = save_generator(build_generator(cfg), cfg, tmp_path / "noise")
    code, _, err = run_cli(capsys, "distill", "--teacher", str(teacher), "--input-source", "augment",
                           "--out", str(tmp_path / "run"), "--steps", "1")
    assert code != 0 and "apply to translator teachers" in err
    code, _, err = run_cli(capsys, "distill", "--teacher", str(teacher), "--data", str(make_inputs(tmp_path)),
                           "--out", str(tmp_path / "run"), "--steps", "1")
    assert code != 0 and "makes images from latents, not from input images" in err


def test_python_api_takes_a_loaded_translator(tmp_path):
    import gantransfer
    from gantransfer.config import DistillConfig
    module, cfg = load_generator(make_teacher(tmp_path))
    run = gantransfer.distill(DistillConfig(data=str(make_inputs(tmp_path)), terms="pixel=1", steps=2, batch_size=4,
                                            eval_n=0, out=str(tmp_path / "run")), teacher=(module, cfg))
    assert load_generator(run)[1].is_translator


def test_a_built_in_task_takes_the_shipped_networks_of_its_images_data_set():
    """fmnist-edges' images are Fashion-MNIST's: --perceptual-net perceptual (or classifier) resolves to that data
    set's shipped network, and the classifier's name is the protocol's, so evaluation marks it as used by a loss."""
    from gantransfer.tasks.distill_translator import image_domain, perceptual_features
    assert image_domain("fmnist-edges") == "fashion-mnist" and image_domain("my-photos") == "my-photos"
    name, net = perceptual_features("perceptual", "fmnist-edges", 1, torch.device("cpu"))
    assert name == "fashion-mnist-perceptual-v1"
    maps = net()(torch.zeros(2, 1, 32, 32))
    assert maps and all(m.shape[0] == 2 for m in maps)
    assert perceptual_features("classifier", "fmnist-stripes", 1, torch.device("cpu"))[0] == \
        "fashion-mnist-classifier-v1"


@needs_fmnist
def test_auto_adds_the_shipped_perceptual_network_for_a_built_in_tasks_images(tmp_path, capsys):
    """--data fmnist-edges: the inputs are Fashion-MNIST's, which ships a perceptual network no protocol uses, so
    --terms auto adds perceptual=1 on it (recorded as the run's loss network); --perceptual-net chosen: as before."""
    cfg = GeneratorConfig(arch="resnet", latent_dim=0, input_channels=1, channels=1, resolution=32,
                          dataset="fmnist-edges", options={"ngf": 8, "n_blocks": 2, "norm": "instance"})
    torch.manual_seed(0)
    teacher = save_generator(build_generator(cfg), cfg, tmp_path / "teacher")
    argv = distill_argv(teacher, "fmnist-edges", tmp_path / "run", "--input-limit", "32", "--eval-n", "0",
                        "--student-arch", "shuffle-resnet", "--width", "0.5")
    code, _, err = run_cli(capsys, *argv)
    assert code == 0, err
    want = "pixel=1,feature=0.01,adversarial=0.05,perceptual=1"
    assert f"--terms auto -> {want} (perceptual network: perceptual)" in err and "'fashion-mnist'" in err
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["terms_chosen"]["terms"] == want and info["terms_chosen"]["perceptual_net"] == "perceptual"
    assert load_generator(tmp_path / "run")[1].loss_networks == ["fashion-mnist-perceptual-v1"]
    code, _, err = run_cli(capsys, *distill_argv(teacher, "fmnist-edges", tmp_path / "cls", "--input-limit", "32",
                                                 "--eval-n", "0", "--perceptual-net", "classifier"))
    assert code == 0, err
    assert "--terms auto -> pixel=1,feature=0.01,adversarial=0.05\n" in err  # a network the user chose: no change
