"""The report's pages: one per run (what was run, grids, curves, every metric with its protocol, costs, the
command that reproduces it) and one comparing several runs (a sortable row per run, their grids side by side)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gantransfer.report.format import (MetricKey, better_of, label_of, number, parse_metric_key, ratio, seconds,
                                       si, words)
from gantransfer.report.html import Cell, esc, figure, figures, table
from gantransfer.report.runs import Run, reproduce_command, settings

# (path to the generator's metrics, path to the reference's, the generator's name, the reference's name)
COMPARISONS = [(("student",), ("teacher_metrics",), "student", "teacher"),
               (("union", "metrics"), ("teachers_mixture",), "student", "teachers' mixture")]
# Settings that change how a run is watched, not what it makes: left out of the comparison's differences.
COSMETIC = {"out", "progress", "device", "log_every", "sample_every", "checkpoint_every", "max_seconds", "on_nan",
            "eval_every"}
COST_HEADERS = {"params": "parameters", "macs": "MACs per sample", "latency_ms_batch1": "latency (ms, batch 1)",
                "throughput_per_s_batch256": "throughput (samples/s, batch 256)"}
MEMBER_WORDS = {"fresh": "new latents", "bank": "training latents (the bank)"}
TITLES = {"fid_ratio": "FID ratio (student / teacher) under each protocol",
          "teacher_relative": "Against the teacher, with no pretrained network",
          "two_sample": "Two-sample test (held-out accuracy; 0.5: indistinguishable)",
          "space": "Feature space learned from the teacher's samples"}
HEADLINE = ("fid", "kid", "precision", "recall", "density", "coverage")


@dataclass
class RunPage:
    """A run's page, and what the comparison page takes from it."""

    run: Run
    title: str
    intro: str
    sections: list[tuple[str, str, str]]
    metrics: dict[str, float]
    costs: dict[str, Any] | None
    groups: list[tuple[str, list[tuple[str, str, tuple[int, int], bool, int]]]] = field(default_factory=list)


def _get(d: Any, path: tuple[str, ...]) -> Any:
    for k in path:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, (int, float, str, bool))


def _num_cell(v: Any) -> Cell:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return Cell(number(v), v, "num")
    if v is None:
        return Cell("n/a", None, "num")
    if isinstance(v, list):
        return Cell(", ".join(number(x) for x in v))
    return Cell(number(v))


ARROWS = {"lower": " \u2193", "higher": " \u2191"}
LEGEND = "<p class=note>\u2193 lower is better, \u2191 higher is better.</p>"


def arrow(better: str | None) -> str:
    """`` ↓`` when lower is better, `` ↑`` when higher is, else nothing."""
    return ARROWS.get(better or "", "")


def verdict(value: float, reference: float, better: str | None) -> Cell:
    """Better or worse than the reference, by the metric's direction (within 1%: the same)."""
    if better is None or not all(isinstance(x, (int, float)) for x in (value, reference)):
        return Cell("", None)
    scale = max(abs(reference), abs(value), 1e-12)
    if abs(value - reference) <= 0.01 * scale:
        return Cell("same", 0, "same")
    good = value < reference if better == "lower" else value > reference
    return Cell("better" if good else "worse", 1 if good else -1, "better" if good else "worse")


def _by_protocol(keys: list[str]) -> dict[str, list[tuple[str, MetricKey]]]:
    groups: dict[str, list[tuple[str, MetricKey]]] = {}
    for k in keys:
        mk = parse_metric_key(k)
        if mk is not None:
            groups.setdefault(mk.where, []).append((k, mk))
    return groups


def comparison_tables(mine: dict, ref: dict, my_name: str, ref_name: str) -> str:
    """Every protocol metric of both, grouped by protocol: values, their ratio and which is better."""
    out = []
    for where, keys in _by_protocol([k for k in mine if k in ref]).items():
        rows = []
        for k, mk in keys:
            s, t = mine[k], ref[k]
            r = s / t if isinstance(s, (int, float)) and isinstance(t, (int, float)) and t else None
            rows.append([mk.label + arrow(mk.better),
                         _num_cell(t), _num_cell(s), Cell("n/a" if r is None else ratio(r), r, "num"),
                         verdict(s, t, mk.better)])
        out.append(f"<h3>Protocol: {esc(where)}</h3>" + table(
            rows, ["metric", ref_name, my_name, "ratio", "verdict"], widths=["31%", "18%", "18%", "15%", "18%"]))
    return (f"<p class=note>ratio: {esc(my_name)} / {esc(ref_name)}; verdict: the {esc(my_name)} against the "
            f"{esc(ref_name)}, by the metric's direction (within 1%: about the same).</p>" + "".join(out)
            if out else "")


