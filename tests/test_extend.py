"""gantransfer extend / extend-sequence: label growth, methods, measures, bad input, resume after a stop or a kill."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import needs_fmnist, run_cli
from gantransfer.data.base import Dataset
from gantransfer.errors import ConfigError
from gantransfer.models.growth import grow_into
from gantransfer.models.config import GeneratorConfig, build_discriminator, build_generator
from gantransfer.tasks.extend_labels import plan_labels

FAST = ["--steps", "3", "--batch-size", "16", "--no-progress", "--device", "cpu", "--sample-every", "100",
        "--log-every", "1"]


def tiny_config(num_classes: int, trained: list[int] | None) -> GeneratorConfig:
    names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    return GeneratorConfig(latent_dim=8, resolution=16, channels=1, width=1 / 16, num_classes=num_classes,
                           class_names=names, dataset="fashion-mnist", trained_classes=trained)


def fake_data(classes: list[int], names: list[str]) -> Dataset:
    y = torch.tensor(classes * 4)
    return Dataset("x", torch.zeros(len(y), 1, 16, 16, dtype=torch.uint8), y, names, meta={"classes": classes})


def test_growing_keeps_old_labels_exactly_and_starts_new_ones_from_them():
    cfg = tiny_config(10, [0, 1])
    torch.manual_seed(0)
    g = build_generator(cfg).eval()
    plan = plan_labels(cfg, "base", "mnist-5k", fake_data([0, 1], [str(i) for i in range(10)]), None, {})
    assert plan.old_labels == [0, 1] and plan.new_labels == [10, 11] and plan.new_map == {0: 10, 1: 11}
    assert plan.config.num_classes == 12 and plan.config.class_names[:2] == ["T-shirt/top", "Trouser"]
    assert plan.config.class_names[10:] == ["0", "1"] and plan.config.trained_classes == [0, 1, 10, 11]
    assert [(o.dataset, o.step) for o in plan.config.extension.labels] == [("fashion-mnist", 0)] * 2 + [
        ("mnist-5k", 1)] * 2
    assert not plan.config.labels_are_data_classes  # labels 10, 11 are not data classes of fashion-mnist
    g2 = build_generator(plan.config).eval()
    grow_into(g2, g.state_dict(), 12, plan.old_labels, plan.new_labels)
    z, y = torch.randn(6, 8), torch.tensor([0, 1, 0, 1, 1, 0])
    assert torch.equal(g(z, y), g2(z, y))
    rows, mean = g2.embed.weight[10:12], g.embed.weight[[0, 1]].mean(0)
    spread = g.embed.weight[[0, 1]].std(0)
    assert not torch.allclose(rows[0], rows[1])  # noise makes them differ
    assert ((rows - mean).abs() <= 4 * spread + 1e-6).float().mean() > 0.95  # around the old labels' mean
    d = build_discriminator(cfg)
    d2 = build_discriminator(plan.config)
    grow_into(d2, d.state_dict(), 12, plan.old_labels, plan.new_labels)
    d.eval(), d2.eval()
    x = torch.randn(6, 1, 16, 16)
    assert torch.allclose(d(x, y), d2(x, y))


def test_a_conditional_stylegan2_grows_its_mapping_embedding_the_same_way():
    cfg = GeneratorConfig(arch="stylegan2", latent_dim=16, resolution=16, channels=1, width=1 / 16, num_classes=3,
                          class_names=list("abc"), dataset="fashion-mnist", trained_classes=[0, 1, 2],
                          options={"channel_max": 16, "w_dim": 16, "mapping_layers": 2})
    torch.manual_seed(0)
    g, d = build_generator(cfg).eval(), build_discriminator(cfg).eval()
    plan = plan_labels(cfg, "base", "mnist-5k", fake_data([0, 1], [str(i) for i in range(10)]), None, {})
    g2, d2 = build_generator(plan.config).eval(), build_discriminator(plan.config).eval()
    assert grow_into(g2, g.state_dict(), 5, plan.old_labels, plan.new_labels) == ["mapping.embed.weight"]
    assert grow_into(d2, d.state_dict(), 5, plan.old_labels, plan.new_labels) == ["mapping.embed.weight"]
    z, y, x = torch.randn(4, 16), torch.tensor([0, 1, 2, 0]), torch.randn(4, 1, 16, 16)
    # the label embedding is normalised after the lookup: more columns change nothing for the old labels
    assert torch.allclose(g(z, y, noise_mode="const"), g2(z, y, noise_mode="const"), atol=1e-5)
    assert torch.allclose(d(x, y), d2(x, y), atol=1e-5)
    assert g2.mapping.embed.weight[:, 3:].abs().sum() > 0


def test_same_data_set_classes_reuse_their_own_rows_and_clashes_are_named():
    cfg = tiny_config(10, [0, 1])
    plan = plan_labels(cfg, "base", "fashion-mnist", fake_data([2, 3], cfg.class_names), None, {})
    assert plan.new_labels == [2, 3] and plan.config.num_classes == 10
    assert plan.config.labels_are_data_classes and plan.config.evaluation_classes == [0, 1, 2, 3]
    with pytest.raises(ConfigError, match=r"class\(es\) \[1\] of fashion-mnist are already label 1 'Trouser'"):
        plan_labels(cfg, "base", "fashion-mnist", fake_data([1, 2], cfg.class_names), None, {})
    with pytest.raises(ConfigError, match="new label 'trouser' has the name of label 1 'Trouser'"):
        plan_labels(cfg, "base", "some/folder", fake_data([0], ["x"]), "trouser", {})


def test_an_unconditional_base_is_converted_and_computes_what_it_did():
    cfg = tiny_config(0, [0, 1])
    torch.manual_seed(0)
    g = build_generator(cfg).eval()
    plan = plan_labels(cfg, "base", "mnist-5k", fake_data([7], [str(i) for i in range(10)]), None, {})
    assert plan.converted and plan.old_labels == [0] and plan.new_labels == [1]
    assert plan.config.class_names == ["base", "7"] and "unconditional: converted" in plan.notes[0]
    g2 = build_generator(plan.config).eval()
    assert grow_into(g2, g.state_dict(), 2, [], plan.new_labels) == ["main.0.weight"]
    z = torch.randn(4, 8)
    assert torch.equal(g(z), g2(z, torch.tensor([0, 1, 0, 1])))  # the label's inputs start at zero weight


def test_ewc_fisher_ignores_new_label_rows_and_the_term_is_zero_at_the_anchor():
    from gantransfer.losses.anchoring import EWC, fisher_diagonal
    cfg = tiny_config(10, [0, 1])
    g = build_generator(cfg)

    def draw(rng, k):
        return torch.randn(k, 8, generator=rng), torch.randint(2, (k,), generator=rng)
    fisher = fisher_diagonal(g, draw, 32, 16)
    names = [n for n, _ in g.named_parameters()]
    emb = fisher[names.index("embed.weight")]
    assert emb[2:].abs().max() == 0 and emb[:2].sum() > 0  # only the old labels' rows matter to old outputs
    assert abs(sum(float(f.sum()) for f in fisher) / sum(f.numel() for f in fisher) - 1) < 1e-4
    term = EWC(g, fisher, 1.0)
    assert float(term(None).detach()) == 0
    with torch.no_grad():
        g.embed.weight[5] += 1.0  # a row no old label uses: free to move
    assert float(term(None).detach()) == 0
    with torch.no_grad():
        g.embed.weight[0] += 1.0
    assert float(term(None).detach()) > 0


def test_forgetting_table_drop_from_best():
    from gantransfer.metrics.forgetting import forgetting_table, markdown_table
    m = lambda acc, fid, step: {"name": "a", "dataset": "d", "step": step, "protocol": "p", "accuracy": acc,  # noqa
                                "fid": fid, "precision": 0.5, "recall": 0.5}
    history = [{"step": 0, "labels": {"0": m(0.9, 10.0, 0)}},
               {"step": 1, "labels": {"0": m(0.6, 20.0, 0), "1": m(0.8, 5.0, 1)}}]
    t = forgetting_table(history)
    assert t["labels"]["0"]["accuracy_drop_from_best"] == [0.0, pytest.approx(0.3)]
    assert t["labels"]["0"]["fid_over_best"] == [1.0, 2.0]
    means = {"old_accuracy": 0.6, "old_fid": 20.0, "new_accuracy": 0.8, "new_fid": 5.0, "old_labels": 1,
             "new_labels": 1}
    assert t["summary"][1] == {"step": 1, **means, "protocols": {"classifier": means}}
    assert "0.600 (-0.300)" in markdown_table(t)


def test_forgetting_table_has_one_part_per_protocol():
    from gantransfer.metrics.forgetting import forgetting_table, markdown_table
    def m(acc, judge_acc, step):  # noqa: E306
        fig = lambda a, p: {"protocol": p, "accuracy": a, "fid": 10.0 / a, "precision": 0.5, "recall": 0.5}  # noqa
        return {"name": "a", "dataset": "d", "step": step, "protocol": "d-classifier-v1", **fig(acc, "x"),
                "protocols": {"classifier": fig(acc, "d-classifier-v1"), "judge": fig(judge_acc, "d-judge-v1")}}
    history = [{"step": 0, "labels": {"0": m(0.9, 0.5, 0)}},
               {"step": 1, "labels": {"0": m(0.6, 0.25, 0), "1": m(0.8, 0.4, 1)}}]
    t = forgetting_table(history)
    assert t["summary"][1]["old_accuracy"] == 0.6 and t["summary"][1]["protocols"]["judge"]["old_accuracy"] == 0.25
    assert t["summary"][1]["protocols"]["judge"]["new_fid"] == pytest.approx(25.0)
    assert t["labels"]["0"]["protocols"]["judge"]["accuracy_drop_from_best"] == [0.0, pytest.approx(0.25)]
    text = markdown_table(t)
    assert "## Protocol judge: d-judge-v1" in text and "0.250 (-0.250)" in text and "0.600 (-0.300)" in text


@needs_fmnist
def test_label_measures_tell_real_images_of_a_class_from_noise():
    from gantransfer.data import load_dataset
    from gantransfer.metrics.forgetting import label_measures
    from gantransfer.models.config import LabelOrigin
    real = load_dataset("fashion-mnist", "test", classes=[1])

    class Replay(torch.nn.Module):  # label 0: real trousers; label 1: noise
        def forward(self, z, labels):
            x = real.as_float(torch.arange(len(z)) % len(real))
            return torch.where(labels[:, None, None, None] == 0, x, torch.rand_like(x) * 2 - 1)
    cfg = tiny_config(2, [0, 1])
    out = label_measures(Replay(), cfg, [LabelOrigin(0, "Trouser", "fashion-mnist", [1]),
                                         LabelOrigin(1, "noise", "fashion-mnist", [1])], 200)
    assert out["0"]["accuracy"] > 0.9 and out["1"]["accuracy"] < 0.5
    assert out["0"]["fid"] * 5 < out["1"]["fid"] and out["0"]["recall"] > out["1"]["recall"]
    judge = {k: v["protocols"]["judge"] for k, v in out.items()}  # the second protocol, on the same samples
    assert judge["0"]["protocol"] == "fashion-mnist-judge-v1" and out["0"]["protocols"]["classifier"]["fid"] == \
        out["0"]["fid"]
    assert judge["0"]["accuracy"] > 0.9 and judge["1"]["accuracy"] < 0.5 and judge["0"]["fid"] * 5 < judge["1"]["fid"]


def tree_hash(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        h.update(str(p.relative_to(root)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    """A tiny class-conditional generator of Fashion-MNIST classes 0 and 1."""
    if not (Path("/usr/share/datasets/fashion-mnist") / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip("needs Fashion-MNIST")
    from gantransfer import TrainConfig, train
    out = tmp_path_factory.mktemp("extend") / "base"
    return train(TrainConfig(data="fashion-mnist", classes=[0, 1], conditional=True, width=1 / 16, resolution=16,
                             steps=2, batch_size=16, progress=False, device="cpu", out=str(out)))


def test_extend_replay_end_to_end_on_a_second_data_set(base_run, tmp_path, capsys):
    before = tree_hash(base_run)
    out = tmp_path / "e"
    with pytest.warns(UserWarning, match=r"converted to the base's 1 channel\(s\) at 16x16"):
        code, _, err = run_cli(capsys, "extend", "--base", str(base_run), "--data", "mnist-5k", "--classes", "7",
                               "--terms", "pixel=1,perceptual=1,feature=1", "--eval-n", "10", "--out", str(out), *FAST)
    assert code == 0, err
    cfg = json.loads((out / "generator" / "config.json").read_text())
    assert cfg["num_classes"] == 11 and cfg["class_names"][10] == "7" and cfg["trained_classes"] == [0, 1, 10]
    assert cfg["extension"]["steps"][0]["labels"] == [10]
    assert [(o["dataset"], o["step"]) for o in cfg["extension"]["labels"]] == [("fashion-mnist", 0)] * 2 + [
        ("mnist-5k", 1)]
    ev = json.loads((out / "eval.json").read_text())
    assert sorted(ev["labels"]) == ["0", "1", "10"] and sorted(ev["base"]) == ["0", "1"]
    assert ev["labels"]["10"]["protocol"] == "mnist-5k-classifier-v1"
    assert all(0 <= v["accuracy"] <= 1 and v["fid"] > 0 for v in ev["labels"].values())
    assert (out / "report" / "forgetting.png").stat().st_size > 1000
    assert "| 10 7 | 1 |" in (out / "report" / "forgetting.md").read_text()
    logged = json.loads((out / "logs" / "metrics.jsonl").read_text().splitlines()[-1])
    assert {"loss/G/pixel", "loss/G/perceptual", "loss/G/feature", "loss/G/adv", "loss/D/adv"} <= set(logged)
    assert tree_hash(base_run) == before


def test_bad_input_is_refused_and_the_base_is_left_as_it_was(base_run, tmp_path, capsys):
    before = tree_hash(base_run)
    seq = tmp_path / "seq.json"
    seq.write_text(json.dumps([{"data": "fashion-mnist", "classes": [2, 3]}, {"data": "fashion-mnist",
                                                                               "classes": [3]}]))
    cases = [
        (["extend", "--data", "fashion-mnist", "--classes", "1,2"], "already label 1 'Trouser'"),
        (["extend", "--data", "fashion-mnist", "--classes", "2", "--method", "joint"], "needs the old labels' real "
                                                                                     "data: pass --old-data"),
        (["extend-sequence", "--sequence", str(seq)], "names class 3 of fashion-mnist twice (steps 1 and 2)"),
        (["extend-sequence", "--data", "fashion-mnist", "--steps-of", "2,3:4,2"], "names class 2 of fashion-mnist "
                                                                                  "twice"),
        (["extend-sequence", "--data", "fashion-mnist", "--steps-of", "0:4"], "step 1 clashes with the base"),
    ]
    for i, (argv, needle) in enumerate(cases):
        out = tmp_path / f"o{i}"
        code, _, err = run_cli(capsys, *argv[:1], "--base", str(base_run), *argv[1:], "--out", str(out), *FAST)
        assert code == 2 and needle in err and "Traceback" not in err, (argv, err)
        assert not out.exists()
    code, _, err = run_cli(capsys, "extend", "--base", str(base_run), "--data", "fashion-mnist", "--classes", "2",
                           "--out", str(base_run / "inside"), *FAST)
    assert code == 2 and "overlap; the base is never written to" in err
    assert tree_hash(base_run) == before


@pytest.mark.slow
def test_sequence_killed_mid_step_two_resumes_from_its_checkpoint_and_keeps_step_one(base_run, tmp_path):
    out = tmp_path / "k"
    argv = [sys.executable, "-m", "gantransfer", "extend-sequence", "--base", str(base_run), "--data", "fashion-mnist",
            "--steps-of", "2:3", "--method", "finetune", "--eval-n", "10", "--out", str(out), "--steps", "12",
            "--checkpoint-every", "4", "--batch-size", "16", "--no-progress", "--device", "cpu"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    mid = out / "step-2" / "state"
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None and not (mid.is_dir() and any(mid.glob("step-*"))):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert json.loads((out / "sequence.json").read_text())["completed"] == [1], proc.stderr.read().decode()
    done_at = (out / "step-1" / "generator" / "model.safetensors").stat().st_mtime_ns
    result = subprocess.run(argv + ["--resume"], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads((out / "sequence.json").read_text())["completed"] == [1, 2]
    assert (out / "step-1" / "generator" / "model.safetensors").stat().st_mtime_ns == done_at
    assert json.loads((out / "step-2" / "generator" / "config.json").read_text())["trained_classes"] == [0, 1, 2, 3]
    logged = [json.loads(line)["step"] for line in (out / "step-2" / "logs" / "metrics.jsonl").read_text().splitlines()]
    assert logged[-1] == 12
    table = json.loads((out / "report" / "forgetting.json").read_text())
    assert [s["step"] for s in table["summary"]] == [0, 1, 2]  # the base, then each step
    assert sorted(table["history"][2]["labels"]) == ["0", "1", "2", "3"]
    assert table["labels"]["2"]["steps"] == [1, 2] and table["labels"]["0"]["steps"] == [0, 1, 2]
    again = subprocess.run(argv, env=env, capture_output=True, text=True)
    assert again.returncode == 2 and "already holds an extend-sequence run" in again.stderr
