"""Import parity of pix2pix/CycleGAN generators at their real size (ngf 64): resnet_6blocks, resnet_9blocks,
unet_128 and unet_256, each with instance and batch norm.

The reference is tests/junyanz_reference.py, a layer-for-layer restatement of that code base's networks with its
state-dict keys, written apart from gantransfer's translator modules. Each reference gets seeded random weights
and batch-norm statistics, is saved with ``torch.save(state_dict)`` as the code base does, imported by
``gantransfer.models.translator_import.import_translator`` (architecture read off the file) and run on the same
random inputs in eval mode; the JSON records the detected layout and the max abs difference of the outputs.

    python benchmarks/translators_parity.py --out benchmarks/results/translators_parity.json --threads 1
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch
from harness import Stopwatch, write_results

HERE = Path(__file__).resolve().parent
CASES = [("resnet_6blocks", 128), ("resnet_9blocks", 128), ("unet_128", 128), ("unet_256", 256)]  # (arch, side)
NORMS = ("instance", "batch")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--images", type=int, default=2, help="random input images per case")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(HERE.parent / "tests"))
    from junyanz_reference import RefResnetGenerator, RefUnetGenerator, randomise
    from gantransfer.models.translator_import import import_translator
    rows = []
    for name, side in CASES:
        for norm in NORMS:
            if name.startswith("resnet"):
                ref = RefResnetGenerator(3, 3, 64, norm, False, int(name.split("_")[1][0]))
            else:
                ref = RefUnetGenerator(3, 3, {"unet_128": 7, "unet_256": 8}[name], 64, norm, False)
            ref = randomise(ref, seed=len(rows))
            x = torch.rand(args.images, 3, side, side, generator=torch.Generator().manual_seed(len(rows))) * 2 - 1
            with tempfile.TemporaryDirectory() as d:
                path = Path(d) / "latest_net_G.pth"
                torch.save(ref.state_dict(), path)
                with Stopwatch("cpu") as cpu:
                    g, cfg = import_translator(path)
            with torch.no_grad():
                want, got = ref(x), g(x)
            rows.append({"arch": name, "norm": norm, "side": side, "images": args.images,
                         "detected": cfg.meta["junyanz_arch"], "detected_norm": cfg.options.norm,
                         "params": sum(t.numel() for t in g.parameters()),
                         "max_abs_difference": (got - want).abs().max().item(),
                         "output_std": want.std().item(), "import_cpu_s": round(cpu.seconds, 3)})
            print(f"{name} {norm}: {rows[-1]['max_abs_difference']:.2e}", file=sys.stderr)
    result = {"command": f"python benchmarks/translators_parity.py --out {args.out} --threads {args.threads}",
              "torch": torch.__version__, "threads": args.threads, "cases": rows,
              "worst_max_abs_difference": max(r["max_abs_difference"] for r in rows)}
    write_results(args.out, result)


if __name__ == "__main__":
    main()
