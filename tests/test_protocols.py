"""Two independent protocols per built-in data set, a perceptual network that is neither, and runs that say when
a loss used a protocol's network."""
import json

import pytest
import torch

from gantransfer.errors import ConfigError
from gantransfer.metrics.classifier import extract, load_classifier
from gantransfer.metrics.protocols import all_protocols, get_protocol, mark_loss_networks, protocols_for

DATASETS = ("fashion-mnist", "mnist-5k", "digits")


@pytest.mark.parametrize("dataset", DATASETS)
def test_each_data_set_has_two_independent_protocols_and_a_perceptual_net_that_is_neither(dataset):
    first, judge = protocols_for(dataset)
    assert (first.name, judge.name) == (f"{dataset}-classifier-v1", f"{dataset}-judge-v1")
    a, b = first.network(), judge.network()
    perceptual = load_classifier(dataset, role="perceptual")
    archs = {a.cfg.arch, b.cfg.arch, perceptual.cfg.arch}
    assert len(archs) == 3, archs  # three architectures
    assert len({a.cfg.meta["seed"], b.cfg.meta["seed"], perceptual.cfg.meta["seed"]}) == 3
    assert "--augment shift-erase" in b.cfg.meta["command"] and "--augment" not in a.cfg.meta["command"]
    assert perceptual.cfg.protocol not in {p.name for p in all_protocols()}
    assert set(a.state_dict()) != set(b.state_dict())
    assert b.cfg.meta["test_accuracy"] > 0.85


def test_the_judges_shipped_statistics_are_its_features_of_the_real_test_split():
    from gantransfer.data import load_dataset
    p = get_protocol("digits-judge-v1")
    test = load_dataset("digits", "test")
    feats, probs = extract(p.network(), test.as_float())
    ref = p.reference()
    assert torch.allclose(feats.mean(0).double(), ref["mu"], atol=1e-3)
    assert torch.equal(ref["labels"].long(), test.y)
    assert float((probs.argmax(1) == test.y).float().mean()) == pytest.approx(
        p.network().cfg.meta["test_accuracy"], abs=1e-4)


def test_an_unknown_protocol_is_a_clear_error():
    with pytest.raises(ConfigError, match="no protocol named 'digits-judge-v9'.*digits-judge-v1"):
        get_protocol("digits-judge-v9")


def test_marking_flags_only_the_protocol_a_loss_used():
    result = {"student": {"fid/digits-classifier-v1/100": 3.0, "fid/digits-judge-v1/100": 4.0}}
    marked = mark_loss_networks(result, ["digits-classifier-v1"])
    assert marked["protocols"]["digits-classifier-v1"]["used_by_loss"] is True
    assert marked["protocols"]["digits-judge-v1"]["used_by_loss"] is False
    assert len(marked["warnings"]) == 1 and "digits-classifier-v1" in marked["warnings"][0]
    clean = mark_loss_networks(result, ["digits-perceptual-v1"])
    assert not any(m["used_by_loss"] for m in clean["protocols"].values()) and "warnings" not in clean


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    from gantransfer.config import TrainConfig
    from gantransfer.tasks.train import train
    out = tmp_path_factory.mktemp("teacher") / "t"
    return train(TrainConfig(data="digits", width=0.5, steps=2, batch_size=32, eval_every=2, eval_n=50,
                             progress=False, out=str(out)))


def test_train_ends_with_an_eval_json_under_both_protocols(teacher):
    ev = json.loads((teacher / "eval.json").read_text())
    assert {"fid/digits-classifier-v1/50", "fid/digits-judge-v1/50"} <= set(ev["metrics"])
    assert ev["loss_networks"] == [] and not any(m["used_by_loss"] for m in ev["protocols"].values())
    logged = [json.loads(line) for line in (teacher / "logs" / "metrics.jsonl").read_text().splitlines()]
    assert any("eval/fid/digits-judge-v1/50" in r for r in logged)


def test_distill_reports_both_protocols_and_marks_the_one_its_loss_used(teacher, tmp_path, capsys):
    from gantransfer.cli import main
    from gantransfer.config import DistillConfig
    from gantransfer.tasks.distill import distill
    kw = dict(teacher=str(teacher), width=0.125, terms="pixel=1,perceptual=1", steps=2, eval_n=100,
              sample_every=100, checkpoint_every=100, progress=False)
    default = json.loads((distill(DistillConfig(**kw, out=str(tmp_path / "a"))) / "eval.json").read_text())
    assert default["loss_networks"] == ["digits-perceptual-v1"]
    for key in ("fid/digits-classifier-v1/100", "fid/digits-judge-v1/100"):
        assert key in default["student"] and key in default["teacher_metrics"]
    assert set(default["fid_ratio"]) == {"digits-classifier-v1", "digits-judge-v1"}
    assert not any(m["used_by_loss"] for m in default["protocols"].values()) and "warnings" not in default

    run = distill(DistillConfig(**kw, perceptual_net="classifier", out=str(tmp_path / "b")))
    marked = json.loads((run / "eval.json").read_text())
    assert marked["loss_networks"] == ["digits-classifier-v1"]
    assert marked["protocols"]["digits-classifier-v1"]["used_by_loss"] is True
    assert marked["protocols"]["digits-judge-v1"]["used_by_loss"] is False
    assert "digits-classifier-v1" in marked["warnings"][0]
    # `eval` of that student says so too, and reports both protocols from the same images
    assert main(["eval", str(run), "--n", "100", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "digits-judge-v1" in out and "warning: digits-classifier-v1" in out


def test_eval_picks_protocols_by_name_and_refuses_unknown_ones(teacher, tmp_path, capsys):
    from conftest import run_cli
    out = tmp_path / "e.json"
    code, _, err = run_cli(capsys, "eval", str(teacher), "--n", "50", "--protocols", "digits-judge-v1",
                           "--out", str(out))
    assert code == 0, err
    res = json.loads(out.read_text())
    assert res["protocol"] == "digits-judge-v1" and list(res["protocols"]) == ["digits-judge-v1"]
    assert all("digits-judge-v1" in k for k in res["metrics"])
    code, _, err = run_cli(capsys, "eval", str(teacher), "--n", "50", "--protocols", "digits-judge-v7")
    assert code != 0 and "no protocol named 'digits-judge-v7'" in err and "Traceback" not in err
