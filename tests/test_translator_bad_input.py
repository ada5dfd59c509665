"""Issue 29's bad input for translators, each through the command line: one clear message naming what fits, a
non-zero exit, no traceback, nothing written. (Cases already covered elsewhere: another network's state dict given
to `import` and a translator given to `sample`, `eval --data` and `distill` without --data in test_translators.py;
a noise generator given to `translate` there too; a ResNet's --size 30 there.)"""
import numpy as np
import pytest
import torch
from PIL import Image

from conftest import run_cli
from gantransfer.models.config import GeneratorConfig, build_generator
from gantransfer.models.store import save_generator
from junyanz_reference import RefResnetGenerator


@pytest.fixture()
def files(tmp_path):
    """A U-Net translator (5 downsamplings), a gray-input ResNet translator, a DCGAN (directory and bare state
    dict), a state dict of no known network, and a folder of 100 px RGB images."""
    unet = GeneratorConfig(arch="unet", latent_dim=0, input_channels=3, channels=3, resolution=32,
                           options={"ngf": 4, "num_downs": 5})
    save_generator(build_generator(unet), unet, tmp_path / "unet")
    gray = GeneratorConfig(arch="resnet", latent_dim=0, input_channels=1, channels=3, resolution=32,
                           options={"ngf": 4, "n_blocks": 1})
    save_generator(build_generator(gray), gray, tmp_path / "gray")
    noise = GeneratorConfig(latent_dim=8, resolution=16, channels=1, width=0.125)
    g = build_generator(noise)
    save_generator(g, noise, tmp_path / "noise")
    torch.save(g.state_dict(), tmp_path / "dcgan.pth")
    torch.save({"encoder.fc.weight": torch.zeros(3, 3)}, tmp_path / "other.pth")
    (tmp_path / "in").mkdir()
    for i in range(3):
        arr = np.random.default_rng(i).integers(0, 256, (100, 100, 3), dtype=np.uint8)
        Image.fromarray(arr).save(tmp_path / "in" / f"{i}.png")
    return tmp_path


def refused(capsys, *argv):
    code, out, err = run_cli(capsys, *argv)
    assert code not in (0, None) and "Traceback" not in err and len(err.strip().splitlines()) == 1, (code, err)
    return err


def test_a_state_dict_of_another_network_given_to_translate(files, capsys):
    err = refused(capsys, "translate", str(files / "other.pth"), "--input", str(files / "in"),
                  "--out", str(files / "o"))
    assert "other.pth is not a DCGAN generator" in err and "nor is it a pix2pix/CycleGAN generator" in err
    assert not (files / "o").exists()


def test_a_noise_generator_given_where_a_translator_is_needed_names_the_command_that_fits(files, capsys):
    err = refused(capsys, "translate", str(files / "dcgan.pth"), "--input", str(files / "in"), "--out",
                  str(files / "o"))  # a bare file: `sample` cannot read it, so import it first
    assert "noise-to-image generator (dcgan)" in err
    assert "`gantransfer import " in err and "then `gantransfer sample DIR --out FILE`" in err
    err = refused(capsys, "eval", str(files / "noise"), "--input", str(files / "in"))
    assert "noise-to-image generator (dcgan)" in err and f"`gantransfer eval {files / 'noise'} --data NAME`" in err
    err = refused(capsys, "eval", str(files / "unet"), "--input", str(files / "in"), "--against", str(files / "noise"))
    assert err.count("--against") == 1 and "noise-to-image generator" in err and "eval" in err
    assert not (files / "o").exists()


@pytest.mark.parametrize("argv,what", [
    (["baseline", "--teacher", "{noise}", "--teacher", "{unet}", "--out", "{out}", "--steps", "1"], "fusion"),
    (["extend", "--base", "{unet}", "--data", "digits", "--classes", "5", "--out", "{out}", "--steps", "1"],
     "extend"),
], ids=["baseline", "extend"])
def test_a_translator_given_where_a_noise_generator_is_needed_names_translate(files, capsys, argv, what):
    argv = [a.format(unet=files / "unet", noise=files / "noise", out=files / "o") for a in argv]
    err = refused(capsys, *argv)
    assert "is an image-to-image translator (run it with `gantransfer translate`)" in err
    assert f"{what} works on noise-to-image generators" in err and not (files / "o").exists()


@pytest.mark.parametrize("argv,says", [
    (["fuse", "--teacher", "{unet}", "--teacher", "{noise}", "--out", "{out}", "--steps", "1"],
     "fuse takes teachers of one kind"),
    (["adapt", "--source", "{unet}", "--data", "digits", "--limit", "8", "--out", "{out}", "--steps", "1"],
     "--data digits: adapting a translator needs a folder of paired examples"),
], ids=["fuse-mixed", "adapt-single-images"])
def test_fuse_and_adapt_of_translators_refuse_what_does_not_fit(files, capsys, argv, says):
    """fuse and adapt take translators (issue 30), but not mixed with noise generators nor on single images."""
    argv = [a.format(unet=files / "unet", noise=files / "noise", out=files / "o") for a in argv]
    assert says in refused(capsys, *argv) and not (files / "o").exists()


def test_an_image_size_the_unet_cannot_take_names_the_nearest_valid_sizes(files, capsys):
    err = refused(capsys, "translate", str(files / "unet"), "--input", str(files / "in"), "--out",
                  str(files / "o"), "--size", "100")
    assert "--size 100 does not fit this unet translator" in err and "multiple of 32; nearest valid: 96 or 128" in err
    err = refused(capsys, "distill", "--teacher", str(files / "unet"), "--data", str(files / "in"), "--input-size",
                  "100", "--out", str(files / "o"), "--steps", "1")
    assert "--input-size 100 does not fit" in err and "nearest valid: 96 or 128" in err
    assert not (files / "o").exists()
    g = build_generator(GeneratorConfig(arch="unet", latent_dim=0, input_channels=3, channels=3, resolution=32,
                                        options={"ngf": 4, "num_downs": 5}))
    with pytest.raises(ValueError, match="100x100 does not fit this translator.*nearest valid: 96 or 128"):
        g(torch.zeros(1, 3, 100, 100))


def test_mismatched_channel_counts_are_refused(files, capsys):
    err = refused(capsys, "eval", str(files / "unet"), "--input", str(files / "in"), "--against", str(files / "gray"))
    assert "maps 1 to 3 channels, the translator 3 to 3; they cannot be compared" in err
    torch.save(RefResnetGenerator(4, 3, 4, "instance", False, 1).state_dict(), files / "rgba_net_G.pth")
    err = refused(capsys, "translate", str(files / "rgba_net_G.pth"), "--input", str(files / "in"), "--out",
                  str(files / "o"))
    assert "(ngf 4, instance norm, 4 -> 3 channels) cannot be imported" in err and "1 (gray) or 3 (RGB)" in err
    err = refused(capsys, "import", str(files / "rgba_net_G.pth"), "--out", str(files / "imp"))
    assert "4 -> 3 channels" in err and not (files / "imp").exists() and not (files / "o").exists()
    g = build_generator(GeneratorConfig(arch="resnet", latent_dim=0, input_channels=1, channels=3, resolution=32,
                                        options={"ngf": 4, "n_blocks": 1}))
    with pytest.raises(ValueError, match=r"takes images \(N, 1, H, W\), got shape \(2, 3, 32, 32\)"):
        g(torch.zeros(2, 3, 32, 32))
