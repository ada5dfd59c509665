"""The long fuzz run of every file format gantransfer reads (tests/fuzz_files.py; CI runs a fixed-seed subset in
tests/test_fuzz_files.py).

    python benchmarks/fuzz_files.py --per-format 40 --seed 1 --out results/fuzz.json

Prints, per format, the cases tried, how many were refused (with one message) or accepted (the mutation left a
valid file), and every case that broke a rule (a traceback, a signal or time-out, several error lines, a file
outside its folder changed); writes all of it as JSON. Exit status 1 when any case broke a rule.
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from forked_cli import run_forked, tree_hashes  # noqa: E402
from fuzz_files import build_sources, check, make_cases  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-format", type=int, default=40, help="cases per format (default: 40)")
    ap.add_argument("--seed", type=int, default=1, help="mutation seed (default: 1; CI uses 0)")
    ap.add_argument("--only", default="", help="comma-separated formats (default: all)")
    ap.add_argument("--out", default=None, help="JSON file for the results")
    args = ap.parse_args()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp)
        sources = build_sources(ws)
        from fuzz_files import _format_table
        formats = [f for f in _format_table(ws, sources) if not args.only or f in args.only.split(",")]
        cases = make_cases(ws, sources, {f: args.per_format for f in formats}, seed=args.seed)
        before = {d: tree_hashes(ws / d) for d in ("sources", "outside")}
        results = run_forked([{k: c[k] for k in ("argv", "cwd", "timeout")} for c in cases], timeout=36000)
        after = {d: tree_hashes(ws / d) for d in ("sources", "outside")}
    per_format: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    broken = []
    for c, r in zip(cases, results):
        problems = check(r)
        per_format[c["format"]]["broken" if problems else "refused" if r["code"] else "accepted"] += 1
        if problems:
            broken.append({"format": c["format"], "mutation": c["mutation"], "problems": problems,
                           "argv": c["argv"], "err": r["err"][-1500:]})
    outside_changed = sorted(k for d in before for k in set(before[d]) | set(after[d])
                             if before[d].get(k) != after[d].get(k))
    for fmt, counts in per_format.items():
        print(f"{fmt:<30} {sum(counts.values()):4d} cases: {counts['refused']:4d} refused, {counts['accepted']:4d} "
              f"accepted, {counts['broken']:3d} broken")
    for b in broken:
        last = [ln for ln in b["err"].splitlines() if ln.strip()][-1:] or [""]
        print(f"BROKEN {b['format']} / {b['mutation']}: {'; '.join(b['problems'])}: {last[0][:200]}")
    print(f"{len(cases)} cases, {len(broken)} broken, files outside changed: {outside_changed or 'none'} "
          f"({time.perf_counter() - t0:.0f} s)")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"seed": args.seed, "per_format": per_format, "broken": broken,
                                              "outside_changed": outside_changed, "cases": len(cases)}, indent=1))
    return 1 if broken or outside_changed else 0


if __name__ == "__main__":
    sys.exit(main())
