"""``gantransfer distill``: a smaller student generator matched to a teacher on the same latents, data-free.

Setup only: the student, optional discriminator (initialised from the teacher's), loss terms and the teacher
sampler; the one engine does the training.
"""
from __future__ import annotations

import copy
import dataclasses
import warnings
from pathlib import Path

import torch

from gantransfer.config import DistillConfig, parse_loss_weights
from gantransfer.engine.loop import Engine, EngineConfig, TrainingTask, resolve_device
from gantransfer.errors import ConfigError
from gantransfer.losses.distillation import FeatureMatching, feature_adapters
from gantransfer.models.registry import GeneratorConfig, build_discriminator, build_generator
from gantransfer.models.sampling import RecalibratedSnapshot, draw_inputs
from gantransfer.models.store import save_generator
from gantransfer.report.grid import save_image_grid
from gantransfer.tasks.matching import matching_terms, perceptual_features, student_phases
from gantransfer.tasks.rundir import prepare_run_dir, write_run_config
from gantransfer.tasks.samplers import RealDataSampler, TeacherLatentSampler
from gantransfer.teachers import Teacher, load_teacher, load_teacher_module, teacher_from_model


def feature_matching_adapters(teacher: Teacher, student: torch.nn.Module, scfg, device) -> torch.nn.ModuleList:
    """1x1 adapters between the student's and the white-box teacher's hidden blocks."""
    if not teacher.white_box or not hasattr(teacher.module, "forward_features"):
        raise ConfigError("the feature term needs a white-box DCGAN teacher (a gantransfer generator or a "
                          "PyTorch DCGAN checkpoint, without --black-box); drop feature= from --loss")
    z, y = draw_inputs(scfg, 2, torch.Generator().manual_seed(0))
    with torch.no_grad():
        _, ft = teacher.module.forward_features(z.to(device), None if y is None else y.to(device))
        _, fs = student.forward_features(z, y)
    t_res = [f.shape[-1] for f in ft]
    pairs = [(i, t_res.index(f.shape[-1])) for i, f in enumerate(fs) if f.shape[-1] in t_res]
    if not pairs:
        raise ConfigError("teacher and student share no hidden-block resolution; drop feature= from --loss")
    return feature_adapters([fs[i].shape[1] for i, _ in pairs], [ft[j].shape[1] for _, j in pairs],
                            pairs).to(device)


def as_teacher(obj, cfg: DistillConfig, device: torch.device) -> Teacher:
    """A Teacher from what the Python API was given: a Teacher, a ``(module, GeneratorConfig)`` pair as
    ``gantransfer.load`` returns, any ``nn.Module`` mapping latents (and labels) to images, or a black-box callable."""
    if isinstance(obj, Teacher):
        return obj
    if isinstance(obj, tuple) and len(obj) == 2 and isinstance(obj[1], GeneratorConfig):
        module = obj[0].to(device).eval().requires_grad_(False)
        return Teacher(module, obj[1], not cfg.black_box, None, obj[1].meta.get("source", type(module).__name__))
    return teacher_from_model(obj, cfg.latent_dim, cfg.num_classes, cfg.dataset or "", device, cfg.black_box)


