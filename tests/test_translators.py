"""Image-to-image translators: the resnet/mobile-resnet/unet families, the pix2pix/CycleGAN importer (parity with
an independent reference of that layout), ``translate``, and bad input."""
import numpy as np
import pytest
import torch
from PIL import Image

import gantransfer
from conftest import run_cli
from gantransfer.errors import CheckpointError, ConfigError
from gantransfer.models.config import GeneratorConfig, build_generator
from gantransfer.models.translator_import import import_translator
from junyanz_reference import RefResnetGenerator, RefUnetGenerator, randomise

CASES = [  # (junyanz name, norm, ngf, size, in, out, dropout)
    ("resnet_6blocks", "instance", 8, 32, 3, 3, False),
    ("resnet_9blocks", "batch", 6, 32, 3, 1, False),
    ("resnet_9blocks", "none", 4, 32, 1, 3, True),
    ("unet_128", "batch", 4, 128, 3, 3, True),
    ("unet_256", "instance", 2, 256, 1, 3, False),
]


def reference(name, norm, ngf, cin, cout, dropout):
    if name.startswith("resnet"):
        return RefResnetGenerator(cin, cout, ngf, norm, dropout, int(name.split("_")[1][0]))
    return RefUnetGenerator(cin, cout, {"unet_128": 7, "unet_256": 8}[name], ngf, norm, dropout)


