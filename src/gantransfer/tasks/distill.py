"""``gantransfer distill``: a smaller student generator matched to a teacher on the same latents, data-free.

Setup only: the student (of the teacher's family unless ``--student-arch`` says otherwise), an optional
discriminator (initialised from the teacher's), the matching terms and the teacher sampler; the runner and the
engine do the rest, and ``metrics/distillation.py`` the end-of-run evaluation.
"""
from __future__ import annotations

import copy
import dataclasses
import warnings
from pathlib import Path

import torch

from gantransfer.config import DeprecatedName, DistillConfig
from gantransfer.devices import resolve_device
from gantransfer.engine.optim import discriminator_adam, generator_adam
from gantransfer.errors import ConfigError
from gantransfer.losses.distillation import FeatureMatching, PerceptualLoss, feature_adapters
from gantransfer.models.elastic import SlicedForward, parse_widths
from gantransfer.models.family import family
from gantransfer.models.config import MAX_WIDTH, MIN_WIDTH, GeneratorConfig, build_discriminator, build_generator
from gantransfer.models.sampling import draw_inputs
from gantransfer.grid import save_image_grid
from gantransfer.tasks.budget import fit_budget, measure_budget, previous_budget
from gantransfer.tasks.default_terms import distill_terms
from gantransfer.tasks.distill_translator import distill_translator
from gantransfer.tasks.latent_space import (resolve_latent_space, student_options_for, student_providers,
                                            tie_to_teacher, truncated)
from gantransfer.tasks.matching import (loss_network_names, matching_terms, resolve_perceptual,
                                        student_phases)
from gantransfer.tasks.runner import RunPlan, execute
from gantransfer.tasks.samplers import RealDataSampler, StyledTeacherSampler, TeacherLatentSampler
from gantransfer.tasks.student_init import initialise_student
from gantransfer.tasks.student_size import size_summary
from gantransfer.teachers import Teacher, load_teacher, load_teacher_module, tap_teacher, teacher_from_model


def feature_matching_adapters(teacher: Teacher, student: torch.nn.Module, scfg: GeneratorConfig,
                              device: torch.device) -> torch.nn.ModuleList:
    """1x1 adapters between the student's and the white-box teacher's hidden blocks of the same resolution."""
    if not teacher.capabilities.feature_taps:
        raise ConfigError("the feature term needs a white-box teacher whose family exposes its hidden layers (a "
                          "gantransfer generator, a PyTorch DCGAN checkpoint or a StyleGAN2 file, without "
                          "--black-box); drop feature= from --terms")
    if not scfg.family.capabilities.feature_taps:
        raise ConfigError(f"the feature term needs a student that exposes its hidden layers; {scfg.arch} does not. "
                          "Drop feature= from --terms or choose another --student-arch")
    z, y = draw_inputs(scfg, 2, torch.Generator().manual_seed(0))
    with torch.no_grad():
        _, ft = teacher.module.forward_features(z.to(device), None if y is None else y.to(device))
        _, fs = student.forward_features(z, y)
    t_res = [f.shape[-1] for f in ft]
    pairs = [(i, t_res.index(f.shape[-1])) for i, f in enumerate(fs) if f.shape[-1] in t_res]
    if not pairs:
        raise ConfigError("teacher and student share no hidden-block resolution; drop feature= from --terms")
    return feature_adapters([fs[i].shape[1] for i, _ in pairs], [ft[j].shape[1] for _, j in pairs],
                            pairs).to(device)


def as_teacher(obj, cfg: DistillConfig, device: torch.device) -> Teacher:
    """A Teacher from what the Python API was given: a Teacher, a ``(module, GeneratorConfig)`` pair as
    ``gantransfer.load`` returns, any object under the Generator contract, any ``nn.Module`` mapping latents (and
    labels) to images, or a black-box callable."""
    if isinstance(obj, Teacher):
        return obj
    if isinstance(obj, tuple) and len(obj) == 2 and isinstance(obj[1], GeneratorConfig):
        module = obj[0].to(device).eval().requires_grad_(False)
        return Teacher(module, obj[1], not cfg.black_box, None, obj[1].meta.get("source", type(module).__name__))
    return teacher_from_model(obj, cfg.latent_dim, cfg.num_classes, cfg.teacher_data or "", device, cfg.black_box)


