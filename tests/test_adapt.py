"""Limited-data adaptation: the methods, DiffAugment, held-out best step, memorisation, bad input."""
import dataclasses
import json

import pytest
import torch

from gantransfer.cli import main
from gantransfer.config import AdaptConfig, TrainConfig
from gantransfer.losses.augment import color, cutout, diff_augment, translation
from gantransfer.metrics.memorisation import memorisation
from gantransfer.models.store import load_generator
from gantransfer.tasks.adapt import adapt
from gantransfer.tasks.train import train

FAST = dict(steps=4, batch_size=16, progress=False, log_every=2, eval_every=2, eval_n=100, held_out=100)


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("sources")
    a = train(TrainConfig(data="digits", classes=[0, 1, 2], width=0.25, steps=3, batch_size=32, progress=False,
                          out=str(root / "a")))
    b = train(TrainConfig(data="digits", classes=[7, 8, 9], width=0.25, latent_dim=16, steps=3, batch_size=32,
                          progress=False, out=str(root / "b")))
    return str(a), str(b)


def test_freezed_with_diffaugment_keeps_the_frozen_blocks_and_picks_a_best_step(sources, tmp_path):
    run = adapt(AdaptConfig(sources=[sources[0]], data="digits", classes=[5, 6], limit=20, method="freezed",
                            diffaugment="color,translation,cutout", out=str(tmp_path / "f"), **FAST))
    from safetensors.torch import load_file
    before = load_file(f"{sources[0]}/discriminator/model.safetensors")
    after = load_file(str(run / "discriminator" / "model.safetensors"))
    assert torch.equal(before["blocks.0.0.weight"], after["blocks.0.0.weight"])  # frozen
    assert torch.equal(before["blocks.1.0.weight"], after["blocks.1.0.weight"])
    assert not torch.equal(before["head.weight"], after["head.weight"])  # trained
    ev = json.loads((run / "eval.json").read_text())
    assert ev["train_images"] == 20 and ev["best_step"] in (2, 4) and ev["kept"].endswith("best/generator")
    assert 0 <= ev["memorisation"]["memorised_share"] <= 1 and "fid/digits-classifier-v1/100" in ev["test"]
    held = [r for r in map(json.loads, (run / "logs" / "metrics.jsonl").read_text().splitlines())
            if "eval/held_out_fid" in r]
    assert [r["step"] for r in held] == [2, 4]


def test_l2sp_logs_its_term_for_both_networks(sources, tmp_path):
    run = adapt(AdaptConfig(sources=[sources[0]], data="digits", classes=[5], limit=10, method="l2sp",
                            out=str(tmp_path / "l"), **FAST))
    last = [json.loads(x) for x in (run / "logs" / "metrics.jsonl").read_text().splitlines() if "loss/G/adv" in x][-1]
    assert last["loss/G/l2sp"] > 0 and last["loss/D/l2sp"] > 0


def test_multi_source_minegan_trains_miners_first_then_everything(sources, tmp_path):
    run = adapt(AdaptConfig(sources=list(sources), data="digits", classes=[8], limit=12, method="minegan",
                            miner_steps=4, out=str(tmp_path / "m"), **{**FAST, "eval_every": 4}))
    g, cfg = load_generator(run)
    assert cfg.latent_dim == 101 and cfg.arch == "minegan" and len(cfg.options.sources) == 2  # the largest source latent + the selector coordinate
    src, _ = load_generator(sources[1])
    for k, v in src.state_dict().items():  # stage one only: the source generators are untouched
        if "running" not in k and "num_batches" not in k:
            assert torch.equal(v, g.generators[1].state_dict()[k]), k
    probs = json.loads((run / "eval.json").read_text())["source_probabilities"]
    assert len(probs) == 2 and abs(sum(probs) - 1) < 1e-6 and probs != [0.5, 0.5]  # the selector learned
    logged = [r for r in map(json.loads, (run / "logs" / "metrics.jsonl").read_text().splitlines())
              if "eval/source_p@0" in r]
    assert [r["step"] for r in logged] == [4] and logged[0]["eval/source_p@1"] == pytest.approx(probs[1], abs=1e-6)
    assert g(torch.randn(6, 101)).shape == (6, 1, 16, 16)


def test_scratch_baseline_and_the_miner_starts_as_identity(sources, tmp_path):
    from gantransfer.models.miner import Miner
    z = torch.randn(3, 8)
    assert torch.equal(Miner(8, 8)(z), z) and Miner(8, 10)(z).shape == (3, 10)
    run = adapt(AdaptConfig(sources=[sources[0]], data="digits", classes=[3], limit=10, method="scratch",
                            out=str(tmp_path / "s"), **FAST))
    assert json.loads((run / "run.json").read_text())["config"]["method"] == "scratch"


def test_diffaugment_is_differentiable_and_changes_images():
    torch.manual_seed(0)
    x = torch.rand(8, 1, 16, 16, requires_grad=True)
    for f in (color, translation, cutout):
        y = f(x)
        assert y.shape == x.shape and not torch.equal(y, x)
        (g,) = torch.autograd.grad(y.sum(), x)
        assert g.abs().sum() > 0
    assert diff_augment("") is None
    with pytest.raises(ValueError, match="unknown DiffAugment"):
        diff_augment("color,blur")