@pytest.mark.parametrize("name,norm,ngf,size,cin,cout,dropout", CASES)
def test_import_matches_reference_outputs(tmp_path, name, norm, ngf, size, cin, cout, dropout):
    ref = randomise(reference(name, norm, ngf, cin, cout, dropout))
    torch.save(ref.state_dict(), tmp_path / "latest_net_G.pth")
    g, cfg = import_translator(tmp_path / "latest_net_G.pth")
    assert cfg.is_translator and cfg.meta["junyanz_arch"] == name and cfg.options.norm == norm
    assert (cfg.input_channels, cfg.channels, cfg.options.ngf) == (cin, cout, ngf)
    x = torch.rand(3, cin, size, size, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        want, got = ref(x), g(x)
    assert got.shape == (3, cout, size, size)
    assert (got - want).abs().max().item() <= 1e-5
    assert want.std() > 0.01  # not a trivially constant output


def test_old_instance_norm_statistics_and_module_prefix_are_accepted(tmp_path):
    ref = randomise(RefResnetGenerator(3, 3, 4, "instance", False, 2))
    state = {f"module.{k}": v for k, v in ref.state_dict().items()}
    state["module.model.2.running_mean"] = torch.zeros(4)  # what pre-0.4 PyTorch saved for InstanceNorm
    state["module.model.2.running_var"] = torch.ones(4)
    torch.save(state, tmp_path / "old_net_G_A.pth")
    g, cfg = import_translator(tmp_path / "old_net_G_A.pth", arch="auto", norm="instance")
    assert cfg.meta["dropped_instance_norm_statistics"] == 2
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    assert torch.allclose(g(x), ref(x), atol=1e-5)


def test_hostile_state_dicts_are_refused_naming_file_and_key(tmp_path):
    ref = RefResnetGenerator(3, 3, 4, "instance", False, 2)
    state = ref.state_dict()
    state["model.10.conv_block.5.weight"] = torch.zeros(16, 16, 3, 2)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError, match=r"bad\.pth: key model\.10\.conv_block\.5\.weight has shape "
                                              r"\(16, 16, 3, 2\), expected \(16, 16, 3, 3\)"):
        import_translator(tmp_path / "bad.pth")
    state = ref.state_dict()
    state["model.4.weight"] = torch.full((8, 4, 3, 3), float("nan"))
    torch.save(state, tmp_path / "nan.pth")
    with pytest.raises(CheckpointError, match="model.4.weight holds NaN"):
        import_translator(tmp_path / "nan.pth")
    torch.save(ref.state_dict(), tmp_path / "ok.pth")
    with pytest.raises(CheckpointError, match="holds a resnet_2blocks generator, not resnet_9blocks"):
        import_translator(tmp_path / "ok.pth", arch="resnet_9blocks")
    with pytest.raises(CheckpointError, match="saved with instance norm"):
        import_translator(tmp_path / "ok.pth", norm="batch")
    with pytest.raises(CheckpointError, match="records dropout in its keys.*without it; drop --dropout"):
        import_translator(tmp_path / "ok.pth", dropout=True)
    torch.save({"model.1.weight": torch.zeros(4, 3, 7, 7), "model.9.weight": torch.zeros(3)}, tmp_path / "x.pth")
    with pytest.raises(CheckpointError, match=r"x\.pth: key model\.\d+\.weight is missing"):
        import_translator(tmp_path / "x.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match="weights-only"):
        import_translator(tmp_path / "junk.pth")


@pytest.mark.parametrize("arch,options", [("resnet", {"ngf": 4, "n_blocks": 3}),
                                          ("mobile-resnet", {"ngf": 8, "n_blocks": 2}),
                                          ("unet", {"ngf": 4, "num_downs": 5, "norm": "instance"})])
def test_families_declare_feature_taps_at_their_resolutions(arch, options):
    cfg = GeneratorConfig(arch=arch, latent_dim=0, input_channels=1, channels=3, resolution=32, options=options)
    g = build_generator(cfg).eval()
    assert cfg.family.kind == "translator" and cfg.family.capabilities.feature_taps
    y, feats = g.forward_features(torch.rand(2, 1, 32, 32) * 2 - 1)
    assert y.shape == (2, 3, 32, 32) and y.abs().max() <= 1
    assert [f.shape[-1] for f in feats] == cfg.family.feature_resolutions(cfg)
    assert torch.equal(g(torch.zeros(1, 1, 32, 32)), g.forward_features(torch.zeros(1, 1, 32, 32))[0])
    with pytest.raises(ValueError, match="multiples of"):
        g(torch.zeros(1, 1, 30, 30))
    assert cfg.input_shape == (1, 32, 32)


def test_mobile_resnet_is_much_cheaper_than_resnet():
    from gantransfer.models.cost import count_macs, count_params
    def build(arch):
        cfg = GeneratorConfig(arch=arch, latent_dim=0, input_channels=3, channels=3, resolution=32,
                              options={"ngf": 16, "n_blocks": 9})
        return build_generator(cfg), cfg
    (r, rc), (m, mc) = build("resnet"), build("mobile-resnet")
    assert count_params(m) * 4 < count_params(r) and count_macs(m, mc) * 3 < count_macs(r, rc)


def test_a_translator_config_needs_image_input():
    with pytest.raises(ValueError, match="latent_dim must be 0"):
        GeneratorConfig(arch="resnet", latent_dim=100, input_channels=3, channels=3, resolution=32).validate()
    with pytest.raises(ValueError, match="channels must be 1"):
        GeneratorConfig(arch="resnet", latent_dim=0, input_channels=0, channels=3, resolution=32).validate()
    with pytest.raises(ValueError, match="input_channels is for translators"):
        GeneratorConfig(arch="dcgan", input_channels=3).validate()
    with pytest.raises(ValueError, match="multiple of 256"):
        GeneratorConfig(arch="unet", latent_dim=0, input_channels=3, channels=3, resolution=128).validate()


def _png(path, size, rgb=True, seed=0):
    arr = np.random.default_rng(seed).integers(0, 256, (size, size, 3) if rgb else (size, size), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def test_import_then_translate_a_folder(tmp_path, capsys):
    ref = randomise(RefResnetGenerator(3, 1, 4, "batch", False, 2))
    torch.save(ref.state_dict(), tmp_path / "latest_net_G.pth")
    code, out, err = run_cli(capsys, "import", str(tmp_path / "latest_net_G.pth"), "--out", str(tmp_path / "imp"),
                             "--arch", "auto")
    assert code == 0, err
    g, cfg = gantransfer.load(tmp_path / "imp")
    assert cfg.is_translator and cfg.input_channels == 3 and cfg.channels == 1
    card = (tmp_path / "imp" / "generator" / "README.md").read_text()
    assert "image-to-image **resnet** translator" in card and "gantransfer translate" in card
    assert "gantransfer.generate" not in card and "latent size" not in card
    _png(tmp_path / "in" / "a.png", 40)
    _png(tmp_path / "in" / "sub" / "b.jpg", 24, rgb=False, seed=1)
    (tmp_path / "in" / "broken.png").write_bytes(b"\x89PNG garbage")
    code, out, err = run_cli(capsys, "translate", str(tmp_path / "imp"), "--input", str(tmp_path / "in"),
                             "--out", str(tmp_path / "out"), "--size", "32", "--device", "cpu")
    assert code == 0, err
    assert "wrote 2 image(s)" in out and "skipped 1" in out
    a = np.asarray(Image.open(tmp_path / "out" / "a.png"))
    assert a.shape == (32, 32) and (tmp_path / "out" / "sub" / "b.png").is_file()
    # the same through the .pth file directly, and the outputs are refused on a second run
    code, out, err = run_cli(capsys, "translate", str(tmp_path / "latest_net_G.pth"), "--input",
                             str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--size", "32")
    assert code != 0 and "already exists; pass --overwrite" in err
    code, out, err = run_cli(capsys, "translate", str(tmp_path / "latest_net_G.pth"), "--input",
                             str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--size", "32", "--overwrite")
    assert code == 0, err
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / "a.png")), a)
    code, out, err = run_cli(capsys, "translate", str(tmp_path / "imp"), "--input", str(tmp_path / "in"),
                             "--out", str(tmp_path / "out2"), "--size", "30")
    assert code != 0 and "multiple of 4; nearest valid: 28 or 32" in err and not (tmp_path / "out2").exists()
    code, out, err = run_cli(capsys, "sample", str(tmp_path / "imp"), "--out", str(tmp_path / "s.png"))
    assert code != 0 and "gantransfer translate" in err
    code, out, err = run_cli(capsys, "eval", str(tmp_path / "imp"), "--data", "fashion-mnist", "--n", "10")
    assert code != 0 and "image-to-image translator" in err


def test_translate_refuses_a_noise_generator(tmp_path, capsys):
    from gantransfer.models.store import save_generator
    cfg = GeneratorConfig(latent_dim=8, resolution=16, channels=1, width=0.125)
    save_generator(build_generator(cfg), cfg, tmp_path / "g")
    _png(tmp_path / "in" / "a.png", 16)
    code, out, err = run_cli(capsys, "translate", str(tmp_path / "g"), "--input", str(tmp_path / "in"),
                             "--out", str(tmp_path / "out"))
    assert code != 0 and "noise-to-image generator" in err and "gantransfer sample" in err
    assert not (tmp_path / "out").exists()


def _save_translator(path, arch, options, resolution=32):
    from gantransfer.models.store import save_generator
    cfg = GeneratorConfig(arch=arch, latent_dim=0, input_channels=3, channels=3, resolution=resolution,
                          options=options)
    g = randomise(build_generator(cfg))
    save_generator(g, cfg, path)
    return g, cfg


@pytest.mark.parametrize("arch,options", [("resnet", {"ngf": 4, "n_blocks": 2, "norm": "batch"}),
                                          ("unet", {"ngf": 2, "num_downs": 5, "norm": "instance"})])
def test_onnx_export_of_a_translator_has_dynamic_size_and_parity(tmp_path, arch, options):
    pytest.importorskip("onnxruntime")
    from gantransfer.api import export
    from gantransfer.deploy.runtime import open_exported
    g, cfg = _save_translator(tmp_path / "t", arch, options)
    report = export(tmp_path / "t", "onnx", tmp_path / "t.onnx")
    assert max(report["parity"].values()) <= 1e-4
    onnx_g = open_exported(tmp_path / "t.onnx")
    assert onnx_g.config.is_translator and onnx_g.input_name == "input"
    x = torch.rand(3, 3, 64, 64) * 2 - 1  # another size than the one traced
    with torch.no_grad():
        assert (onnx_g(x) - g(x)).abs().max().item() <= 1e-4
    with pytest.raises(ConfigError, match="drop --with-example"):
        export(tmp_path / "t", "onnx", tmp_path / "e.onnx", with_example=True)
    card = (tmp_path / "README.md").read_text()  # the export's card, beside t.onnx
    assert "translator" in card and "input `input`" in card and "_sample.py" not in card
    report = export(tmp_path / "t", "torchscript", tmp_path / "t.pt")
    assert max(report["parity"].values()) <= 1e-4
    from gantransfer.trust import trusting
    with torch.no_grad(), trusting(code=True):  # a TorchScript file is code: opened only when trusted
        assert (open_exported(tmp_path / "t.pt")(x) - g(x)).abs().max().item() <= 1e-4


def test_bench_of_translators_against_a_teacher(tmp_path):
    from gantransfer.api import bench
    _save_translator(tmp_path / "teacher", "resnet", {"ngf": 8, "n_blocks": 3})
    _save_translator(tmp_path / "student", "mobile-resnet", {"ngf": 4, "n_blocks": 3})
    result = bench(tmp_path / "student", against=tmp_path / "teacher", repeats=2)
    assert result["generator"]["macs"] < result["reference"]["macs"]
    assert result["ratios"]["macs_reduction"] > 3 and "throughput_per_s_batch8" in result["generator"]
    cfg = GeneratorConfig(latent_dim=8, resolution=16, channels=1, width=0.125)
    from gantransfer.models.store import save_generator
    save_generator(build_generator(cfg), cfg, tmp_path / "noise")
    with pytest.raises(ConfigError, match="not of one kind"):
        bench(tmp_path / "student", against=tmp_path / "noise", repeats=1)


def test_translate_skips_oversized_images_and_never_writes_through_links(tmp_path, capsys, monkeypatch):
    from gantransfer.data import folder
    monkeypatch.setattr(folder, "MAX_PIXELS", 16_000_000)  # the one pixel cap of every reader, lowered for speed
    _save_translator(tmp_path / "t", "resnet", {"ngf": 4, "n_blocks": 1}, resolution=16)
    Image.new("L", (5000, 4000)).save(tmp_path / "big.png")  # 20 M pixels: over the cap, refused before decoding
    (tmp_path / "in").mkdir()
    (tmp_path / "big.png").rename(tmp_path / "in" / "big.png")
    _png(tmp_path / "in" / "ok.png", 16)
    with pytest.warns(UserWarning, match="big.png: .*5000 x 4000 pixels are beyond 16,000,000"):
        code, out, err = run_cli(capsys, "translate", str(tmp_path / "t"), "--input", str(tmp_path / "in"),
                                 "--out", str(tmp_path / "out"))
    assert code == 0 and "wrote 1 image(s)" in out and "skipped 1" in out
    _png(tmp_path / "in2" / "sub" / "a.png", 16)
    (tmp_path / "out2").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "out2" / "sub").symlink_to(tmp_path / "elsewhere")
    code, out, err = run_cli(capsys, "translate", str(tmp_path / "t"), "--input", str(tmp_path / "in2"),
                             "--out", str(tmp_path / "out2"))
    assert code != 0 and "resolves outside --out" in err and not any((tmp_path / "elsewhere").iterdir())


