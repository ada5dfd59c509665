"""``gantransfer dataset export``: any data set gantransfer reads (built-in or a folder), written as a StyleGAN2-ADA
dataset_tool zip. Apart from ``ada_layout`` (which ``data/registry.py`` reads zips with), so that no import runs in
a circle."""
from __future__ import annotations

from pathlib import Path

from gantransfer.data.ada_layout import check_zip_out, write_ada_zip
from gantransfer.data.registry import load_dataset
from gantransfer.errors import DataError


def export_dataset(name: str, out: str | Path, split: str = "train", overwrite: bool = False,
                   resolution: int | None = None, limit: int | None = None) -> dict:
    """Write a data set (built-in or folder) as a dataset_tool zip: its images at the resolution gantransfer
    trains on (or ``resolution``) and its classes as labels. Returns what was written."""
    p = check_zip_out(out, overwrite)
    data = load_dataset(name, split, resolution=resolution, limit=limit)
    if data.kind != "image":
        raise DataError(f"{name} is a data set of 2-D points, not images: dataset_tool zips hold images")
    labelled = len(data.class_names) > 1
    n = write_ada_zip(p, data.x, data.y if labelled else None)
    return {"out": str(p), "images": n, "resolution": int(data.x.shape[-1]), "channels": int(data.x.shape[1]),
            "classes": data.class_names if labelled else [], "split": split}
