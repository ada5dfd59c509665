"""Inception-v3 FID features from a user's weights file: parity with torch-fidelity's extractor on a weights file
of random values in the 2015-12-05 layout, the TF1 resize, and clear errors for wrong files."""
import importlib
import os
import sys
import types
from pathlib import Path

import pytest
import torch

from gantransfer.errors import CheckpointError
from gantransfer.metrics.inception import InceptionV3, inception_features, load_inception, tf1_resize_bilinear


def random_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict in the FID layout with random values scaled so activations stay O(1) through every block."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for k, v in InceptionV3().state_dict().items():
        if k.endswith("num_batches_tracked"):
            state[k] = v
        elif v.dim() == 4:  # conv: He-normal
            state[k] = torch.randn(v.shape, generator=g) * (2.0 / v[0].numel()) ** 0.5
        elif k.endswith("running_var") or k.endswith("bn.weight"):
            state[k] = 0.8 + 0.4 * torch.rand(v.shape, generator=g)
        else:  # bn bias and running mean, fc
            state[k] = 0.1 * torch.randn(v.shape, generator=g)
    return state


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    d = tmp_path_factory.mktemp("inception")
    state = random_state()
    torch.save(state, d / "pt_inception-random.pth")
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in state.items()}, str(d / "pt_inception-random.safetensors"))
    return d / "pt_inception-random.pth", d / "pt_inception-random.safetensors"


# torch-fidelity is read from a folder off sys.path (CI: `pip install --no-deps --target build/torch-fidelity
# torch-fidelity==0.4.0`), never installed into the environment: installed, it makes torchmetrics import it, and its
# package __init__ imports torchvision, which this project does not have; `import torchmetrics` then fails.
TORCH_FIDELITY = Path(os.environ.get("GANTRANSFER_TORCH_FIDELITY",
                                     Path(__file__).resolve().parents[1] / "build" / "torch-fidelity"))


def torch_fidelity_extractor():
    """torch-fidelity's FeatureExtractorInceptionV3 class, its module imported alone from ``TORCH_FIDELITY``."""
    package = TORCH_FIDELITY / "torch_fidelity"
    if not (package / "feature_extractor_inceptionv3.py").is_file():
        pytest.skip(f"torch-fidelity is not in {TORCH_FIDELITY} (pip install --no-deps --target {TORCH_FIDELITY} "
                    "torch-fidelity==0.4.0)")
    saved = {k: v for k, v in sys.modules.items() if k == "torch_fidelity" or k.startswith("torch_fidelity.")}
    stub = types.ModuleType("torch_fidelity")  # the package without its __init__
    stub.__path__ = [str(package)]
    sys.modules["torch_fidelity"] = stub
    try:
        return importlib.import_module("torch_fidelity.feature_extractor_inceptionv3").FeatureExtractorInceptionV3
    finally:
        for k in [k for k in sys.modules if k == "torch_fidelity" or k.startswith("torch_fidelity.")]:
            del sys.modules[k]
        sys.modules.update(saved)


def test_features_equal_torch_fidelity(weights):
    torch.set_num_threads(2)
    pth, st = weights
    theirs = torch_fidelity_extractor()("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(pth))
    ours = load_inception(pth)
    g = torch.Generator().manual_seed(1)
    gray = torch.randint(0, 256, (1, 1, 28, 28), dtype=torch.uint8, generator=g)
    rgb = torch.randint(0, 256, (1, 3, 37, 53), dtype=torch.uint8, generator=g)
    with torch.inference_mode():
        ref_gray = theirs(gray.expand(-1, 3, -1, -1).contiguous())[0]
        ref_rgb = theirs(rgb)[0]
    mine_gray = inception_features(ours, gray)
    assert mine_gray.shape == (1, 2048)
    assert float(ref_gray.std()) > 0.05  # the random weights give non-degenerate features
    assert float((mine_gray - ref_gray).abs().max()) <= 1e-4
    assert float((inception_features(ours, rgb) - ref_rgb).abs().max()) <= 1e-4
    # the same weights as safetensors load to the same network
    other = load_inception(st).state_dict()
    assert all(torch.equal(v, other[k]) for k, v in ours.state_dict().items() if "num_batches" not in k)


def test_tf1_resize_samples_legacy_positions():
    x = torch.arange(4.0).view(1, 1, 1, 4).expand(1, 1, 2, 4)
    out = tf1_resize_bilinear(x, 8)  # position i * 4/8 = i/2; the last column clamps to the edge
    assert torch.allclose(out[0, 0, 0], torch.tensor([0, 0.5, 1, 1.5, 2, 2.5, 3, 3]))
    down = tf1_resize_bilinear(torch.arange(16.0).view(1, 1, 4, 4), 2)  # positions 0 and 2: no averaging
    assert torch.equal(down[0, 0], torch.tensor([[0.0, 2.0], [8.0, 10.0]]))


def test_float_images_refused():
    with pytest.raises(ValueError, match="uint8"):
        InceptionV3()(torch.zeros(1, 3, 32, 32))


def zero_state() -> dict[str, torch.Tensor]:
    return {k: torch.zeros(v.shape, dtype=v.dtype) for k, v in InceptionV3().state_dict().items()}


def test_bad_files_are_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist.*never does"):
        load_inception(tmp_path / "none.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="weights_only"):
        load_inception(junk)
    state = zero_state()
    del state["Mixed_7c.branch_pool.conv.weight"]
    state["AuxLogits.fc.weight"] = torch.zeros(3)
    torch.save(state, tmp_path / "layout.pth")
    with pytest.raises(CheckpointError, match=r"missing keys: Mixed_7c\.branch_pool\.conv\.weight; "
                                              r"unexpected keys: AuxLogits\.fc\.weight"):
        load_inception(tmp_path / "layout.pth")
    state = zero_state()
    state["fc.weight"] = torch.zeros(1000, 2048)  # torchvision's ImageNet head, not the FID graph's 1008
    torch.save(state, tmp_path / "shape.pth")
    with pytest.raises(CheckpointError, match=r"fc\.weight \(1000, 2048\) \(expected \(1008, 2048\)\)"):
        load_inception(tmp_path / "shape.pth")
