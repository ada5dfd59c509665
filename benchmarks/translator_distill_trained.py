"""Distilling trained translators (issue 30): students with >= 20x fewer MACs, the recipe ablation under both
protocols of the built-in tasks, the measured CPU speed-up, and a junyanz-layout import of the same teacher.

Teachers (trained by ``gantransfer train --task ...``, benchmarks/translator_teachers.py, whose ``--root`` is this
script's ``--teachers``, default build/translator_teachers; read-only here):
``--pix2pix``: resnet ngf 16, 6 blocks, instance norm on ``fmnist-edges`` (edges -> item, 32 px);
``--cyclegan``: the same architecture, A -> B of ``fmnist-stripes``. Students (``distill --data TASK``, the task's
input domain, its test split's first ``--eval-n`` inputs held out):

- ``mobile-resnet`` at ``--width 0.25`` (ngf 4: 34.5x fewer MACs), random start (another family);
- ``resnet`` at ``--width 0.1875`` (ngf 3: 23.7x fewer MACs), pruned from the teacher (``--init prune
  --prune-criterion diversity``: the scale-based criteria are blind on instance-normalised ResNets);
- ``shuffle-resnet`` at ``--width 0.5`` (ngf 8: 21.7x fewer MACs; no full-size layer), random start.

Figures per student: the task protocol (``gantransfer eval STUDENT --data TASK``: FID and class kept under
``fashion-mnist-classifier-v1`` and ``fashion-mnist-judge-v1``, PSNR against the ground truth when paired) on the
first ``--n`` test inputs, as ratios to the teacher's under the same protocol and count (computed here, same
code); the teacher-relative figures of the run's eval.json (PSNR against the teacher, FD in a space learned from
the teacher's outputs). Parts (each updates its key of the results JSON, so they run one at a time):

- ``paired``: the ablation on the pix2pix teacher, ``--seeds`` seeds each;
- ``speed``: teacher and students timed interleaved, eager and ONNX Runtime (the parity-checked fp32 export),
  batch 1, one thread, at 32 px and at 256 px (the networks are fully convolutional);
- ``unpaired``: pixel and the best addition on the CycleGAN teacher's A -> B generator;
- ``long``: ``--recipe`` (default: the auto recipe before session 16) with ``--student`` (default mobile-resnet) of
  ``--long-teacher`` (default pix2pix) at ``--long-steps``, ``--long-seeds`` (default 0): does the gap close?
- ``shuffle``: the ``--compare`` students (default mobile-resnet and shuffle-resnet with instance and batch
  norm) with the auto recipe at ``--steps``, ``--seeds``, then their seed-0 runs and the teacher timed as in
  ``speed``;
- ``imported``: the pix2pix teacher's weights saved as a junyanz ``latest_net_G.pth`` (key mapping below),
  re-imported by ``gantransfer import``, outputs compared, and distilled with the first recipe and seed.

    python benchmarks/translator_distill_trained.py --part paired --out benchmarks/results/translator_distill_trained.json
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path

import torch
from harness import Stopwatch, markdown_table, write_results
from translators_throughput import forward

from gantransfer.tasks.default_terms import TRANSLATOR_AUTO, TRANSLATOR_PERCEPTUAL

TEACHER_ROOT = "build/translator_teachers"  # benchmarks/translator_teachers.py --root; this script's --teachers
TEACHERS = {name: f"{TEACHER_ROOT}/{name}/generator" for name in ("pix2pix", "cyclegan")}
TASKS = {"pix2pix": "fmnist-edges", "cyclegan": "fmnist-stripes"}
STUDENTS = {  # name -> distill flags
    "mobile-resnet ngf 4": ["--student-arch", "mobile-resnet", "--width", "0.25"],
    "resnet ngf 3 (pruned)": ["--width", "0.1875", "--init", "prune", "--prune-criterion", "diversity"],
    "shuffle-resnet ngf 8": ["--student-arch", "shuffle-resnet", "--width", "0.5"],  # 21.7x fewer MACs
    "shuffle-resnet ngf 8 batch-norm": ["--student-arch", "shuffle-resnet", "--width", "0.5",
                                        "--student-options", '{"norm": "batch"}'],  # norms folded at export
}
RECIPES = {  # name -> --terms; "+ feature + adversarial" is what --terms auto picks since this benchmark
    "pixel": "pixel=1",
    "+ feature": "pixel=1,feature=0.01",
    "+ feature + adversarial": "pixel=1,feature=0.01,adversarial=0.05",
    "+ feature + structure": "pixel=1,feature=0.01,ssim=0.2,gram=0.2,tv=0.001",
    "+ feature + adversarial + perceptual": "pixel=1,feature=0.01,adversarial=0.05,perceptual=1",
}
AUTO_RECIPE = "+ feature + adversarial"  # auto until session 16; auto on a built-in task adds perceptual
PROTOCOLS = ("fashion-mnist-classifier-v1", "fashion-mnist-judge-v1")


def slug(student: str) -> str:
    """A student's short name in run directories: its family, and any words after ``ngf N`` (a variant)."""
    words = student.split()
    return "-".join([words[0], *(w for w in words[3:] if not w.startswith("("))])


