"""NVlabs network pickles of the configurations people train: each network's layout from its own tensors and
recorded constructor arguments (``init_kwargs``), G and D apart; a discriminator that cannot be read leaves the
generator imported with a warning; malformed ``init_kwargs`` refused with one message."""
import pickle
import warnings

import pytest
import torch

from gantransfer.cli import main
from gantransfer.errors import CheckpointError
from gantransfer.models.importers import import_file
from gantransfer.models.stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator
from test_stylegan2_import import _Persist, nvlabs_modules, to_nvlabs  # noqa: F401 - nvlabs_modules: fixture

FILT = torch.outer(torch.tensor([1.0, 3, 3, 1]), torch.tensor([1.0, 3, 3, 1])) / 64


def _seeded(module, seed):
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith(("noise_strength", "bias")):
                p.add_(0.3 * torch.randn_like(p))
    return module.eval()


def _fc(sd, prefix, bias_gain=1.0):
    return _Persist("FullyConnectedLayer", {"weight": sd[prefix + "weight"], "bias": sd[prefix + "bias"]},
                    bias_gain=bias_gain)


def _conv(sd, prefix, clamp, bias=True):
    params = {"weight": sd[prefix + "weight"], **({"bias": sd[prefix + "bias"]} if bias else {})}
    return _Persist("Conv2dLayer", params, {"resample_filter": FILT}, conv_clamp=clamp)


def nvlabs_generator(g, kwargs, c_dim=0):
    """G_ema's record as NVlabs writes it: to_nvlabs's tree, a label embedding when conditional, init_kwargs."""
    rec = to_nvlabs(g, conv_clamp=kwargs["synthesis_kwargs"].get("conv_clamp"))
    state = rec.meta["state"]
    state["c_dim"], state["_init_args"], state["_init_kwargs"] = c_dim, (), kwargs
    if c_dim:
        state["_modules"]["mapping"].meta["state"]["_modules"]["embed"] = _fc(g.state_dict(), "mapping.embed.")
    return rec


def nvlabs_discriminator(d, kwargs):
    """D's record as NVlabs writes it (resnet blocks b{r}, epilogue b4 with mbstd/conv/fc/out, label mapping)."""
    sd, clamp = d.state_dict(), kwargs.get("conv_clamp")
    ep = kwargs.get("epilogue_kwargs", {})
    mods = {}
    r = kwargs["img_resolution"]
    for i, _ in enumerate(d.blocks):
        p = f"blocks.{i}."
        layers = {name: _conv(sd, p + name + ".", None if name == "skip" else clamp, name != "skip")
                  for name in (("fromrgb",) if i == 0 else ()) + ("conv0", "conv1", "skip")}
        mods[f"b{r >> i}"] = _Persist("DiscriminatorBlock", buffers={"resample_filter": FILT}, modules=layers,
                                      architecture="resnet")
    mbstd = _Persist("MinibatchStdLayer", group_size=ep.get("mbstd_group_size", 4),
                     num_channels=ep.get("mbstd_num_channels", 1)) if ep.get("mbstd_num_channels", 1) else None
    mods["b4"] = _Persist("DiscriminatorEpilogue", modules={"mbstd": mbstd, "conv": _conv(sd, "conv.", clamp),
                                                            "fc": _fc(sd, "fc."), "out": _fc(sd, "out.")})
    if kwargs.get("c_dim"):
        n = len(d.mapping.fc)
        mods["mapping"] = _Persist("MappingNetwork", modules={"embed": _fc(sd, "mapping.embed."),
                                                             **{f"fc{k}": _fc(sd, f"mapping.fc.{k}.", 0.01)
                                                                for k in range(n)}})
    return _Persist("Discriminator", modules=mods, _init_args=(), _init_kwargs=kwargs, c_dim=kwargs.get("c_dim", 0))


