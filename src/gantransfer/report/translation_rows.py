"""The report's figure for image-to-image translator runs: rows input | teacher | student (| ground truth) on the
same fixed held-out inputs, one column per input, instead of a noise-sample grid.

A run that trains or distils a translator calls ``save_translation_rows(run, rows)`` at its end with its named rows
(``[("input", x), ("teacher", t), ("student", s)]``, plus ``("ground truth", y)`` where the task is paired; a
pix2pix or CycleGAN run names its own, e.g. ``input | output | ground truth``). It writes
``report/translation_rows.png`` and ``report/translation_rows.json`` (the row names, the number of inputs and
where they come from); ``report.figures.run_figures`` shows them on the run's page, whatever the command.
"""
from __future__ import annotations

from pathlib import Path

import torch

from gantransfer.grid import save_image_grid
from gantransfer.image_space import convert_images
from gantransfer.io import read_json, write_json

IMAGE = "translation_rows.png"
RECORD = "translation_rows.json"
HEADING = "Translations of held-out inputs"
MAX_ROWS = 8


def save_translation_rows(run: str | Path, rows: list[tuple[str, torch.Tensor]],
                          inputs: str = "held-out inputs, never trained on") -> Path:
    """Write the named ``rows`` (each (N, C, H, W) in [-1, 1], the same N and size; channels may differ: every
    row is shown at the widest row's channel count) as ``run/report/translation_rows.png`` with its record;
    ``inputs`` says where the inputs come from. Returns the image's path."""
    if not rows or not 1 <= len(rows) <= MAX_ROWS:
        raise ValueError(f"between 1 and {MAX_ROWS} rows, got {len(rows)}")
    n, side = len(rows[0][1]), rows[0][1].shape[-1]
    channels = max(int(t.shape[1]) for _, t in rows)
    for name, t in rows:
        if t.dim() != 4 or len(t) != n or t.shape[-1] != side or t.shape[-2] != side:
            raise ValueError(f"row {name!r} is {tuple(t.shape)}; every row needs ({n}, C, {side}, {side})")
    grid = torch.cat([convert_images(t.detach().float().cpu(), side, channels) for _, t in rows])
    folder = Path(run) / "report"
    folder.mkdir(parents=True, exist_ok=True)
    path = save_image_grid(grid, folder / IMAGE, nrow=n)
    write_json(folder / RECORD, {"rows": [name for name, _ in rows], "n": n, "size": side, "inputs": inputs})
    return path


def rows_record(run_path: Path) -> dict | None:
    """The run's rows record (row names, inputs) when it wrote one with its image; None otherwise or when the
    record is not what ``save_translation_rows`` writes."""
    folder = run_path / "report"
    if not (folder / IMAGE).is_file() or not (folder / RECORD).is_file():
        return None
    try:
        record = read_json(folder / RECORD)
    except Exception:  # noqa: BLE001 - a damaged record: the report leaves the figure out
        return None
    rows = record.get("rows") if isinstance(record, dict) else None
    if not (isinstance(rows, list) and rows and all(isinstance(r, str) for r in rows)
            and isinstance(record.get("n"), int)):
        return None
    return record


def rows_caption(record: dict) -> str:
    """What the rows show, in words: ``rows: input | teacher | student, on 8 held-out inputs, never trained on``."""
    return (f"rows: {' | '.join(record['rows'])}, on {record['n']} "
            f"{record.get('inputs') if isinstance(record.get('inputs'), str) else 'inputs'}")
