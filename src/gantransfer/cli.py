"""Command line: argument parsing -> configs -> API calls. No logic lives here."""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
import typing
import warnings
from pathlib import Path
from typing import Any, Sequence

from gantransfer.errors import ConfigError, GantransferError
from gantransfer.registry import resolve

def _parse_json_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as e:
        raise argparse.ArgumentTypeError(f"expected a JSON object such as '{{\"channel_max\": 64}}', got {text!r} "
                                         f"({getattr(e, 'msg', 'nested too deeply')})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object such as '{{\"channel_max\": 64}}', got {text!r}")
    return value


def _parse_list(tp: Any):
    def parse(text: str) -> list:
        try:
            return [tp(v) for v in text.split(",") if v.strip() != ""]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated {tp.__name__} values, got {text!r}") from None
    return parse


def add_config_flags(parser: argparse.ArgumentParser, cls: type, skip: Sequence[str] = ()) -> None:
    """One flag per dataclass field (``--field-name``, its help from the field); absent flags do not override the
    config file. Deprecated field names stay accepted as hidden flags (renamed, with a warning)."""
    from gantransfer.config import aliases_of, help_of
    hints = typing.get_type_hints(cls)
    own = set(cls.__dict__.get("__annotations__", {}))  # the command's own fields first, inherited ones after
    for f in sorted(dataclasses.fields(cls), key=lambda f: f.name not in own):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        tp = hints[f.name]
        args = [a for a in typing.get_args(tp) if a is not type(None)] or [tp]
        base = args[0]
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        help_text = f"{help_of(cls, f.name)} (default: {default})"
        _add_flag(parser, [flag], f.name, base, help_text)
    names = {f.name for f in dataclasses.fields(cls)}
    for old, new in aliases_of(cls).items():
        if new in names and new not in skip and old not in names:
            tp = [a for a in typing.get_args(hints[new]) if a is not type(None)] or [hints[new]]
            _add_flag(parser, ["--" + old.replace("_", "-")], ALIAS_PREFIX + old, tp[0], argparse.SUPPRESS)


ALIAS_PREFIX = "alias:"


def _add_flag(parser: argparse.ArgumentParser, flags: list[str], dest: str, base: Any, help_text: str) -> None:
    if base is bool:
        parser.add_argument(*flags, dest=dest, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                            help=help_text)
    elif base is dict or typing.get_origin(base) is dict:
        parser.add_argument(*flags, dest=dest, type=_parse_json_object, default=argparse.SUPPRESS, metavar="JSON",
                            help=help_text)
    elif typing.get_origin(base) is list:
        parser.add_argument(*flags, dest=dest, type=_parse_list(typing.get_args(base)[0]), default=argparse.SUPPRESS,
                            metavar="A,B,..", help=help_text)
    else:
        parser.add_argument(*flags, dest=dest, type=base, default=argparse.SUPPRESS, help=help_text)


def config_from_args(cls: type, args: argparse.Namespace, extra: dict[str, Any] | None = None):
    """--config FILE, then explicit flags on top; validated by the config's own rules."""
    from gantransfer.config import from_dict, load_config_file
    from gantransfer.trust import check_file_entry_points
    data: dict[str, Any] = load_config_file(args.config) if getattr(args, "config", None) else {}
    check_file_entry_points(data, args.config)  # a recipe handed to the user must not make us import code
    names = {f.name for f in dataclasses.fields(cls)}
    data.update({k: v for k, v in vars(args).items() if k in names})
    data.update({k[len(ALIAS_PREFIX):]: v for k, v in vars(args).items() if k.startswith(ALIAS_PREFIX)})
    data.update(extra or {})
    return from_dict(cls, data)