# (resolution, c_dim, G: base, max, mapping layers; D: base, max, mbstd group, mbstd channels, mapping layers;
#  conv_clamp, num_fp16_res)
CONFIGS = {
    "same-layout": (32, 0, (1024, 64, 2), (1024, 64, 4, 1, 8), None, 0),
    "G-D-differ-fp16-clamp-mbstd8x2": (32, 0, (2048, 32, 3), (1024, 64, 8, 2, 8), 256, 2),
    "conditional-mbstd-whole-batch": (16, 3, (1024, 64, 1), (1024, 32, None, 1, 2), None, 4),
}


def make_pickle(path, name, break_d=None):
    res, c_dim, (gb, gm, gmap), (db, dm, group, mbch, dmap), clamp, fp16 = CONFIGS[name]
    g = _seeded(StyleGAN2Generator(8, res, 3, 1.0, c_dim, w_dim=16, mapping_layers=gmap, channel_base=gb,
                                   channel_max=gm, conv_clamp=clamp), 0)
    g.mapping.w_avg.copy_(torch.randn(16))
    d = _seeded(StyleGAN2Discriminator(res, 3, 1.0, c_dim, db, dm, group or 0, mbch, clamp, dmap), 1)
    gkw = {"z_dim": 8, "w_dim": 16, "c_dim": c_dim, "img_resolution": res, "img_channels": 3,
           "mapping_kwargs": {"num_layers": gmap},
           "synthesis_kwargs": {"channel_base": gb, "channel_max": gm, "num_fp16_res": fp16, "conv_clamp": clamp}}
    dkw = {"c_dim": c_dim, "img_resolution": res, "img_channels": 3, "channel_base": db, "channel_max": dm,
           "num_fp16_res": fp16, "conv_clamp": clamp, "block_kwargs": {}, "mapping_kwargs": {"num_layers": dmap},
           "epilogue_kwargs": {"mbstd_group_size": group, "mbstd_num_channels": mbch}}
    drec = nvlabs_discriminator(d, dkw)
    if break_d:
        break_d(drec, dkw)
    with open(path, "wb") as fh:
        pickle.dump({"G": nvlabs_generator(g, gkw, c_dim), "D": drec, "G_ema": nvlabs_generator(g, gkw, c_dim),
                     "augment_pipe": None, "training_set_kwargs": {"resolution": res}}, fh)
    return g, d, gkw, dkw


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_each_network_imports_from_its_own_layout(tmp_path, nvlabs_modules, name):
    res, c_dim, _, (db, dm, group, mbch, dmap), clamp, fp16 = CONFIGS[name]
    g, d, _, _ = make_pickle(tmp_path / "net.pkl", name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a readable D imports without a warning
        imp = import_file(tmp_path / "net.pkl")
    z = torch.randn(4, 8)
    labels = torch.arange(4) % c_dim if c_dim else None
    with torch.no_grad():
        assert torch.equal(imp.generator(z, labels, noise_mode="const"), g(z, labels, noise_mode="const"))
        x = torch.randn(8, 3, res, res)
        assert torch.equal(imp.discriminator(x, labels.repeat(2) if c_dim else None),
                           d(x, labels.repeat(2) if c_dim else None))
    o = imp.discriminator_config.options
    assert o == {"channel_max": dm, "mbstd_group": group or 0, "mbstd_channels": mbch,
                 "conv_clamp": float(clamp or 0), "mapping_layers": dmap if c_dim else 8}
    assert imp.config.options.conv_clamp == float(clamp or 0) and imp.config.num_classes == c_dim
    assert any("float16" in n for n in imp.notes) == bool(fp16)


def test_g_and_d_of_other_widths_survive_a_save_and_load(tmp_path, nvlabs_modules):
    from gantransfer.models.importers import import_checkpoint
    from gantransfer.models.store import load_discriminator
    _, d, _, _ = make_pickle(tmp_path / "net.pkl", "G-D-differ-fp16-clamp-mbstd8x2")
    dest = import_checkpoint(tmp_path / "net.pkl", tmp_path / "imported")
    d2, dcfg = load_discriminator(dest / "discriminator")
    assert dcfg.options["channel_max"] == 64 and dcfg.options["mbstd_channels"] == 2
    x = torch.randn(8, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(d2(x), d(x))


def _drop_tensor(drec, _kw):
    del drec.meta["state"]["_modules"]["b4"].meta["state"]["_modules"]["fc"].meta["state"]["_parameters"]["bias"]


def _bad_group(_drec, kw):
    kw["epilogue_kwargs"]["mbstd_group_size"] = "four"


@pytest.mark.parametrize("breaker, reason", [(_drop_tensor, "missing fc.bias"),
                                             (_bad_group, "init_kwargs.epilogue_kwargs.mbstd_group_size")])
def test_an_unreadable_discriminator_leaves_the_generator_imported_with_a_warning(tmp_path, nvlabs_modules, capsys,
                                                                                   breaker, reason):
    g, _, _, _ = make_pickle(tmp_path / "net.pkl", "same-layout", break_d=breaker)
    with pytest.warns(UserWarning, match="imported without the discriminator") as w:
        imp = import_file(tmp_path / "net.pkl")
    assert reason in str(w[0].message) and imp.discriminator is None
    assert any(n.startswith("discriminator not imported") for n in imp.notes)
    z = torch.randn(2, 8)
    with torch.no_grad():
        assert torch.equal(imp.generator(z, noise_mode="const"), g(z, noise_mode="const"))
    with pytest.warns(UserWarning, match=reason):
        assert main(["import", str(tmp_path / "net.pkl"), "--out", str(tmp_path / "out")]) == 0
    assert "Traceback" not in capsys.readouterr().err
    assert (tmp_path / "out" / "generator").is_dir() and not (tmp_path / "out" / "discriminator").exists()


@pytest.mark.parametrize("change, message", [
    (lambda kw: kw.update(synthesis_kwargs="big"), "init_kwargs.synthesis_kwargs is str, expected a dict"),
    (lambda kw: kw["synthesis_kwargs"].update(channel_base="32768"),
     r"init_kwargs.synthesis_kwargs.channel_base is '32768' \(str\), expected an integer from 1 to"),
    (lambda kw: kw["synthesis_kwargs"].update(channel_max=-512), "channel_max is '-512'"),
    (lambda kw: kw["synthesis_kwargs"].update(conv_clamp=float("nan")), "conv_clamp is 'nan'"),
    (lambda kw: kw["mapping_kwargs"].update(num_layers=True), "num_layers is 'True' \\(bool\\)"),
    (lambda kw: kw.update(z_dim=2.5), "init_kwargs.z_dim is '2.5' \\(float\\)"),
    (lambda kw: kw["synthesis_kwargs"].update(channel_max=16),
     "init_kwargs say channel_base 1024, channel_max 16 \\(16 channels at 4 px\\), but synthesis.b4.conv1.weight has 64"),
    (lambda kw: kw["mapping_kwargs"].update(num_layers=8), "init_kwargs say num_layers = 8, but its tensors say 2"),
    (lambda kw: kw.update(img_resolution=64), "init_kwargs say img_resolution = 64, but its tensors say 32"),
])
def test_malformed_generator_init_kwargs_are_refused_with_one_message(tmp_path, nvlabs_modules, capsys, change,
                                                                      message):
    res, *_ = CONFIGS["same-layout"]
    g = _seeded(StyleGAN2Generator(8, res, 3, 1.0, 0, w_dim=16, mapping_layers=2, channel_base=1024,
                                   channel_max=64), 0)
    kw = {"z_dim": 8, "w_dim": 16, "c_dim": 0, "img_resolution": res, "img_channels": 3,
          "mapping_kwargs": {"num_layers": 2}, "synthesis_kwargs": {"channel_base": 1024, "channel_max": 64}}
    change(kw)
    with open(tmp_path / "net.pkl", "wb") as fh:
        pickle.dump({"G_ema": _g_record(g, kw)}, fh)
    with pytest.raises(CheckpointError, match=message):
        import_file(tmp_path / "net.pkl")
    assert main(["import", str(tmp_path / "net.pkl"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "G_ema" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def _g_record(g, kw):
    rec = to_nvlabs(g)
    rec.meta["state"]["_init_args"], rec.meta["state"]["_init_kwargs"] = (), kw
    return rec


def test_init_kwargs_that_are_not_a_dict_are_refused(tmp_path, nvlabs_modules):
    g = _seeded(StyleGAN2Generator(8, 16, 3, 1.0, 0, w_dim=16, mapping_layers=2, channel_base=1024,
                                   channel_max=64), 0)
    with open(tmp_path / "net.pkl", "wb") as fh:
        pickle.dump({"G_ema": _g_record(g, [("channel_base", 1024)])}, fh)
    with pytest.raises(CheckpointError, match="G_ema's recorded constructor arguments \\(init_kwargs\\) are list, "
                                              "expected a dict"):
        import_file(tmp_path / "net.pkl")


@pytest.mark.slow
def test_config_f_channel_counts_g_32768_512_and_d_16384_256_at_128_px(tmp_path, nvlabs_modules):
    """The real channel_base/channel_max values (G: 32768/512 as config-f, D: 16384/256 as a cut-down D); at
    128 px both caps and both bases show (G 512 up to 64 px, 256 at 128; D 256 up to 64, 128 at 128)."""
    g = _seeded(StyleGAN2Generator(16, 128, 3, 1.0, 0, w_dim=16, mapping_layers=2, channel_base=32768,
                                   channel_max=512, conv_clamp=256), 0)
    d = _seeded(StyleGAN2Discriminator(128, 3, 1.0, 0, 16384, 256, 4, 1, 256), 1)
    gkw = {"z_dim": 16, "w_dim": 16, "c_dim": 0, "img_resolution": 128, "img_channels": 3,
           "mapping_kwargs": {"num_layers": 2},
           "synthesis_kwargs": {"channel_base": 32768, "channel_max": 512, "num_fp16_res": 4, "conv_clamp": 256}}
    dkw = {"c_dim": 0, "img_resolution": 128, "img_channels": 3, "channel_base": 16384, "channel_max": 256,
           "num_fp16_res": 4, "conv_clamp": 256, "epilogue_kwargs": {"mbstd_group_size": 4}}
    with open(tmp_path / "net.pkl", "wb") as fh:
        pickle.dump({"G_ema": nvlabs_generator(g, gkw), "D": nvlabs_discriminator(d, dkw)}, fh)
    imp = import_file(tmp_path / "net.pkl")
    assert (imp.config.width, imp.config.options.channel_max) == (2.0, 512)
    assert (imp.discriminator_config.width, imp.discriminator_config.options["channel_max"]) == (1.0, 256)
    assert any("[16, 32, 64, 128] px ran in float16" in n for n in imp.notes)
    x = torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        assert torch.equal(imp.discriminator(x), d(x))
        z = torch.randn(1, 16)
        assert torch.equal(imp.generator(z, noise_mode="const"), g(z, noise_mode="const"))


@pytest.mark.parametrize("options, needle", [({"channel_max": 1 << 16}, "channel_max from 1 to 1024"),
                                             ({"mapping_layers": 10 ** 9}, "mapping_layers from 0 to 32"),
                                             ({"mbstd_channels": 3}, "must divide"),
                                             ({"channels_max": 8}, "unknown config field")])
def test_a_saved_discriminator_config_with_options_out_of_range_is_refused(tmp_path, options, needle):
    import json
    from gantransfer.models.config import DiscriminatorConfig, build_discriminator
    from gantransfer.models.store import load_discriminator, save_discriminator
    cfg = DiscriminatorConfig(arch="stylegan2", resolution=16, channels=3, width=1 / 16, options={"channel_max": 8})
    save_discriminator(build_discriminator(cfg), cfg, tmp_path / "d")
    raw = json.loads((tmp_path / "d" / "config.json").read_text())
    raw["options"] = options
    (tmp_path / "d" / "config.json").write_text(json.dumps(raw))
    with pytest.raises(CheckpointError, match=needle):
        load_discriminator(tmp_path / "d")
