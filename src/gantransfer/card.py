"""Model cards: the ``README.md`` of a generator directory, in the format model hubs read.

YAML front matter (library name, license, tags, data set, a ``model-index`` with every figure, its protocol and
sample count), then what the model is, how it was made, its teacher(s), its costs against them, and how to load
it with and without gantransfer. Everything comes from the directory's own files (config.json, and run.json and
eval.json of the run holding it); each field is treated as hostile: its type is checked, and every string is
escaped for YAML (JSON-quoted) and for Markdown. It uses no torch itself: parameter counts come from the
safetensors headers.
"""
from __future__ import annotations

import json
import math
import re
import shlex
import struct
from pathlib import Path
from typing import Any, Iterator

from gantransfer.errors import CheckpointError
from gantransfer.io import atomic_write, read_json

CARD_NAME = "README.md"
MAX_HEADER = 100 * 1024 * 1024  # a safetensors header larger than this is not one we wrote
MAX_JSON_BYTES = 64 * 2 ** 20  # config.json, run.json, eval.json
MAX_FIGURES = 200               # figures listed in a card (a hostile eval.json could hold millions)
# A protocol figure's key: metric/protocol/samples[/detail], e.g. fid/fashion-mnist-classifier-v1/10k
FIGURE_KEY = re.compile(r"^([a-z][a-z0-9_]*)/([A-Za-z0-9][A-Za-z0-9._-]*)/(\d+)(k?)(?:/([A-Za-z0-9._-]+))?$")
# the built-in data sets: (hub data set id, license of the images, which the weights inherit)
DATASETS = {"fashion-mnist": ("zalando-datasets/fashion_mnist", "mit"), "mnist-5k": ("ylecun/mnist", "cc-by-sa-3.0"),
            "digits": ("", "cc-by-4.0"), "ring8": ("", "mit"), "grid25": ("", "mit")}
TASK_TAGS = {"train": "gan", "distill": "knowledge-distillation", "fuse": "model-fusion",
             "adapt": "few-shot-adaptation", "baseline": "model-fusion", "extend": "continual-learning",
             "import": "imported", "export": "onnx"}