def distill(config: DistillConfig, resume: bool = False, teacher=None) -> Path:
    """Distil a teacher into a student of width ``config.width``; returns the run directory.

    The teacher is ``config.teacher`` (a directory or checkpoint), ``config.teacher_module`` (an entry point), or
    ``teacher`` itself: a Teacher, a ``gantransfer.load`` pair, an ``nn.Module`` or a black-box callable.
    """
    cfg = config
    cfg.validate(teacher_object=teacher is not None)
    weights = parse_loss_weights(cfg.loss)
    device = resolve_device(cfg.device)
    if teacher is not None:
        teacher = as_teacher(teacher, cfg, device)
    elif cfg.teacher_module:
        teacher = load_teacher_module(cfg.teacher_module, cfg.latent_dim, cfg.num_classes, cfg.dataset or "",
                                      device, cfg.black_box)
    else:
        teacher = load_teacher(cfg.teacher, device, cfg.black_box, cfg.dataset or "")
    if cfg.dataset:
        teacher.config.dataset = cfg.dataset
    if teacher.config.kind != "image":
        raise ConfigError("distill works on image generators; this teacher makes 2-D points")
    scfg = dataclasses.replace(teacher.config, width=cfg.width,
                               start_resolution=cfg.start_resolution or teacher.config.start_resolution,
                               meta={"classes": teacher.config.meta.get("classes"), "teacher": teacher.source})
    try:
        scfg.validate()
    except ValueError as e:
        raise ConfigError(str(e)) from None
    resolved = dataclasses.asdict(cfg)
    run = prepare_run_dir(cfg.out, resolved, resume)
    torch.manual_seed(cfg.seed)
    student = build_generator(scfg)
    t_params, s_params = sum(p.numel() for p in teacher.module.parameters()), sum(p.numel() for p in student.parameters())
    if t_params and s_params >= t_params:
        warnings.warn(f"the student ({s_params:,} parameters) is not smaller than its teacher ({t_params:,})")
    terms, providers = matching_terms(weights, student, lambda: perceptual_features(
        cfg.perceptual_net, teacher.config.dataset, teacher.discriminator, device))
    modules: dict[str, torch.nn.Module] = {"G": student}
    trained = list(student.parameters())
    with_features = weights.get("feature", 0) > 0
    if with_features:
        adapters = feature_matching_adapters(teacher, student, scfg, device)
        modules["adapters"] = adapters
        trained += list(adapters.parameters())
        terms.append(FeatureMatching(adapters, weights["feature"]))
        providers["student_pair"] = lambda ctx: student.forward_features(ctx["z"], ctx.batch.get("labels"))
        providers["student"] = lambda ctx: ctx["student_pair"][0]
        providers["student_features"] = lambda ctx: ctx["student_pair"][1]
    s_opt = torch.optim.Adam(trained, lr=cfg.lr, betas=(0.5, 0.999))
    optimizers: dict[str, torch.optim.Optimizer] = {"G": s_opt}
    d = d_opt = None
    if weights.get("adversarial", 0) > 0:
        if teacher.discriminator is not None:  # the teacher's own D, trained on: it already knows the data
            d = copy.deepcopy(teacher.discriminator).train().requires_grad_(True)
        else:
            d = build_discriminator(scfg, teacher.config.width)
        d_opt = torch.optim.Adam(d.parameters(), lr=cfg.lr / 5, betas=(0.5, 0.999))
        modules["D"], optimizers["D"] = d, d_opt
    phases = student_phases(student, s_opt, terms, providers, weights.get("adversarial", 0), d, d_opt)
    sampler = TeacherLatentSampler(teacher, cfg.batch_size, cfg.bank_size, cfg.seed, with_features,
                                   cfg.truncation, real_images(cfg, scfg))
    preview_z, preview_y = draw_inputs(scfg, 32, torch.Generator().manual_seed(1234))
    with torch.no_grad():
        preview_teacher = teacher(preview_z.to(device), None if preview_y is None else preview_y.to(device)).cpu()

    snapshot = RecalibratedSnapshot(lambda: modules["G_ema"], scfg, seed=cfg.seed)

    def export(run_dir: Path, step: int) -> None:
        s = snapshot.at(step)
        save_generator(s, dataclasses.replace(scfg, meta={**scfg.meta, "train_steps": step,
                                                          "distill_config": resolved}), run_dir / "generator")

    def preview(run_dir: Path, step: int) -> None:
        s = snapshot.at(step)
        with torch.inference_mode():
            x = s(preview_z.to(device), None if preview_y is None else preview_y.to(device)).cpu()
        # rows alternate teacher / student on the same latents
        pairs = torch.stack([preview_teacher.view(4, 8, *x.shape[1:]), x.view(4, 8, *x.shape[1:])], 1)
        save_image_grid(pairs.reshape(-1, *x.shape[1:]), run_dir / "samples" / f"step-{step:07d}.png", nrow=8)

    task = TrainingTask(modules=modules, optimizers=optimizers, phases=phases, sampler=sampler,
                        ema=("G", "G_ema"), export=export, preview=preview)
    engine = Engine(task, EngineConfig.from_task_config(cfg), run)
    write_run_config(run, "distill", resolved, {"generator": scfg.to_dict(), "teacher": teacher.source,
                                                "white_box": teacher.white_box})
    engine.fit(resume=resume)
    if cfg.eval_n:
        evaluate_distillation(run, teacher, sampler, cfg.eval_n, device, cfg.truncation)
    return run


