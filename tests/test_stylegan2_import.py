"""StyleGAN2 checkpoints: rosinality .pt layouts and NVlabs .pkl pickles (restricted unpickler), bad input."""
import argparse
import collections
import os
import pickle
import sys
import types

import numpy as np
import pytest
import torch

from gantransfer.cli import main
from gantransfer.errors import CheckpointError
from gantransfer.models.importers import import_checkpoint, import_file
from gantransfer.teachers import load_teacher
from test_stylegan2 import tiny


def to_rosinality(g):
    """The rosinality Generator state dict of one of our generators (the inverse of the importer's mapping)."""
    sd, out = g.state_dict(), {}
    for i in range(len(g.mapping.fc)):
        out[f"style.{i + 1}.weight"], out[f"style.{i + 1}.bias"] = sd[f"mapping.fc.{i}.weight"], sd[f"mapping.fc.{i}.bias"]
    out["input.input"] = sd["synthesis.const"][None]
    f = torch.tensor([1.0, 3, 3, 1])
    k4 = torch.outer(f, f) / 64 * 4
    noise = 0
    for b in range(len(g.synthesis.blocks)):
        names = [("conv1", "conv1")] if b == 0 else [("conv0", f"convs.{2 * b - 2}"), ("conv1", f"convs.{2 * b - 1}")]
        for mine, theirs in names:
            p = f"synthesis.blocks.{b}.{mine}."
            out[f"{theirs}.conv.weight"] = sd[p + "weight"][None]
            out[f"{theirs}.conv.modulation.weight"] = sd[p + "affine.weight"]
            out[f"{theirs}.conv.modulation.bias"] = sd[p + "affine.bias"]
            out[f"{theirs}.activate.bias"] = sd[p + "bias"]
            out[f"{theirs}.noise.weight"] = sd[p + "noise_strength"].reshape(1)
            out[f"noises.noise_{noise}"] = sd[p + "noise_const"][None, None]
            noise += 1
            if mine == "conv0":
                out[f"{theirs}.conv.blur.kernel"] = k4
        rgb = "to_rgb1" if b == 0 else f"to_rgbs.{b - 1}"
        p = f"synthesis.blocks.{b}.torgb."
        out[f"{rgb}.conv.weight"] = sd[p + "weight"][None]
        out[f"{rgb}.conv.modulation.weight"], out[f"{rgb}.conv.modulation.bias"] = sd[p + "affine.weight"], sd[p + "affine.bias"]
        out[f"{rgb}.bias"] = sd[p + "bias"].reshape(1, -1, 1, 1)
        if b:
            out[f"{rgb}.upsample.kernel"] = k4
    return out


def rgb_generator(resolution=32):
    g, cfg = tiny(resolution, w_dim=12, channel_max=8)  # rosinality: latent size == style size
    return g, cfg


@pytest.mark.slow
def test_rosinality_converted_layout_gives_the_same_images(tmp_path):
    g, _ = rgb_generator()
    w_avg = torch.randn(12)
    torch.save({"g_ema": to_rosinality(g), "latent_avg": w_avg}, tmp_path / "c.pt")
    imp = import_file(tmp_path / "c.pt")
    z = torch.randn(3, 12)
    g.mapping.w_avg.copy_(w_avg)
    with torch.no_grad():
        for psi in (1.0, 0.5):
            assert torch.equal(imp.generator(z, truncation_psi=psi, noise_mode="const"),
                               g(z, truncation_psi=psi, noise_mode="const"))
    assert imp.config.resolution == 32 and imp.config.options.mapping_layers == 2 and imp.discriminator is None
    assert "latent_avg" in imp.notes[0]


def test_rosinality_train_layout_with_namespace_args(tmp_path):
    g, _ = rgb_generator()
    sd = to_rosinality(g)
    args = argparse.Namespace(size=32, latent=12, n_mlp=2, channel_multiplier=2, batch=4)
    torch.save({"g": sd, "d": {}, "g_ema": sd, "g_optim": {"state": {}}, "d_optim": {}, "args": args,
                "ada_aug_p": 0.0}, tmp_path / "t.pt")
    imp = import_file(tmp_path / "t.pt")
    assert imp.config.width == 2.0  # below 64 px the multiplier is not in the tensors: args keep it
    with torch.no_grad():
        assert torch.equal(imp.generator(torch.ones(2, 12), noise_mode="const"), g(torch.ones(2, 12), noise_mode="const"))
    args.n_mlp = 8
    torch.save({"g_ema": sd, "args": args}, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match=r"args.n_mlp = 8 but the tensors say 2 \(layer style.1.weight\)"):
        import_file(tmp_path / "bad.pt")


