"""Transfer from a StyleGAN2 teacher: distillation in W and Z space to StyleGAN2 students (1/2, 1/4, 1/8 of the
teacher's channels) and a DCGAN student; fusion of the StyleGAN2 teacher with a DCGAN teacher; MineGAN in W
against Z at 100 target images. Every run is a `gantransfer` command (recorded in the results), small budgets.

    python benchmarks/stylegan2_transfer.py --teacher runs/sg2-teacher --runs runs/bench/sg2-transfer \
        --out benchmarks/results/stylegan2_transfer.json

Figures per student, from the distillation run's own end-of-run evaluation (``eval.json``: the student and the
teacher under the protocol on the same n and seed, PSNR on the training bank and on fresh latents, with the
teacher's stored noise on both sides for StyleGAN2 students) plus CPU latency (batch 1) and throughput (batch
256) of student and teacher measured back to back in this process (one torch thread; the machine is shared, so
only ratios within one run mean anything). The perceptual term uses the teacher's discriminator, never the
protocol classifier that grades the students; fusion matches pixels only, for the same reason.

The longer budget (the headline DCGAN student of the StyleGAN2 teacher, 3 seeds, FID under both protocols; the
perceptual term on the shipped perceptual network `fashion-mnist-perceptual-v1`, which no protocol uses):

    python benchmarks/stylegan2_transfer.py --teacher runs/sg2-teacher --runs runs/bench/sg2-transfer-2000 \
        --steps 2000 --eval-n 5000 --perceptual-net auto --students dcgan-0.25 w-1/4 w-1/4-lr3e-3 z-1/4-lr3e-3 \
        --headline dcgan-0.25 --parts distill --out benchmarks/results/stylegan2_transfer_2000.json

`--parts rescore` scores the generators of an earlier --out's rows (and its MineGAN runs) with `gantransfer
eval` under every shipped protocol at their own n and seed 0, the teacher beside them, and adds the figures of
the protocols their end-of-run evaluation did not have (e.g. the judge, which came later).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from harness import Stopwatch, write_results

ROOT = Path(__file__).resolve().parents[1]
DCGAN_TEACHER = ROOT / "src" / "gantransfer" / "assets" / "teachers" / "fashion-mnist-dcgan"

# (name, extra distill flags): a StyleGAN2 student's --width is a fraction of the teacher's channels (0.5 / 0.25 /
# 0.125: 1/2, 1/4 and 1/8 at every resolution; the channel cap scales with it); the teacher is width 0.5, so these
# are the family widths 0.25 / 0.125 / 0.0625 the recorded runs used. A DCGAN student's is its own multiplier.
STUDENTS = [
    ("w-1/2", ["--latent-space", "w", "--width", "0.5"]),
    ("w-1/4", ["--latent-space", "w", "--width", "0.25"]),
    ("w-1/8", ["--latent-space", "w", "--width", "0.125"]),
    ("z-1/4", ["--latent-space", "z", "--width", "0.25"]),
    ("dcgan-0.25", ["--student-arch", "dcgan", "--width", "0.25"]),
]
FIRST_STUDENTS = [name for name, _ in STUDENTS]  # the 150-step table's (the default set)
STUDENTS += [  # for the longer budget: StyleGAN2 students at 3x the learning rate, a narrower DCGAN student
    ("w-1/4-lr3e-3", ["--latent-space", "w", "--width", "0.25", "--lr", "0.003"]),
    ("z-1/4-lr3e-3", ["--latent-space", "z", "--width", "0.25", "--lr", "0.003"]),
    ("dcgan-0.125", ["--student-arch", "dcgan", "--width", "0.125"]),
]


def run(cmd: list[str], log: Path) -> float:
    """Run a gantransfer command (one torch thread), its output to ``log``; seconds taken."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    watch = Stopwatch()
    with open(log, "w") as f:
        subprocess.run([sys.executable, "-m", "gantransfer", *cmd], check=True, env=env, stdout=f, stderr=f)
    return watch.elapsed()


def protocol(metrics: dict) -> dict:
    """FID / KID / precision / recall of a metrics dict (the first protocol it carries: the primary one)."""
    pick = lambda p: next((v for k, v in metrics.items() if k.startswith(p + "/")), None)  # noqa: E731
    return {k: pick(k) for k in ("fid", "kid", "precision", "recall")}


def by_protocol(metrics: dict) -> dict[str, dict]:
    """{protocol name: FID / KID / precision / recall} of a metrics dict (keys ``metric/protocol/n[/k]``)."""
    out: dict[str, dict] = {}
    for key, value in metrics.items():
        parts = key.split("/")
        if len(parts) >= 3 and parts[0] in ("fid", "kid", "precision", "recall"):
            out.setdefault(parts[1], {})[parts[0]] = value
    return out