def resolve_teacher(cfg: DistillConfig, device: torch.device, teacher=None) -> Teacher:
    """The teacher of ``cfg`` (or the object given to the Python API), with ``--teacher-data`` applied."""
    if teacher is not None:
        t = as_teacher(teacher, cfg, device)
    elif cfg.teacher_module:
        t = load_teacher_module(cfg.teacher_module, cfg.latent_dim, cfg.num_classes, cfg.teacher_data or "",
                                device, cfg.black_box)
    else:
        t = load_teacher(cfg.teacher, device, cfg.black_box, cfg.teacher_data or "")
    if cfg.teacher_data:
        t.config.dataset = cfg.teacher_data
    if t.config.kind not in ("image", "translator"):
        raise ConfigError(f"distill works on noise-to-image generators and translators; this teacher "
                          f"{t.config.what_it_makes}")
    return t if t.config.is_translator else tap_teacher(t, cfg.teacher_taps)


def check_noise_settings(cfg: DistillConfig) -> None:
    """The settings that only a noise-to-image teacher's distillation accepts (``--data``, the old name of
    ``--real-data``, is moved there with a warning)."""
    if cfg.data and not cfg.term_weights.get("adversarial", 0) > 0:
        raise ConfigError(f"the teacher {cfg.teacher or 'given'} makes images from latents, not from input images: "
                          "--data (input images) applies to translators; to feed real images to the adversarial "
                          "term, add adversarial=W to --terms and give them with --real-data")
    if cfg.data:
        if cfg.real_data:
            raise ConfigError("--data and --real-data both given; for a noise teacher give --real-data alone")
        warnings.warn("'data' is now called 'real_data' (--real-data) for noise teachers; the old name will go in "
                      "a later version", DeprecatedName, stacklevel=3)
        cfg.real_data, cfg.data = cfg.data, None
    if cfg.real_data and not cfg.term_weights.get("adversarial", 0) > 0:
        raise ConfigError("--real-data feeds real images to the adversarial term; add adversarial=W to --terms "
                          "(e.g. --terms pixel=1,perceptual=1,adversarial=0.1) or drop --real-data")
    if cfg.input_source != "auto" or cfg.input_limit or cfg.input_size or cfg.aligned:
        raise ConfigError("--input-source, --input-limit, --input-size and --aligned apply to translator teachers; "
                          "this teacher makes images from latents (drop them)")


def student_width(fraction: float, t: GeneratorConfig, same_family: bool) -> float:
    """The family width of a student at ``--width fraction``: a fraction of the teacher's channels for a student
    of its family (teacher width x fraction), the family's own multiplier otherwise; ConfigError out of range."""
    width = t.width * fraction if same_family else fraction
    if not MIN_WIDTH - 1e-9 <= width <= MAX_WIDTH + 1e-9:
        of = f" of the teacher's width {t.width:g} gives width {width:g}, which" if same_family else ""
        raise ConfigError(f"--width {fraction:g}{of} is outside the family's range {MIN_WIDTH:g} .. {MAX_WIDTH:g}; "
                          "choose a --width inside it")
    return width


def student_config(cfg: DistillConfig, teacher: Teacher) -> GeneratorConfig:
    """The student: the teacher's config at ``--width`` (a fraction of the teacher's channels: its family's
    options kept; a StyleGAN2 student's channel cap scaled with it so that every resolution gets that fraction,
    W kept), or a config of ``--student-arch`` (``--width`` its own multiplier) with the teacher's shape, labels
    and data set."""
    t = teacher.config
    arch = cfg.student_arch or t.arch
    if arch == t.arch:
        options = t.options
    else:
        fam = family(arch)
        if fam.kind != "image" or fam.build_discriminator is None:
            raise ConfigError(f"--student-arch {arch} cannot be trained as a student of image generators")
        if t.num_classes and not fam.capabilities.labels:
            raise ConfigError(f"the teacher is class-conditional ({t.num_classes} classes) but a {arch} student "
                              "cannot take labels; choose a --student-arch with labels (dcgan, stylegan2)")
        options = fam.options()
    if cfg.student_options:
        from gantransfer.typed import from_dict, to_dict
        options = from_dict(type(options), {**to_dict(options), **cfg.student_options}, f"{arch} options")
    if cfg.start_resolution:
        if not hasattr(options, "start_resolution"):
            raise ConfigError(f"--start-resolution applies to DCGAN students, not {arch}")
        options = dataclasses.replace(options, start_resolution=cfg.start_resolution)
    width = student_width(cfg.width, t, arch == t.arch)
    scfg = dataclasses.replace(t, arch=arch, width=width, options=options, fusion=None, data_classes=None,
                               label_weights=None, latent_space=None, loss_networks=[],
                               meta={"teacher": teacher.source, "width_of_teacher": cfg.width}
                               if arch == t.arch else {"teacher": teacher.source})
    if cfg.truncation_psi != 1 and not teacher.capabilities.mapping_network:
        raise ConfigError(f"--truncation-psi truncates W, but teacher {teacher.source} has no mapping network "
                          "(white-box stylegan2 only); use --truncation T to truncate its latents instead")
    space = resolve_latent_space(cfg.latent_space, teacher, scfg)
    scfg = student_options_for(t, scfg, space, cfg.truncation_psi, cfg.student_options)
    scfg = dataclasses.replace(scfg, latent_space=space, meta={**scfg.meta, "truncation_psi": cfg.truncation_psi})
    try:
        scfg.validate()
    except ValueError as e:
        raise ConfigError(str(e)) from None
    return scfg