def run_name(recipe: str) -> str:
    """A recipe's part of run directory names ("+ feature + adversarial" -> "_feature_adversarial")."""
    return recipe.replace(' ', '').replace('+', '_')


def run_dir(student: str, recipe: str, tag: str, seed: int) -> str:
    """The directory name of one run: student, recipe, the ``--tag`` of runs made with ``--extra``, seed."""
    return f"{slug(student)}-{run_name(recipe)}{f'-{tag}' if tag else ''}-s{seed}"


def distill(teacher: str, task: str, out: Path, student: str, terms: str, seed: int, steps: int, eval_n: int,
            extra: list[str] = ()) -> float:
    """One ``gantransfer distill`` through the command line (skipped when its eval.json exists); CPU seconds."""
    if (out / "eval.json").exists():
        return json.loads((out / "bench_cpu.json").read_text())["cpu_s"]
    from gantransfer.cli import main
    argv = ["distill", "--teacher", teacher, "--data", task, *STUDENTS[student], "--terms", terms,
            "--steps", str(steps), "--batch-size", "16", "--eval-n", str(eval_n), "--log-every", "100",
            "--checkpoint-every", str(steps), "--seed", str(seed), "--no-progress", "--out", str(out),
            "--overwrite", *extra]
    with Stopwatch("cpu") as sw:
        code = main(argv)
    if code:
        raise SystemExit(f"gantransfer {' '.join(argv)} failed ({code})")
    (out / "bench_cpu.json").write_text(json.dumps({"cpu_s": sw.seconds}))
    return sw.seconds


_TASK_DATA: dict = {}


def protocol(g_dir: str, task: str, n: int) -> dict[str, float]:
    """``gantransfer eval DIR --data TASK --n N``'s metrics: the task protocol's own function
    (``translation_figures``) on the task's data, read once per task (every translator here is 1 -> 1 channel,
    32 px, in the direction it records)."""
    from gantransfer.data.registry import load_translation_data
    from gantransfer.data.translation_tasks import TRANSLATION_TASKS
    from gantransfer.metrics.translation_protocol import translation_figures
    from gantransfer.models.store import load_generator
    g, cfg = load_generator(g_dir)
    direction = cfg.meta.get("translation", {}).get("direction", "AtoB")
    key = (task, cfg.resolution, cfg.input_channels, cfg.channels, direction)
    if key not in _TASK_DATA:
        ca, cb = (cfg.input_channels, cfg.channels) if direction == "AtoB" else (cfg.channels, cfg.input_channels)
        _TASK_DATA[key] = load_translation_data(task, cfg.resolution, channels_a=ca, channels_b=cb)
    return translation_figures(g, _TASK_DATA[key], direction, TRANSLATION_TASKS.get(task).protocol_dataset,
                               n)["metrics"]


def ratios(student: dict[str, float], teacher: dict[str, float]) -> dict[str, float]:
    """Student / teacher for every protocol metric (FID: lower is better; the others higher)."""
    return {k: student[k] / teacher[k] for k in student if k in teacher and teacher[k]}


def student_row(run: Path, task: str, n: int, teacher_fig: dict[str, float]) -> dict:
    """A finished run's figures: the task protocol and its ratios to the teacher, eval.json, the recipe chosen."""
    ev = json.loads((run / "eval.json").read_text())
    info = json.loads((run / "run.json").read_text())
    fig = protocol(str(run / "generator"), task, n)
    return {"protocol": fig, "ratio_to_teacher": ratios(fig, teacher_fig),
            "teacher_relative": {"psnr": ev["fidelity"]["psnr"], "ssim": ev["fidelity"]["ssim"],
                                 "fd": ev.get("teacher_relative", {}).get("fd"),
                                 "space": ev.get("teacher_relative", {}).get("space", {}).get("key")},
            "cost": ev["cost"], "terms": info.get("terms_chosen", {}).get("terms"),
            "perceptual_net": info.get("terms_chosen", {}).get("perceptual_net"),
            "terms_auto": info.get("terms_chosen", {}).get("auto")}


