"""What an export hands to people without gantransfer: a model card beside the exported file, and (``export
--with-example``) a standalone sampling script that needs only onnxruntime and numpy (``onnx_sampler.py``, copied
with the exported file's name filled in)."""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from gantransfer.card import CARD_NAME, render_card
from gantransfer.errors import ConfigError
from gantransfer.io import atomic_write

EXPORT_MARKER = "<!-- gantransfer export card -->"  # a README.md carrying it is ours to replace
MODEL_LINE = 'MODEL = "model.onnx"  # the exported file beside this script'


def example_path(out: str | Path) -> Path:
    """The sampling script written beside ``out`` (student.onnx -> student_sample.py)."""
    out = Path(out)
    return out.with_name(f"{out.stem}_sample.py")


def card_path(out: str | Path) -> Path:
    """README.md beside ``out``, unless a README.md that gantransfer did not write is there: then ``<stem>.md``."""
    out = Path(out)
    readme = out.with_name(CARD_NAME)
    try:
        ours = not readme.exists() or EXPORT_MARKER in readme.read_text(encoding="utf-8", errors="replace")
    except OSError:
        ours = False
    return readme if ours else out.with_suffix(".md")


def check_example(out: str | Path, fmt: str, with_example: bool, overwrite: bool) -> None:
    """ConfigError before any work when ``--with-example`` cannot be honoured."""
    if not with_example:
        return
    if fmt != "onnx":
        raise ConfigError("--with-example applies to --format onnx only (the script runs on onnxruntime)")
    script = example_path(out)
    if script.exists() and not overwrite:
        raise ConfigError(f"{script} already exists (the --with-example script of {Path(out).name}); pass "
                          "--overwrite to replace it or choose another --out")


def sampler_source(model_name: str) -> str:
    """The standalone sampler's source with ``model_name`` as its default model."""
    text = resources.files("gantransfer.deploy").joinpath("onnx_sampler.py").read_text(encoding="utf-8")
    if text.count(MODEL_LINE) != 1:
        raise RuntimeError("gantransfer/deploy/onnx_sampler.py lost its MODEL line")
    return text.replace(MODEL_LINE, f"MODEL = {json.dumps(model_name)}  # the exported file beside this script")


def _write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def write_handoff(source: str | Path, out: str | Path, fmt: str, with_example: bool) -> dict[str, str]:
    """Write the card (and the example script) beside the exported file ``out``; returns their paths."""
    out = Path(out)
    written: dict[str, str] = {}
    script = None
    if with_example:
        script = example_path(out)
        _write_text(script, sampler_source(out.name))
        written["example"] = str(script)
    card = card_path(out)
    text = render_card(source, name=out.stem, onnx=out.name if fmt == "onnx" else None,
                       script=script.name if script else None)
    _write_text(card, f"{text}\n{EXPORT_MARKER}\n")
    written["card"] = str(card)
    return written
