"""Train the feature classifier of a built-in data set and write it, with the reference features of the
real test split, to src/gantransfer/assets/classifiers/<data set>/ (``--role judge``: the second, independent
protocol's network, to assets/judges/<data set>/; ``--role perceptual``: the perceptual loss's network, which no
protocol uses, to assets/perceptual/<data set>/).

    python scripts/make_classifier.py --data fashion-mnist --epochs 8
    python scripts/make_classifier.py --data fashion-mnist --role judge --arch resnet --widths 24,48,96,128 \
        --epochs 6 --seed 1 --augment shift-erase --flip
"""
from __future__ import annotations

import argparse
import math
import platform
import time

import torch
import torch.nn.functional as F

from gantransfer.data import load_dataset
from gantransfer.io import write_tensors
from gantransfer.metrics.classifier import (ARCHS, ROLES, ClassifierConfig, FeatureClassifier, classifier_dir,
                                            extract, reference_path, save_classifier)
from gantransfer.metrics.fid import gaussian_stats


def shift_augment(x: torch.Tensor, rng: torch.Generator, pad: int = 2) -> torch.Tensor:
    """Random translations by up to ``pad`` pixels (background -1) and horizontal flips."""
    n, _, h, w = x.shape
    padded = F.pad(x, (pad,) * 4, value=-1.0)
    dx, dy = torch.randint(0, 2 * pad + 1, (2,), generator=rng).tolist()
    out = padded[:, :, dy:dy + h, dx:dx + w]
    flip = torch.rand(n, generator=rng) < 0.5
    return torch.where(flip[:, None, None, None], out.flip(-1), out)


def erase_augment(x: torch.Tensor, rng: torch.Generator, size: int = 8) -> torch.Tensor:
    """Shifts by up to 3 pixels (as ``shift_augment``, without flips), then one random ``size`` square per image
    set to the background (-1) with probability 1/2 (cutout), then a random contrast factor in [0.8, 1.2]."""
    n, _, h, w = x.shape
    padded = F.pad(x, (3,) * 4, value=-1.0)
    dx, dy = torch.randint(0, 7, (2,), generator=rng).tolist()
    x = padded[:, :, dy:dy + h, dx:dx + w]
    s = max(2, size * h // 32)
    cy, cx = torch.randint(0, h - s + 1, (n,), generator=rng), torch.randint(0, w - s + 1, (n,), generator=rng)
    rows, cols = torch.arange(h)[None, :, None], torch.arange(w)[None, None, :]
    box = ((rows >= cy[:, None, None]) & (rows < cy[:, None, None] + s)
           & (cols >= cx[:, None, None]) & (cols < cx[:, None, None] + s))
    box &= (torch.rand(n, generator=rng) < 0.5)[:, None, None]
    x = torch.where(box[:, None], torch.full_like(x, -1.0), x)
    c = 0.8 + 0.4 * torch.rand(n, 1, 1, 1, generator=rng)
    return ((x + 1) * c - 1).clamp(-1, 1)


def flip(x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    keep = torch.rand(len(x), generator=rng) < 0.5
    return torch.where(keep[:, None, None, None], x, x.flip(-1))


def accuracy(model: FeatureClassifier, x: torch.Tensor, y: torch.Tensor) -> float:
    _, probs = extract(model, x)
    return float((probs.argmax(1) == y).float().mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="fashion-mnist")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--flip", action="store_true", help="also flip horizontally (not for digits)")
    ap.add_argument("--role", default="classifier", choices=sorted(ROLES), help="which network this is")
    ap.add_argument("--arch", default="vgg", choices=ARCHS)
    ap.add_argument("--widths", default="32,64,128,128")
    ap.add_argument("--augment", default="shift", choices=("shift", "shift-erase"),
                    help="shift: --flip enables shifts by 2 and flips (the first protocol's); shift-erase: shifts by "
                         "3, cutout and contrast always, flips with --flip")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    train, test = load_dataset(args.data, "train"), load_dataset(args.data, "test")
    cfg = ClassifierConfig(dataset=args.data, num_classes=train.num_classes, resolution=train.sample_shape[-1],
                           channels=train.sample_shape[0], widths=[int(w) for w in args.widths.split(",")],
                           arch=args.arch, role=args.role)
    model = FeatureClassifier(cfg)
    xtr, ytr, xte, yte = train.as_float(), train.y, test.as_float(), test.y
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=5e-4)
    steps = args.epochs * math.ceil(len(xtr) / args.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps)
    rng = torch.Generator().manual_seed(args.seed)
    t0 = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(xtr), generator=rng)
        for i in range(0, len(xtr), args.batch_size):
            idx = order[i:i + args.batch_size]
            if args.augment == "shift-erase":
                xb = erase_augment(xtr[idx], rng)
                xb = flip(xb, rng) if args.flip else xb
            else:
                xb = shift_augment(xtr[idx], rng) if args.flip else xtr[idx]
            loss = F.cross_entropy(model(xb), ytr[idx], label_smoothing=0.05)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        model.eval()
        print(f"epoch {epoch + 1}/{args.epochs}: loss {loss.item():.3f}, test accuracy {accuracy(model, xte, yte):.4f}, "
              f"{time.perf_counter() - t0:.0f}s", flush=True)
    model.eval()
    acc = accuracy(model, xte, yte)
    feats, _ = extract(model, xte)
    mu, sigma = gaussian_stats(feats)
    cfg.meta = {"test_accuracy": round(acc, 4), "class_names": list(train.class_names), "train_samples": len(xtr), "test_samples": len(xte),
                "epochs": args.epochs, "seed": args.seed, "train_seconds": round(time.perf_counter() - t0, 1),
                "hardware": f"{platform.machine()} CPU, {torch.get_num_threads()} threads, torch {torch.__version__}",
                "command": f"python scripts/make_classifier.py --data {args.data} --epochs {args.epochs} "
                           f"--batch-size {args.batch_size} --lr {args.lr} --seed {args.seed}"
                           + (" --flip" if args.flip else "")
                           + (f" --role {args.role} --arch {args.arch} --widths {args.widths} --augment {args.augment}"
                              if args.role != "classifier" else "")}
    model.cfg = cfg
    out = classifier_dir(args.data, args.role)
    save_classifier(model, out)
    if args.role != "perceptual":  # a protocol's reference; the perceptual network is no protocol and has none
        write_tensors(reference_path(args.data, args.role), {"features": feats.half(), "labels": yte.to(torch.uint8),
                                                             "mu": mu, "sigma": sigma})
    print(f"test accuracy {acc:.4f}; wrote {out}")


if __name__ == "__main__":
    main()