def elastic_provider(student: torch.nn.Module, scfg: GeneratorConfig, widths: list[float], unsupported: bool):
    """The student images of a step for ``--elastic``: the sandwich of sub-networks (models/elastic.py)."""
    if unsupported or scfg.family.channel_groups is None:
        raise ConfigError("--elastic trains channel-sliced sub-networks of DCGAN students on pixel, perceptual and "
                          "adversarial terms; drop feature= from --terms (StyleGAN2 students: not yet)")
    sliced = SlicedForward(student, scfg, widths)
    return lambda ctx: sliced.sandwich(ctx["z"], ctx.batch.get("labels"))


def budget_of(cfg: DistillConfig) -> tuple[str, str | float] | None:
    """The budget asked for: (macs | params | latency, the target as given), or None."""
    for kind in ("macs", "params", "latency"):
        value = getattr(cfg, f"target_{kind}")
        if value is not None:
            return kind, value
    return None


def distill(config: DistillConfig, resume: bool = False, teacher=None, overwrite: bool = False) -> Path:
    """Distil a teacher into a student of width ``config.width``; returns the run directory.

    The teacher is ``config.teacher`` (a directory or checkpoint), ``config.teacher_module`` (an entry point), or
    ``teacher`` itself: a Teacher, a ``gantransfer.load`` pair, a Generator-contract object, an ``nn.Module`` or a
    black-box callable.
    """
    cfg = config
    cfg.validate(teacher_object=teacher is not None)
    widths = parse_widths(cfg.elastic) if cfg.elastic else None
    if widths:  # the student is the largest width; its first channels are every smaller one
        cfg = dataclasses.replace(cfg, width=widths[-1])
    device = resolve_device(cfg.device)
    teacher = resolve_teacher(cfg, device, teacher)
    if teacher.config.is_translator:  # input images, not latents: its own setup, the same runner
        return distill_translator(cfg, teacher, resume, overwrite)
    check_noise_settings(cfg)
    scfg = student_config(cfg, teacher)
    if widths:  # the widths are fractions of the teacher's channels; the family's are unit x width
        scfg.meta["elastic"], scfg.meta["elastic_unit"] = widths, scfg.width / widths[-1]
    budget = budget_of(cfg)
    if budget is not None:
        scfg, budget = fit_budget(teacher, scfg, *budget, cfg.prune_criterion, cfg.seed, cfg.latency_batch, device,
                                  previous_budget(cfg.out) if resume else None, cfg.budget_floor)
    if teacher.native:  # the step's memory, before the student is built or a step runs
        from gantransfer.tasks.step_memory import check_step_memory
        check_step_memory(teacher.config, scfg, cfg.batch_size, f"teacher {teacher.source}")
    space, styled = scfg.latent_space, teacher.capabilities.mapping_network
    teacher = truncated(teacher, cfg.truncation_psi)
    choice = distill_terms(cfg.terms, cfg.perceptual_net, teacher, scfg.family.capabilities.feature_taps,
                           cfg.term_weights)
    choice.announce("distill")
    weights = choice.weights
    network = resolve_perceptual(choice.perceptual_net, teacher.config.dataset, teacher.discriminator)
    scfg.loss_networks = loss_network_names(weights, network)
    resolved = {**dataclasses.asdict(cfg), "terms": choice.terms, "perceptual_net": choice.perceptual_net}
    torch.manual_seed(cfg.seed)
    student = build_generator(scfg)
    initial = initialise_student(student, scfg, teacher, "prune" if budget else cfg.init, cfg.prune_criterion,
                                 cfg.svs, cfg.seed, by_importance=bool(widths))
    if budget is not None:
        initial["budget"] = measure_budget(budget, student, scfg, device)
    tie_to_teacher(student, teacher, scfg, space)
    size = size_summary(student, scfg, teacher.module, teacher.config)
    terms, providers = matching_terms(weights, student, lambda: network.features(teacher.discriminator, device))
    modules: dict[str, torch.nn.Module] = {"G": student}
    trained = [p for p in student.parameters() if p.requires_grad]  # W space: not the teacher's mapping
    with_features = weights.get("feature", 0) > 0
    if with_features:
        adapters = feature_matching_adapters(teacher, student, scfg, device)
        modules["adapters"] = adapters
        trained += list(adapters.parameters())
        terms.append(FeatureMatching(adapters, weights["feature"]))
        providers["student_pair"] = lambda ctx: student.forward_features(ctx["z"], ctx.batch.get("labels"))
        providers["student"] = lambda ctx: ctx["student_pair"][0]
        providers["student_features"] = lambda ctx: ctx["student_pair"][1]
    if styled:  # the student on the teacher's W (W space) or z, and on the teacher's noise
        providers.update(student_providers(student, scfg, space, with_features))
    if widths:
        providers["student"] = elastic_provider(student, scfg, [w * scfg.meta["elastic_unit"] for w in widths],
                                                styled or with_features)
    s_opt = generator_adam(trained, cfg)
    optimizers: dict[str, torch.optim.Optimizer] = {"G": s_opt}
    d = d_opt = None
    if weights.get("adversarial", 0) > 0:
        if cfg.discriminator_width:  # a small one of its own: far cheaper per step than the teacher's
            d = build_discriminator(scfg, cfg.discriminator_width)
        elif teacher.discriminator is not None and scfg.arch == teacher.config.arch:
            d = copy.deepcopy(teacher.discriminator).train().requires_grad_(True)  # it already knows the data
        else:
            d = build_discriminator(scfg, teacher.config.width)
        d_opt = discriminator_adam(d.parameters(), cfg)
        modules["D"], optimizers["D"] = d, d_opt
    directions = weights.get("latent_direction", 0) > 0
    if directions and space != "w":
        raise ConfigError("the latent_direction term compares the student's and the teacher's change along W: it "
                          "needs a teacher with a mapping network and --latent-space w (this run matches in "
                          f"{'z' if styled else 'image'} space); drop it from --terms")
    if styled:
        from gantransfer.losses.direction import DIRECTION_STEP
        sampler = StyledTeacherSampler(teacher, cfg.batch_size, cfg.bank_size, cfg.seed, with_features,
                                       cfg.truncation, real_images(cfg, scfg), cfg.truncation_psi,
                                       DIRECTION_STEP if directions else 0.0)
    else:  # a bank caches what does not change: the teacher's outputs, a frozen perceptual net's maps of them
        perceptual = next((t for t in terms if isinstance(t, PerceptualLoss)), None)
        fixed = perceptual is not None and network.fixed(teacher.discriminator)
        sampler = TeacherLatentSampler(teacher, cfg.batch_size, cfg.bank_size, cfg.seed, with_features,
                                       cfg.truncation, real_images(cfg, scfg),
                                       perceptual.features if fixed else None)

    def final(run: Path) -> dict | None:
        from gantransfer.metrics.distillation import evaluate_distillation
        if not cfg.eval_n:
            return None
        from gantransfer.metrics.teacher_relative import distill_end_of_run
        result = evaluate_distillation(run, teacher, sampler.bank, cfg.eval_n, device, cfg.truncation)
        if widths:  # every width's sub-network, as --width gives it
            from gantransfer.metrics.elastic_widths import width_figures
            result["widths"] = width_figures(run, teacher, result.get("teacher_metrics"), cfg.eval_n, device,
                                             cfg.truncation)
        return {**result, "teacher_relative": distill_end_of_run(run, teacher, cfg.eval_n, device, cfg.truncation)}

    plan = RunPlan(command="distill", settings=cfg, resolved=resolved, generator=scfg, modules=modules,
                   optimizers=optimizers,
                   phases=student_phases(student, s_opt, terms, providers, weights.get("adversarial", 0), d, d_opt),
                   sampler=sampler, config_key="distill_config", preview=side_by_side_preview(teacher, scfg, device),
                   final=final, run_info={"teacher": teacher.source, "white_box": teacher.white_box,
                                          "latent_space": space, "terms_chosen": choice.record(),
                                          "student_init": initial, "student_size": size,
                                          **({"teacher_taps": list(teacher.taps)} if teacher.taps else {})})
    return execute(plan, cfg.out, resume, overwrite)