def metric_tables(values: dict) -> str:
    """Protocol metrics grouped by protocol."""
    out = []
    for where, keys in _by_protocol(list(values)).items():
        rows = [[mk.label + arrow(mk.better), _num_cell(values[k])] for k, mk in keys]
        out.append(f"<h3>Protocol: {esc(where)}</h3>" + table(rows, ["metric", "value"], widths=["60%", "40%"]))
    return "".join(out)


def _kv_table(d: dict) -> str:
    rows = [[label_of(k) + arrow(better_of(k)), _num_cell(v)] for k, v in d.items()]
    t = table(rows, ["", "value"], widths=["60%", "40%"])
    return f"<details><summary>{len(rows)} values</summary>{t}</details>" if len(rows) > 8 else t


def render_value(name: str, value: Any, depth: int = 0) -> str:
    """Any part of an evaluation, generically: protocol metrics by protocol, plain figures as a table, a figure
    per member (a teacher, a class) as one column per member."""
    title = TITLES.get(name) or words(name).capitalize()
    head = f"<h3>{esc(title)}</h3>" if name else ""
    if not isinstance(value, dict) or not value:
        return head + esc(number(value)) if _scalar(value) else head + esc(value)
    if all(_scalar(v) for v in value.values()):
        if all(parse_metric_key(k) for k in value) and not depth:
            return head + metric_tables(value)
        return head + _kv_table(value)
    members = list(value)
    if all(isinstance(v, dict) for v in value.values()) and len(members) <= 6:
        fields_ = [f for f in dict.fromkeys(f for v in value.values() for f in v) if
                   all(_scalar(v.get(f)) for v in value.values())]
        nested = [f for f in dict.fromkeys(f for v in value.values() for f in v) if f not in fields_]
        rows = [[label_of(f) + arrow(better_of(f))]
                + [_num_cell(value[m].get(f)) for m in members] for f in fields_]
        w = f"{60 / len(members):.0f}%"
        out = head + table(rows, ["", *[MEMBER_WORDS.get(m, m) for m in members]],
                           widths=["40%", *[w] * len(members)])
        for f in nested:
            for m in members:
                if isinstance(value[m].get(f), dict):
                    out += (f"<details><summary>{esc(words(f))}: {esc(m)}</summary>"
                            f"{render_value('', _flatten(value[m][f]), depth + 1)}</details>")
        return out
    # mixed: its plain figures (and lists of them) in one table, then each part of its own
    plain = {k: v for k, v in value.items() if _scalar(v) or (isinstance(v, list) and all(_scalar(x) for x in v))}
    return (head + (_kv_table(plain) if plain else "")
            + "".join(render_value(k, v, depth + 1) for k, v in value.items() if k not in plain))


def _flatten(d: dict, prefix: str = "") -> dict:
    out: dict = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k} "))
        else:
            out[f"{prefix}{k}"] = v
    return out


def last_evaluation(run: Run) -> tuple[int, dict[str, float]] | None:
    """The newest periodic evaluation in the log (``eval/...``), as (step, metrics without the prefix)."""
    for rec in reversed(run.log):
        vals = {k[5:]: v for k, v in rec.items() if k.startswith("eval/") and isinstance(v, (int, float))}
        if vals:
            return int(rec.get("step", 0)), vals
    return None


def main_metrics(run: Run) -> dict[str, float]:
    """The protocol metrics of the run's generator: the student's, the kept generator's on the test split, or the
    last periodic evaluation."""
    ev = run.evaluation or {}
    for path in (("student",), ("union", "metrics"), ("test",)):
        got = _get(ev, path)
        if isinstance(got, dict) and got:
            return {k: v for k, v in got.items() if parse_metric_key(k)}
    last = last_evaluation(run)
    return {k: v for k, v in last[1].items() if parse_metric_key(k)} if last else {}


