"""A DCGAN written outside gantransfer, as a user would: its own module layout (named blocks, no
``forward_features``), loaded by ``distill --teacher-module user_dcgan:teacher`` with the shipped Fashion-MNIST
teacher's weights read into it (the same layers under other names), so that it draws what that teacher draws.

Used by ``benchmarks/module_teacher_taps.py`` (``benchmarks/`` on ``PYTHONPATH``).
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

WEIGHTS = (Path(__file__).resolve().parent.parent / "src" / "gantransfer" / "assets" / "teachers" / "fashion-mnist-dcgan"
           / "model.safetensors")
RENAME = {"main.0": "stem.0", "main.1": "stem.1", "main.3": "up8.0", "main.4": "up8.1", "main.6": "up16.0",
          "main.7": "up16.1", "main.9": "to_image.0"}


def up(c_in: int, c_out: int) -> nn.Sequential:
    """Double the size: transposed convolution, batch norm, ReLU."""
    return nn.Sequential(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


class UserDCGAN(nn.Module):
    """z (N, 100) -> 1 x 32 x 32 images in [-1, 1]: 4x4 x 256, 8x8 x 128, 16x16 x 64, then the image."""

    latent_dim = 100

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.ConvTranspose2d(100, 256, 4, 1, 0, bias=False), nn.BatchNorm2d(256), nn.ReLU())
        self.up8, self.up16 = up(256, 128), up(128, 64)
        self.to_image = nn.Sequential(nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.to_image(self.up16(self.up8(self.stem(z[:, :, None, None]))))


def teacher() -> nn.Module:
    """The user's DCGAN with the shipped teacher's weights, in eval mode."""
    from safetensors.torch import load_file
    state = {}
    for key, value in load_file(str(WEIGHTS)).items():
        prefix, _, rest = key.rpartition(".")
        state[f"{RENAME[prefix]}.{rest}"] = value
    net = UserDCGAN()
    net.load_state_dict(state)
    return net.eval()