def _run_task(args: argparse.Namespace) -> int:
    """Every training command: config file + flags (repeated flags too), --dry-run, then the task's run."""
    from gantransfer.config import task, to_dict
    from gantransfer.engine.distributed import check_global_batch, env_world_size, is_main_process
    from gantransfer.tasks.rundir import check_directory
    spec = task(args.command)
    given: dict[str, list] = {}
    for r in spec.repeated:  # several flags may fill one field (adapt: --source and --teacher)
        given.setdefault(r.field, []).extend(getattr(args, r.flag.lstrip("-").replace("-", "_")) or [])
    cfg = config_from_args(spec.config, args, {k: v for k, v in given.items() if v} or None)
    check_global_batch(getattr(cfg, "batch_size", None), env_world_size())  # before --out is made: nothing left
    if is_main_process():  # under torchrun only rank 0 reads or writes the run directory
        check_directory(cfg.out, args.command, args.resume, args.overwrite)  # before any setup: refuse early
    if args.dry_run:
        print(json.dumps(to_dict(resolve(spec.resolve)(cfg) if spec.resolve else cfg), indent=2))
        return 0
    run = spec.run_function()(cfg, resume=args.resume, overwrite=args.overwrite)
    if is_main_process():
        done = spec.done or "{produced} in {generator}, sample grids in {samples}, log in {logs}"
        print("done: " + done.format(run=run, produced=spec.produced, generator=run / "generator",
                                     samples=run / "samples", logs=run / "logs"))
        if (run / "report" / "index.html").is_file():
            print(f"report: {run / 'report' / 'index.html'}")
    return 0


def _check_seed(seed: int) -> None:
    if not 0 <= seed < 2 ** 63:
        raise ConfigError(f"--seed must be between 0 and 2**63 - 1, got {seed}")


