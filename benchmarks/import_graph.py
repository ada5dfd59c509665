"""The import graph of a gantransfer source tree, every import counted (module level and inside functions):
import statements, module-to-module edges, cycles and imports that run up a floor of the floor table in
tests/test_architecture.py (the same reader and table the architecture test uses).

    python benchmarks/import_graph.py src --out benchmarks/results/import_graph_after.json
    mkdir /tmp/old && git archive 33987cb src | tar -x -C /tmp/old
    python benchmarks/import_graph.py /tmp/old/src --out benchmarks/results/import_graph_before.json
"""
from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"


def _architecture_test():
    sys.path.insert(0, str(TESTS))
    spec = importlib.util.spec_from_file_location("test_architecture", TESTS / "test_architecture.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def statements(src: Path) -> tuple[int, int]:
    """(gantransfer import statements, of which inside functions)."""
    total = inside = 0
    for p in (src / "gantransfer").rglob("*.py"):
        tree = ast.parse(p.read_text())
        nested = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                  for n in ast.walk(f)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gantransfer")) or (
                    isinstance(node, ast.Import) and any(a.name.startswith("gantransfer") for a in node.names)):
                total += 1
                inside += id(node) in nested
    return total, inside


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))
    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def measure(src: Path) -> dict:
    ta = _architecture_test()
    ta.SRC = src / "gantransfer"
    graph = ta._graph()
    total, inside = statements(src)
    upward = sorted(f"{m} -> {i}" for m, imports in graph.items() for i in imports if ta._floor(i) > ta._floor(m))
    return {"source": str(src), "modules": len(graph), "import_statements": total,
            "inside_functions": inside, "module_edges": sum(len(v) for v in graph.values()),
            "cycles": cycles(graph), "upward": upward}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", help="a source directory holding gantransfer/")
    ap.add_argument("--out", help="write the JSON here")
    args = ap.parse_args()
    result = measure(Path(args.src).resolve())
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
