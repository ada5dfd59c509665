"""The protocol of a translation task: how well a translator (or any function of images) turns the task's test
inputs into the target domain.

- ``fid/<protocol>/<n>``: FID between the protocol network's features of the translated test inputs and of the
  target domain's real test images, for each protocol network of the task's data set (built-in tasks:
  ``fashion-mnist-classifier-v1`` and the independent ``fashion-mnist-judge-v1``);
- ``class_kept/<protocol>``: the share of translated images that network assigns to the class of the item they
  were made from (the built-in tasks keep the item: an edge map of a shoe must become a shoe), beside
  ``class_of_real_targets/<protocol>``, the same share for the target domain's real test images (its ceiling:
  the networks were trained on plain items and misname many striped ones);
- ``psnr/ground-truth``, ``ssim/ground-truth``, ``l1/ground-truth``: against the paired ground truth (paired tasks).

The test inputs and reference images are the task's fixed test split (the first ``n`` of each), so figures mean
the same thing run to run. A folder of the user's has no protocol network: it gets the ground-truth figures alone.
"""
from __future__ import annotations

from typing import Any, Callable

import torch

from gantransfer.data.paired import PairedData, UnpairedData
from gantransfer.errors import ConfigError, DataError
from gantransfer.image_space import convert_images
from gantransfer.metrics.classifier import extract
from gantransfer.metrics.fid import fid_from_features
from gantransfer.metrics.protocols import count_label, protocols_for
from gantransfer.metrics.translation import PairSums

DIRECTIONS = ("AtoB", "BtoA")
BATCH = 250  # images translated at once (figures do not depend on it: the translators are run in eval mode)