def test_size_mismatch_names_the_layer(tmp_path):
    g, _ = rgb_generator()
    sd = to_rosinality(g)
    sd["convs.1.conv.weight"] = sd["convs.1.conv.weight"][:, :, :4]  # a layer narrower than its neighbours
    torch.save({"g_ema": sd}, tmp_path / "m.pt")
    with pytest.raises(CheckpointError, match=r"synthesis.blocks.1.conv1.weight: file \(8, 4, 3, 3\) vs expected \(8, 8, 3, 3\)"):
        import_file(tmp_path / "m.pt")


def test_a_pt_that_is_not_stylegan2_names_keys_expected_and_found(tmp_path, capsys):
    torch.save({"encoder": {"w": torch.zeros(2)}, "step": 3}, tmp_path / "x.pt")
    with pytest.raises(CheckpointError) as e:
        import_file(tmp_path / "x.pt")
    msg = str(e.value)
    assert "style.1.weight" in msg and "encoder" in msg and "holds no generator state dict" in msg


class _Persist:
    """Pickles like an NVlabs persistent object: _reconstruct_persistent_obj(meta) with embedded source."""

    def __init__(self, class_name, params=None, buffers=None, modules=None, src="", **attrs):
        self.meta = dict(type="class", version=6, module_src=src, class_name=class_name,
                         state=dict(_parameters=collections.OrderedDict(params or {}),
                                    _buffers=collections.OrderedDict(buffers or {}),
                                    _modules=collections.OrderedDict(modules or {}), training=False, **attrs))

    def __reduce__(self):
        return (sys.modules["torch_utils.persistence"]._reconstruct_persistent_obj, (self.meta,))


def nvlabs_stand_in_modules():
    """Stand-in modules so that pickle can name NVlabs' globals while writing fixtures (never used to read); to
    be put in ``sys.modules`` while ``to_nvlabs`` records are pickled (also by benchmarks/stylegan2_scale.py)."""
    pkg, mod = types.ModuleType("torch_utils"), types.ModuleType("torch_utils.persistence")

    def _reconstruct_persistent_obj(meta):  # pragma: no cover - only its name is pickled
        raise AssertionError
    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    mod._reconstruct_persistent_obj = _reconstruct_persistent_obj
    return {"torch_utils": pkg, "torch_utils.persistence": mod}


@pytest.fixture
def nvlabs_modules(monkeypatch):
    for name, module in nvlabs_stand_in_modules().items():
        monkeypatch.setitem(sys.modules, name, module)


def to_nvlabs(g, src="", conv_clamp=None):
    """An NVlabs Generator record tree of one of our generators."""
    sd = g.state_dict()

    def fc(prefix):
        return _Persist("FullyConnectedLayer", {"weight": sd[prefix + "weight"], "bias": sd[prefix + "bias"]}, src=src,
                        weight_gain=np.float64(0.1), bias_gain=0.01 if "fc" in prefix else 1)

    mapping = _Persist("MappingNetwork", buffers={"w_avg": sd["mapping.w_avg"]}, src=src, z_dim=g.latent_dim,
                       modules={f"fc{i}": fc(f"mapping.fc.{i}.") for i in range(len(g.mapping.fc))})
    blocks = {}
    f = torch.tensor([1.0, 3, 3, 1])
    filt = torch.outer(f, f) / 64
    for b, block in enumerate(g.synthesis.blocks):
        p = f"synthesis.blocks.{b}."
        layers = {}
        for name in ("conv0", "conv1") if b else ("conv1",):
            q = p + name + "."
            layers[name] = _Persist("SynthesisLayer", {"weight": sd[q + "weight"], "bias": sd[q + "bias"],
                                                       "noise_strength": sd[q + "noise_strength"]},
                                    {"noise_const": sd[q + "noise_const"], "resample_filter": filt},
                                    {"affine": fc(q + "affine.")}, src=src, conv_clamp=conv_clamp, use_noise=True)
        layers["torgb"] = _Persist("ToRGBLayer", {"weight": sd[p + "torgb.weight"], "bias": sd[p + "torgb.bias"]},
                                   modules={"affine": fc(p + "torgb.affine.")}, src=src)
        params = {"const": sd["synthesis.const"]} if b == 0 else {}
        blocks[f"b{block.resolution}"] = _Persist("SynthesisBlock", params, {"resample_filter": filt}, layers,
                                                  src=src, architecture="skip")
    synthesis = _Persist("SynthesisNetwork", modules=blocks, src=src)
    return _Persist("Generator", modules={"mapping": mapping, "synthesis": synthesis}, src=src, z_dim=g.latent_dim,
                    c_dim=0)