PREVIEW_LATENTS = 32
PREVIEW_PIXELS = PREVIEW_LATENTS * 256 * 256  # output pixels of the preview: 32 latents up to 256 px


def preview_count(scfg: GeneratorConfig) -> int:
    """Latents of the side-by-side preview: 32 up to 256 px; above, ``PREVIEW_PIXELS`` worth in whole rows of 8
    (at least one row): a 1024 px teacher renders 8 images when a run starts, not 32 in one batch."""
    n = PREVIEW_PIXELS // max(1, scfg.resolution ** 2)
    return max(8, min(PREVIEW_LATENTS, n // 8 * 8))


PREVIEW_CHUNK_PIXELS = PREVIEW_LATENTS * 64 * 64  # one batch renders at most this many output pixels


def preview_chunk(scfg: GeneratorConfig) -> int:
    """Latents rendered per batch in the preview: all 32 up to 64 px (one batch, as always); above, fewer (2 at
    256 px, 1 at 1024 px), so that the preview's peak memory is not 32 large images' activations at once."""
    return max(1, min(PREVIEW_LATENTS, PREVIEW_CHUNK_PIXELS // max(1, scfg.resolution ** 2)))


def render_in_chunks(g, z: torch.Tensor, y: torch.Tensor | None, chunk: int, device: torch.device) -> torch.Tensor:
    """``g`` on ``z`` (and ``y``) in batches of ``chunk``, concatenated on the CPU."""
    return torch.cat([g(z[i:i + chunk].to(device), None if y is None else y[i:i + chunk].to(device)).cpu()
                      for i in range(0, len(z), chunk)])


def side_by_side_preview(teacher: Teacher, scfg: GeneratorConfig, device: torch.device):
    """A grid whose rows alternate teacher / student on the same latents (``preview_count``: 32 up to 256 px)."""
    n = preview_count(scfg)
    preview_z, preview_y = draw_inputs(scfg, n, torch.Generator().manual_seed(1234))
    with torch.no_grad():
        preview_teacher = render_in_chunks(teacher, preview_z, preview_y, preview_chunk(scfg), device)

    def preview(s: torch.nn.Module, run: Path, step: int) -> None:
        with torch.inference_mode():
            x = render_in_chunks(s, preview_z, preview_y, preview_chunk(scfg), device)
        pairs = torch.stack([preview_teacher.view(n // 8, 8, *x.shape[1:]), x.view(n // 8, 8, *x.shape[1:])], 1)
        save_image_grid(pairs.reshape(-1, *x.shape[1:]), run / "samples" / f"step-{step:07d}.png", nrow=8)
    return preview


def real_images(cfg: DistillConfig, scfg: GeneratorConfig) -> RealDataSampler | None:
    """Real batches for the adversarial term when ``--real-data`` is given, at the teacher's resolution and channels."""
    if not cfg.real_data:
        return None
    from gantransfer.data.registry import load_dataset
    data = load_dataset(cfg.real_data, "train", resolution=scfg.resolution, channels=scfg.channels,
                        classes=scfg.trained_classes, data_dir=cfg.data_dir)
    if data.kind != "image":
        raise ConfigError(f"--real-data {cfg.real_data} holds 2-D points; the teacher makes images")
    if scfg.num_classes and int(data.y.max()) >= scfg.num_classes:
        raise ConfigError(f"--real-data {cfg.real_data} has labels up to {int(data.y.max())} but the conditional "
                          f"teacher knows {scfg.num_classes} classes")
    return RealDataSampler(data, cfg.batch_size, scfg.latent_dim, cfg.seed, scfg.num_classes > 0)
