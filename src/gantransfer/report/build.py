"""``gantransfer report RUN [RUN ...] --out DIR``: the pages, written whole or not at all.

A report writes only into a new or empty directory, an earlier report (marked by its ``report.json``, which lists
the files it wrote: only those are replaced), or a run's own ``report/`` folder. Everything is built in a temporary
folder beside ``DIR`` first and moved in at the end.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from pathlib import Path
from urllib.parse import quote

from gantransfer import manifest
from gantransfer.errors import ConfigError
from gantransfer.io import read_json, write_json
from gantransfer.report.html import page, write_page
from gantransfer.report.page import RunPage, comparison_page, run_page
from gantransfer.report.runs import Run, load_run

MARKER = "report.json"
KIND = "gantransfer report"


def _is_run_report_dir(out: Path, runs: list[Run]) -> bool:
    """``out`` is the own report/ folder of the one run reported (the run owns it, see tasks/rundir.py)."""
    return (out.name == "report" and len(runs) == 1 and (out.parent / "run.json").is_file()
            and out.parent.resolve() == runs[0].path.resolve())


def earlier_report(out: Path) -> dict | None:
    """The marker of an earlier report in ``out``, or None."""
    marker = out / MARKER
    if not marker.is_file():
        return None
    raw = read_json(marker, "report record")
    return raw if isinstance(raw, dict) and raw.get("kind") == KIND and isinstance(raw.get("files"), list) else None


def check_report_dir(out: str | Path, runs: list[Run]) -> Path:
    """ConfigError unless a report of ``runs`` may be written into ``out`` (nothing is changed)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file, not a directory; choose another --out")
    if (out / "run.json").is_file():
        raise ConfigError(f"--out {out} is a run directory; a run's report goes in {out / 'report'} (the default for "
                          "one run) or in a directory of its own. Choose another --out")
    if out.name == "report" and (out.parent / "run.json").is_file() and not _is_run_report_dir(out, runs):
        raise ConfigError(f"--out {out} is the report folder of the run {out.parent}; it holds that run's report "
                          "only. Choose another --out")
    if out.is_dir() and any(out.iterdir()) and not _is_run_report_dir(out, runs) and earlier_report(out) is None:
        raise ConfigError(f"--out {out} holds other files and no earlier report ({MARKER}); a report writes only "
                          "into a new or empty directory or over an earlier report. Choose another --out")
    return out


def _unique_names(runs: list[Run]) -> list[str]:
    names, seen = [], set()
    for r in runs:
        name, i = r.name, 1
        while name in seen:
            i += 1
            name = f"{r.name}-{i}"
        seen.add(name)
        names.append(name)
    return names


def _write_run_page(p: RunPage, folder: Path) -> None:
    write_page(folder / "index.html", page(p.title, p.intro, p.sections))


def build_report(paths: list[str | Path], out: str | Path | None = None, measure: bool = True,
                 device: str = "cpu") -> Path:
    """Write the report of the runs in ``paths`` into ``out`` (default for one run: its own report/); returns the
    path of the page to open. Several runs: a comparison page, and each run's page in a folder of its own."""
    if not paths:
        raise ConfigError("give at least one run directory")
    runs = [load_run(p) for p in paths]
    if out is None:
        if len(runs) > 1:
            raise ConfigError("several runs need --out DIR: the comparison page and each run's page go there")
        out = runs[0].path / "report"
    out = check_report_dir(out, runs)
    datasets = sorted({r.dataset or "none" for r in runs})
    notes = []
    if len(datasets) > 1:
        notes.append(f"These runs model different data sets ({', '.join(datasets)}): their metrics are measured under "
                     "different protocols (other feature networks and real images) and are not comparable.")
        warnings.warn(notes[-1])
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.report-", dir=out.parent))
    try:
        if len(runs) == 1:
            p = run_page(runs[0], tmp, measure=measure, device=device)
            _write_run_page(p, tmp)
        else:
            pages, links = [], []
            for r, name in zip(runs, _unique_names(runs)):
                (tmp / name).mkdir()
                p = run_page(r, tmp / name, measure=measure, device=device)
                _write_run_page(p, tmp / name)
                pages.append(p)
                links.append(quote(name, safe="") + "/index.html")  # a name like javascript:... becomes no scheme
            title, intro, sections = comparison_page(pages, links, notes)
            write_page(tmp / "index.html", page(title, intro, sections, sortable=True))
        _move_in(tmp, out, runs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out / "index.html"


def _move_in(tmp: Path, out: Path, runs: list[Run]) -> None:
    """Replace the earlier report's files (only those it stamped and that are unchanged since) with the new ones,
    and mark the report. A file in the way that the earlier report did not write is refused, never replaced."""
    out.mkdir(parents=True, exist_ok=True)
    earlier = earlier_report(out)
    stamps = (earlier or {}).get("stamps")
    if isinstance(stamps, dict):
        manifest.remove_stamped(out, stamps)
    files = sorted(os.listdir(tmp))
    if out.name == "report" and (out.parent / manifest.MANIFEST).is_file():  # a run's own report/: its files
        own = manifest.read_manifest(out.parent) or {}  # that the run wrote there (figures) are replaced too
        manifest.remove_stamped(out.parent, {rel: st for rel, st in own.items()
                                             if rel.split("/")[:1] == ["report"] and rel.split("/")[1:2][0] in files})
    out.mkdir(parents=True, exist_ok=True)  # emptied by the removals above
    in_the_way = [name for name in files if (out / name).exists() or (out / name).is_symlink()]
    if in_the_way:
        raise ConfigError(f"--out {out} already holds {', '.join(in_the_way[:5])}, which the earlier report did not "
                          "write (or which changed since); move them away or choose another --out")
    for name in files:
        os.replace(tmp / name, out / name)
        manifest.record_tree(out / name) if (out / name).is_dir() else manifest.record(out / name)
    write_json(out / MARKER, {"kind": KIND, "runs": [str(r.path) for r in runs], "files": files,
                              "stamps": manifest.stamps_under(out, files), "page": "index.html"})


def write_run_report(run: str | Path, measure: bool = True) -> Path | None:
    """The report a training run writes into its own report/ at the end (the runner's hook); a failure is a
    warning naming the command that writes it later, never the end of a finished run."""
    from gantransfer.errors import GantransferError
    try:
        return build_report([run], Path(run) / "report", measure=measure)
    except Exception as e:  # noqa: BLE001 - a finished run is never lost to its report
        what = str(e) if isinstance(e, (GantransferError, OSError)) else f"{type(e).__name__}: {e}"
        warnings.warn(f"the run's report was not written ({what}); write it with `gantransfer report {run}`")
        return None