def fid_keys(fig: dict[str, float]) -> list[str]:
    return [k for p in PROTOCOLS for k in fig if k.startswith(f"fid/{p}/")]


def ablation(name: str, recipes: dict[str, str], students: list[str], seeds: list[int], a, runs: Path) -> dict:
    """Teacher figures, then every (student, recipe, seed) distilled and measured; per-recipe means."""
    teacher, task = TEACHERS[name], TASKS[name]
    t_fig = protocol(teacher, task, a.n)
    rows = []
    for student in students:
        for recipe, terms in recipes.items():
            for seed in seeds:
                run = runs / name / run_dir(student, recipe, a.tag, seed)
                cpu = distill(teacher, task, run, student, terms, seed, a.steps, a.eval_n, shlex.split(a.extra))
                rows.append({"student": student, "recipe": recipe + (f" ({a.extra})" if a.extra else ""),
                             "seed": seed, "cpu_s": round(cpu, 1), **student_row(run, task, a.n, t_fig)})
                print(json.dumps({k: rows[-1][k] for k in ("student", "recipe", "seed", "ratio_to_teacher")}),
                      file=sys.stderr)
    return {"teacher": teacher, "task": task, "teacher_protocol": t_fig, "rows": rows,
            "summary": summarise(rows, t_fig)}


def summarise(rows: list[dict], t_fig: dict[str, float]) -> list[dict]:
    """Per (student, recipe): mean and spread over seeds of the FID ratios, class kept, PSNRs; target reached?"""
    out = []
    for key in dict.fromkeys((r["student"], r["recipe"]) for r in rows):
        group = [r for r in rows if (r["student"], r["recipe"]) == key]
        s = {"student": key[0], "recipe": key[1], "seeds": len(group), "terms": group[0]["terms"],
             "perceptual_net": group[0].get("perceptual_net"),
             "macs_reduction": group[0]["cost"]["macs_reduction"]}
        for k in fid_keys(t_fig) + [k for k in t_fig if k.startswith("class_kept/") or k == "psnr/ground-truth"]:
            vals = [r["ratio_to_teacher"][k] for r in group]
            s[f"ratio {k}"] = statistics.mean(vals)
            s[f"ratio {k} sd"] = statistics.stdev(vals) if len(vals) > 1 else 0.0
        if "psnr/ground-truth" in t_fig:
            s["psnr_gt"] = statistics.mean(r["protocol"]["psnr/ground-truth"] for r in group)
        s["psnr_vs_teacher"] = statistics.mean(r["teacher_relative"]["psnr"] for r in group)
        spaces = {r["teacher_relative"].get("space") for r in group}
        # FD is comparable only within one learned space: no mean across runs scored in different spaces
        s["fd_vs_teacher"] = (statistics.mean(r["teacher_relative"]["fd"] for r in group) if len(spaces) == 1
                              else None)
        s["target_reached"] = s["macs_reduction"] >= 20 and all(s[f"ratio {k}"] <= 1.1 for k in fid_keys(t_fig))
        out.append(s)
    return out


def table(summary: list[dict], t_fig: dict[str, float]) -> str:
    fk = fid_keys(t_fig)
    paired = "psnr/ground-truth" in t_fig
    head = ["student", "recipe", "seeds", "MACs", "FID ratio classifier", "FID ratio judge",
            "class kept ratio (cl./judge)"] + (["PSNR vs truth dB"] if paired else []) + \
        ["PSNR vs teacher dB", "FD vs teacher", "target"]
    body = []
    for s in summary:
        ck = [f"{s[f'ratio class_kept/{p}']:.3f}" for p in PROTOCOLS]
        auto = {TRANSLATOR_AUTO: " (= auto before session 16; auto on a folder)",
                f"{TRANSLATOR_AUTO},{TRANSLATOR_PERCEPTUAL}": " (= auto on a built-in task)"}
        uses_shipped = "perceptual=" not in s["terms"] or s.get("perceptual_net") == "perceptual"
        body.append([s["student"], s["recipe"] + (auto.get(s["terms"], "") if uses_shipped else ""),
                     s["seeds"], f"{s['macs_reduction']:.1f}x fewer",
                     *[f"{s[f'ratio {k}']:.2f} +- {s[f'ratio {k} sd']:.2f}" for k in fk], " / ".join(ck)]
                    + ([f"{s['psnr_gt']:.2f}"] if paired else [])
                    + [f"{s['psnr_vs_teacher']:.2f}", "-" if s["fd_vs_teacher"] is None else f"{s['fd_vs_teacher']:.2f}",
                       "reached" if s["target_reached"] else "not reached"])
    return markdown_table(head, body)

