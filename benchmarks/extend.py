"""Incremental-extension benchmark: Fashion-MNIST in 5 steps of 2 classes, every method at the same budget.

    python benchmarks/extend.py --jobs 2        # base, then one extend-sequence per method, then MNIST-5k

1. The base: a class-conditional DCGAN trained on Fashion-MNIST classes 0,1 (`gantransfer train`).
2. For each method (replay: data-free; finetune; joint: with the real old data; ewc) `gantransfer
   extend-sequence --steps-of 2,3:4,5:6,7:8,9` with the same --steps and batch per step; every label is measured
   after every step (protocol-classifier accuracy on its samples, per-label FID, precision/recall).
3. With --mnist: a second modality. Each method extends the 10-label Fashion-MNIST generator of the joint
   sequence (the best one, so that every method starts alike) with all ten MNIST-5k digits (labels 10-19),
   for --mnist-steps.
4. With --probe: sizing the budget first. Joint training (the upper bound) on the first step alone (classes 2,3
   from the base) at each setting of --probe ("steps=500,lr=1e-3;steps=1000,lr=5e-4"), with each label's
   accuracy under both protocols, into --results.

With --variant NAME=METHOD:FLAGS: a method with extra extend flags as one more run (e.g. a longer step,
--old-share), compared with the joint variant of the same flags when there is one (--variants-in says where).

Every label is graded under both protocols of its data set (<data set>-classifier-v1 and -judge-v1); the ratios
against joint are given per protocol.

Each process runs one torch thread, --jobs at a time; finished runs are skipped and interrupted sequences
resumed. Writes --results: per method and step the mean accuracy and FID of old and new labels, and after the
last step the ratios against joint's (the targets: old accuracy >= 0.9x joint's, old FID <= 1.2x, new FID <= 1.2x).
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from harness import add_run_options, run_all, Stopwatch, train_seconds, write_results

METHODS = ("replay", "finetune", "joint", "ewc")
STEPS_OF = "2,3:4,5:6,7:8,9"
ROLES = ("classifier", "judge")  # the protocol roles, the primary first (gantransfer.metrics.protocols)


def base_job(runs: Path, exe: list[str], a) -> tuple:
    out = runs / "base"
    cmd = exe + ["train", "--data", "fashion-mnist", "--classes", "0,1", "--conditional", "--width", str(a.width),
                 "--steps", str(a.base_steps), "--seed", str(a.seed), "--checkpoint-every", "250",
                 "--sample-every", str(a.base_steps), "--no-progress", "--out", str(out)]
    if (out / "run.json").is_file():
        cmd.append("--resume")
    return ("base", cmd, out / "state" / f"step-{a.base_steps:07d}", runs / "logs" / f"{out.name}.log")


def optimiser_args(a, steps: int) -> list[str]:
    """The training settings every method shares (only those that differ from the defaults, so that the
    command of a run made before they were options stays the same)."""
    args = ["--steps", str(steps)]
    if a.lr is not None:
        args += ["--lr", str(a.lr)]
    if a.d_lr_ratio is not None:
        args += ["--d-lr-ratio", str(a.d_lr_ratio)]
    if a.r1 is not None:
        args += ["--r1", str(a.r1)]
    return args


def parse_variant(spec: str) -> tuple[str, str, list[str]]:
    """"replay-share0.25=replay:--old-share 0.25" -> ("replay-share0.25", "replay", ["--old-share", "0.25"])."""
    name, _, rest = spec.partition("=")
    method, _, flags = rest.partition(":")
    if not name or method not in METHODS or name in METHODS:
        sys.exit(f"--variant {spec!r}: write NAME=METHOD:FLAGS with METHOD one of {', '.join(METHODS)} and a NAME "
                 "that is not a method's")
    return name, method, flags.split()


def method_args(name: str, a, steps: int | None = None) -> list[str]:
    """The extend flags of a method, or of a variant (a method with extra flags, --variant)."""
    method, extra = a.variant_map.get(name, (name, []))
    steps = steps or a.steps
    args = ["--method", method, *optimiser_args(a, steps), "--seed", str(a.seed), "--eval-n", str(a.eval_n),
            "--checkpoint-every", str(a.checkpoint_every), "--sample-every", str(steps), "--no-progress", *extra]
    if method == "joint":
        args += ["--old-data", "fashion-mnist"]
    return args


def sequence_jobs(runs: Path, exe: list[str], a) -> list[tuple]:
    jobs = []
    for m in a.methods + (a.variant_names if "sequence" in a.variants_in else []):
        out = runs / f"seq-{m}"
        cmd = exe + ["extend-sequence", "--base", str(runs / "base"), "--data", "fashion-mnist", "--steps-of",
                     STEPS_OF, "--out", str(out), *method_args(m, a)]
        if (out / "run.json").is_file():
            cmd.append("--resume")
        jobs.append((f"seq-{m}", cmd, out / "step-4" / "eval.json", runs / "logs" / f"{out.name}.log"))
    return jobs


def mnist_jobs(runs: Path, exe: list[str], a) -> list[tuple]:
    jobs = []
    for m in a.methods + (a.variant_names if "mnist" in a.variants_in else []):
        out = runs / f"mnist-{m}"
        cmd = exe + ["extend", "--base", str(runs / "seq-joint" / "step-4"), "--data", "mnist-5k", "--out", str(out),
                     *method_args(m, a, a.mnist_steps)]
        if (out / "run.json").is_file():
            cmd.append("--resume")
        jobs.append((f"mnist-{m}", cmd, out / "eval.json", runs / "logs" / f"{out.name}.log"))
    return jobs


def probe_settings(spec: str) -> list[dict[str, str]]:
    """"steps=500,lr=1e-3;steps=1000" -> [{"steps": "500", "lr": "1e-3"}, {"steps": "1000"}]."""
    out = []
    for part in spec.split(";"):
        kv = dict(x.split("=", 1) for x in part.split(",") if x.strip())
        unknown = set(kv) - {"steps", "lr", "d_lr_ratio", "r1", "batch_size"}
        if unknown or "steps" not in kv:
            sys.exit(f"--probe: {part!r} needs steps= and may set lr, d_lr_ratio, r1, batch_size; not {unknown}")
        out.append(kv)
    return out


def probe_name(kv: dict[str, str]) -> str:
    return "-".join(f"{k}{v}" for k, v in kv.items())


def probe_jobs(runs: Path, exe: list[str], a) -> list[tuple]:
    """Joint training on the first step alone, once per --probe setting."""
    jobs = []
    for kv in probe_settings(a.probe):
        out = runs / "probe" / probe_name(kv)
        cmd = exe + ["extend", "--base", str(runs / "base"), "--data", "fashion-mnist", "--classes",
                     STEPS_OF.split(":")[0], "--method", "joint", "--old-data", "fashion-mnist", "--seed", str(a.seed),
                     "--eval-n", str(a.eval_n), "--checkpoint-every", kv["steps"], "--sample-every", kv["steps"],
                     "--no-progress", "--out", str(out)]
        for k, v in kv.items():
            cmd += ["--" + k.replace("_", "-"), v]
        jobs.append((f"probe-{probe_name(kv)}", cmd, out / "eval.json", runs / "logs" / f"probe-{probe_name(kv)}.log"))
    return jobs


def collect_probe(runs: Path, a) -> dict:
    out = {}
    for kv in probe_settings(a.probe):
        ev = runs / "probe" / probe_name(kv) / "eval.json"
        if not ev.is_file():
            continue
        e = json.loads(ev.read_text())
        out[probe_name(kv)] = {"settings": kv, "train_seconds": round(train_seconds(ev.parent), 1), "labels": {
            k: {"name": v["name"], **{role: {x: v["protocols"][role][x] for x in ("accuracy", "fid")}
                                      for role in v["protocols"]}} for k, v in e["labels"].items()}}
    return out


def ratios(summary: dict, joint: dict) -> dict:
    div = lambda a, b: None if a is None or not b else a / b  # noqa: E731
    return {"old_accuracy_vs_joint": div(summary["old_accuracy"], joint["old_accuracy"]),
            "old_fid_vs_joint": div(summary["old_fid"], joint["old_fid"]),
            "new_accuracy_vs_joint": div(summary["new_accuracy"], joint["new_accuracy"]),
            "new_fid_vs_joint": div(summary["new_fid"], joint["new_fid"])}


def by_role(summary: dict) -> dict:
    """A summary row's means per protocol role (a row written before the judge was measured: the primary's)."""
    return summary.get("protocols") or {ROLES[0]: summary}


def targets(r: dict) -> dict:
    return {"old_accuracy>=0.9x": r["old_accuracy_vs_joint"] is not None and r["old_accuracy_vs_joint"] >= 0.9,
            "old_fid<=1.2x": r["old_fid_vs_joint"] is not None and r["old_fid_vs_joint"] <= 1.2,
            "new_fid<=1.2x": r["new_fid_vs_joint"] is not None and r["new_fid_vs_joint"] <= 1.2}


def collect(runs: Path, a) -> dict:
    out: dict = {"sequence": {}, "mnist": {}}
    for m in a.methods + a.variant_names:
        report = runs / f"seq-{m}" / "report" / "forgetting.json"
        if report.is_file():
            table = json.loads(report.read_text())
            seconds = sum(train_seconds(runs / f"seq-{m}" / f"step-{k}") for k in range(1, 5))
            out["sequence"][m] = {"summary": table["summary"], "train_seconds": round(seconds, 1),
                                  "final_labels": {k: final_figures(v) for k, v in table["labels"].items()}}
        ev = runs / f"mnist-{m}" / "eval.json"
        if ev.is_file():
            e = json.loads(ev.read_text())
            out["mnist"][m] = {"summary": e["summary"], "train_seconds": round(train_seconds(runs / f"mnist-{m}"), 1),
                               "final_labels": {k: {"name": v["name"], **{
                                   role: {x: f[x] for x in ("accuracy", "fid")} for role, f in
                                   (v.get("protocols") or {}).items()}} for k, v in e["labels"].items()}}
    for part in ("sequence", "mnist"):
        for m, r in out[part].items():
            ref = reference_of(m, a)  # joint, or the joint variant with the same extra flags (the same budget)
            if ref not in out[part]:
                continue
            joint = out[part][ref]
            jl = joint["summary"][-1] if part == "sequence" else joint["summary"]
            last = r["summary"][-1] if part == "sequence" else r["summary"]
            r["joint_reference"] = ref
            r["vs_joint"] = ratios(last, jl)
            r["targets_met"] = None if m == ref else targets(r["vs_joint"])
            jr = by_role(jl)
            r["vs_joint_by_protocol"] = {role: ratios(v, jr[role]) for role, v in by_role(last).items() if role in jr}
            r["targets_met_by_protocol"] = None if m == ref else {
                role: targets(v) for role, v in r["vs_joint_by_protocol"].items()}
    return out


def reference_of(name: str, a) -> str:
    """What a run is compared with: joint; for a variant, the joint variant with the same extra flags if any."""
    method, flags = a.variant_map.get(name, (name, []))
    for other, (m, f) in a.variant_map.items():
        if flags and m == "joint" and f == flags:
            return other
    return "joint"


def final_figures(row: dict) -> dict:
    """A label's figures after the last step, under the primary protocol and per protocol role."""
    last = lambda v: {x: v[x][-1] if v[x] else None for x in  # noqa: E731
                      ("accuracy", "fid", "precision", "recall", "accuracy_drop_from_best")}
    return {"name": row["name"], "learned_at": row["learned_at"], **last(row),
            "protocols": {role: last(v) for role, v in row.get("protocols", {}).items()}}