def test_eval_of_a_translator_against_ground_truth_and_a_teacher(tmp_path, capsys):
    import json
    g, cfg = _save_translator(tmp_path / "t", "resnet", {"ngf": 4, "n_blocks": 1}, resolution=16)
    _save_translator(tmp_path / "s", "mobile-resnet", {"ngf": 4, "n_blocks": 1}, resolution=16)
    for i in range(3):
        _png(tmp_path / "in" / f"{i}.png", 16, seed=i)
    # ground truth = the teacher's own outputs: against them the teacher scores (nearly) perfectly
    code, _, err = run_cli(capsys, "translate", str(tmp_path / "t"), "--input", str(tmp_path / "in"),
                           "--out", str(tmp_path / "gt"))
    assert code == 0, err
    code, out, err = run_cli(capsys, "eval", str(tmp_path / "t"), "--input", str(tmp_path / "in"), "--target",
                             str(tmp_path / "gt"), "--against", str(tmp_path / "s"), "--device", "cpu")
    assert code == 0, err
    r = json.loads(out)
    assert r["images"] == 3 and r["target"]["psnr"] > 40 and r["target"]["ssim"] > 0.99
    assert r["against"]["psnr"] < r["target"]["psnr"]
    (tmp_path / "gt" / "1.png").unlink()
    code, out, err = run_cli(capsys, "eval", str(tmp_path / "t"), "--input", str(tmp_path / "in"), "--target",
                             str(tmp_path / "gt"))
    assert code != 0 and "no image named like 1 of the 3 inputs, e.g. 1.png" in err