# ---------------------------------------------------------------- speed


def speed(a, runs: Path, students: dict[str, Path] | None = None) -> dict:
    """Teacher and students (name -> run; default: the paired part's two seed-0 pixel students), eager and ONNX
    Runtime, batch 1, 32 and 256 px, interleaved."""
    dirs = {"teacher resnet ngf 16": TEACHERS["pix2pix"]}
    if students is None:
        students = {s: runs / "pix2pix" / f"{slug(s)}-pixel-s0" for s in list(STUDENTS)[:2]}
    for student, run in students.items():
        run = Path(run)
        if not (run / "generator").exists():
            raise SystemExit(f"{run} missing: run the part that trains it first")
        dirs[student] = str(run / "generator")
    return time_translators(a, runs / "speed", dirs)


def time_translators(a, work: Path, dirs: dict[str, str]) -> dict:
    """Translators (name -> generator directory; the first is the reference), eager and ONNX Runtime, batch 1, at
    ``a.sizes`` px, interleaved over ``a.rounds``; speed-ups against the first."""
    from gantransfer.deploy.backends import Subject
    from gantransfer.models.cost import count_macs
    from gantransfer.models.store import load_generator
    work.mkdir(parents=True, exist_ok=True)
    calls, macs, exports = {}, {}, {}
    for name, d in dirs.items():
        g, cfg = load_generator(d)
        subject = Subject("-".join(name.split()).replace("(", "").replace(")", ""), g, cfg, work)
        for backend in ("eager", "onnx"):
            run = subject.runner(backend, 1, d)
            for size in a.sizes:
                x = torch.rand(1, cfg.input_channels, size, size, generator=torch.Generator().manual_seed(size)) * 2 - 1
                calls[(name, backend, size)] = forward(run, x)
                macs[(name, size)] = count_macs(g, dataclasses.replace(cfg, resolution=size))
        exports[name] = {b: {k: v for k, v in r.items() if k == "parity"} for b, r in subject.exports.items()}
    times = {k: [] for k in calls}
    for fn in calls.values():
        fn()
    with Stopwatch() as wall:
        for r in range(a.rounds):
            for key, fn in calls.items():
                reps = max(2, 20 * 32 * 32 // key[2] ** 2)  # one timed figure = the mean of a few calls
                t0 = time.perf_counter()
                for _ in range(reps):
                    fn()
                times[key].append((time.perf_counter() - t0) / reps)
    med = {k: statistics.median(v) for k, v in times.items()}
    rows = []
    teacher = next(iter(dirs))
    for (name, backend, size), s in med.items():
        rows.append({"translator": name, "backend": backend, "size": size, "batch": 1, "seconds": s,
                     "macs": macs[(name, size)], "macs_reduction": macs[(teacher, size)] / macs[(name, size)],
                     "speedup_vs_teacher": med[(teacher, backend, size)] / s,
                     "onnx_vs_eager": med[(name, "eager", size)] / med[(name, "onnx", size)]})
    body = [[r["translator"], r["size"], r["backend"], f"{r['macs'] / 1e6:.3g}", f"{r['macs_reduction']:.1f}x",
             f"{r['seconds'] * 1e3:.3g}", f"{r['speedup_vs_teacher']:.2f}x"] for r in rows]
    return {"rounds": a.rounds, "wall_s": round(wall.seconds, 1), "exports": exports, "rows": rows,
            "table": markdown_table(["translator", "px", "backend", "MMACs", "MACs reduction", "ms / image",
                                     "speed-up vs teacher"], body)}


# ---------------------------------------------------------------- imported teacher


def junyanz_state_dict(g: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The teacher's weights in the junyanz ResnetGenerator layout. gantransfer's ``resnet`` family is built as
    that ``nn.Sequential`` (``model.0`` reflection pad, ``model.1`` 7x7 conv, ..., ``model.10.conv_block.*`` the
    first residual block), so the mapping from our module names is the identity; it is checked here against the
    importer's own layout detection rather than assumed."""
    from gantransfer.models.translator_import import detect_layout, looks_like_junyanz
    mapping = {k: k for k in g.state_dict()}  # our name -> junyanz name
    state = {mapping[k]: v.detach().clone() for k, v in g.state_dict().items()}
    if not looks_like_junyanz(state):
        raise SystemExit("the resnet family's keys are no longer the junyanz layout: write the mapping")
    detect_layout(state, "benchmark")
    return state


def imported(a, runs: Path) -> dict:
    """Save the pix2pix teacher as latest_net_G.pth, ``gantransfer import`` it, compare, distil the same way."""
    from gantransfer.cli import main
    from gantransfer.models.store import load_generator
    g, cfg = load_generator(TEACHERS["pix2pix"])
    root = runs / "imported"
    root.mkdir(parents=True, exist_ok=True)
    pth = root / "latest_net_G.pth"
    torch.save(junyanz_state_dict(g), pth)
    out = root / "teacher"
    if not (out / "config.json").exists() and not (out / "generator").exists():
        if main(["import", str(pth), "--out", str(out)]):
            raise SystemExit("gantransfer import failed")
    gi, cfgi = load_generator(out)
    x = torch.rand(16, cfg.input_channels, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.inference_mode():
        diff = float((g(x) - gi(x)).abs().max())
    student, recipe = next(iter(STUDENTS)), next(iter(RECIPES))
    native = runs / "pix2pix" / run_dir(student, recipe, "", 0)
    run = root / "student"
    cpu = distill(str(out), "fmnist-edges", run, student, RECIPES[recipe], 0, a.steps, a.eval_n,
                  ["--input-size", "32"])
    t_fig = protocol(TEACHERS["pix2pix"], "fmnist-edges", a.n)
    rows = {"imported": student_row(run, "fmnist-edges", a.n, t_fig),
            "native": student_row(native, "fmnist-edges", a.n, t_fig)}
    from gantransfer.models.store import load_generator as lg
    si, _ = lg(run / "generator")
    sn, _ = lg(native / "generator")
    with torch.inference_mode():
        sdiff = float((si(x) - sn(x)).abs().max())
    return {"file": "latest_net_G.pth (junyanz ResnetGenerator keys: model.1.weight ... model.10.conv_block.*)",
            "imported_config": {"arch": cfgi.arch, "options": dataclasses.asdict(cfgi.options),
                                "resolution": cfgi.resolution, "input_channels": cfgi.input_channels},
            "teacher_max_abs_difference": diff, "student": student, "recipe": recipe, "seed": 0,
            "cpu_s": round(cpu, 1), "students": rows, "student_max_abs_difference": sdiff}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=("paired", "speed", "unpaired", "imported", "long", "shuffle"), required=True)
    p.add_argument("--out", default="benchmarks/results/translator_distill_trained.json")
    p.add_argument("--runs", default="build/translator_distill_trained")
    p.add_argument("--teachers", default=TEACHER_ROOT, help="where benchmarks/translator_teachers.py left the teachers")
    p.add_argument("--extra", default="", help="paired/long/shuffle: more distill flags for every run (e.g. "
                   "'--ema-beta 0.999'); with --tag, which names their run directories")
    p.add_argument("--recipe", choices=list(RECIPES), default=AUTO_RECIPE,
                   help="long, shuffle: the recipe (default: what --terms auto picks)")
    p.add_argument("--tag", default="", help="suffix of the run directories of runs made with --extra")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--long-steps", type=int, default=1500, help="long: steps of the one longer run")
    p.add_argument("--student", choices=list(STUDENTS), default=next(iter(STUDENTS)), help="long: the student")
    p.add_argument("--long-seeds", default="0", help="long: the seeds")
    p.add_argument("--long-teacher", choices=list(TASKS), default="pix2pix", help="long: the teacher")
    p.add_argument("--compare", nargs="+", choices=list(STUDENTS),
                   default=["mobile-resnet ngf 4", "shuffle-resnet ngf 8", "shuffle-resnet ngf 8 batch-norm"],
                   help="shuffle: the students compared")
    p.add_argument("--n", type=int, default=2000, help="test inputs of the task protocol (teacher and students)")
    p.add_argument("--eval-n", type=int, default=200, help="held-out inputs of each run's eval.json")
    p.add_argument("--rounds", type=int, default=5, help="speed: interleaved timing rounds")
    p.add_argument("--sizes", type=lambda v: [int(x) for x in v.split(",")], default=[32, 256],
                   help="speed, shuffle: image sides timed (default 32,256)")
    p.add_argument("--speed-runs", nargs="+", default=None, metavar="NAME=RUN",
                   help="speed: the students timed against the teacher (default: the paired part's seed-0 pixel ones)")
    a = p.parse_args()
    if bool(a.extra) != bool(a.tag):
        raise SystemExit("--extra and --tag go together (the tag names the runs made with the extra flags)")
    TEACHERS.update({name: str(Path(a.teachers) / name / "generator") for name in TEACHERS})
    part_flags = {"long": f"--long-steps {a.long_steps} --long-seeds {a.long_seeds} --student '{a.student}' "
                          f"--recipe '{a.recipe}' --long-teacher {a.long_teacher}",
                  "shuffle": f"--steps {a.steps} --seeds {a.seeds} --recipe '{a.recipe}' --compare "
                             + " ".join(f"'{c}'" for c in a.compare),
                  "speed": f"--rounds {a.rounds} --sizes {','.join(map(str, a.sizes))}" + (
                      " --speed-runs" + "".join(f" '{x}'" for x in a.speed_runs) if a.speed_runs else "")
                  }.get(a.part, f"--steps {a.steps} --seeds {a.seeds}")
    command = (f"python benchmarks/translator_distill_trained.py --part {a.part} {part_flags} --n {a.n} "
               f"--teachers {a.teachers} --runs {a.runs}"
               + (f" --extra '{a.extra}' --tag {a.tag}" if a.extra else ""))
    torch.set_num_threads(1)
    runs = Path(a.runs)
    os.environ.setdefault("GANTRANSFER_CACHE", str(runs / "cache"))  # never beside the read-only teachers
    seeds = [int(s) for s in a.seeds.split(",")]
    results = json.loads(Path(a.out).read_text()) if Path(a.out).exists() else {}
    with Stopwatch("cpu") as cpu:
        if a.part == "paired":
            part = ablation("pix2pix", RECIPES, [next(iter(STUDENTS))], seeds, a, runs)
            pruned = ablation("pix2pix", {k: RECIPES[k] for k in ("pixel", "+ feature + adversarial")}, [list(STUDENTS)[1]], seeds, a, runs)
            part["rows"] += pruned["rows"]
            part["summary"] += pruned["summary"]
        elif a.part == "unpaired":
            recipes = {k: RECIPES[k] for k in ("pixel", "+ feature + adversarial")}
            part = ablation("cyclegan", recipes, [next(iter(STUDENTS))], seeds, a, runs)
        elif a.part == "long":  # does the gap close with training? the auto recipe, --long-steps, seed 0
            a.steps = a.long_steps
            part = ablation(a.long_teacher, {a.recipe: RECIPES[a.recipe]},
                            [a.student], [int(x) for x in a.long_seeds.split(",")], a, runs / f"long{a.long_steps}")
        elif a.part == "shuffle":  # the shuffle students against mobile-resnet: the auto recipe, then their speed
            students = a.compare
            where = runs / f"shuffle{a.steps}"
            part = ablation("pix2pix", {a.recipe: RECIPES[a.recipe]}, students, seeds, a, where)
            part["speed"] = speed(a, where, {s: where / "pix2pix" / run_dir(s, a.recipe, a.tag, seeds[0])
                                             for s in students})
        elif a.part == "speed":
            part = speed(a, runs, dict(x.split("=", 1) for x in a.speed_runs) if a.speed_runs else None)
        else:
            part = imported(a, runs)
    if "summary" in part:
        part["table"] = table(part["summary"], part["teacher_protocol"])
    part.update(command=command, steps=a.steps, batch_size=16, threads=1,
                cpu_s=round(cpu.seconds, 1))
    if a.part in ("paired", "unpaired"):
        part["note"] = ("the pixel rows' runs were made with --terms auto while auto was pixel=1 (their run.json "
                        "terms_chosen records pixel=1, auto); this script now passes pixel=1: the same terms")
    results[a.part] = part
    results["machine"] = {"shared": True, "note": "2 CPU cores shared with five other helpers and a lead (load "
                          "average 5-6): timings are ratios from one run, teacher and students interleaved",
                          "processor": platform.processor() or platform.machine(), "torch": torch.__version__}
    write_results(a.out, results)
    print(part.get("table", ""))


if __name__ == "__main__":
    main()