def _text(value: Any, limit: int = 300) -> str:
    """A hostile value as one line of plain text ('' unless a str, int or float), at most ``limit`` characters."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return ""
    s = " ".join(str(value).split())
    return s if len(s) <= limit else s[:limit - 3] + "..."


def md(value: Any, limit: int = 300) -> str:
    """``value`` as Markdown text that renders as written: no markup, links, HTML or table breaks survive."""
    s = _text(value, limit).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_\[\]|~])", r"\\\1", s)


def yaml_str(value: Any) -> str:
    """A YAML double-quoted scalar (a JSON string is one)."""
    return json.dumps(_text(value), ensure_ascii=True)


def fenced(code: str, lang: str = "") -> str:
    """``code`` in a fence longer than any backtick run inside it (so it cannot close the block)."""
    run = max((len(m) for m in re.findall(r"`+", code)), default=0)
    fence = "`" * max(3, run + 1)
    return f"{fence}{lang}\n{code}\n{fence}"


def yaml_float(value: float) -> str:
    """A finite float as a YAML float that YAML 1.1 readers also parse as one (``1e-05`` -> ``1.0e-05``)."""
    s = repr(float(value))
    mantissa, _, exponent = s.partition("e")
    return f"{mantissa}.0e{exponent}" if exponent and "." not in mantissa else s


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _read(path: Path, what: str) -> dict:
    """A JSON object file, or {} when missing; CheckpointError (naming the file) when corrupt."""
    if not path.is_file():
        return {}
    if path.stat().st_size > MAX_JSON_BYTES:
        raise CheckpointError(f"{what} {path} is over {MAX_JSON_BYTES:,} bytes, more than gantransfer writes; "
                              "remove it or restore the original")
    try:
        return _dict(read_json(path, what))
    except RecursionError:
        raise CheckpointError(f"{what} {path} is nested too deeply to be a file gantransfer wrote") from None


def tensor_count(path: Path) -> int | None:
    """Number of values in a safetensors file, from its header alone; None if missing or not well formed."""
    try:
        with open(path, "rb") as f:
            raw = f.read(8)
            if len(raw) != 8:
                return None
            (size,) = struct.unpack("<Q", raw)
            if size > MAX_HEADER:
                return None
            header = json.loads(f.read(size))
    except (OSError, ValueError):
        return None
    total = 0
    for name, entry in _dict(header).items():
        if name == "__metadata__":
            continue
        shape = _dict(entry).get("shape")
        if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                                  for d in shape):
            return None
        total += math.prod(shape)
    return total


def figures(tree: Any, section: str = "", depth: int = 0) -> Iterator[tuple[str, str, str, str, int, str, float]]:
    """(section, key, metric, protocol, samples, detail, value) of every protocol figure in a JSON tree."""
    if depth > 6:
        return
    for k, v in _dict(tree).items():
        if not isinstance(k, str):
            continue
        m = FIGURE_KEY.match(k)
        value = _num(v)
        if m and value is not None:
            n = int(m.group(3)) * (1000 if m.group(4) else 1)
            yield section, k, m.group(1), m.group(2), n, m.group(5) or "", value
        elif isinstance(v, dict):
            yield from figures(v, f"{section}.{k}" if section else k, depth + 1)


def _is_teacher(section: str) -> bool:
    return "teacher" in section.lower() or "source" in section.lower() or "base" in section.split(".")[-1:]


def _teachers(record: dict, config: dict, meta: dict) -> list[str]:
    found: list[str] = []
    for src in (record, config, meta):
        for key in ("teacher", "teachers", "sources", "base"):
            v = src.get(key)
            for item in (v if isinstance(v, list) else [v]):
                t = _text(item)
                if t and t not in found:
                    found.append(t)
    return found[:16]


def _teacher_dir(teacher: str, gen_dir: Path) -> Path | None:
    """The generator directory a teacher string names, when it is one on this machine."""
    for base in (Path(teacher), gen_dir.parent.parent / teacher):
        for d in (base, base / "generator"):
            try:
                if (d / "config.json").is_file() and (d / "model.safetensors").is_file():
                    return d
            except OSError:
                continue
    return None


def resolve_dir(path: str | Path) -> Path:
    """A generator directory itself, or the ``generator/`` of a run directory; CheckpointError otherwise."""
    p = Path(path)
    for d in (p, p / "generator"):
        if (d / "config.json").is_file():
            return d
    raise CheckpointError(f"{p} is not a generator directory (no config.json, nor generator/config.json); give "
                          "a folder written by gantransfer")


def card_inputs(gen_dir: str | Path) -> dict[str, Any]:
    """Everything a card shows, read from ``gen_dir`` (and the run holding it): config, run record, evaluation."""
    d = resolve_dir(gen_dir)
    config = _read(d / "config.json", "generator config")
    if config.get("kind") != "generator":
        raise CheckpointError(f"{d / 'config.json'} is not a gantransfer generator config (no \"kind\": "
                              "\"generator\"); give a generator directory or a run directory")
    run = d.parent if d.name == "generator" and (d.parent / "run.json").is_file() else None
    record = _read(run / "run.json", "run record") if run else {}
    evaluation = _read(run / "eval.json", "evaluation") if run else {}
    meta = _dict(config.get("meta"))
    return {"dir": d, "run": run, "config": config, "meta": meta, "record": record,
            "run_config": _dict(record.get("config")), "evaluation": evaluation}


def _dataset(inp: dict) -> str:
    return _text(inp["config"].get("dataset")) or _text(inp["run_config"].get("data")) or ""


def _command(inp: dict) -> str:
    if _text(inp["record"].get("command"), 40):
        return _text(inp["record"].get("command"), 40)
    return "import" if _text(inp["meta"].get("imported_from")) else ""


def front_matter(inp: dict, name: str, extra_tags: list[str] = ()) -> str:
    """The YAML header: library, license, tags, data set and a model-index of every figure of this model."""
    cfg, dataset, command = inp["config"], _dataset(inp), _command(inp)
    hub_id, license_ = DATASETS.get(dataset, ("", "other"))
    conditional = isinstance(cfg.get("num_classes"), int) and cfg["num_classes"] > 0
    task = "image-generation" if _text(cfg.get("arch")) != "mlp" else "other"
    tags = ["gantransfer", "gan", _text(cfg.get("arch"), 40), "class-conditional" if conditional else "unconditional",
            TASK_TAGS.get(command, ""), *extra_tags]
    lines = ["---", "library_name: gantransfer", f"license: {license_}"]
    if license_ == "other":
        lines += ["license_name: same-as-training-data"]
    lines += ["tags:"] + [f"- {yaml_str(t)}" for t in dict.fromkeys(t for t in tags if t)]
    if dataset:
        lines += ["datasets:", f"- {yaml_str(hub_id or dataset)}"]
    own = [f for f in figures({"eval": inp["evaluation"], "meta": inp["meta"].get("evaluation")})
           if not _is_teacher(f[0])][:MAX_FIGURES]
    if own:
        lines += ["model-index:", f"- name: {yaml_str(name)}", "  results:", "  - task:",
                  f"      type: {task}", "      name: Image generation", "    dataset:",
                  f"      name: {yaml_str(dataset or 'unknown')}",
                  f"      type: {yaml_str(hub_id or dataset or 'unknown')}",
                  "      split: test", "    metrics:"]
        for _section, key, metric, protocol, n, detail, value in own:
            lines += [f"    - type: {yaml_str(metric)}", f"      name: {yaml_str(key)}",
                      f"      value: {yaml_float(value)}",
                      "      args:", f"        protocol: {yaml_str(protocol)}", f"        samples: {n}"]
            if detail:
                lines.append(f"        detail: {yaml_str(detail)}")
            lines.append("      verified: false")
    lines.append("---")
    return "\n".join(lines)


def _figure_table(inp: dict) -> list[str]:
    rows = list(figures({"eval": inp["evaluation"], "meta": inp["meta"].get("evaluation")}))[:MAX_FIGURES]
    if not rows:
        return ["No figure yet: evaluate it with `gantransfer eval DIR --out eval.json`, then "
                "`gantransfer card DIR` (in a run directory the card reads its eval.json)."]
    out = ["| whose | metric | protocol | samples | value |", "|---|---|---|---:|---:|"]
    for section, _key, metric, protocol, n, detail, value in rows:
        whose = "teacher" if _is_teacher(section) else "this model"
        where = section.split(".", 1)[-1] if "." in section else ""
        out.append(f"| {md(whose)}{' (' + md(where) + ')' if where else ''} | {md(metric)}"
                   f"{' ' + md(detail) if detail else ''} | {md(protocol)} | {n:,} | {value:.4g} |")
    return out


def _costs(inp: dict, teachers: list[str]) -> list[str]:
    d = inp["dir"]
    mine = tensor_count(d / "model.safetensors")
    out = []
    if mine is not None:
        out.append(f"- parameters: {mine:,}")
    cost = _dict(_dict(inp["evaluation"].get("cost")) or _dict(_dict(inp["meta"].get("evaluation")).get("cost")))
    for key, label in (("params_reduction", "fewer parameters than the teacher"),
                       ("macs_reduction", "fewer multiply-accumulates per image than the teacher")):
        v = _num(cost.get(key))
        if v is not None:
            out.append(f"- {v:.3g}x {label}")
    for t in teachers:
        td = _teacher_dir(t, d)
        theirs = tensor_count(td / "model.safetensors") if td else None
        if theirs and mine:
            out.append(f"- against teacher {md(t)}: {theirs:,} parameters, {theirs / mine:.3g}x this model's")
    training = _dict(inp["meta"].get("training"))
    seconds = _num(training.get("wall_seconds"))
    if seconds is not None:
        out.append(f"- training: {seconds / 60:.1f} min ({md(training.get('hardware'))})")
    steps = inp["meta"].get("train_steps")
    if isinstance(steps, int) and not isinstance(steps, bool):
        out.append(f"- training steps: {steps:,}")
    return out or ["- not recorded"]


def _made_by(inp: dict) -> str:
    """The command line that made the model, from the run record (or the shipped asset's own record)."""
    shipped = _text(_dict(inp["meta"].get("training")).get("command"), 2000)
    if shipped:
        return shipped
    if inp["run"] is not None:
        from gantransfer.report.runs import Run, reproduce_command  # the report's own reproduction
        try:
            return reproduce_command(Run(inp["run"], _command(inp), inp["run_config"], inp["record"], None))
        except Exception:  # noqa: BLE001 - a hostile or older run record: say what is known instead
            pass
    source = _text(inp["meta"].get("imported_from"), 1000)
    if source:
        return shlex.join(["gantransfer", "import", source, "--out", inp["dir"].parent.name or "."])
    command = _command(inp)
    return f"gantransfer {command} ..." if command else ""


def _loading(conditional: bool, onnx: str | None, script: str | None, exported_name: str,
             dataset: str) -> list[str]:
    """How to load the model: a generator directory (``onnx`` None) or an exported file and its sampler."""
    install = "Install gantransfer's wheel (`pip install gantransfer-0.1.0-py3-none-any.whl`), then:"
    if onnx:
        with_gt = fenced(f"gantransfer sample {shlex.quote(onnx)} --n 16 --out samples.png\n"
                         f"gantransfer eval {shlex.quote(onnx)} --data {shlex.quote(dataset or 'DATASET')}", "bash")
        without = [f"{md(onnx)} runs on onnxruntime alone (input `z`, and `label` when conditional; output "
                   "`image`; value range, class count and sample shape in its metadata)."
                   + (f" {md(script)} is a standalone sampler that needs only onnxruntime and numpy:" if script
                      else " Write a sampler in a few lines, or re-export with `--with-example` for one:"), "",
                   fenced("pip install onnxruntime numpy\n"
                          + (f"python {shlex.quote(script)} --n 16 --seed 0 --out samples.png" if script else
                             f"python -c \"import onnxruntime; print(onnxruntime.InferenceSession("
                             f"{json.dumps(onnx)}).get_inputs())\""), "bash")]
    else:
        labels = ", labels=torch.arange(8) % cfg.num_classes" if conditional else ""
        with_gt = fenced("import gantransfer, torch\n"
                         "g, cfg = gantransfer.load(\"path/to/this/folder\")  # config.json + model.safetensors, "
                         "no pickle\n"
                         f"x, y = gantransfer.generate(g, cfg, 8, seed=0{labels})  # values in cfg.data_range",
                         "python")
        without = ["Export it once with gantransfer; the ONNX file and its standalone sampling script then need "
                   "only onnxruntime and numpy:", "",
                   fenced(f"gantransfer export path/to/this/folder --format onnx --out {exported_name}.onnx "
                          f"--with-example\npip install onnxruntime numpy\n"
                          f"python {exported_name}_sample.py --n 16 --out samples.png", "bash")]
    return ["### With gantransfer", "", install, "", with_gt, "", "### Without gantransfer (ONNX)", "", *without]


def render_card(gen_dir: str | Path, name: str | None = None, onnx: str | None = None,
                script: str | None = None) -> str:
    """The model card of generator directory ``gen_dir`` (``onnx``/``script``: an exported file and its sampler
    lying beside the card)."""
    inp = card_inputs(gen_dir)
    cfg, meta = inp["config"], inp["meta"]
    d = inp["dir"]
    name = name or (d.parent.name if d.name == "generator" else d.name) or "generator"
    teachers = _teachers(inp["record"], inp["run_config"], meta)
    conditional = isinstance(cfg.get("num_classes"), int) and not isinstance(cfg["num_classes"], bool) \
        and cfg["num_classes"] > 0
    classes = [md(c, 40) for c in cfg.get("class_names") or [] if isinstance(c, str)][:100] if conditional else []
    res, ch = cfg.get("resolution"), cfg.get("channels")
    shape = f"{res}x{res}, {ch} channel(s)" if isinstance(res, int) and isinstance(ch, int) else "points"
    dataset = _dataset(inp)
    sizes = ", ".join(f"{label} {md(cfg.get(key), 20)}" for key, label in (("width", "width"),
                                                                           ("latent_dim", "latent size"))
                      if _text(cfg.get(key)))
    value_range = cfg.get("data_range")
    value_range = [_num(v) for v in value_range] if isinstance(value_range, list) and len(value_range) == 2 else []
    what = (f"{'A class-conditional' if conditional else 'An unconditional'} **{md(cfg.get('arch'), 40)}** generator"
            f"{f' ({sizes})' if sizes else ''} producing {md(shape)}{' of ' + md(dataset) if dataset else ''}"
            + (f", values in [{value_range[0]:g}, {value_range[1]:g}]." if None not in value_range and value_range
               else "."))
    lines = [front_matter(inp, name, ["onnx"] if onnx else []), "", f"# {md(name)}", "", what]
    if classes:
        lines += ["", f"Classes ({len(classes)}): {', '.join(classes)}."]
    made = _made_by(inp)
    lines += ["", "## How it was made", ""]
    lines += [fenced(made, "bash")] if made else ["Not recorded."]
    source = _text(meta.get("imported_from"))
    none = f"None: imported from {md(source)}." if source else "None: trained from data."
    lines += ["", "## Teachers", ""] + ([f"- {md(t)}" for t in teachers] or [none])
    lines += ["", "## Figures", "", "Each figure with its protocol (feature network and version) and sample count; "
              "figures are comparable only within one protocol.", ""] + _figure_table(inp)
    warnings = [md(w) for w in inp["evaluation"].get("warnings") or [] if isinstance(w, str)][:10]
    lines += ["", *(f"- warning: {w}" for w in warnings)] if warnings else []
    lines += ["", "## Costs", ""] + _costs(inp, teachers)
    lines += ["", "## How to load it", ""] + _loading(conditional, onnx, script, "model", dataset)
    if onnx:
        lines += ["", f"Files: {md(onnx)} (the exported generator, checked against the PyTorch one before it was "
                  f"written){f', {md(script)} (the sampler)' if script else ''}; written by `gantransfer export`.", ""]
    else:
        lines += ["", "Files: `config.json` (architecture, sizes, classes, data range), `model.safetensors` "
                  "(weights); rewrite this card with `gantransfer card DIR`.", ""]
    return "\n".join(lines)


def write_card(gen_dir: str | Path, out: str | Path | None = None, **kw: Any) -> Path:
    """Write the card of ``gen_dir`` to ``out`` (default: its README.md), atomically."""
    path = Path(out) if out is not None else resolve_dir(gen_dir) / CARD_NAME
    text = render_card(gen_dir, **kw)

    def write(tmp: str) -> None:
        Path(tmp).write_text(text, encoding="utf-8")
    atomic_write(path, write)
    return path