def widths_table(widths: dict[str, Any]) -> str:
    """An elastic student's widths (``distill --elastic``): a row per width, its cost and figures."""
    rows_in = [(w, f) for w, f in widths.items() if isinstance(f, dict)]
    protocols = sorted({p for _, f in rows_in for p in (f.get("fid_ratio") or {})})
    rows = []
    for w, f in sorted(rows_in, key=lambda item: float(item[0])):
        psnr = (f.get("fidelity_fresh") or {}).get("psnr")
        red = f.get("macs_reduction")
        rows.append([w, Cell(si(f.get("params", 0)), f.get("params"), "num"),
                     Cell(si(f.get("macs", 0)), f.get("macs"), "num"),
                     Cell(ratio(red), red, "num") if isinstance(red, (int, float)) else "",
                     _num_cell(psnr) if isinstance(psnr, (int, float)) else ""]
                    + [_num_cell((f.get("fid_ratio") or {}).get(p)) for p in protocols])
    return ("<h3>Every width of the elastic student</h3><p class=note>Each row is the sub-network that "
            "<code>--width W</code> gives (sample, eval, bench, export), evaluated standalone on the same latents "
            "and sample count as the student above.</p>"
            + table(rows, ["width", "parameters", "MACs per sample", "fewer MACs than the teacher",
                           "PSNR to the teacher, new latents (dB)"] + [f"FID ratio, {p}" for p in protocols]))


def metrics_section(run: Run) -> str:
    ev = dict(run.evaluation or {})
    parts = []
    if isinstance(ev.get("widths"), dict):
        parts.append(widths_table(ev.pop("widths")))
    for mine, ref, my_name, ref_name in COMPARISONS:
        a, b = _get(ev, mine), _get(ev, ref)
        if isinstance(a, dict) and isinstance(b, dict):
            parts.append(f"<p class=note>The {esc(my_name)} and the {esc(ref_name)} on the same protocol, the same "
                         "number of samples and the same real images.</p>" + comparison_tables(a, b, my_name, ref_name))
            ev.pop(ref[0], None)
            if len(mine) == 1:
                ev.pop(mine[0], None)
            else:
                ev[mine[0]] = {k: v for k, v in ev[mine[0]].items() if k != mine[1]}
    ev.pop("cost", None)
    scalars = {k: v for k, v in ev.items() if _scalar(v) or (isinstance(v, list) and all(_scalar(x) for x in v))}
    for k, v in ev.items():
        if k not in scalars:
            parts.append(render_value(k, v))
    last = last_evaluation(run)
    if last is not None:
        step, vals = last
        protocol = {k: v for k, v in vals.items() if parse_metric_key(k)}
        other = {k: v for k, v in vals.items() if k not in protocol}
        parts.append(f"<h3>Last evaluation during training (step {step:,})</h3>"
                     + metric_tables(protocol) + (_kv_table(other) if other else ""))
    if scalars:
        parts.append("<h3>Other figures</h3>" + table([[words(k), _num_cell(v)] for k, v in scalars.items()],
                                                       ["", "value"], widths=["50%", "50%"]))
    if not parts:
        return "<p>This run was not evaluated (no eval.json and no evaluation in its log).</p>"
    return LEGEND + "".join(parts)


def cost_section(run: Run, costs: dict[str, Any] | None) -> str:
    from gantransfer.report.costs import cost_rows
    parts = []
    if costs is not None:
        header, rows = cost_rows(costs)
        parts.append(table(rows, header) + f"<p class=note>Measured on this machine's CPU while the "
                     f"report was written (torch threads: {costs['threads']}; median of {costs['repeats']} calls); "
                     "other work on the machine makes times noisy, the ratios less so.</p>")
    c = (run.evaluation or {}).get("cost")
    if isinstance(c, dict) and "teachers_params" in c:
        names = run.record.get("teachers") or [f"teacher {i}" for i in range(len(c["teachers_params"]))]
        rows = [[str(n), Cell(si(p), p, "num"), Cell(si(m), m, "num")]
                for n, p, m in zip(names, c["teachers_params"], c.get("teachers_macs", []))]
        rows.append(["the fused student", Cell(si(c["student_params"]), c["student_params"], "num"),
                     Cell(si(c["student_macs"]), c["student_macs"], "num")])
        parts.append("<h3>Against the teachers</h3>" + table(rows, ["", "parameters", "MACs per sample"])
                     + f"<p>The student has {ratio(c['params_vs_sum'])} fewer parameters than all teachers "
                     f"together, {ratio(c['params_vs_largest'])} fewer than the largest.</p>")
    return "".join(parts) or "<p>No costs measured.</p>"


def _steps(run: Run) -> str:
    return f"{run.steps:,} steps" if run.steps else "no steps yet"