@pytest.mark.slow
def test_nvlabs_pickle_gives_the_same_images_and_runs_no_embedded_code(tmp_path, nvlabs_modules):
    marker = tmp_path / "ran"
    src = f"open({str(marker)!r}, 'w').write('embedded code ran')\nclass Generator: pass\n"
    g, _ = tiny(32)
    g.mapping.w_avg.copy_(torch.randn(16))
    with open(tmp_path / "net.pkl", "wb") as fh:
        pickle.dump({"G_ema": to_nvlabs(g, src), "training_set_kwargs": {"resolution": 32}}, fh)
    imp = import_file(tmp_path / "net.pkl")
    assert not marker.exists()
    assert "skipped (never executed)" in imp.notes[0] and "SynthesisLayer" in imp.notes[0]
    z = torch.randn(2, 12)
    with torch.no_grad():
        for psi in (1.0, 0.5):
            assert torch.equal(imp.generator(z, truncation_psi=psi, noise_mode="const"),
                               g(z, truncation_psi=psi, noise_mode="const"))
    teacher = load_teacher(tmp_path / "net.pkl")
    assert teacher.config.arch == "stylegan2" and teacher.capabilities.mapping_network


def test_a_pickle_that_would_run_code_is_refused_and_nothing_runs(tmp_path, capsys):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    with open(tmp_path / "evil.pkl", "wb") as fh:
        pickle.dump({"G_ema": Evil()}, fh)
    with pytest.raises(CheckpointError, match=r"refused: the pickle needs (posix|os|nt)\.system"):
        import_file(tmp_path / "evil.pkl")
    assert main(["distill", "--teacher", str(tmp_path / "evil.pkl"), "--steps", "1",
                 "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "refused" in err and "nothing was executed" in err and "Traceback" not in err
    assert not marker.exists() and not (tmp_path / "run" / "generator").exists()


def test_import_checkpoint_writes_a_directory_or_nothing(tmp_path):
    g, _ = rgb_generator()
    torch.save({"g_ema": to_rosinality(g), "latent_avg": torch.zeros(12)}, tmp_path / "c.pt")
    dest = import_checkpoint(tmp_path / "c.pt", tmp_path / "out")
    from gantransfer.models.store import load_generator
    g2, cfg = load_generator(dest)
    assert cfg.arch == "stylegan2"
    with torch.no_grad():
        assert torch.equal(g2(torch.ones(1, 12), noise_mode="const"), g(torch.ones(1, 12), noise_mode="const"))
    torch.save({"nothing": 1}, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError):
        import_checkpoint(tmp_path / "bad.pt", tmp_path / "out2")
    assert not (tmp_path / "out2").exists() and not list(tmp_path.glob(".out2*"))


def test_the_import_command_converts_a_checkpoint_and_refuses_a_used_directory(tmp_path, capsys):
    from gantransfer.cli import main
    g, _ = rgb_generator()
    torch.save({"g_ema": to_rosinality(g), "latent_avg": torch.zeros(12)}, tmp_path / "c.pt")
    assert main(["import", str(tmp_path / "c.pt"), "--out", str(tmp_path / "imported")]) == 0
    assert f"wrote {tmp_path / 'imported' / 'generator'}" in capsys.readouterr().out
    card = (tmp_path / "imported" / "generator" / "README.md").read_text()  # its model card says where it came from
    assert card.startswith("---\nlibrary_name: gantransfer\n") and "gantransfer import" in card and "stylegan2" in card
    assert main(["sample", str(tmp_path / "imported"), "--n", "4", "--noise-mode", "const",
                 "--out", str(tmp_path / "grid.png")]) == 0
    assert (tmp_path / "grid.png").stat().st_size > 100
    assert main(["import", str(tmp_path / "c.pt"), "--out", str(tmp_path / "imported")]) == 2
    assert "is not an empty directory" in capsys.readouterr().err