def test_noise_commands_refuse_a_translator_and_say_what_fits(tmp_path, capsys):
    g, _ = _save_translator(tmp_path / "t", "resnet", {"ngf": 4, "n_blocks": 1}, resolution=16)
    torch.save(g.state_dict(), tmp_path / "latest_net_G.pth")
    code, _, err = run_cli(capsys, "distill", "--teacher", str(tmp_path / "latest_net_G.pth"), "--steps", "1",
                           "--out", str(tmp_path / "d"))
    # distilling a translator needs its input images (docs/translators.md, "Distilling a translator")
    assert code != 0 and "records no data set" in err and "--data DIR" in err
    assert not (tmp_path / "d").exists()
    torch.save({"fc.weight": torch.zeros(3, 3)}, tmp_path / "other.pth")
    code, _, err = run_cli(capsys, "import", str(tmp_path / "other.pth"), "--out", str(tmp_path / "o"))
    assert code != 0 and "nor is it a pix2pix/CycleGAN generator" in err and not (tmp_path / "o").exists()
    code, _, err = run_cli(capsys, "import", str(tmp_path / "other.pth"), "--out", str(tmp_path / "o"),
                           "--arch", "unet_256")
    assert code != 0 and "so arch do not apply (they are for pix2pix-cyclegan files)" in err


def test_a_thin_image_is_skipped_before_it_is_resized():
    """A 1 x 2,000,000 PNG is under the pixel cap but would be resized to millions of pixels: refused first."""
    import io
    from PIL import Image
    from gantransfer.data.image_files import READ_ERRORS, read_image
    buf = io.BytesIO()
    Image.new("L", (1, 2_000_000)).save(buf, "PNG")
    with pytest.raises(READ_ERRORS, match="side ratio"):
        read_image(buf, 3, 32)
