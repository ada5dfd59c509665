"""The PyTorch DCGAN checkpoint importer (loaded with ``weights_only=True``: no pickle code runs), registered as
the fallback of ``models/importers.py``: it reads what no other importer claims and says why it cannot.

PyTorch DCGAN example layout: ``main`` is an ``nn.Sequential`` of ConvTranspose2d / BatchNorm2d / ReLU blocks
ending in ConvTranspose2d + Tanh, the same indices as gantransfer's DCGAN generator, so keys map one to one.
Latent size, widths, channels and resolution are read from the tensor shapes.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from gantransfer.errors import CheckpointError
from gantransfer.models.dcgan import BASE_CHANNELS, channels_at
from gantransfer.models.config import GeneratorConfig, build_generator
from gantransfer.models.importers import Imported, Importer, register_importer

STATE_KEYS = ("netG_state_dict", "state_dict", "generator", "g", "G", "netG", "model")


def read_state_dict(path: str | Path, loaded: Any = None) -> dict[str, torch.Tensor]:
    """The generator state dict in a .pt/.pth/.tar file: bare, or under one of the usual keys. ``loaded``: the
    file's contents when a caller has already read them with the weights-only loader (not read again)."""
    p = Path(path)
    if loaded is not None:
        obj = loaded
    elif not p.is_file():
        raise CheckpointError(f"checkpoint {p} does not exist")
    else:
        try:
            obj = torch.load(p, map_location="cpu", weights_only=True)
        except Exception as e:  # unpickling refused, truncated file, not a torch file
            raise CheckpointError(f"{p} cannot be read as a weights-only PyTorch checkpoint "
                                  f"({str(e).splitlines()[0]}); save it with torch.save(model.state_dict(), path)"
                                  ) from None
    if isinstance(obj, dict) and not any(torch.is_tensor(v) for v in obj.values()):
        for key in STATE_KEYS:
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
        else:
            raise CheckpointError(f"{p} holds no generator state dict: top-level keys are {sorted(obj)[:12]}; "
                                  f"expected a bare state dict or one under {', '.join(STATE_KEYS)}")
    if not isinstance(obj, dict):
        raise CheckpointError(f"{p} holds a {type(obj).__name__}, not a state dict")
    return {k.removeprefix("module."): v for k, v in obj.items() if torch.is_tensor(v)}


def import_dcgan(path: str | Path, dataset: str = "", loaded: Any = None) -> tuple[torch.nn.Module, GeneratorConfig]:
    """A PyTorch-DCGAN-example generator checkpoint as a gantransfer generator (same outputs, eval mode);
    ``loaded``: the file's contents, when already read (see ``read_state_dict``)."""
    state = read_state_dict(path, loaded)
    convs = sorted((int(k.split(".")[1]), v) for k, v in state.items()
                   if k.startswith("main.") and k.endswith(".weight") and v.dim() == 4)
    if len(convs) < 3:
        found = ", ".join(sorted(state)[:12])
        raise CheckpointError(f"{path} is not a DCGAN generator (an nn.Sequential 'main' of ConvTranspose2d layers); "
                              f"keys found: {found}")
    latent_dim, first_out = convs[0][1].shape[:2]
    channels = convs[-1][1].shape[1]
    resolution = 4 * 2 ** (len(convs) - 1)
    width = first_out / channels_at(4, resolution, 1.0)
    cfg = GeneratorConfig(latent_dim=int(latent_dim), resolution=resolution, channels=int(channels), width=width,
                          dataset=dataset, meta={"imported_from": str(path), "format": "pytorch-dcgan-example"})
    try:
        cfg.validate()
        g = build_generator(cfg)
    except ValueError as e:
        raise CheckpointError(f"{path}: the DCGAN layout does not fit gantransfer's ({e})") from None
    expected = {k: v.shape for k, v in g.state_dict().items()}
    last_bias = f"main.{convs[-1][0]}.bias"
    if last_bias not in state and last_bias in expected:
        state[last_bias] = torch.zeros(expected[last_bias])
    mismatched = [f"{k}: {tuple(state[k].shape)} vs {tuple(s)}" for k, s in expected.items()
                  if k in state and state[k].shape != s]
    missing = sorted(set(expected) - set(state))
    if mismatched or missing:
        raise CheckpointError(f"{path}: the channel plan differs from gantransfer's DCGAN (base {BASE_CHANNELS}, "
                              f"halving per doubling): {'; '.join(mismatched[:4]) or 'missing ' + ', '.join(missing[:6])}")
    g.load_state_dict({k: state[k] for k in expected})
    return g.eval(), cfg


register_importer(Importer(
    "pytorch-dcgan", detect=lambda path, loaded: True,
    load=lambda path, dataset, loaded: Imported(*import_dcgan(path, dataset, loaded=loaded)), fallback=True,
    description="the PyTorch DCGAN example's generator (a bare state dict or one under the usual keys)"))
