"""Import parity against the original StyleGAN2 code bases, run on CPU from a scratch checkout (never vendored).

    python benchmarks/stylegan2_parity.py --rosinality /tmp/sg2scratch/ros_cpu --nvlabs /tmp/sg2scratch/nv \
        --out benchmarks/results/stylegan2_parity.json

Each code base builds a random-init generator (and discriminator) at every size and channel multiplier; biases and
noise strengths are perturbed (they start at zero) so every path counts; rosinality's checkpoint is torch.save'd in
its converted layout (g_ema, latent_avg, g, d), NVlabs' networks are pickled as its training loop does (G, D, G_ema).
gantransfer imports the file and both sides render the same z with noise_mode const (rosinality:
randomize_noise=False), without and with truncation psi 0.5 around the stored latent_avg / w_avg.
"""
from __future__ import annotations

import argparse
import copy
import json
import pickle
import sys
import tempfile
from pathlib import Path

import torch

from harness import write_results

from gantransfer.models.importers import import_file


def perturb(named):
    with torch.no_grad():
        for n, p in named:
            if n.endswith(("noise.weight", "noise_strength", "bias")):
                p.add_(0.2 * torch.randn_like(p))


def rosinality_case(root: str, size: int, cm: int, tmp: Path) -> dict:
    sys.path.insert(0, root)
    from model import Discriminator, Generator  # the scratch checkout's own code
    torch.manual_seed(size + cm)
    g, d = Generator(size, 512, 8, channel_multiplier=cm).eval(), Discriminator(size, channel_multiplier=cm)
    perturb(list(g.named_parameters()) + list(d.named_parameters()))
    with torch.no_grad():
        lat = g.mean_latent(4096)
    path = tmp / f"rosinality-{size}-{cm}.pt"
    torch.save({"g_ema": g.state_dict(), "latent_avg": lat[0], "g": g.state_dict(), "d": d.state_dict()}, path)
    imp = import_file(path)
    z = torch.randn(4, 512, generator=torch.Generator().manual_seed(7))
    x = torch.randn(4, 3, size, size, generator=torch.Generator().manual_seed(8))
    with torch.no_grad():
        ref, _ = g([z], randomize_noise=False)
        ref_t, _ = g([z], randomize_noise=False, truncation=0.5, truncation_latent=lat)
        out, out_t = imp.generator(z, noise_mode="const"), imp.generator(z, truncation_psi=0.5, noise_mode="const")
        d_ref, d_out = d(x).squeeze(1), imp.discriminator(x)
    return {"code_base": "rosinality/stylegan2-pytorch", "size": size, "channel_multiplier": cm,
            "max_abs_diff": float((ref - out).abs().max()), "max_abs_diff_psi0.5": float((ref_t - out_t).abs().max()),
            "image_max_abs": float(ref.abs().max()), "discriminator_max_abs_diff": float((d_ref - d_out).abs().max()),
            "inferred_width": imp.config.width}


def nvlabs_case(root: str, size: int, cm: int, tmp: Path) -> dict:
    sys.path.insert(0, root)
    from training.networks import Discriminator, Generator
    torch.manual_seed(100 + size + cm)
    kw = dict(channel_base=16384 * cm, channel_max=512, num_fp16_res=4, conv_clamp=256)
    g = Generator(512, 0, 512, size, 3, mapping_kwargs=dict(num_layers=8), synthesis_kwargs=kw).eval()
    d = Discriminator(0, size, 3, **kw)
    perturb(g.named_parameters())
    with torch.no_grad():
        g.mapping.w_avg.copy_(0.3 * torch.randn(512))
    path = tmp / f"nvlabs-{size}-{cm}.pkl"
    with open(path, "wb") as fh:
        pickle.dump({"G": g, "D": d, "G_ema": copy.deepcopy(g), "augment_pipe": None}, fh)
    imp = import_file(path)
    z = torch.randn(4, 512, generator=torch.Generator().manual_seed(7))
    x = torch.randn(4, 3, size, size, generator=torch.Generator().manual_seed(8))
    c = torch.zeros(4, 0)
    with torch.no_grad():
        ref = g(z, c, noise_mode="const", force_fp32=True)
        ref_t = g(z, c, truncation_psi=0.5, noise_mode="const", force_fp32=True)
        out, out_t = imp.generator(z, noise_mode="const"), imp.generator(z, truncation_psi=0.5, noise_mode="const")
        d_ref, d_out = d(x, c, force_fp32=True).squeeze(1), imp.discriminator(x)
    return {"code_base": "NVlabs/stylegan2-ada-pytorch", "size": size, "channel_multiplier": cm,
            "max_abs_diff": float((ref - out).abs().max()), "max_abs_diff_psi0.5": float((ref_t - out_t).abs().max()),
            "image_max_abs": float(ref.abs().max()), "discriminator_max_abs_diff": float((d_ref - d_out).abs().max()),
            "inferred_width": imp.config.width, "notes": list(imp.notes)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rosinality", required=True)
    ap.add_argument("--nvlabs", required=True)
    ap.add_argument("--sizes", default="32,64,256")
    ap.add_argument("--out", default="benchmarks/results/stylegan2_parity.json")
    a = ap.parse_args()
    torch.set_num_threads(2)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for fn, root in ((rosinality_case, a.rosinality), (nvlabs_case, a.nvlabs)):
            for size in map(int, a.sizes.split(",")):
                for cm in (1, 2):
                    rows.append(fn(root, size, cm, Path(tmp)))
                    print(json.dumps({k: v for k, v in rows[-1].items() if k != "notes"}))
            sys.path.remove(root)
    write_results(a.out, {"method": __doc__.strip(), "torch": torch.__version__, "cases": rows})


if __name__ == "__main__":
    main()
