"""The latent bank's cache: the teacher's images and hidden features and a frozen perceptual network's maps of
them are computed once per entry, give the losses of an uncached run, fit a byte budget, and resume exactly."""
import json

import pytest
import torch

from gantransfer.config import DistillConfig, TrainConfig
from gantransfer.tasks.bank_cache import BankCache, ByteBudget
from gantransfer.tasks.distill import distill
from gantransfer.tasks.samplers import TeacherLatentSampler
from gantransfer.tasks.train import train

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    """A small digits run (generator and its discriminator)."""
    out = tmp_path_factory.mktemp("teacher") / "t"
    return train(TrainConfig(data="digits", width=0.5, steps=3, batch_size=32, progress=False, out=str(out)))


def counted(fn, calls):
    def wrapped(*a, **k):
        calls.append(len(a[0]))
        return fn(*a, **k)
    return wrapped


def test_entries_are_computed_once_in_chunks_whatever_the_draw_order():
    bank = torch.randn(150, 3)
    calls = []
    # batch-dependent on purpose: an entry's value is the same only if it is always computed in the same batch
    compute = counted(lambda i: [bank[i] - bank[i].mean(0), bank[i].sum(1)], calls)
    a, b = BankCache(150, compute, ByteBudget(1 << 20)), BankCache(150, compute, ByteBudget(1 << 20))
    order = torch.randperm(150, generator=torch.Generator().manual_seed(0))
    for chunk in order.split(7):
        a.get(chunk)
    assert len(calls) == 3 and sum(calls) == 150  # three chunks of 64, 64, 22, each once
    for chunk in order.flip(0).split(11):
        b.get(chunk)
    every = torch.arange(150)
    assert all(torch.equal(x, y) for x, y in zip(a.get(every), b.get(every)))
    assert len(calls) == 6
    assert torch.allclose(a.get(torch.tensor([70]))[0], bank[70] - bank[64:128].mean(0))


def test_a_budget_keeps_the_first_entries_and_computes_the_rest_every_draw():
    bank = torch.randn(200, 4)
    calls = []
    budget = ByteBudget(100 * 4 * 4)  # 100 entries of 4 floats
    cache = BankCache(200, counted(lambda i: [bank[i] * 2], calls), budget)
    idx = torch.tensor([5, 150, 99, 100, 199])
    assert torch.equal(cache.get(idx)[0], bank[idx] * 2)
    assert cache.capacity == 100 and budget.left == 0 and cache.nbytes == 100 * 16
    calls.clear()
    assert torch.equal(cache.get(idx)[0], bank[idx] * 2)
    assert calls == [3]  # only the three beyond the budget, in the draw's batch
    empty = BankCache(200, lambda i: [bank[i]], ByteBudget(8))
    assert torch.equal(empty.get(idx)[0], bank[idx]) and empty.capacity == 0


def test_teacher_features_and_perceptual_targets_are_not_recomputed_for_cached_entries(teacher):
    from gantransfer.tasks.matching import fixed_perceptual, perceptual_features
    from gantransfer.teachers import load_teacher
    t = load_teacher(teacher)
    assert fixed_perceptual("discriminator", "digits", t.discriminator)
    assert fixed_perceptual("perceptual", "digits", t.discriminator)
    assert not fixed_perceptual("pkg.mod:factory", "digits", t.discriminator)
    feats = perceptual_features("discriminator", "digits", t.discriminator, CPU)
    g_calls, p_calls = [], []
    plain_forward = t.module.forward_features
    t.module.forward_features = counted(plain_forward, g_calls)
    sampler = TeacherLatentSampler(t, 16, 40, 0, with_features=True, targets=counted(feats, p_calls))
    assert sampler.cache_bank
    rng = torch.Generator().manual_seed(0)
    batches = [sampler.next(rng, CPU) for _ in range(8)]
    assert g_calls == [40] and p_calls == [40]  # 128 draws from a bank of 40: each entry computed once
    for b in batches:
        with torch.no_grad():
            x, fg = plain_forward(b["z"])
            ft = feats(x)
        assert torch.allclose(b["teacher"], x, atol=1e-5) and torch.equal(b["real"], b["teacher"])
        assert len(b["teacher_features_g"]) == len(fg) and len(b["teacher_features"]) == len(ft)
        assert all(torch.allclose(a, c, atol=1e-5) for a, c in zip(b["teacher_features_g"], fg))
        assert all(torch.allclose(a, c, atol=1e-4) for a, c in zip(b["teacher_features"], ft))
    # a discriminator being trained is not a fixed perceptual network
    assert not fixed_perceptual("discriminator", "digits", load_teacher(teacher).discriminator.train())


def losses(run):
    """Losses by step (a run stopped at its time limit logs its last step again; it is the same step)."""
    rows = [json.loads(line) for line in (run / "logs" / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: {k: v for k, v in r.items() if k.startswith("loss/")} for r in rows}


def weights(run):
    from safetensors.torch import load_file
    return load_file(str(run / "generator" / "model.safetensors"))


@pytest.mark.parametrize("net", ["discriminator", "perceptual"])
def test_cached_runs_match_uncached_ones_and_resume_bit_exactly(teacher, tmp_path, monkeypatch, net):
    kw = dict(teacher=str(teacher), width=0.25, terms="pixel=1,feature=1,perceptual=1", perceptual_net=net,
              bank_size=48, batch_size=16, steps=4, log_every=1, checkpoint_every=2, sample_every=100, eval_n=0,
              progress=False)
    made, plain_init = [], TeacherLatentSampler.__init__

    def recorded(self, *a, **k):
        plain_init(self, *a, **k)
        made.append(self)
    monkeypatch.setattr(TeacherLatentSampler, "__init__", recorded)
    cached = distill(DistillConfig(**kw, out=str(tmp_path / "cached")))
    assert made[0]._targets is not None and made[0]._targets.capacity == 48  # the perceptual targets: cached
    part = tmp_path / "part"  # stopped by its time limit after one step, then resumed: its cache starts empty
    with pytest.warns(UserWarning, match="time limit"):
        distill(DistillConfig(**{**kw, "max_seconds": 1e-9}, out=str(part)))
    distill(DistillConfig(**kw, out=str(part)), resume=True)
    assert all(torch.equal(v, weights(cached)[k]) for k, v in weights(part).items())
    assert losses(part) == losses(cached)

    def uncached(self, *a, **k):
        plain_init(self, *a, **k)
        self.cache_bank = False
    monkeypatch.setattr(TeacherLatentSampler, "__init__", uncached)
    plain = distill(DistillConfig(**kw, out=str(tmp_path / "plain")))
    a, b = losses(cached), losses(plain)
    assert sorted(a) == sorted(b) == [1, 2, 3, 4]
    assert {"loss/G/perceptual", "loss/G/feature", "loss/G/pixel"} <= set(a[4])
    for x, y in zip(a.values(), b.values()):
        assert x.keys() == y.keys() and all(x[k] == pytest.approx(y[k], rel=1e-4, abs=1e-6) for k in x)
    assert all(torch.allclose(v, weights(plain)[k], atol=1e-4) for k, v in weights(cached).items())