def test_memorisation_flags_copies_of_training_images():
    torch.manual_seed(0)
    train_x, test_x = torch.rand(20, 1, 8, 8), torch.rand(200, 1, 8, 8)
    copies = memorisation(train_x[torch.randint(20, (100,))] + 0.001, train_x, test_x)
    fresh = memorisation(torch.rand(100, 1, 8, 8), train_x, test_x)
    assert copies["memorised_share"] == 1.0 and fresh["memorised_share"] < 0.1


@pytest.mark.parametrize("argv,needle", [
    (["--source", "{a}", "--freeze-d", "9"], "freeze at most"),
    (["--source", "{a}", "--source", "{b}"], "only --method minegan"),
    (["--source", "{a}", "--diffaugment", "blur"], "unknown DiffAugment policy blur"),
    (["--source", "{a}", "--method", "dreambooth"], "method must be one of"),
    (["--data", "digits"], "needs a pretrained source"),
])
def test_bad_adapt_input(sources, tmp_path, capsys, argv, needle):
    argv = [a.format(a=sources[0], b=sources[1]) for a in argv]
    if "--data" not in argv:
        argv += ["--data", "digits", "--limit", "10"]
    assert main(["adapt", *argv, "--steps", "2", "--no-progress", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()  # nothing written


def test_the_selector_learns_at_its_own_rate():
    from gantransfer.models.miner import MinedGenerator
    from gantransfer.tasks.adapt import generator_param_groups
    g = MinedGenerator([torch.nn.Linear(4, 3), torch.nn.Linear(4, 3)], [4, 4], 5)
    groups = generator_param_groups(g, AdaptConfig(selector_lr=0.05))
    assert [p for gr in groups for p in gr["params"] if p is g.selector] and groups[-1]["lr"] == 0.05
    assert groups[-1]["params"] == [g.selector] and "lr" not in groups[0]
    mined = generator_param_groups(g, AdaptConfig(), mined_only=True)
    assert sum(p.numel() for gr in mined for p in gr["params"]) == sum(p.numel() for p in g.miners.parameters()) + 2


def test_the_held_out_split_mixes_classes_when_the_files_are_sorted_by_class(monkeypatch):
    """mnist-5k's training split is sorted by digit: the first held-out images were all 0s, 1s and 2s."""
    import dataclasses

    import gantransfer.data.splits as adapt_module

    real_load = adapt_module.load_dataset

    def sorted_by_class(name, split="train", **kw):
        d = real_load(name, split, **kw)
        order = torch.argsort(d.y, stable=True)
        return dataclasses.replace(d, x=d.x[order], y=d.y[order])

    monkeypatch.setattr(adapt_module, "load_dataset", sorted_by_class)
    cfg = AdaptConfig(sources=["unused"], data="digits", limit=20, held_out=100)
    train_set, held, _ = adapt_module.target_splits(cfg, 16, 1)
    assert len(held) == 100 and len(train_set) == 20
    assert len(torch.unique(held.y)) == 10  # the first 100 of the sorted rest would hold only zeros
    chosen = {tuple(x.flatten().tolist()) for x in train_set.x}
    assert not any(tuple(x.flatten().tolist()) in chosen for x in held.x[:20])  # disjoint from the N
    assert len(adapt_module.target_splits(dataclasses.replace(cfg, held_out=0), 16, 1)[1] or []) == 0


def test_a_resumed_run_keeps_the_best_step_an_earlier_process_found(sources, tmp_path):
    cfg = AdaptConfig(sources=[sources[0]], data="digits", classes=[5, 6], limit=20, method="finetune",
                      out=str(tmp_path / "r"), **FAST)
    run = adapt(cfg)
    first = json.loads((run / "eval.json").read_text())
    kept = (run / "best" / "generator" / "model.safetensors").read_bytes()
    adapt(cfg, resume=True)  # a finished run resumed: no step left, the final evaluation again
    again = json.loads((run / "eval.json").read_text())
    assert first["best_step"] in (2, 4) and again["best_step"] == first["best_step"]
    assert again["best_held_out_fid"] == first["best_held_out_fid"] and again["kept"].endswith("best/generator")
    assert (run / "best" / "generator" / "model.safetensors").read_bytes() == kept


def test_a_worse_step_after_a_resume_does_not_replace_the_kept_best(sources, tmp_path):
    from gantransfer.metrics.held_out import BestStep
    from gantransfer.models.store import save_generator
    g, gcfg = load_generator(sources[0])
    run = tmp_path / "run"
    save_generator(g, dataclasses.replace(gcfg, meta={"held_out_fid": 5.0, "train_steps": 2}),
                   run / "best" / "generator")
    before = (run / "best" / "generator" / "model.safetensors").read_bytes()

    class Worse:
        def fid(self, x, held):
            return 7.0

    best = BestStep(Worse(), None, gcfg, 8, torch.device("cpu"))
    logged = best(g, 4, run)
    assert logged["eval/best_step"] == 2.0 and best.fid == 5.0
    assert (run / "best" / "generator" / "model.safetensors").read_bytes() == before