def test_split(data: PairedData | UnpairedData, direction: str
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """(test inputs, the target domain's real test images, the inputs' classes or None, the inputs' ground truth
    or None, the real target images' classes or None) of ``data`` in ``direction``."""
    if direction not in DIRECTIONS:
        raise ConfigError(f"direction must be AtoB or BtoA, got {direction!r}")
    ab = direction == "AtoB"
    if isinstance(data, PairedData):
        t = data.test
        x, y = (t.a, t.b) if ab else (t.b, t.a)
        return x, y, t.labels, y, t.labels
    src, dst = (data.test_a, data.test_b) if ab else (data.test_b, data.test_a)
    return src.images, dst.images, src.labels, None, dst.labels


@torch.inference_mode()
def translate_all(translate: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                  device: torch.device | str = "cpu") -> torch.Tensor:
    """``translate`` applied to ``x`` in fixed batches, float32 on the CPU, clamped to [-1, 1]."""
    out = [translate(x[i:i + BATCH].to(device)).float().cpu() for i in range(0, len(x), BATCH)]
    y = torch.cat(out).clamp_(-1, 1)
    if not torch.isfinite(y).all():
        raise DataError("the translator produced non-finite values on the task's test inputs")
    return y


def translation_figures(translate: Callable[[torch.Tensor], torch.Tensor], data: PairedData | UnpairedData,
                        direction: str = "AtoB", protocol_dataset: str | None = None, n: int | None = None,
                        device: torch.device | str = "cpu") -> dict[str, Any]:
    """Figures of ``translate`` (images in [-1, 1] -> images in [-1, 1]) on the first ``n`` test inputs of
    ``data`` in ``direction``: FID and class agreement under every protocol of ``protocol_dataset`` (None: none),
    and PSNR/SSIM/L1 against the ground truth when the task is paired."""
    x, ref, labels, truth, ref_labels = test_split(data, direction)
    count = min(len(x), n) if n else len(x)
    if count < 2:
        raise DataError(f"the test split of {data.source} holds {len(x)} input(s); at least 2 are needed")
    x = x[:count]
    out = translate_all(translate, x, device)
    if out.shape[0] != count or out.dim() != 4:
        raise DataError(f"the translator returned {tuple(out.shape)} for {count} test inputs")
    ref = ref[:count]
    metrics: dict[str, float] = {}
    protocols: dict[str, Any] = {}
    chosen = protocols_for(protocol_dataset) if protocol_dataset else []
    for p in chosen:
        net = p.network(device)
        r, c = net.cfg.resolution, net.cfg.channels
        f_out, probs = extract(net, convert_images(out, r, c))
        f_ref, ref_probs = extract(net, convert_images(ref.float(), r, c))
        metrics[f"fid/{p.name}/{count_label(count)}"] = fid_from_features(f_out, f_ref)
        if labels is not None:
            metrics[f"class_kept/{p.name}"] = float((probs.argmax(1) == labels[:count]).float().mean())
        if ref_labels is not None:  # the ceiling of class_kept: how often the network names real targets right
            metrics[f"class_of_real_targets/{p.name}"] = float(
                (ref_probs.argmax(1) == ref_labels[:count]).float().mean())
        protocols[p.name] = {"role": p.role, "network_test_accuracy": net.cfg.meta.get("test_accuracy"),
                             "reference_images": len(ref)}
    if truth is not None:
        sums = PairSums()
        target = truth[:count]
        if target.shape[1] != out.shape[1]:
            target = convert_images(target.float(), out.shape[-1], out.shape[1])
        sums.add(out, target)
        metrics.update({f"{k}/ground-truth": v for k, v in sums.means().items()})
    return {"dataset": data.source, "direction": direction, "n": count, "test_inputs": count,
            "protocol": chosen[0].name if chosen else None, "metrics": metrics, "protocols": protocols,
            "paired": truth is not None}


def evaluate_translation(source: str, g: Callable[[torch.Tensor], torch.Tensor], gcfg: Any, data_name: str | None,
                         direction: str | None = None, n: int | None = None, aligned: bool = False,
                         data_dir: str | None = None, device: torch.device | str = "cpu") -> dict[str, Any]:
    """``gantransfer eval TRANSLATOR --data TASK|DIR``: the figures of translator ``g`` (config ``gcfg``) on the
    test split of a built-in translation task (both protocols, and the ground truth when paired) or of a folder
    (the ground truth alone). The direction defaults to the one the translator records (else AtoB)."""
    from gantransfer.data.registry import DATASETS, load_translation_data
    from gantransfer.data.translation_tasks import TRANSLATION_TASKS, is_translation_task
    name = data_name or gcfg.dataset
    if name in DATASETS:
        tasks = ", ".join(t.name for t in TRANSLATION_TASKS)
        raise ConfigError(f"{source} is an image-to-image translator and {name} a data set of single images: "
                          f"evaluate it with --data TASK ({tasks}) or a folder of pairs, or on your own images with "
                          "--input DIR [--target DIR]")
    if not name:
        raise ConfigError(f"{source} records no translation data set: pass --data TASK (e.g. fmnist-edges) or a "
                          "folder with A/ B/ (paired) or trainA/ trainB/ testA/ testB/")
    if name in DATASETS:
        raise ConfigError(f"{source} is an image-to-image translator and {name} a data set of single images: give "
                          f"--data a translation task ({', '.join(TRANSLATION_TASKS.names())}) or a translation "
                          "folder, or --input DIR with --target DIR (ground truth) and/or --against TEACHER")
    direction = direction or gcfg.meta.get("translation", {}).get("direction", "AtoB")
    if direction not in DIRECTIONS:
        raise ConfigError(f"--direction must be AtoB or BtoA, got {direction!r}")
    cin, cout = gcfg.input_channels, gcfg.channels
    ca, cb = (cin, cout) if direction == "AtoB" else (cout, cin)
    data = load_translation_data(name, gcfg.resolution, aligned=aligned, channels_a=ca, channels_b=cb,
                                 data_dir=data_dir)
    protocol_dataset = TRANSLATION_TASKS.get(name).protocol_dataset if is_translation_task(name) else None
    if protocol_dataset is None and isinstance(data, UnpairedData):
        raise ConfigError(f"{name} is an unpaired folder: it has no ground truth and no protocol network, so there is "
                          "no figure to compute; evaluate on a built-in task (fmnist-stripes), or compare with a "
                          "teacher: eval STUDENT --against TEACHER --input DIR")
    result = translation_figures(g, data, direction, protocol_dataset, n, device)
    return {"generator": str(source), **result}