def _cmd_sample(args: argparse.Namespace) -> int:
    _check_seed(args.seed)
    from gantransfer.deploy.export import check_file_out
    check_file_out(args.out, args.overwrite, "samples.png")  # a user's file is never replaced unasked
    if args.truncation_psi != 1.0 or args.noise_mode != "random":
        from gantransfer.api import styled_sample_grid
        path = styled_sample_grid(args.generator, args.out, n=args.n, seed=args.seed, classes=args.classes,
                                  truncation_psi=args.truncation_psi, noise_mode=args.noise_mode)
        print(f"wrote {path}")
        return 0
    from gantransfer.api import sample_grid
    path = sample_grid(args.generator, args.out, n=args.n, seed=args.seed, classes=args.classes)
    print(f"wrote {path}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from gantransfer.config import EvalConfig
    from gantransfer.metrics.evaluate import evaluate, format_results
    cfg = config_from_args(EvalConfig, args, {"generator": args.generator})
    if args.out:  # refused before the evaluation, not after it
        from gantransfer.io import check_file_out
        check_file_out(args.out, args.overwrite, "eval.json")
    if cfg.input or cfg.target:
        from gantransfer.devices import resolve_device
        from gantransfer.metrics.translation import evaluate_translator
        if not cfg.input:
            raise ConfigError("--target needs --input (the images to translate)")
        results = evaluate_translator(cfg.generator, cfg.input, cfg.target, cfg.against,
                                      device=resolve_device(cfg.device), label=cfg.label)
        print(json.dumps(results, indent=2))
    elif cfg.against:
        from gantransfer.devices import resolve_device
        from gantransfer.metrics.teacher_relative import evaluate_against
        results = evaluate_against(cfg.generator, cfg.against, cfg.n, resolve_device(cfg.device))
        print(json.dumps(results, indent=2))
    elif cfg.teachers:
        from gantransfer.devices import resolve_device
        from gantransfer.metrics.fusion import evaluate_fusion
        results = evaluate_fusion(cfg.generator, cfg.teachers, cfg.n, resolve_device(cfg.device), cfg.seed)
        print(json.dumps(results, indent=2))
    else:
        results = evaluate(cfg)
        print(json.dumps(results, indent=2) if args.json else format_results(results))
    if args.out:
        from gantransfer.io import write_json
        write_json(args.out, results)
    return 0


def _cmd_stats(args: argparse.Namespace) -> int:
    from gantransfer.metrics.reference_stats import check_stats_out, reference_stats, write_stats
    from gantransfer.devices import resolve_device
    check_stats_out(args.out, args.overwrite)  # before any work: refuse early
    stats = reference_stats(args.images, inception=args.inception, protocol=args.protocol, split=args.split,
                            device=resolve_device(args.device))
    write_stats(args.out, stats)
    print(f"wrote {args.out}: mu and sigma of {stats['images']} images' {stats['mu'].shape[0]}-d {stats['network']} "
          f"features ({stats['source']})")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from gantransfer.api import export
    report = export(args.generator, args.format, args.out, int8=args.int8, calibration=args.calibration,
                    overwrite=args.overwrite, fid_n=args.fid_n, with_example=args.with_example)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        parity = ", ".join(f"{k} {v:.2g}" for k, v in report["parity"].items())
        print(f"wrote {args.out} ({report['format']}, {report['precision']}; parity {parity}; "
              f"{report['batchnorm_folded']} batch norms folded)")
        q = report.get("int8")
        if q:
            fid = q["fid"]
            print(f"int8: PSNR {q['psnr_vs_fp32_db']:.2f} dB against fp32; int8 kernels {q['kernels']['int8']}, "
                  f"float {q['kernels']['float']}; " + (f"{fid['key']} {fid['fp32']:.4f} -> {fid['int8']:.4f} "
                  f"({100 * fid['relative_change']:+.2f}%)" if "key" in fid else f"FID not measured: {fid['skipped']}"))
        print("wrote " + " and ".join(f"{k} {v}" for k, v in report["written"].items()))
    return 0


def _cmd_bench_grid(args: argparse.Namespace) -> int:
    from gantransfer.api import bench_backends
    from gantransfer.deploy.grid import format_grid
    if args.out:
        from gantransfer.io import check_json_out
        check_json_out(args.out, args.overwrite)
    result = bench_backends(args.generator, against=args.against, backends=args.backends, batches=args.batch,
                            threads=args.threads, repeats=args.repeats or 10, rounds=args.rounds)
    print(json.dumps(result, indent=2) if args.json else format_grid(result))
    if args.out:
        from gantransfer.io import write_json
        write_json(args.out, result)
    return 0


MAX_THREADS = 1024  # far beyond any CPU; torch.set_num_threads crashes on absurd counts


def _check_bench_args(args: argparse.Namespace) -> None:
    """Counts of a benchmark: repeats, rounds and batches >= 1, thread counts 1..MAX_THREADS."""
    if args.repeats is not None and args.repeats < 1:
        raise ConfigError(f"--repeats must be >= 1, got {args.repeats}")
    if args.rounds < 1:
        raise ConfigError(f"--rounds must be >= 1, got {args.rounds}")
    for t in args.threads or []:
        if not 1 <= t <= MAX_THREADS:
            raise ConfigError(f"--threads must be between 1 and {MAX_THREADS}, got {t}")
    for b in args.batch or []:
        if b < 1:
            raise ConfigError(f"--batch sizes must be >= 1, got {b}")


def _cmd_bench(args: argparse.Namespace) -> int:
    _check_bench_args(args)
    if args.backends or args.batch or args.rounds != 3 or args.out or len(args.generator) > 1 \
            or len(args.threads or []) > 1:
        return _cmd_bench_grid(args)
    from gantransfer.api import bench
    result = bench(args.generator[0], against=args.against, repeats=args.repeats or 20,
                   threads=args.threads[0] if args.threads else None)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for name, values in result.items():
            if isinstance(values, dict):
                print(name + ": " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                              for k, v in values.items()))
    return 0


def _translator_options(args: argparse.Namespace) -> dict:
    """The pix2pix/CycleGAN importer options given on the command line (none: every one detected)."""
    given = {"arch": args.arch, "norm": args.norm, "dropout": args.dropout or None}
    return {k: v for k, v in given.items() if v not in (None, "auto")}


def _cmd_import(args: argparse.Namespace) -> int:
    from gantransfer.api import import_generator
    dest = import_generator(args.file, args.out, args.data, _translator_options(args))
    print(f"wrote {dest / 'generator'}" + (f" and {dest / 'discriminator'}" if (dest / "discriminator").is_dir()
                                           else ""))
    return 0