def real_images(cfg: DistillConfig, scfg: GeneratorConfig) -> RealDataSampler | None:
    """Real batches for the adversarial term when ``--data`` is given, at the teacher's resolution and channels."""
    if not cfg.data:
        return None
    from gantransfer.data.registry import load_dataset
    data = load_dataset(cfg.data, "train", resolution=scfg.resolution, channels=scfg.channels,
                        classes=scfg.meta.get("classes"), data_dir=cfg.data_dir)
    if data.kind != "image":
        raise ConfigError(f"--data {cfg.data} holds 2-D points; the teacher makes images")
    if scfg.num_classes and int(data.y.max()) >= scfg.num_classes:
        raise ConfigError(f"--data {cfg.data} has labels up to {int(data.y.max())} but the conditional teacher knows "
                          f"{scfg.num_classes} classes")
    return RealDataSampler(data, cfg.batch_size, scfg.latent_dim, cfg.seed, scfg.num_classes > 0)


def evaluate_distillation(run: Path, teacher: Teacher, sampler: TeacherLatentSampler, n: int,
                          device: torch.device, truncation: float = 0.0) -> dict:
    """Student and teacher under the same protocol, fidelity on bank and fresh latents, cost ratios and a
    side-by-side grid; written to ``run/eval.json`` and ``run/report/``."""
    from gantransfer.deploy.bench import count_macs, count_params
    from gantransfer.io import write_json
    from gantransfer.metrics.classifier import classifier_dir
    from gantransfer.metrics.evaluate import evaluate_generator
    from gantransfer.metrics.fidelity import fidelity
    from gantransfer.models.store import load_generator
    student, scfg = load_generator(run, device)
    rng = torch.Generator().manual_seed(4242)  # never used in training
    z, y = draw_inputs(scfg, n, rng, truncation=truncation)  # fidelity on the latents' training distribution
    result: dict = {"teacher": teacher.source, "n": n, "truncation": truncation, "fidelity": {"fresh": fidelity(student, teacher, scfg, z, y,
                                                                                    device=device)}}
    if sampler.bank is not None:
        zb = sampler.bank[:n]
        yb = None if y is None else y[:len(zb)]
        result["fidelity"]["bank"] = fidelity(student, teacher, scfg, zb, yb, device=device)
    t_module = teacher.module
    if isinstance(t_module, torch.nn.Module) and any(True for _ in t_module.parameters()):
        t_params, s_params = count_params(t_module), count_params(student)
        t_macs, s_macs = count_macs(t_module, teacher.config), count_macs(student, scfg)
        result["cost"] = {"teacher_params": t_params, "student_params": s_params, "params_reduction": t_params / s_params,
                          "teacher_macs": t_macs, "student_macs": s_macs, "macs_reduction": t_macs / s_macs}
    dataset = scfg.dataset
    if dataset and (classifier_dir(dataset) / "config.json").is_file():
        classes = scfg.meta.get("classes")
        result["student"] = evaluate_generator(student, scfg, dataset, n, classes=classes, device=device)["metrics"]
        result["teacher_metrics"] = evaluate_generator(teacher.module, teacher.config, dataset, n, classes=classes,
                                                       device=device)["metrics"]
    with torch.inference_mode():
        k = min(16, n)
        zi, yi = z[:k].to(device), None if y is None else y[:k].to(device)
        pair = torch.cat([teacher(zi, yi).cpu(), student(zi, yi).cpu()])
    save_image_grid(pair, run / "report" / "teacher_vs_student.png", nrow=k)
    write_json(run / "eval.json", result)
    return result