def _arch(run: Run) -> str:
    g = run.generator
    if g.get("input_channels"):  # a translator: its size is its ngf, not a width
        ngf = (g.get("options") or {}).get("ngf")
        return f"{g.get('arch', '?')} translator" + (f" of ngf {ngf}" if isinstance(ngf, int) else "")
    return f"{g.get('arch', '?')} generator of width {number(float(g.get('width', 1)))}"


def summary(run: Run) -> str:
    """What was run, in one sentence: the task's own ``summary`` hook (see config.py's registrations), else
    the sentence of a model trained from scratch."""
    from gantransfer.config import task, task_names
    from gantransfer.registry import resolve
    hook = task(run.command).summary if run.command in task_names() else None
    if hook is not None:
        return resolve(hook)(run)
    c, g = run.config, run.generator
    data = run.dataset or "its data"
    kind = "conditional " if g.get("num_classes") else ""
    classes = f" (classes {', '.join(map(str, c['classes']))})" if c.get("classes") else ""
    return (f"Trained a {kind}{_arch(run)} on {data}{classes} from scratch, for {_steps(run)} at batch "
            f"{c.get('batch_size')}.")


def distill_summary(run: Run) -> str:
    c = run.config
    teacher = Path(str(run.record.get("teacher") or c.get("teacher") or c.get("teacher_module"))).name
    if run.record.get("translator"):
        inputs = run.record.get("inputs") or {}
        where = Path(str(inputs.get("source") or c.get("data") or "?")).name
        return (f"Distilled the translator {teacher} into a {_arch(run)} on input images from {where} "
                f"({inputs.get('train', '?')} for training, {inputs.get('held_out', '?')} held out), matching it "
                f"with {c.get('terms')} on the same inputs, for {_steps(run)} at batch {c.get('batch_size')}.")
    how = f"with real {c['real_data']} images" if c.get("real_data") else "data-free (no real image)"
    return (f"Distilled the teacher {teacher} into a {_arch(run)}, {how}, matching it with {c.get('terms')} on the "
            f"same latents, for {_steps(run)} at batch {c.get('batch_size')}.")


def fuse_summary(run: Run) -> str:
    names = ", ".join(map(str, run.record.get("teachers") or run.config.get("teachers", [])))
    return f"Fused the teachers {names} into one {_arch(run)} with {run.config.get('terms')}, for {_steps(run)}."


def adapt_summary(run: Run) -> str:
    c = run.config
    sources = ", ".join(Path(str(s)).name for s in c.get("sources", []))
    classes = f" (classes {', '.join(map(str, c['classes']))})" if c.get("classes") else ""
    aug = f" with DiffAugment ({c['diffaugment']})" if c.get("diffaugment") else ""
    return (f"Adapted {sources} to {number(c.get('limit')) if c.get('limit') else 'all'} {c.get('data')} "
            f"images{classes} by {c.get('method')}{aug}, for {_steps(run)}.")


def baseline_summary(run: Run) -> str:
    c = run.config
    return (f"Sampled {number(c.get('n'))} images from the teachers "
            f"{', '.join(Path(str(t)).name for t in c.get('teachers', []))} and trained a {_arch(run)} on them from "
            f"scratch, for {_steps(run)}.")


def settings_section(run: Run) -> str:
    rows, changed, rest = [], [], []
    for name, value, default, meaning in settings(run):
        shown = "none" if value is None else ", ".join(map(str, value)) if isinstance(value, (list, tuple)) \
            else number(value)
        (changed if value != default and not (isinstance(value, list) and list(default or []) == value)
         else rest).append([name.replace("_", " "), shown, meaning])
    rows = changed
    out = (table(rows, ["setting (given)", "value", "what it means"], widths=["24%", "28%", "48%"]))
    out += (f"<details><summary>the other {len(rest)} settings (defaults)</summary>"
            + table(rest, ["setting", "value", "what it means"], widths=["24%", "28%", "48%"])
            + "</details>")
    g = run.generator
    if g:
        shape = (f"{g.get('channels')} x {g.get('resolution')} x {g.get('resolution')} images"
                 if g.get("resolution") else "2-D points")
        gen = [["family", g.get("arch")], ["samples", shape],
               ["latent size", g.get("latent_dim")], ["width", number(float(g.get("width", 1)))],
               ["labels", ", ".join(g.get("class_names") or []) if g.get("num_classes") else "none"],
               ["data set (protocol)", g.get("dataset") or "none"]]
        out += "<h3>The generator it made</h3>" + table(gen, ["", ""], widths=["30%", "70%"])
    return out


