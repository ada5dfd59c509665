"""Training translators: the built-in translation tasks and their protocol, ``train --task pix2pix`` and
``--task cyclegan`` on the one engine (exports, eval, distill of the result, kill and resume, two processes), and
the refusals of data that does not fit the task."""
import json
import shlex

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import needs_fmnist, run_cli
from forked_cli import run_forked, tree_hashes
from gantransfer.data.registry import load_translation_data
from gantransfer.data.translation_tasks import outline_map, striped
from gantransfer.metrics.translation_protocol import translation_figures
from gantransfer.models.store import load_generator

TINY = ["--arch-options", '{"ngf": 4, "n_blocks": 1}', "--d-width", "0.0625", "--batch-size", "4", "--limit", "16",
        "--eval-n", "40", "--log-every", "1", "--no-progress", "--device", "cpu"]


def train_argv(task, data, out, steps=2, *extra):
    return ["train", "--task", task, "--data", str(data), "--out", str(out), "--steps", str(steps),
            "--checkpoint-every", str(steps), "--sample-every", str(steps), *TINY, *extra]


def write_images(folder, names, side=(24, 24), seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for n in names:
        Image.fromarray(rng.integers(0, 256, (side[1], side[0]), dtype=np.uint8)).save(folder / f"{n}.png")


# ---- the built-in tasks and their protocol ----------------------------------------------------------------------
def test_outline_and_stripes_are_deterministic_maps():
    x = torch.zeros(1, 1, 12, 12)
    x[..., 3:9, 3:9] = 0.8  # a square item
    edges = outline_map(x)
    assert set(edges.unique().tolist()) <= {0.0, 1.0}
    assert edges[0, 0, 3, 3:9].eq(1).all() and edges[0, 0, 5, 5] == 0 and edges[0, 0, 0, 0] == 0  # border only
    s = striped(x)
    assert s[..., :3, :].eq(0).all()  # the background stays black
    inside = s[0, 0, 3:9, 3:9]
    assert inside.max() == pytest.approx(0.8) and inside.min() == pytest.approx(0.16)  # bright and dim bands
    assert torch.equal(striped(x), s) and torch.equal(outline_map(x), edges)


@needs_fmnist
def test_builtin_tasks_have_fixed_splits_labels_and_disjoint_domains():
    p = load_translation_data("fmnist-edges")
    assert (len(p.train), len(p.test)) == (12000, 2000) and p.train.a.shape[1:] == (1, 32, 32)
    assert p.train.labels is not None and len(p.test.labels) == 2000
    assert p.test.names[0].startswith("test-") and p.train.names[0].startswith("train-")
    assert set(p.train.a.unique().tolist()) == {-1.0, 1.0}  # outline maps are binary
    u = load_translation_data("fmnist-stripes")
    assert [len(u.train_a), len(u.train_b), len(u.test_a), len(u.test_b)] == [6000, 6000, 1000, 1000]
    assert not set(u.train_a.names) & set(u.train_b.names)  # nothing is paired: disjoint items
    assert not set(u.test_a.names) & set(u.test_b.names)
    again = load_translation_data("fmnist-stripes", 64, channels_a=3)
    assert again.test_a.images.shape[1:] == (3, 64, 64) and again.test_b.images.shape[1:] == (1, 64, 64)
    with pytest.raises(Exception, match="drop --aligned"):
        load_translation_data("fmnist-edges", aligned=True)


@needs_fmnist
def test_protocol_of_the_identity_and_of_the_ground_truth():
    data = load_translation_data("fmnist-edges")
    ident = translation_figures(lambda x: x, data, "AtoB", "fashion-mnist", 200)["metrics"]
    oracle = translation_figures(lambda x: data.test.b[:len(x)], data, "AtoB", "fashion-mnist", 200)["metrics"]
    for proto in ("fashion-mnist-classifier-v1", "fashion-mnist-judge-v1"):
        assert oracle[f"fid/{proto}/200"] == pytest.approx(0, abs=1e-3)  # the real targets themselves
        assert ident[f"fid/{proto}/200"] > 1 and oracle[f"class_kept/{proto}"] > ident[f"class_kept/{proto}"]
    assert oracle["psnr/ground-truth"] > 90 and ident["psnr/ground-truth"] < 20  # capped at the ceiling


# ---- training -----------------------------------------------------------------------------------------------------
@needs_fmnist
def test_pix2pix_trains_exports_a_translator_that_every_command_takes(tmp_path, capsys):
    run = tmp_path / "p2p"
    code, _, err = run_cli(capsys, *train_argv("pix2pix", "fmnist-edges", run, 3, "--direction", "BtoA"))
    assert code == 0, err
    g, cfg = load_generator(run)
    assert cfg.is_translator and cfg.dataset == "fmnist-edges" and cfg.meta["translation"]["direction"] == "BtoA"
    assert g(torch.zeros(2, 1, 32, 32)).shape == (2, 1, 32, 32)
    ev = json.loads((run / "eval.json").read_text())
    assert ev["direction"] == "BtoA" and ev["test_inputs"] == 40 and ev["paired"]
    assert {"fid/fashion-mnist-classifier-v1/40", "fid/fashion-mnist-judge-v1/40", "psnr/ground-truth",
            "ssim/ground-truth", "class_kept/fashion-mnist-judge-v1"} <= set(ev["metrics"])
    rows = json.loads((run / "report" / "translation_rows.json").read_text())  # the report's rows
    assert rows["rows"] == ["input", "output", "ground truth"] and (run / "report" / "translation_rows.png").is_file()
    rec = json.loads((run / "run.json").read_text())
    assert rec["translation"]["data"]["train_used"] == [16, 16]
    # eval --data prints the same figures (same test inputs, same networks)
    code, out, err = run_cli(capsys, "eval", str(run), "--n", "40", "--json")
    assert code == 0, err
    assert json.loads(out)["metrics"] == pytest.approx(ev["metrics"])
    code, _, err = run_cli(capsys, "export", str(run), "--format", "torchscript", "--out", str(tmp_path / "g.pt"))
    assert code == 0 and (tmp_path / "g.pt").is_file(), err
    # translate, and distil it on the task's input domain (items, for BtoA)
    inputs = tmp_path / "in"
    write_images(inputs, ["a", "b"], (32, 32))
    code, _, err = run_cli(capsys, "translate", str(run), "--input", str(inputs), "--out", str(tmp_path / "t"))
    assert code == 0 and sorted(p.name for p in (tmp_path / "t").iterdir()) == ["a.png", "b.png"], err
    code, _, err = run_cli(capsys, "distill", "--teacher", str(run), "--data", "fmnist-edges", "--steps", "2",
                           "--batch-size", "4", "--input-limit", "8", "--eval-n", "10", "--checkpoint-every", "2",
                           "--out", str(tmp_path / "student"), "--no-progress")
    assert code == 0, err
    assert json.loads((tmp_path / "student" / "run.json").read_text())["inputs"]["held_out"] == 10


@needs_fmnist
def test_cyclegan_exports_both_directions_each_judged(tmp_path, capsys):
    run = tmp_path / "cg"
    code, _, err = run_cli(capsys, *train_argv("cyclegan", "fmnist-stripes", run))
    assert code == 0, err
    ab, cfg_ab = load_generator(run / "generator")
    ba, cfg_ba = load_generator(run / "generator_BtoA")
    assert cfg_ab.meta["translation"]["direction"] == "AtoB" and cfg_ba.meta["translation"]["direction"] == "BtoA"
    assert not torch.equal(ab(torch.zeros(1, 1, 32, 32)), ba(torch.zeros(1, 1, 32, 32)))
    ev = json.loads((run / "eval.json").read_text())
    assert not ev["paired"] and "psnr/ground-truth" not in ev["metrics"]
    rev = json.loads((run / "eval_BtoA.json").read_text())
    assert rev["direction"] == "BtoA" and "fid/fashion-mnist-judge-v1/40" in rev["metrics"]
    assert json.loads((run / "report" / "translation_rows.json").read_text())["rows"] == ["input", "output", "back"]
    assert "BtoA" not in (run / "generator" / "README.md").read_text()  # its card shows its own figures only
    log = [json.loads(ln) for ln in (run / "logs" / "metrics.jsonl").read_text().splitlines()]
    assert {"loss/G/cycle_A", "loss/G/idt_B", "loss/D/adv_A", "loss/D/adv_B"} <= set(log[-1])
    code, out, err = run_cli(capsys, "eval", str(run / "generator_BtoA"), "--n", "40", "--json")
    assert code == 0 and json.loads(out)["metrics"] == pytest.approx(rev["metrics"]), err
    card = (run / "generator" / "README.md").read_text()
    command = card[card.index("gantransfer train"):].splitlines()[0]  # the reproduce command is accepted
    code, out, err = run_cli(capsys, *shlex.split(command)[1:-2], "--out", str(tmp_path / "again"), "--dry-run")
    assert code == 0, err


def _comparable(run):
    hashes = {k: v for k, v in tree_hashes(run).items()
              if k not in ("logs/metrics.jsonl", "manifest.json") and not k.startswith("report/")}
    log = [{k: v for k, v in json.loads(ln).items() if not k.startswith("time/")}
           for ln in (run / "logs" / "metrics.jsonl").read_text().splitlines()]
    return hashes, log


@needs_fmnist
@pytest.mark.slow
def test_killed_translator_runs_resume_bit_identical(tmp_path):
    cases = []
    for task, data in (("pix2pix", "fmnist-edges"), ("cyclegan", "fmnist-stripes")):
        for name, env in (("straight", {}), ("killed", {"GANTRANSFER_KILL_AT": "step:5"})):
            (tmp_path / task / name).mkdir(parents=True)
            argv = [*train_argv(task, data, "run", 7), "--checkpoint-every", "3", "--sample-every", "3"]
            cwd = str(tmp_path / task / name)
            cases.append({"argv": argv, "cwd": cwd, "env": env})
            if env:
                cases.append({"argv": [*argv, "--resume"], "cwd": cwd})
    res = run_forked(cases)
    for i, task in enumerate(("pix2pix", "cyclegan")):
        straight, killed, resumed = res[3 * i:3 * i + 3]
        assert straight["code"] == 0 and killed["code"] == -9, (straight["err"], killed["err"])
        assert resumed["code"] == 0, resumed["err"]
        assert _comparable(tmp_path / task / "killed" / "run") == _comparable(tmp_path / task / "straight" / "run")


@needs_fmnist
@pytest.mark.slow
def test_pix2pix_on_two_processes_equals_one_at_twice_the_batch(tmp_path):
    from safetensors.torch import load_file
    base = [*train_argv("pix2pix", "fmnist-edges", "x", 1), "--eval-n", "10"]
    one = [*base[:base.index("--batch-size")], "--batch-size", "8", *base[base.index("--batch-size") + 2:]]
    res = run_forked([{"argv": [*one, "--out", str(tmp_path / "one")]},
                      {"argv": [*one, "--out", str(tmp_path / "two")], "procs": 2}])
    assert [r["code"] for r in res] == [0, 0], [r["err_all"][-2000:] for r in res]
    a, b = (load_file(str(tmp_path / n / "state" / "step-0000001" / "tensors.safetensors")) for n in ("one", "two"))
    # the gradients (Adam's first moments after one step): the weights themselves would not do, since a bias in
    # front of an instance norm has a gradient of rounding noise only, which Adam's first step turns into +-lr
    keys = [k for k in a if k.startswith("optim.") and k.endswith(".exp_avg")]
    assert keys
    for k in keys:  # float32 sums in another order: L1 x 100 makes some gradients large, the biases' noise ~1e-6
        assert (a[k] - b[k]).abs().max().item() <= 1e-5 + 1e-4 * a[k].abs().max().item(), k
    logs = [json.loads((tmp_path / n / "logs" / "metrics.jsonl").read_text().splitlines()[0]) for n in ("one", "two")]
    assert logs[0]["loss/G/l1"] == pytest.approx(logs[1]["loss/G/l1"], rel=1e-5)


# ---- data that does not fit ------------------------------------------------------------------------------------
def _refused(capsys, tmp_path, *argv):
    code, out, err = run_cli(capsys, *argv)
    assert code != 0 and "Traceback" not in err, err
    assert not (tmp_path / "run").exists()  # nothing written
    return err


def test_paired_folder_with_unmatched_names_lists_a_few(tmp_path, capsys):
    write_images(tmp_path / "d" / "A", ["x1", "x2", "only_a1", "only_a2"])
    write_images(tmp_path / "d" / "B", ["x1", "x2", "only_b"])
    err = _refused(capsys, tmp_path, *train_argv("pix2pix", tmp_path / "d", tmp_path / "run"))
    assert "2 name(s) only in A (only_a1, only_a2)" in err and "1 only in B (only_b)" in err


def test_an_empty_domain_folder_is_named(tmp_path, capsys):
    for d in ("trainA", "trainB", "testA", "testB"):
        write_images(tmp_path / "u" / d, [] if d == "trainB" else ["a", "b"])
    err = _refused(capsys, tmp_path, *train_argv("cyclegan", tmp_path / "u", tmp_path / "run"))
    assert "trainB holds no PNG or JPEG file" in err


def test_pix2pix_on_unpaired_data_names_cyclegan(tmp_path, capsys):
    for d in ("trainA", "trainB", "testA", "testB"):
        write_images(tmp_path / "u" / d, ["a", "b"])
    err = _refused(capsys, tmp_path, *train_argv("pix2pix", tmp_path / "u", tmp_path / "run"))
    assert "is unpaired" in err and "--task cyclegan" in err


def test_cyclegan_on_single_image_data_names_the_gan_task(tmp_path, capsys):
    err = _refused(capsys, tmp_path, *train_argv("cyclegan", "fashion-mnist", tmp_path / "run"))
    assert "--task gan" in err and "fmnist-stripes" in err
    write_images(tmp_path / "plain", ["a", "b", "c"])
    err = _refused(capsys, tmp_path, *train_argv("cyclegan", tmp_path / "plain", tmp_path / "run"))
    assert "needs two image domains" in err and "--task gan" in err


def test_aligned_images_must_be_twice_as_wide_as_high(tmp_path, capsys):
    write_images(tmp_path / "ab", ["p1", "p2", "p3"], side=(40, 24))
    err = _refused(capsys, tmp_path, *train_argv("pix2pix", tmp_path / "ab", tmp_path / "run"), "--aligned")
    assert "40 x 24 pixels" in err and "twice as wide as high" in err


def test_translation_flags_do_not_apply_to_a_gan_and_gan_flags_not_to_translators(tmp_path, capsys):
    err = _refused(capsys, tmp_path, "train", "--data", "ring8", "--lambda-cycle", "3", "--out",
                   str(tmp_path / "run"))
    assert "--lambda-cycle does not apply to --task gan: it applies to --task cyclegan only" in err
    err = _refused(capsys, tmp_path, *train_argv("pix2pix", "fmnist-edges", tmp_path / "run"), "--latent-dim", "8")
    assert "--latent-dim does not apply to --task pix2pix" in err
    err = _refused(capsys, tmp_path, *train_argv("pix2pix", "fmnist-edges", tmp_path / "run"), "--arch", "dcgan")
    assert "resnet" in err and "unet" in err
    err = _refused(capsys, tmp_path, "train", "--data", "fmnist-edges", "--steps", "1", "--out", str(tmp_path / "run"))
    assert "train --task pix2pix --data fmnist-edges" in err  # a GAN is not trained on a translation task
    err = _refused(capsys, tmp_path, *train_argv("nope", "fmnist-edges", tmp_path / "run"))
    assert "gan, pix2pix, cyclegan" in err


def test_a_new_train_task_plugs_in_by_registering_alone(tmp_path, capsys):
    import dataclasses

    from gantransfer.task_registry import TRAIN_TASKS, TrainTask, register_train_task
    seen = {}

    def run(cfg, resume=False, overwrite=False, command="train"):
        seen["cfg"] = cfg
        return tmp_path / "toy-run"
    register_train_task(TrainTask("toy", run, lambda cfg: dataclasses.replace(cfg, lr=cfg.lr or 1e-3), "paired",
                                  "a toy translator task", fields=("lambda_cycle",)))
    try:
        code, out, err = run_cli(capsys, "train", "--task", "toy", "--data", "fmnist-edges", "--dry-run")
        assert code == 0 and json.loads(out)["lr"] == 1e-3, err
        code, out, err = run_cli(capsys, "train", "--task", "toy", "--data", "anything", "--lambda-cycle", "3",
                                 "--out", str(tmp_path / "r"))
        assert code == 0 and seen["cfg"].lambda_cycle == 3 and "toy-run" in out, err
    finally:
        TRAIN_TASKS.unregister("toy")