def protocol_figures(student: dict, teacher: dict) -> dict[str, dict]:
    """Per protocol: the student's and the teacher's figures and the FID ratio (student over teacher)."""
    s, t = by_protocol(student), by_protocol(teacher)
    return {name: {"student": s[name], "teacher": t[name], "fid_ratio": s[name]["fid"] / t[name]["fid"]}
            for name in s if name in t}


def speed(path: Path) -> dict:
    import torch
    from gantransfer import load
    from gantransfer.deploy.bench import measure
    torch.set_num_threads(1)
    g, cfg = load(path)
    return measure(g, cfg, repeats=10, throughput_batch=256)


def distil_rows(args, runs: Path, earlier: list[dict]) -> tuple[list[dict], dict]:
    """One row per student (and per extra seed of the headline student); a run whose eval.json exists is read,
    not trained again (its earlier wall time kept)."""
    rows = []
    before = {(r["student"], r["seed"]): r for r in earlier}
    names = args.students or FIRST_STUDENTS
    jobs = [(name, flags, seed) for name, flags in STUDENTS if name in names
            for seed in (args.headline_seeds if name in args.headline else [0])]
    teacher_speed = speed(Path(args.teacher))
    for name, flags, seed in jobs:
        out = runs / f"distill-{name.replace('/', '_')}-s{seed}"
        cmd = ["distill", "--teacher", args.teacher, *flags, "--terms", args.terms, "--perceptual-net",
               args.perceptual_net, "--steps", str(args.steps), "--device", "cpu",
               "--batch-size", str(args.batch_size), "--bank-size", str(args.bank_size), "--eval-n",
               str(args.eval_n), "--seed", str(seed), "--sample-every", str(args.steps), "--checkpoint-every",
               str(args.steps), "--no-progress", "--out", str(out)]
        seconds = run(cmd, runs / f"{out.name}.log") if not (out / "eval.json").is_file() else \
            before.get((name, seed), {}).get("wall_seconds")
        ev = json.loads((out / "eval.json").read_text())
        s_speed = speed(out)
        row = {"student": name, "seed": seed, "command": "gantransfer " + " ".join(cmd), "wall_seconds": seconds,
               "student_protocol": protocol(ev["student"]), "teacher_protocol": protocol(ev["teacher_metrics"]),
               "fid_ratio": ev_ratio(ev), "protocols": protocol_figures(ev["student"], ev["teacher_metrics"]),
               "loss_networks": ev.get("loss_networks"), "psnr_fresh": ev["fidelity"]["fresh"]["psnr"],
               "psnr_bank": ev["fidelity"].get("bank", {}).get("psnr"), "noise": ev.get("noise"),
               "params": ev["cost"]["student_params"], "macs": ev["cost"]["student_macs"],
               "macs_reduction": ev["cost"]["macs_reduction"], "params_reduction": ev["cost"]["params_reduction"],
               "latency_ms_batch1": s_speed["latency_ms_batch1"],
               "latency_reduction": teacher_speed["latency_ms_batch1"] / s_speed["latency_ms_batch1"],
               "throughput_speedup": s_speed["throughput_per_s_batch256"] / teacher_speed["throughput_per_s_batch256"]}
        steps = [r["time/sec_per_step"] for r in map(json.loads, (out / "logs" / "metrics.jsonl").open())
                 if "time/sec_per_step" in r]
        row["sec_per_step"] = sum(steps) / len(steps) if steps else None  # the run's own timing (shared cores)
        rows.append(row)
        print(json.dumps({k: row[k] for k in ("student", "seed", "fid_ratio", "macs_reduction", "psnr_fresh")}),
              flush=True)
    done = {(r["student"], r["seed"]) for r in rows}  # the rows of students this process did not name are kept
    return [r for r in earlier if (r["student"], r["seed"]) not in done] + rows, teacher_speed


def ev_ratio(ev: dict) -> float:
    return protocol(ev["student"])["fid"] / protocol(ev["teacher_metrics"])["fid"]


def fusion_row(args, runs: Path) -> dict:
    out = runs / "fuse-sg2-dcgan"
    cmd = ["fuse", "--teacher", args.teacher, "--teacher", str(DCGAN_TEACHER), "--width", "0.5", "--terms",
           "pixel=1", "--steps",
           str(args.steps), "--batch-size", str(args.batch_size), "--eval-n", str(args.eval_n), "--sample-every",
           str(args.steps), "--checkpoint-every", str(args.steps), "--no-progress", "--out", str(out)]
    seconds = run(cmd, runs / "fuse.log") if not (out / "eval.json").is_file() else None
    return {"command": "gantransfer " + " ".join(cmd), "wall_seconds": seconds,
            "eval": json.loads((out / "eval.json").read_text())}