def glance(run: Run, metrics: dict[str, float], costs: dict[str, Any] | None) -> str:
    tiles = []
    ev = run.evaluation or {}
    ref = _get(ev, ("teacher_metrics",)) or _get(ev, ("teachers_mixture",)) or {}
    for k, v in metrics.items():
        mk = parse_metric_key(k)
        if mk and mk.metric == "fid":
            extra = f" (reference {number(ref[k])})" if isinstance(ref.get(k), (int, float)) else ""
            tiles.append((f"FID, {mk.where}", number(v) + extra))
            break
    if costs is not None:
        g, r = costs["generator"], costs.get("reference")
        if r:
            tiles.append(("MACs vs the teacher", f"{ratio(r['macs'] / g['macs'])} fewer"))
            tp = next((k for k in g if k.startswith("throughput")), None)
            if tp:
                tiles.append(("CPU throughput vs the teacher", ratio(g[tp] / r[tp])))
        else:
            tiles.append(("parameters", si(g["params"])))
    psnr = _get(ev, ("fidelity", "fresh", "psnr"))
    if isinstance(psnr, (int, float)):
        tiles.append(("PSNR to the teacher, new latents", f"{number(psnr)} dB"))
    if "memorisation" in ev:
        tiles.append(("near-copies of training images", f"{number(100 * ev['memorisation']['memorised_share'])}%"))
    secs, prev = 0.0, 0
    for r in run.log:
        t = r.get("time/sec_per_step")
        if isinstance(t, (int, float)) and not isinstance(t, bool) and 0 <= t < float("inf"):
            secs += float(t) * (int(r["step"]) - prev)
            prev = int(r["step"])
    tiles.append(("steps", f"{run.steps:,}" + (f" (about {seconds(secs)})" if secs else "")))
    return '<div class="glance">' + "".join(f"<div>{esc(a)}<b>{esc(b)}</b></div>" for a, b in tiles) + "</div>"


def image_size(path: Path) -> tuple[int, int]:
    from PIL import Image
    with Image.open(path) as im:
        return im.size


def run_page(run: Run, out: Path, prefix: str = "", measure: bool = True, device: str = "cpu",
             title: str | None = None) -> RunPage:
    """Write the run's figures into ``out`` (file names starting ``prefix``) and compose its page."""
    from gantransfer.report.costs import measure_run
    from gantransfer.report.curves import plot_series, series_of
    from gantransfer.report.figures import run_figures
    groups = []
    grids_html = []
    for heading, figs in run_figures(run, out, prefix, device):
        shown = [(f.src, f.caption, image_size(out / f.src), f.pixels, f.widest) for f in figs]
        groups.append((heading, shown))
        grids_html.append(f"<h3>{esc(heading)}</h3>" + figures([figure(src, cap, size, px, widest=w)
                                                                 for src, cap, size, px, w in shown]))
    curves = []
    loss = plot_series(series_of(run.log, "loss/"), out / f"{prefix}loss-curves.png")
    if loss is not None:
        curves.append(figure(f"{prefix}{loss.name}", "loss terms by step (one panel each: their scales differ)",
                             image_size(loss), pixels=False))
    evals = plot_series(series_of(run.log, "eval/"), out / f"{prefix}eval-curves.png",
                        skip=("eval/best_step", "eval/kid_std"))
    if evals is not None:
        curves.append(figure(f"{prefix}{evals.name}", "evaluations during training, by step", image_size(evals), pixels=False))
    costs = measure_run(run) if measure else None
    metrics = main_metrics(run)
    command = reproduce_command(run)
    sections = [("What was run", "run", settings_section(run)),
                ("Samples", "samples", "".join(grids_html) or "<p>No sample grid in this run.</p>"),
                ("Curves", "curves", figures(curves) if curves else "<p>Nothing logged yet.</p>"),
                ("Metrics", "metrics", metrics_section(run)),
                ("Cost", "cost", cost_section(run, costs)),
                ("Reproduce", "reproduce", f"<p>This command runs it again (same settings, same seed):</p>"
                                           f"<pre>{esc(command)}</pre>")]
    intro = f"<p class=lead>{esc(summary(run))}</p>" + glance(run, metrics, costs)
    return RunPage(run, title or f"gantransfer {run.command}: {run.name}", intro, sections, metrics, costs, groups)


