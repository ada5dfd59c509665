"""Train the feature classifier of a built-in data set and write it, with the reference features of the
real test split, to src/gantransfer/assets/classifiers/<data set>/.

    python scripts/make_classifier.py --data fashion-mnist --epochs 8
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
from gantransfer.metrics.classifier import (ClassifierConfig, FeatureClassifier, classifier_dir, extract,
                                            reference_path, save_classifier)
from gantransfer.metrics.fid import gaussian_stats


def shift_augment(x: torch.Tensor, rng: torch.Generator, pad: int = 2) -> torch.Tensor:
    """Random translations by up to ``pad`` pixels (background -1) and horizontal flips."""
    n, _, h, w = x.shape
    padded = F.pad(x, (pad,) * 4, value=-1.0)
    dx, dy = torch.randint(0, 2 * pad + 1, (2,), generator=rng).tolist()
    out = padded[:, :, dy:dy + h, dx:dx + w]
    flip = torch.rand(n, generator=rng) < 0.5
    return torch.where(flip[:, None, None, None], out.flip(-1), out)


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
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    train, test = load_dataset(args.data, "train"), load_dataset(args.data, "test")
    cfg = ClassifierConfig(dataset=args.data, num_classes=train.num_classes, resolution=train.sample_shape[-1],
                           channels=train.sample_shape[0])
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
                           + (" --flip" if args.flip else "")}
    model.cfg = cfg
    save_classifier(model, classifier_dir(args.data))
    write_tensors(reference_path(args.data), {"features": feats.half(), "labels": yte.to(torch.uint8),
                                              "mu": mu, "sigma": sigma})
    print(f"test accuracy {acc:.4f}; wrote {classifier_dir(args.data)}")


if __name__ == "__main__":
    main()
