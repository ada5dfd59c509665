"""StyleGAN2 files that are not what they claim: a rosinality .pt with tensors missing, a truncated file, a pickle
of another network, and a student width pruning cannot produce. Each refused with one line naming the file and
what is wrong, exit status 2, no traceback, nothing written."""
import pickle

import pytest
import torch

from gantransfer.cli import main
from test_stylegan2_import import _Persist, nvlabs_modules, rgb_generator, to_nvlabs, to_rosinality  # noqa: F401
from test_stylegan2_transfer import make_teacher


def refused(capsys, argv, *needles):
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err and sum("error:" in x for x in err.splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.fixture(scope="module")
def rosinality_state():
    g, _ = rgb_generator()
    return to_rosinality(g)


@pytest.mark.parametrize("drop, needle", [
    ("convs.3.conv.weight", "lacks layer convs.3.conv.weight"),
    ("to_rgbs.1.conv.modulation.bias", "lacks layer to_rgbs.1.conv.modulation.bias"),
    ("noises.noise_2", "missing synthesis.blocks.1.conv1.noise_const"),
    ("style.2.bias", "lacks layer style.2.bias"),
])
def test_a_rosinality_file_with_a_tensor_missing(tmp_path, capsys, rosinality_state, drop, needle):
    sd = {k: v for k, v in rosinality_state.items() if k != drop}
    torch.save({"g_ema": sd, "latent_avg": torch.zeros(12)}, tmp_path / "c.pt")
    refused(capsys, ["import", str(tmp_path / "c.pt"), "--out", str(tmp_path / "out")], str(tmp_path / "c.pt"),
            needle)
    assert not (tmp_path / "out").exists()


def test_a_truncated_rosinality_file(tmp_path, capsys, rosinality_state):
    torch.save({"g_ema": rosinality_state}, tmp_path / "c.pt")
    data = (tmp_path / "c.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    refused(capsys, ["import", str(tmp_path / "cut.pt"), "--out", str(tmp_path / "out")], str(tmp_path / "cut.pt"),
            "cannot be read as a weights-only PyTorch checkpoint")
    assert not (tmp_path / "out").exists()


def test_a_truncated_network_pickle(tmp_path, capsys, nvlabs_modules):
    g, _ = rgb_generator()
    data = pickle.dumps({"G_ema": to_nvlabs(g)})
    (tmp_path / "net.pkl").write_bytes(data[: len(data) * 2 // 3])
    refused(capsys, ["import", str(tmp_path / "net.pkl"), "--out", str(tmp_path / "out")],
            "is not a readable network pickle")


def test_a_pickle_of_another_network(tmp_path, capsys, nvlabs_modules):
    """StyleGAN3's synthesis (L-layers, input Fourier features) and a classifier: records, but not StyleGAN2's."""
    sg3 = _Persist("Generator", modules={
        "mapping": _Persist("MappingNetwork", modules={"fc0": _Persist("FullyConnectedLayer",
                                                                       {"weight": torch.zeros(4, 4)})}),
        "synthesis": _Persist("SynthesisNetwork", modules={"input": _Persist("SynthesisInput"),
                                                           "L0_36_512": _Persist("SynthesisLayer")})}, z_dim=4)
    (tmp_path / "sg3.pkl").write_bytes(pickle.dumps({"G_ema": sg3}))
    refused(capsys, ["import", str(tmp_path / "sg3.pkl"), "--out", str(tmp_path / "o1")],
            "the synthesis network has no b4 block")
    clf = _Persist("ResNet", {"fc.weight": torch.zeros(10, 4)})
    (tmp_path / "clf.pkl").write_bytes(pickle.dumps({"model": clf}))
    refused(capsys, ["import", str(tmp_path / "clf.pkl"), "--out", str(tmp_path / "o2")],
            "is not a StyleGAN2-ADA network pickle: expected a dict with G_ema", "'model'")
    (tmp_path / "d.pkl").write_bytes(pickle.dumps({"D": _Persist("Discriminator")}))
    refused(capsys, ["import", str(tmp_path / "d.pkl"), "--out", str(tmp_path / "o3")],
            "the pickle holds no generator: expected 'G_ema' or 'G'")


def test_a_pt_mislabelled_as_stylegan2_is_named_for_what_it_holds(tmp_path, capsys):
    torch.save({"g_ema": {"fc.weight": torch.zeros(2, 2)}}, tmp_path / "c.pt")
    refused(capsys, ["import", str(tmp_path / "c.pt"), "--out", str(tmp_path / "out")], "style.1.weight")


@pytest.mark.parametrize("width", ["1.5", "2"])
def test_a_student_width_pruning_cannot_produce(tmp_path, capsys, width):
    teacher = make_teacher(tmp_path / "teacher")  # width 0.5: --width is a share of its channels, so above 1 is wider than it
    out = tmp_path / "run"
    refused(capsys, ["distill", "--teacher", str(teacher), "--width", width, "--init", "prune", "--steps", "1",
                     "--batch-size", "2", "--eval-n", "0", "--no-progress", "--out", str(out)],
            "a pruned student must be narrower than its teacher (lower --width)", "layer const")
    assert not out.exists()
