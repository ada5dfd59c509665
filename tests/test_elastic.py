"""One elastic student: `distill --elastic` trains channel-sliced sub-networks; `--width` picks one."""
import dataclasses

import pytest
import torch

from conftest import run_cli
from gantransfer.errors import ConfigError
from gantransfer.models.elastic import SlicedForward, parse_widths, subnetwork
from gantransfer.models.config import GeneratorConfig, build_generator


def test_widths_parse_sorted_and_bad_ones_are_refused():
    assert parse_widths("0.5,0.125,0.25") == [0.125, 0.25, 0.5]
    for bad in ("0.5", "0,0.5", "0.25,1.5", "a,b", "-0.1,0.5"):
        with pytest.raises(ConfigError, match="--elastic"):
            parse_widths(bad)


def test_sliced_sub_network_is_the_extracted_one_and_trains_the_shared_weights():
    cfg = GeneratorConfig(arch="dcgan", latent_dim=8, resolution=16, channels=1, width=0.5,
                          meta={"elastic": [0.125, 0.25, 0.5]})
    torch.manual_seed(0)
    g = build_generator(cfg).train()
    sliced = SlicedForward(g, cfg, [0.125, 0.25, 0.5])
    z = torch.randn(6, 8)
    out = sliced(z, None, 0.25)
    sub, sub_cfg = subnetwork(g, cfg, 0.25)
    assert sub_cfg.width == 0.25 and "elastic" not in sub_cfg.meta
    with torch.no_grad():
        assert torch.allclose(sub.train()(z), out, atol=1e-6)  # both on batch statistics
    out.square().mean().backward()
    grad = g.main[0].weight.grad  # (in, out, k, k): only the sub-network's first channels are used
    k = sub.main[0].weight.shape[1]
    assert grad[:, :k].abs().sum() > 0 and grad[:, k:].abs().sum() == 0
    torch.manual_seed(1)
    assert sliced.sandwich(torch.randn(7, 8), None).shape == (7, 1, 16, 16)
    with pytest.raises(ConfigError, match="trained at widths 0.125, 0.25, 0.5"):
        subnetwork(g, cfg, 0.3)
    with pytest.raises(ConfigError, match="not elastic"):
        subnetwork(g, dataclasses.replace(cfg, meta={}), 0.25)


def test_distill_elastic_then_sample_and_bench_a_width(tmp_path, capsys):
    from gantransfer.config import DistillConfig
    from gantransfer.models.store import load_config, save_generator
    from gantransfer.tasks.distill import distill
    cfg = GeneratorConfig(arch="dcgan", latent_dim=8, resolution=16, channels=1, width=1.0)
    torch.manual_seed(0)
    save_generator(build_generator(cfg).eval(), cfg, tmp_path / "teacher")
    run = distill(DistillConfig(teacher=str(tmp_path / "teacher"), elastic="0.125,0.5,0.25", terms="pixel=1",
                                steps=3, eval_n=0, progress=False, out=str(tmp_path / "e")))
    scfg = load_config(run)
    assert scfg.width == 0.5 and scfg.meta["elastic"] == [0.125, 0.25, 0.5]
    code, out, err = run_cli(capsys, "sample", str(run), "--width", "0.125", "--n", "4",
                             "--out", str(tmp_path / "s.png"))
    assert code == 0 and (tmp_path / "s.png").is_file(), err
    code, out, err = run_cli(capsys, "bench", str(run), "--width", "0.25", "--repeats", "1", "--json")
    assert code == 0, err
    code, out, err = run_cli(capsys, "sample", str(tmp_path / "teacher"), "--width", "0.25",
                             "--out", str(tmp_path / "t.png"))
    assert code != 0 and "not elastic" in err and not (tmp_path / "t.png").exists()
    with pytest.raises(ConfigError, match="feature="):
        distill(DistillConfig(teacher=str(tmp_path / "teacher"), elastic="0.25,0.5", terms="pixel=1,feature=1",
                              steps=1, eval_n=0, progress=False, out=str(tmp_path / "f")))