def minegan_rows(args, runs: Path) -> list[dict]:
    rows = []
    for space in ("z", "w"):
        out = runs / f"minegan-{space}"
        cmd = ["adapt", "--source", args.teacher, "--data", "mnist-5k", "--limit", "100", "--method", "minegan",
               "--miner-space", space, "--diffaugment", "color,translation,cutout", "--steps",
               str(args.adapt_steps), "--eval-every", str(args.adapt_steps // 2), "--eval-n",
               str(args.adapt_eval_n),
               "--held-out", "500", "--batch-size", "32", "--sample-every", str(args.adapt_steps),
               "--checkpoint-every", str(args.adapt_steps), "--no-progress", "--out", str(out)]
        seconds = run(cmd, runs / f"minegan-{space}.log") if not (out / "eval.json").is_file() else None
        ev = json.loads((out / "eval.json").read_text())
        rows.append({"miner_space": space, "command": "gantransfer " + " ".join(cmd), "wall_seconds": seconds,
                     "eval": ev})
        print(json.dumps({"minegan": space, "seconds": seconds}), flush=True)
    return rows


def evaluate(generator: Path, n: int, out: Path, extra: tuple[str, ...] = (), seed: int = 0) -> dict:
    """``gantransfer eval`` of a generator under every shipped protocol (n samples); its results."""
    if not out.is_file():
        cmd = ["eval", str(generator), "--n", str(n), "--seed", str(seed), "--device", "cpu", "--json", "--out", str(out)]
        run(cmd + list(extra), out.with_suffix(".log"))
    return json.loads(out.read_text())


def rescore(result: dict, args, runs: Path) -> dict:
    """Adds to every distillation row (and MineGAN run, fused student) of ``result`` the protocols its end-of-run
    evaluation lacked, from `gantransfer eval` of its generator and of the teacher at the same n and seed; the
    protocols it had are re-measured too, as a check that the two evaluations agree (``rescore_check``)."""
    teachers: dict[int, dict] = {}
    for row in result.get("distillation", []):
        ev_path = runs / f"distill-{row['student'].replace('/', '_')}-s{row['seed']}" / "eval.json"
        n = json.loads(ev_path.read_text())["n"]
        if n not in teachers:
            teachers[n] = evaluate(Path(args.teacher), n, runs / f"rescore-teacher-{n}.json")["metrics"]
        student = evaluate(ev_path.parent, n, runs / f"rescore-{ev_path.parent.name}.json")["metrics"]
        figures = protocol_figures(student, teachers[n])
        ev = json.loads(ev_path.read_text())
        had = by_protocol(ev["student"])
        row["rescore_check"] = {name: {"end_of_run_fid": had[name]["fid"],
                                       "rescored_fid": figures[name]["student"]["fid"]}
                                for name in figures if name in had}
        # the protocols the run had keep its end-of-run figures; the others come from the rescore
        row["protocols"] = {**{name: {**fig, "rescored": True} for name, fig in figures.items()},
                            **protocol_figures(ev["student"], ev["teacher_metrics"])}
        print(json.dumps({"rescored": row["student"], "seed": row["seed"],
                          **{k: v["fid_ratio"] for k, v in row["protocols"].items()}}), flush=True)
    for row in result.get("minegan", []):
        out = runs / f"minegan-{row['miner_space']}"
        n = args.adapt_eval_n
        # seed 1: the latents of adapt's own test evaluation, so its classifier figure must come back
        row["rescored"] = by_protocol(evaluate(out, n, runs / f"rescore-minegan-{row['miner_space']}-s1.json",
                                               ("--data", "mnist-5k"), seed=1)["metrics"])
    if "fusion" in result:  # the fused student's union of samples against the teachers' own mixture
        ev = result["fusion"]["eval"]
        fused = evaluate(runs / "fuse-sg2-dcgan", ev["n"], runs / "rescore-fuse-sg2-dcgan.json",
                         ("--teachers", f"{args.teacher},{DCGAN_TEACHER}"))
        result["fusion"]["rescored"] = {"union": by_protocol(fused["union"]["metrics"]),
                                        "teachers_mixture": by_protocol(fused["teachers_mixture"])}
    return result


def table(result: dict) -> str:
    """The docs' markdown table of the distillation rows (mean and spread over seeds where there are several; the
    speed ratios: median over seeds): FID under every protocol a row has (student, the teacher's at the same n
    and seed, their ratio)."""
    import statistics
    groups: dict[str, list[dict]] = {}
    for r in result["distillation"]:
        groups.setdefault(r["student"], []).append(r)
    names = list(dict.fromkeys(p for r in result["distillation"] for p in r.get("protocols", {})))
    spread = lambda v: f" +- {statistics.stdev(v):.2f}" if len(v) > 1 else ""  # noqa: E731
    short = lambda p: p.split("-")[-2] if p.count("-") >= 2 else p  # noqa: E731 (classifier, judge)
    head = "".join(f" FID {short(p)} (teacher) | ratio |" for p in names)
    lines = [f"| student | seeds |{head} PSNR bank / fresh | params | MACs (reduction) | latency b1 | "
             "throughput b256 |", "|---|---|" + "---|---|" * len(names) + "---|---|---|---|---|"]
    for name, rows in groups.items():
        cells = ""
        for p in names:
            figs = [r["protocols"][p] for r in rows if p in r.get("protocols", {})]
            if len(figs) < len(rows):
                cells += " - | - |"
                continue
            fid, ratio = [f["student"]["fid"] for f in figs], [f["fid_ratio"] for f in figs]
            cells += (f" {statistics.mean(fid):.2f}{spread(fid)} ({figs[0]['teacher']['fid']:.2f}) | "
                      f"{statistics.mean(ratio):.2f}x{spread(ratio)} |")
        r = rows[0]
        lines.append(f"| {name} | {len(rows)} |{cells} "
                     f"{statistics.mean(x['psnr_bank'] for x in rows):.2f} / "
                     f"{statistics.mean(x['psnr_fresh'] for x in rows):.2f} dB | {r['params']:,} | "
                     f"{r['macs']:,} ({r['macs_reduction']:.1f}x) | "
                     f"{statistics.median(x['latency_reduction'] for x in rows):.2f}x | "
                     f"{statistics.median(x['throughput_speedup'] for x in rows):.2f}x |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--teacher", required=True, help="the StyleGAN2 teacher (a generator or run directory)")
    ap.add_argument("--runs", default="runs/bench/sg2-transfer")
    ap.add_argument("--out", default="benchmarks/results/stylegan2_transfer.json")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--adapt-steps", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--bank-size", type=int, default=4096)
    ap.add_argument("--eval-n", type=int, default=2000)
    ap.add_argument("--terms", default="pixel=1,perceptual=1,feature=1")
    ap.add_argument("--headline-seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--headline", nargs="+", default=["w-1/4"], help="the students trained on every headline seed")
    ap.add_argument("--perceptual-net", default="discriminator",
                    help="the perceptual term's network (distill --perceptual-net): discriminator (the teacher's) or "
                         "auto (the shipped perceptual network); never a protocol's")
    ap.add_argument("--students", nargs="+", choices=[name for name, _ in STUDENTS], default=None,
                    help="only these students (default: the 150-step table's five); several processes can train "
                         "disjoint sets, then one run naming them all reads their results and measures every speed "
                         "in one process")
    ap.add_argument("--adapt-eval-n", type=int, default=1000)
    ap.add_argument("--parts", nargs="+", default=["distill", "fusion", "minegan"],
                    choices=["distill", "fusion", "minegan", "rescore"])
    ap.add_argument("--table", action="store_true", help="print the markdown table of --out and stop")
    args = ap.parse_args()
    if args.table:
        print(table(json.loads(Path(args.out).read_text())))
        return
    runs = Path(args.runs)
    runs.mkdir(parents=True, exist_ok=True)
    result: dict = {"teacher": args.teacher, "settings": {k: v for k, v in vars(args).items() if k != "parts"},
                    "hardware": f"{os.cpu_count()} CPU cores shared with other jobs, one torch thread per run"}
    out = Path(args.out)
    if out.is_file():
        earlier = json.loads(out.read_text())
        result = earlier if args.parts == ["rescore"] else {**earlier, **result}  # a rescore keeps the settings
    if "rescore" in args.parts:
        result = rescore(result, args, runs)
        result["rescore_command"] = "python benchmarks/stylegan2_transfer.py " + " ".join(sys.argv[1:])
    if "distill" in args.parts:
        result["distillation"], result["teacher_speed"] = distil_rows(args, runs, result.get("distillation", []))
    if "fusion" in args.parts:
        result["fusion"] = fusion_row(args, runs)
    if "minegan" in args.parts:
        result["minegan"] = minegan_rows(args, runs)
    write_results(out, result, indent=1)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