def differing_settings(runs: list[Run]) -> list[str]:
    """Config fields whose values differ between the runs (what the comparison is about)."""
    import dataclasses
    from gantransfer.engine.settings import EngineSettings
    engine = {f.name for f in dataclasses.fields(EngineSettings)}
    keys = list(dict.fromkeys(k for r in runs for k in r.config))
    keys = [k for k in keys if k not in engine] + [k for k in keys if k in engine]  # the task's own settings first
    return [k for k in keys if k not in COSMETIC and k != "steps" and len({repr(r.config.get(k)) for r in runs}) > 1]


def comparison_page(pages: list[RunPage], links: list[str], warnings_: list[str]) -> tuple[str, str, list]:
    """(title, intro, sections) of the page comparing ``pages`` (``links``: each run's page, relative)."""
    runs = [p.run for p in pages]
    diff = differing_settings(runs)[:6]
    keys = [k for k in dict.fromkeys(k for p in pages for k in p.metrics)
            if parse_metric_key(k) and parse_metric_key(k).metric in HEADLINE]
    cost_keys = list(dict.fromkeys(k for p in pages if p.costs for k in p.costs["generator"]))
    header = ["run", "command", *[words(d) for d in diff], "steps", *[COST_HEADERS.get(k, words(k)) for k in cost_keys]]
    link_cells = [Cell(f'<a href="{esc(link)}">{esc(p.run.name)}</a>', p.run.name, raw_html=True)
                  for p, link in zip(pages, links)]
    rows = []
    for p, name in zip(pages, link_cells):
        r = p.run
        row: list[Any] = [name, r.command]
        for d in diff:
            v = r.config.get(d)
            row.append(Cell(_short(v), v if isinstance(v, (int, float)) and not isinstance(v, bool) else None))
        row.append(Cell(f"{r.steps:,}", r.steps, "num"))
        for k in cost_keys:
            v = p.costs["generator"].get(k) if p.costs else None
            text = "" if v is None else si(v) if k in ("params", "macs") else number(float(v))
            row.append(Cell(text, v, "num"))
        rows.append(row)
    note = ("<p class=note>Click a column's name to sort by it. Costs measured on the CPU, one run after another, "
            "while this report was written.</p>")
    warn = "".join(f"<p class=warn>{esc(w)}</p>" for w in warnings_)
    body = warn + table(rows, header, cls="sortable cards") + note
    for where, group in _by_protocol(keys).items():  # one table per protocol: its metrics, a row per run with it
        mrows = [[name, *[_num_cell(p.metrics[k]) if k in p.metrics else Cell("", None) for k, _ in group]]
                 for p, name in zip(pages, link_cells) if any(k in p.metrics for k, _ in group)]
        body += (f"<h3>Protocol: {esc(where)}</h3>" + table(mrows, ["run", *[mk.label + arrow(mk.better)
                                                                          for _, mk in group]], cls="sortable cards"))
    body += LEGEND
    sections = [("Runs", "runs", body)]
    headings = list(dict.fromkeys(h for p in pages for h, _ in p.groups))
    for h in headings:
        items = []
        for p, link in zip(pages, links):
            base = link.rsplit("/", 1)[0] + "/" if "/" in link else ""
            for src, caption, size, pixels, _ in dict(p.groups).get(h, [])[:1]:
                cap = p.run.name + "".join(f", {words(d)} {_short(p.run.config.get(d))}" for d in diff)
                items.append(figure(base + src, f"{cap}: {caption}", size, pixels, target=260,
                                    widest=max(370, 1160 // len(pages) - 20)))
        sections.append((h, "grid-" + str(headings.index(h)), figures(items)))
    datasets = sorted({r.dataset for r in runs})
    intro = (f"<p class=lead>{len(runs)} runs of {esc(', '.join(sorted({r.command for r in runs})))} on "
             f"{esc(', '.join(d or 'no data set' for d in datasets))}"
             + (f"; they differ in {esc(', '.join(words(d) for d in diff))}" if diff else "") + ".</p>")
    return "gantransfer report: " + ", ".join(r.name for r in runs), intro, sections


def _short(v: Any) -> str:
    """A setting's value, short: a path by its last part."""
    if isinstance(v, list):
        return ",".join(_short(x) for x in v)
    if isinstance(v, str) and "/" in v:
        return Path(v).name
    return number(v) if v is not None else "none"