def _cmd_translate(args: argparse.Namespace) -> int:
    from gantransfer.devices import resolve_device
    from gantransfer.tasks.translate import translate_folder
    result = translate_folder(args.generator, args.input, args.out, size=args.size, overwrite=args.overwrite,
                              train_mode=args.train_mode, seed=args.seed, device=resolve_device(args.device),
                              import_options=_translator_options(args), label=args.label)
    print(f"wrote {len(result.written)} image(s) to {args.out}" +
          (f"; skipped {len(result.skipped)} unreadable" if result.skipped else ""))
    return 0


def _add_translator_import_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--arch", default="auto", help="pix2pix/CycleGAN files: auto (read off the keys), "
                   "resnet_9blocks, resnet_6blocks, unet_128 or unet_256 (checked against the file)")
    p.add_argument("--norm", default="auto", help="pix2pix/CycleGAN files: auto, instance, batch or none (checked)")
    p.add_argument("--dropout", action="store_true", help="pix2pix/CycleGAN U-Net files: it was trained with "
                   "dropout (pix2pix's default; a U-Net file keeps no trace of it); only --train-mode uses it")


def _cmd_demo(args: argparse.Namespace) -> int:
    from gantransfer.demo import DEMO_STEPS, run_demo
    if args.steps is not None and args.steps < 1:
        raise ConfigError(f"--steps must be >= 1, got {args.steps}")
    from gantransfer.devices import resolve_device
    resolve_device(args.device)  # before the demo's directory is made
    args.steps = args.steps or DEMO_STEPS
    report = run_demo(args.out, n=args.n, device=args.device, steps=args.steps, overwrite=args.overwrite)
    print(f"demo report: {report}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from gantransfer.report.build import build_report
    page = build_report(args.run, args.out, measure=not args.no_bench)
    print(f"report: {page}")
    return 0


def _add_task_command(sub, spec: Any) -> argparse.ArgumentParser:
    """The command of a registered task: its config's flags, one repeated flag per field that names several
    inputs, and the flags every training command shares."""
    p = sub.add_parser(spec.name, help=spec.help, description=spec.description)
    p.add_argument("--config", help="JSON config file; flags given on the command line override it")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its newest checkpoint")
    p.add_argument("--dry-run", action="store_true", help="validate and print the resolved config, train nothing")
    p.add_argument("--overwrite", action="store_true", help="replace the earlier run of this command in --out (only "
                   "the files a run writes are removed)")
    add_config_flags(p, spec.config, (*(r.field for r in spec.repeated), *spec.no_flag))
    for r in spec.repeated:
        p.add_argument(r.flag, action="append", help=r.help)  # args.teacher for --teacher
    p.set_defaults(func=_run_task)
    return p


def build_parser() -> argparse.ArgumentParser:
    from gantransfer.config import EvalConfig, tasks
    parser = argparse.ArgumentParser(prog="gantransfer", description="Knowledge transfer between GANs.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    for spec in tasks():  # every registered task (config.py registers the built-in ones)
        _add_task_command(sub, spec)

    p = sub.add_parser("sample", help="write a PNG grid of samples from a generator")
    p.add_argument("generator", help="generator or run directory, or an exported .onnx or TorchScript file")
    p.add_argument("--n", type=int, default=64, help="number of samples (default: 64)")
    p.add_argument("--seed", type=int, default=0, help="latent seed (default: 0)")
    p.add_argument("--classes", type=_parse_list(int), default=None, help="classes to sample (conditional generators)")
    p.add_argument("--out", default="samples.png", help="PNG file to write (default: samples.png)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.add_argument("--truncation-psi", type=float, default=1.0, help="StyleGAN2: pull W towards its mean, "
                   "1 = off, 0 = the mean image (default: 1)")
    p.add_argument("--noise-mode", default="random", choices=("random", "const", "none"),
                   help="StyleGAN2 noise inputs: random, const (the stored buffers) or none (default: random)")
    _add_width_flag(p)
    p.set_defaults(func=_cmd_sample)

    p = sub.add_parser("eval", help="FID, KID, precision/recall, density/coverage, class shares",
                       description="Evaluate a generator under a named protocol (e.g. fid/fmnist-classifier-v1/10k).")
    p.add_argument("generator", help="generator or run directory, or an exported .onnx or TorchScript file")
    p.add_argument("--config", help="JSON config file; flags override it")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--out", help="also write the results to this JSON file")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    add_config_flags(p, EvalConfig, skip=("generator",))
    _add_width_flag(p)
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser("bench", help="params, MACs, CPU latency and throughput (as ratios against --against)",
                       description="Measure generators. With --backends, --batch, several --threads or several "
                       "generators: latency (median, p90), throughput, peak memory and GFLOP/s per backend, batch "
                       "and thread count, as ratios against --against in eager mode measured in the same run.")
    p.add_argument("generator", nargs="+", help="generator or run directories")
    p.add_argument("--against", help="reference generator (e.g. the teacher), measured in the same run")
    p.add_argument("--repeats", type=int, default=None, help="timed calls per round (default: 20; with --backends "
                   "10 per round)")
    p.add_argument("--threads", type=_parse_list(int), default=None, metavar="A,B,..",
                   help="CPU thread counts, e.g. 1,2 (default: torch's choice; with --backends 1,2)")
    p.add_argument("--backends", type=_parse_list(str), default=None, metavar="A,B,..",
                   help="eager-plain, eager, eager-cl, compile, torchscript, onnx, onnx-int8 (default with a grid: "
                   "eager,compile,onnx,onnx-int8)")
    p.add_argument("--batch", type=_parse_list(int), default=None, metavar="A,B,..",
                   help="batch sizes (default with a grid: 1,64,256)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds over every generator and backend "
                   "(default: 3)")
    p.add_argument("--out", help="also write the results to this JSON file")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.add_argument("--json", action="store_true", help="print JSON")
    _add_width_flag(p)
    p.set_defaults(func=_cmd_bench)

    p = sub.add_parser("stats", help="reference statistics (mu, sigma) of real images, for eval --reference",
                       description="Compute once the mean and covariance of the features of real images (every "
                       "PNG/JPEG of a folder, recursively, fed at its native size; or a built-in data set's split) "
                       "under Inception-v3 (--inception FILE) or a shipped protocol network (--protocol NAME), and "
                       "write them as pytorch-fid's --save-stats does (an .npz with mu and sigma).")
    p.add_argument("images", help="a folder of images, or a built-in data set (e.g. fashion-mnist)")
    p.add_argument("--inception", help="Inception-v3 weights file (the 2015-12-05 FID weights, .pth or "
                   ".safetensors; never downloaded)")
    p.add_argument("--protocol", help="a shipped protocol network instead, e.g. fashion-mnist-classifier-v1")
    p.add_argument("--split", default="test", choices=("train", "test"), help="built-in data sets: the split "
                   "(default: test)")
    p.add_argument("--out", required=True, help="the .npz to write (its directory must exist)")
    p.add_argument("--overwrite", action="store_true", help="replace a stats file written by `gantransfer stats`")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.set_defaults(func=_cmd_stats)

    p = sub.add_parser("export", help="export a generator to ONNX (fp32 or int8) or TorchScript",
                       description="Write a generator as one file that runs without gantransfer's model code: ONNX "
                       "(dynamic batch; inputs z and label when conditional, output image; metadata: value range, "
                       "latent size, labels, source config) or TorchScript. The file is checked against the "
                       "PyTorch generator (max abs error <= 1e-4 at batch 1 and 64 over 256 latents; above 64 px "
                       "fewer latents and batches; int8: PSNR and FID change reported) and written only when it "
                       "passes.")
    p.add_argument("generator", help="generator or run directory")
    p.add_argument("--format", required=True, help="onnx or torchscript")
    p.add_argument("--out", required=True, help="file to write (.onnx; .pt for TorchScript); its directory must exist")
    p.add_argument("--int8", action="store_true", help="ONNX: static int8 quantization (onnxruntime QDQ)")
    p.add_argument("--calibration", type=int, default=None, help="--int8: calibration latents (default: 512; "
                   "translators: 32 input images)")
    p.add_argument("--fid-n", type=int, default=None, help="--int8: samples for the FID change under the data "
                   "set's protocol (default: 5000; 0: skip)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.add_argument("--json", action="store_true", help="print the export report as JSON")
    p.add_argument("--with-example", action="store_true", help="ONNX: also write STEM_sample.py beside --out, a "
                   "standalone sampler needing only onnxruntime and numpy")
    _add_width_flag(p)
    p.set_defaults(func=_cmd_export)
    from gantransfer.ecosystem_cli import add_ecosystem_commands  # card, dataset export
    add_ecosystem_commands(sub)

    p = sub.add_parser("import", help="convert a foreign checkpoint (StyleGAN2 .pt/.pkl, pix2pix/CycleGAN .pth, "
                       "PyTorch DCGAN) into a generator directory", description="Read a rosinality/stylegan2-pytorch "
                       ".pt, an NVlabs stylegan2-ada-pytorch .pkl (with a restricted unpickler: nothing in the file is "
                       "run), a pix2pix/CycleGAN generator .pth (architecture read off its keys) or a PyTorch DCGAN "
                       "checkpoint, and write it as a gantransfer generator directory (and its discriminator when "
                       "the file has one). Commands also take such files directly as --teacher.")
    p.add_argument("file", help="the checkpoint file")
    p.add_argument("--out", required=True, help="a new or empty directory to write")
    p.add_argument("--data", default="", help="the data set it models (its evaluation protocol), when one is shipped")
    _add_translator_import_options(p)
    p.set_defaults(func=_cmd_import)

    p = sub.add_parser("translate", help="run an image-to-image translator over a folder: one PNG per input",
                       description="Translate every PNG/JPEG under --input (recursively) with a translator (a "
                       "generator directory, a run, or a pix2pix/CycleGAN .pth file) into --out, mirroring the "
                       "inputs' relative paths with a .png suffix. Existing outputs are refused without --overwrite.")
    p.add_argument("generator", help="translator directory, run directory, or pix2pix/CycleGAN generator .pth")
    p.add_argument("--input", required=True, help="folder of input images")
    p.add_argument("--out", required=True, help="output folder (created when missing)")
    p.add_argument("--size", type=int, default=None, help="image side fed to the translator (default: its "
                   "resolution); each input is resized (shorter side) and centre-cropped to it")
    p.add_argument("--train-mode", action="store_true", help="run as pix2pix's test.py does without --eval: batch "
                   "norm on each image's own statistics and dropout active (random, seeded by --seed)")
    p.add_argument("--seed", type=int, default=0, help="--train-mode: the dropout seed")
    p.add_argument("--overwrite", action="store_true", help="replace outputs that already exist")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    _add_translator_import_options(p)
    p.add_argument("--label", default=None, help="a fused translator: the mapping to apply, an index or a teacher's "
                   "name (see its config.json class_names)")
    p.set_defaults(func=_cmd_translate)

    p = sub.add_parser("demo", help="the main job on shipped defaults: no download, no data set needed")
    p.add_argument("--out", default=None, help="a new or empty report directory (default: runs/demo, or "
                   "runs/demo-2, -3, ... when that is taken)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier demo in --out (only the files a demo "
                   "writes are removed)")
    p.add_argument("--n", type=int, default=5000, help="samples per generator for the metrics (default: 5000)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--steps", type=int, default=None, help="distillation steps (default: the demo's 3,000)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("report", help="an HTML report of a run, or a comparison of several runs",
                       description="Write a self-contained HTML page per run (its settings in words, sample grids, "
                       "loss and evaluation curves, every metric with its protocol, costs, the command that "
                       "reproduces it) and, for several runs, a sortable page comparing them. Training commands "
                       "write their run's report into RUN/report at the end.")
    p.add_argument("run", nargs="+", help="run directories (what train, distill, fuse, adapt or baseline wrote)")
    p.add_argument("--out", default=None, help="a new or empty directory, or an earlier report (default for one "
                   "run: RUN/report; required for several)")
    p.add_argument("--no-bench", action="store_true", help="leave out the CPU latency and throughput measurement")
    p.set_defaults(func=_cmd_report)
    for p in sub.choices.values():
        _add_trust_flags(p)
    return parser


def _max_memory(text: str) -> int:
    from gantransfer.budget import parse_size
    try:
        return parse_size(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size such as 64G or 512M, got {text!r}") from None


def _add_trust_flags(p: argparse.ArgumentParser) -> None:
    """--trust-code, --allow-entry-points (gantransfer.trust) and --max-memory (gantransfer.budget), on every
    command."""
    p.add_argument("--max-memory", type=_max_memory, default=None, metavar="SIZE", help="memory a command may "
                   "plan to use, e.g. 64G (default: this machine's memory); larger declared models and counts are "
                   "refused before anything is allocated")
    p.add_argument("--trust-code", action="store_true", help="let TorchScript files run (a TorchScript archive is "
                   "code: only for files from someone you trust; ONNX files need no trust)")
    p.add_argument("--allow-entry-points", action="store_true", help="accept entry points (pkg.module:factory) "
                   "named in a JSON --config file (those on the command line are always accepted)")


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every ``finally`` removes its temporary files."""


def _terminate_as_interrupt():
    """Make SIGTERM raise ``Terminated`` in the main thread; returns the handler it replaced (None when not
    installed: not the main thread)."""
    import signal
    import threading
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum, frame):
        raise Terminated()
    return signal.signal(signal.SIGTERM, handler)


def _add_width_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--width", dest="sub_width", type=float, default=None,
                   help="an elastic generator (distill --elastic): use its sub-network at this width")


def _with_sub_network(args: argparse.Namespace, stack: contextlib.ExitStack) -> None:
    """``--width W``: the generator(s) replaced by their elastic sub-network at W, written to a temporary folder."""
    if getattr(args, "sub_width", None) is None:
        return
    import tempfile
    from gantransfer.models.elastic import materialise
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gantransfer-width-")))
    if isinstance(args.generator, list):
        args.generator = [str(materialise(g, args.sub_width, tmp / str(i))) for i, g in enumerate(args.generator)]
    else:
        args.generator = str(materialise(args.generator, args.sub_width, tmp / "generator"))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gantransfer`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    default_format = warnings.formatwarning
    warnings.formatwarning = lambda message, *_args, **_kw: f"gantransfer {args.command}: warning: {message}\n"
    from gantransfer.budget import limited
    from gantransfer.trust import trusting
    previous = _terminate_as_interrupt()
    try:
        with trusting(code=args.trust_code, entry_points=args.allow_entry_points), limited(args.max_memory), \
                contextlib.ExitStack() as stack:
            _with_sub_network(args, stack)
            return args.func(args)
    except GantransferError as e:
        print(f"gantransfer {args.command}: error: {e}", file=sys.stderr)
        return e.exit_code
    except OSError as e:  # a full disk, a read-only or unreadable path: the writes are atomic, earlier files intact
        import errno
        from gantransfer.io import user_path
        where = f" ({user_path(e.filename)})" if e.filename else ""  # the user's path, never a temporary name
        fix = ("free some space and run it again (with --resume for a training run); every file written before "
               "is intact") if e.errno == errno.ENOSPC else "check the path and its permissions"
        print(f"gantransfer {args.command}: error: {e.strerror or e}{where}; {fix}", file=sys.stderr)
        return 2
    except (MemoryError, RuntimeError) as e:  # an allocation that failed at run time: one line, no traceback
        from gantransfer.budget import out_of_memory
        if out_of_memory(e) is None:
            raise
        print(f"gantransfer {args.command}: error: {out_of_memory(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        print(f"gantransfer {args.command}: {'terminated' if isinstance(e, Terminated) else 'interrupted'}; the last "
              "checkpoint is kept (continue with --resume) and no temporary file is left", file=sys.stderr)
        return 143 if isinstance(e, Terminated) else 130
    finally:
        if previous is not None:
            import signal
            signal.signal(signal.SIGTERM, previous)
        warnings.formatwarning = default_format
        from gantransfer.manifest import disown_all
        from gantransfer.tasks.runlock import release_all
        disown_all()
        release_all()


if __name__ == "__main__":
    sys.exit(main())
