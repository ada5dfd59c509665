"""Training end to end: the toy GAN really learns, the CLI writes a loadable run, conditional sampling works."""
import json

import pytest
import torch

from gantransfer import EvalConfig, TrainConfig, evaluate, generate, load, train
from gantransfer.cli import main


@pytest.mark.slow
def test_ring8_learns_all_modes_in_600_steps(tmp_path):
    run = train(TrainConfig(data="ring8", steps=600, progress=False, eval_every=300, eval_n=1000,
                            out=str(tmp_path / "toy")))
    logged = [json.loads(line) for line in (run / "logs" / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in logged if "eval/modes_covered/ring8-exact/1k" in r]
    assert [r["step"] for r in evals] == [300, 600]
    res = evaluate(EvalConfig(generator=str(run), n=5000, device="cpu"))
    m = res["metrics"]
    assert m["modes_covered/ring8-exact/5k"] == 8
    assert m["hq_share/ring8-exact/5k"] > 0.3


@pytest.mark.slow
def test_cli_train_writes_a_loadable_conditional_run(tmp_path, capsys):
    out = tmp_path / "cond"
    code = main(["train", "--data", "digits", "--classes", "1,3,5", "--conditional", "--width", "0.125",
                 "--steps", "4", "--batch-size", "8", "--sample-every", "2", "--no-progress", "--out", str(out)])
    assert code == 0
    run = json.loads((out / "run.json").read_text())
    assert run["config"]["classes"] == [1, 3, 5] and run["generator"]["num_classes"] == 10
    g, cfg = load(out)
    assert cfg.trained_classes == [1, 3, 5] and cfg.sample_shape == (1, 16, 16)
    x, y = generate(g, cfg, 30, seed=0)
    assert x.shape == (30, 1, 16, 16) and set(y.tolist()) <= {1, 3, 5}
    assert x.min() >= -1 and x.max() <= 1
    x2, _ = generate(g, cfg, 30, seed=0)
    assert torch.equal(x, x2)
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["step-0000002.png", "step-0000004.png"]
    assert main(["sample", str(out), "--classes", "3", "--n", "8", "--out", str(tmp_path / "s.png")]) == 0
    assert main(["sample", str(out), "--classes", "11", "--out", str(tmp_path / "s11.png")]) == 2
    assert "out of range" in capsys.readouterr().err
