"""Run many ``gantransfer`` command lines as separate processes, cheaply: one driver process imports torch and the
tool once, then forks a child per command line (or N children with torchrun's environment for a distributed run),
each with its own exit status, stdout and stderr. A SIGKILLed child is a killed process like any other.

Use from a test: ``run_forked([{"argv": [...], "env": {...}, "procs": 2, "watch": "dir"}, ...])``: returns one
result per case (``code``: exit status, negative for a signal; ``out``/``err``: rank 0's streams, ``err_all``:
every rank's stderr; ``changed``: files of ``watch`` created, changed or removed by the case).
As in torchrun, when one process of a distributed case ends in failure the others are killed.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# the folder holding the gantransfer package that this pytest imports (the checkout's src/ for an editable install,
# site-packages for an installed wheel), found without importing it
SRC = str(Path(list(importlib.util.find_spec("gantransfer").submodule_search_locations)[0]).parent)


def run_forked(cases: list[dict[str, Any]], timeout: float = 600) -> list[dict[str, Any]]:
    """Run ``cases`` in one driver subprocess (see the module docstring); results in order."""
    with tempfile.TemporaryDirectory() as tmp:
        spec, results = Path(tmp) / "cases.json", Path(tmp) / "results.json"
        spec.write_text(json.dumps(cases))
        env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
               "OMP_NUM_THREADS": "1"}
        done = subprocess.run([sys.executable, __file__, str(spec), str(results)], env=env, timeout=timeout,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(results.read_text())


def tree_hashes(root: str | Path) -> dict[str, str]:
    """SHA-256 of every file under ``root`` (and '<dir>' for each directory), by relative path."""
    root = Path(root)
    out: dict[str, str] = {}
    if not root.exists():
        return out
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_symlink():
            out[rel] = "<link>" + os.readlink(p)
        elif p.is_dir():
            out[rel] = "<dir>"
        elif p.is_file():
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


AUDITED = ("open", "os.mkdir", "os.rename", "os.remove", "os.rmdir", "shutil.rmtree", "os.listdir", "os.scandir",
           "os.chmod", "os.truncate")


_SEEN: list[str] = []


def _audit(root: str) -> None:
    """Record every file operation under ``root`` (opening, making, renaming, removing, listing) in _SEEN."""
    seen = _SEEN

    def hook(event: str, args: tuple) -> None:
        if event in AUDITED and args and isinstance(args[0], (str, bytes, os.PathLike)):
            path = os.fsdecode(args[0])
            if os.path.abspath(path).startswith(root):
                seen.append(f"{event} {path}")
    sys.addaudithook(hook)


def _child(case: dict[str, Any], env: dict[str, str], out: str, err: str) -> None:
    """In the forked child: run the command line with its streams in files; never returns."""
    code = 98
    try:
        if case.get("audit") and env.get("RANK", "0") != "0":
            _audit(os.path.abspath(case["audit"]))
        os.chdir(case.get("cwd") or os.getcwd())
        os.environ.update(env)
        for fd, path in ((1, out), (2, err)):
            f = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(f, fd)
            os.close(f)
        sys.stdout = open(1, "w", closefd=False, buffering=1)
        sys.stderr = open(2, "w", closefd=False, buffering=1)
        from gantransfer.cli import main
        try:
            code = main(case["argv"])
        except SystemExit as e:  # argparse
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    except BaseException:  # an uncaught exception: what a user would see as a traceback
        import traceback
        traceback.print_exc()
        code = 99
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            if case.get("audit") and env.get("RANK", "0") != "0":
                Path(err + ".audit").write_text(json.dumps(_SEEN))
        finally:
            os._exit(code or 0)


def _run_case(case: dict[str, Any], tmp: Path, index: int) -> dict[str, Any]:
    procs = int(case.get("procs", 1))
    watch = case.get("watch")
    before = tree_hashes(watch) if watch else {}
    base = {k: str(v) for k, v in (case.get("env") or {}).items()}
    if procs > 1:
        base.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()), WORLD_SIZE=str(procs),
                    LOCAL_WORLD_SIZE=str(procs), GROUP_RANK="0")
    children = {}
    for rank in range(procs):
        env = dict(base)
        if procs > 1:
            env.update(RANK=str(rank), LOCAL_RANK=str(rank))
        out, err = tmp / f"{index}.{rank}.out", tmp / f"{index}.{rank}.err"
        out.write_text(""), err.write_text("")
        pid = os.fork()
        if pid == 0:
            _child(case, env, str(out), str(err))
        children[pid] = (rank, out, err)
    codes: dict[int, int] = {}
    failures: list[int] = []  # ranks in the order they failed
    started = time.monotonic()
    deadline = time.monotonic() + float(case.get("timeout", 300))
    while len(codes) < procs:
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            if time.monotonic() > deadline:
                for p in children:
                    if children[p][0] not in codes:
                        os.kill(p, signal.SIGKILL)
                deadline = float("inf")
            time.sleep(0.02)
            continue
        rank = children[pid][0]
        codes[rank] = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        if codes[rank] != 0:  # as torchrun does: a failed process ends the others
            failures.append(rank)
            for p, (r, _, _) in children.items():
                if r not in codes:
                    try:
                        os.kill(p, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
    after = tree_hashes(watch) if watch else {}
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    first_failure = codes[failures[0]] if failures else 0
    errs = [children[p][2].read_text(errors="replace") for p in sorted(children, key=lambda p: children[p][0])]
    rank0 = next(v for v in children.values() if v[0] == 0)
    touched = [json.loads(Path(str(children[p][2]) + ".audit").read_text()) for p in children
               if children[p][0] > 0 and Path(str(children[p][2]) + ".audit").exists()]
    return {"code": first_failure, "codes": [codes[r] for r in range(procs)],
            "seconds": round(time.monotonic() - started, 2),
            "touched": touched,
            "out": rank0[1].read_text(errors="replace"), "err": errs[0], "err_all": "\n".join(errs),
            "changed": changed}


def _driver(spec: str, results: str) -> None:
    import torch
    torch.set_num_threads(1)
    import gantransfer.cli  # noqa: F401  (the imports every child would repeat)
    import gantransfer.tasks.train  # noqa: F401
    import gantransfer.tasks.distill  # noqa: F401
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401
    cases = json.loads(Path(spec).read_text())
    with tempfile.TemporaryDirectory() as tmp:
        out = [_run_case(c, Path(tmp), i) for i, c in enumerate(cases)]
    Path(results).write_text(json.dumps(out))


if __name__ == "__main__":
    _driver(sys.argv[1], sys.argv[2])