def plot_methods(results: dict, path: Path) -> None:
    """Mean accuracy and FID of the old labels after every step, one line per method; one row per protocol."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    roles = [role for role in ROLES if any(role in by_role(s) for r in results["sequence"].values()
                                           for s in r["summary"])]
    fig, axes = plt.subplots(len(roles), 2, figsize=(10, 3.6 * len(roles)), squeeze=False)
    for (a1, a2), role in zip(axes, roles):
        for m, r in results["sequence"].items():
            rows = [(s["step"], by_role(s)[role]) for s in r["summary"] if role in by_role(s)]
            rows = [(k, v) for k, v in rows if v["old_accuracy"] is not None]
            a1.plot([k for k, _ in rows], [v["old_accuracy"] for _, v in rows], marker="o", label=m)
            a2.plot([k for k, _ in rows], [v["old_fid"] for _, v in rows], marker="o", label=m)
        a1.set(xlabel="step", ylabel=f"old labels: mean {role} accuracy", ylim=(0, 1))
        a2.set(xlabel="step", ylabel=f"old labels: mean per-label FID ({role})")
        for ax in (a1, a2):
            ax.grid(alpha=0.3)
            ax.set_xticks(range(5))
        a1.legend()
    fig.suptitle("Fashion-MNIST in 5 steps of 2 classes (" + f"{results['settings']['steps_per_extension']} steps each)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def mnist_by_budget(results: dict) -> dict[str, tuple[str, dict]]:
    """A results file's MNIST runs keyed by method and budget ("replay@2000", "replay@1000 --old-share 0.25"),
    so that a variant of one seed and a plain run of another at the same settings are summarised together."""
    settings = results["settings"]
    out = {}
    for name, entry in results.get("mnist", {}).items():
        v = settings.get("variants", {}).get(name, {"method": name, "flags": []})
        flags, steps = list(v["flags"]), settings.get("mnist_steps") or settings["steps_per_extension"]
        if "--steps" in flags:
            i = flags.index("--steps")
            steps = int(flags[i + 1])
            del flags[i:i + 2]
        out[" ".join([f"{v['method']}@{steps}", *flags])] = (name, entry)
    return out


def summarise_seeds(paths: list[str], out: str) -> dict:
    """Mean and spread over seeds of each method's last-step figures and ratios against joint (same seed)."""
    import statistics
    runs = [json.loads(Path(p).read_text()) for p in paths]
    methods = sorted(set.intersection(*(set(r["sequence"]) for r in runs)))
    table: dict = {"sources": paths, "seeds": [r["settings"]["seed"] for r in runs], "methods": {}}
    stat = lambda vals: {"mean": statistics.mean(vals), "std": statistics.stdev(vals), "values": vals}  # noqa
    for m in methods:
        rows = {}
        for key in ("old_accuracy", "old_fid", "new_accuracy", "new_fid"):
            rows[key] = stat([r["sequence"][m]["summary"][-1][key] for r in runs])
        for key in ("old_accuracy_vs_joint", "old_fid_vs_joint", "new_fid_vs_joint"):
            rows[key] = stat([r["sequence"][m]["vs_joint"][key] for r in runs])
        roles = [role for role in ROLES if all(role in by_role(r["sequence"][m]["summary"][-1]) for r in runs)]
        rows["by_protocol"] = {}
        for role in roles:
            last = [by_role(r["sequence"][m]["summary"][-1])[role] for r in runs]
            part = {key: stat([x[key] for x in last]) for key in ("old_accuracy", "old_fid", "new_accuracy",
                                                                     "new_fid")}
            if all(role in r["sequence"][m].get("vs_joint_by_protocol", {}) for r in runs):
                for key in ("old_accuracy_vs_joint", "old_fid_vs_joint", "new_accuracy_vs_joint", "new_fid_vs_joint"):
                    part[key] = stat([r["sequence"][m]["vs_joint_by_protocol"][role][key] for r in runs])
            rows["by_protocol"][role] = part
        table["methods"][m] = rows
    keyed = [mnist_by_budget(r) for r in runs]
    table["mnist"] = {}
    for key in sorted(set.intersection(*(set(k) for k in keyed))) if keyed else []:
        rows = {"runs": [k[key][0] for k in keyed], "by_protocol": {}}
        for role in ROLES:
            entries = [k[key][1] for k in keyed]
            if not all(role in by_role(e["summary"]) and role in e.get("vs_joint_by_protocol", {}) for e in entries):
                continue
            part = {x: stat([by_role(e["summary"])[role][x] for e in entries])
                    for x in ("old_accuracy", "old_fid", "new_accuracy", "new_fid")}
            for x in ("old_accuracy_vs_joint", "old_fid_vs_joint", "new_accuracy_vs_joint", "new_fid_vs_joint"):
                part[x] = stat([e["vs_joint_by_protocol"][role][x] for e in entries])
            rows["by_protocol"][role] = part
        table["mnist"][key] = rows
    write_results(out, table)
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_options(ap, "runs/bench-extend", "benchmarks/results/extend.json")
    ap.add_argument("--methods", type=lambda s: s.split(","), default=list(METHODS))
    ap.add_argument("--width", type=float, default=0.25)
    ap.add_argument("--base-steps", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=200, help="training steps of every extension step")
    ap.add_argument("--mnist-steps", type=int, default=None, help="training steps of the MNIST-5k step (--steps)")
    ap.add_argument("--lr", type=float, default=None, help="learning rate of every extension (default: extend's)")
    ap.add_argument("--d-lr-ratio", type=float, default=None, help="discriminator lr / generator lr (extend's)")
    ap.add_argument("--r1", type=float, default=None, help="R1 weight of every extension (default: extend's)")
    ap.add_argument("--checkpoint-every", type=int, default=100)
    ap.add_argument("--variant", action="append", default=[], type=parse_variant,
                    help="also a method with extra extend flags, as NAME=METHOD:FLAGS (repeatable), e.g. "
                    "'replay-share0.25=replay:--old-share 0.25'; its runs are seq-NAME and mnist-NAME")
    ap.add_argument("--variants-in", type=lambda s: s.split(","), default=["sequence", "mnist"],
                    help="where the variants run: sequence, mnist or both")
    ap.add_argument("--probe", default=None, help="only size the budget: joint on the first step at each setting, "
                    "e.g. 'steps=500,lr=1e-3;steps=1000,lr=5e-4'")
    ap.add_argument("--eval-n", type=int, default=500, help="samples per label for each measurement")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--figure", default=None, help="also draw the methods' old-label curves into this PNG")
    ap.add_argument("--mnist", action="store_true", help="also the second modality (MNIST-5k after Fashion-MNIST)")
    ap.add_argument("--summarise", type=lambda s: s.split(","), default=None,
                    help="only combine these results files (one per seed) into --results")
    a = ap.parse_args()
    if a.summarise:
        print(json.dumps(summarise_seeds(a.summarise, a.results), indent=2))
        return
    runs = Path(a.runs)
    exe = [sys.executable, "-m", "gantransfer"]
    watch = Stopwatch()
    a.mnist_steps = a.mnist_steps or a.steps
    a.variant_map = {name: (method, flags) for name, method, flags in a.variant}
    a.variant_names = list(a.variant_map)
    if a.probe:
        if not a.collect_only:
            run_all([base_job(runs, exe, a)], 1)
            run_all(probe_jobs(runs, exe, a), a.jobs)
        results = {"command": "python benchmarks/extend.py " + shlex.join(sys.argv[1:]),
                   "settings": {"width": a.width, "base_steps": a.base_steps, "batch_size": 64, "seed": a.seed,
                                "eval_n_per_label": a.eval_n, "classes": STEPS_OF.split(":")[0]},
                   "machine": "2 CPU cores shared with other jobs (one torch thread per process)",
                   "wall_seconds": round(watch.elapsed(), 1), "probe": collect_probe(runs, a)}
        write_results(a.results, results)
        print(json.dumps({k: {lab: {r: round(f["accuracy"], 3) for r, f in v.items() if r != "name"}
                              for lab, v in p["labels"].items()} for k, p in results["probe"].items()}, indent=1))
        return
    if not a.collect_only:
        run_all([base_job(runs, exe, a)], 1)
        if not base_job(runs, exe, a)[2].exists():
            sys.exit(f"the base did not finish; see {runs / 'logs' / 'base.log'}")
        run_all(sequence_jobs(runs, exe, a), a.jobs)
        if a.mnist and "joint" in a.methods:
            run_all(mnist_jobs(runs, exe, a), a.jobs)
    results = {"command": "python benchmarks/extend.py " + shlex.join(sys.argv[1:]),
               "settings": {"width": a.width, "d_width": a.width / 2, "base_steps": a.base_steps,
                            "steps_per_extension": a.steps, "mnist_steps": a.mnist_steps, "batch_size": 64,
                            "lr": a.lr or 2e-4, "d_lr_ratio": a.d_lr_ratio or 1.0,
                            "r1": 1.0 if a.r1 is None else a.r1, "eval_n_per_label": a.eval_n,
                            "seed": a.seed, "steps_of": STEPS_OF, "methods": a.methods,
                            "variants": {k: {"method": m, "flags": f} for k, (m, f) in a.variant_map.items()},
                            "protocols": ["fashion-mnist-classifier-v1", "fashion-mnist-judge-v1",
                                          "mnist-5k-classifier-v1", "mnist-5k-judge-v1"]},
               "machine": "2 CPU cores shared with other jobs (one torch thread per process)",
               "wall_seconds": round(watch.elapsed(), 1), **collect(runs, a)}
    if a.collect_only and Path(a.results).is_file():  # keep the command and time of the run that made them
        earlier = json.loads(Path(a.results).read_text())
        results.update(command=earlier["command"], wall_seconds=earlier["wall_seconds"])
    Path(a.results).parent.mkdir(parents=True, exist_ok=True)
    write_results(a.results, results)
    if a.figure and results["sequence"]:
        plot_methods(results, Path(a.figure))
    print(json.dumps({k: {m: r.get("vs_joint") for m, r in v.items()} for k, v in results.items()
                      if k in ("sequence", "mnist")}, indent=2))


if __name__ == "__main__":
    main()
