"""``gantransfer distill`` of an image-to-image translator: a smaller translator that reproduces the teacher's
outputs on input-domain images (``--data``: a folder or a built-in data set; the target domain is never needed).

Setup only, as ``distill.py`` for noise generators: the student (a narrower translator of the teacher's family, or
``--student-arch``), the matching terms (``term_registry``; ``feature`` through 1x1 adapters on the families'
declared taps; ``adversarial`` with a small conditional patch discriminator of the student's own), the input
sampler (``translator_sampler.py``); the runner and the engine do the rest, and
``metrics/translator_distill.py`` the end-of-run evaluation on held-out inputs.
"""
from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Callable

import torch

from gantransfer.config import DistillConfig
from gantransfer.data.translation_tasks import TRANSLATION_TASKS, is_translation_task
from gantransfer.data.translator_inputs import InputImages, load_inputs
from gantransfer.engine.loop import Phase
from gantransfer.engine.optim import discriminator_adam, generator_adam
from gantransfer.errors import ConfigError
from gantransfer.grid import save_image_grid
from gantransfer.image_space import convert_images
from gantransfer.losses.distillation import FeatureMatching, feature_adapters
from gantransfer.losses.structure import RandomFeatures
from gantransfer.metrics.classifier import ships
from gantransfer.models.config import GeneratorConfig, build_generator
from gantransfer.models.family import family, family_names_of_kind
from gantransfer.models.translator_patchgan import PatchDiscriminator
from gantransfer.models.translators import check_size
from gantransfer.tasks.default_terms import translator_terms
from gantransfer.tasks.gan import gan_phases
from gantransfer.tasks.matching import PerceptualNetwork, loss_network_names, matching_terms, resolve_perceptual
from gantransfer.tasks.runner import RunPlan, execute
from gantransfer.tasks.student_init import initialise_student
from gantransfer.tasks.translator_sampler import TranslatorInputSampler
from gantransfer.teachers import Teacher

INPUT_SOURCES = ("auto", "teacher-data", "folder", "augment")
RANDOM_FEATURES = "random-conv-v1"  # the translator default perceptual network: no protocol uses it


def student_config(cfg: DistillConfig, teacher: Teacher) -> GeneratorConfig:
    """The student translator of ``distill`` (``translator_student`` with the config's settings)."""
    return translator_student(teacher, cfg.student_arch, cfg.width, cfg.student_options)


def translator_student(teacher: Teacher, student_arch: str | None, width: float,
                       student_options: dict | None = None, **changes) -> GeneratorConfig:
    """A student translator: the teacher's family (or ``student_arch``, a translator family) with its width option
    (``ngf``) scaled by ``width``, the teacher's channels, size and norm where the family shares them; ``changes``:
    other config fields (a fused student's labels)."""
    t = teacher.config
    arch = student_arch or t.arch
    fam = family(arch)
    if fam.kind != "translator":
        raise ConfigError(f"--student-arch {arch} is not an image-to-image translator family; the teacher "
                          f"{teacher.source} is one: choose one of {', '.join(family_names_of_kind('translator'))}")
    from gantransfer.typed import from_dict, to_dict
    base = to_dict(fam.options())
    shared = {k: v for k, v in to_dict(t.options).items() if k in base}
    options = {**base, **shared}
    if "ngf" in options:
        options["ngf"] = max(2, round(options["ngf"] * width))
    options.update(student_options or {})
    opts = from_dict(type(fam.options()), options, f"{arch} options")
    fields = {"fusion": None, "data_classes": None, "label_weights": None, "latent_space": None,
              "loss_networks": [], "meta": {"teacher": teacher.source}, **changes}
    scfg = dataclasses.replace(t, arch=arch, width=1.0, options=opts, **fields)
    try:
        scfg.validate()
    except ValueError as e:
        raise ConfigError(f"student {arch} {to_dict(opts)}: {e}") from None
    return scfg


def pair_taps(student_res: list[int], teacher_res: list[int]) -> list[tuple[int, int]]:
    """Which teacher tap each student tap is matched to: taps of the same resolution, at the same relative depth
    among them (a student with 3 blocks where the teacher has 9 meets blocks 3, 6 and 9)."""
    pairs = []
    for r in dict.fromkeys(student_res):
        s_idx = [i for i, x in enumerate(student_res) if x == r]
        t_idx = [j for j, x in enumerate(teacher_res) if x == r]
        if not t_idx:
            continue
        for k, i in enumerate(s_idx):
            pairs.append((i, t_idx[max(0, round((k + 1) * len(t_idx) / len(s_idx)) - 1)]))
    return pairs


def tap_adapters(teacher: Teacher, student: torch.nn.Module, scfg: GeneratorConfig,
                 device: torch.device) -> torch.nn.ModuleList:
    """1x1 adapters from the student's taps to the teacher's they are paired with (``pair_taps``)."""
    if not teacher.capabilities.feature_taps:
        raise ConfigError(f"the feature term needs the teacher's hidden maps; {teacher.source} does not expose them "
                          "(black-box?): drop feature= from --terms")
    if not scfg.family.capabilities.feature_taps:
        raise ConfigError(f"the feature term needs a student that exposes its hidden maps; {scfg.arch} does not")
    x = torch.zeros(2, *scfg.input_shape)
    with torch.no_grad():
        _, ft = teacher.module.forward_features(x.to(device))
        _, fs = student.forward_features(x.to(device))
    pairs = pair_taps([f.shape[-1] for f in fs], [f.shape[-1] for f in ft])
    if not pairs:
        raise ConfigError("teacher and student share no feature-map resolution; drop feature= from --terms")
    return feature_adapters([fs[i].shape[1] for i, _ in pairs], [ft[j].shape[1] for _, j in pairs],
                            pairs).to(device)


def image_domain(dataset: str) -> str:
    """The data set whose shipped networks fit ``dataset``'s images: a built-in translation task's (its images are
    that data set's, e.g. fmnist-edges -> fashion-mnist), else ``dataset`` itself."""
    return TRANSLATION_TASKS.get(dataset).protocol_dataset if is_translation_task(dataset) else dataset


def inputs_data_set(cfg: DistillConfig, teacher: Teacher) -> str:
    """The data set the input images (and so the teacher's outputs) come from when it is known: a built-in
    translation task's (``--data TASK``, or with no ``--data`` the data set the teacher records), else ''."""
    if cfg.data:
        return image_domain(cfg.data) if is_translation_task(cfg.data) else ""
    name = cfg.teacher_data or teacher.config.dataset
    return image_domain(name) if name and is_translation_task(name) else ""


def perceptual_features(choice: str, dataset: str, channels: int, device: torch.device
                        ) -> tuple[str, Callable[[], Callable[[torch.Tensor], list[torch.Tensor]]]]:
    """The perceptual/Gram network's name and a builder of its feature function (built once): ``auto`` is a
    frozen seeded random convolutional network (no protocol uses it); perceptual, classifier or an entry point as
    for noise generators (``resolve_perceptual``, on the images' data set: ``image_domain``); the teacher's
    discriminator does not exist for translators."""
    if choice == "discriminator":
        raise ConfigError("--perceptual-net discriminator: a translator teacher brings no discriminator; use auto "
                          "(a frozen random network), perceptual, classifier or pkg.module:factory")
    if choice == "auto":
        built: list = []

        def random_net():
            if not built:
                built.append(RandomFeatures(channels).to(device))
            return built[0]
        return RANDOM_FEATURES, random_net
    network = resolve_perceptual(choice, image_domain(dataset), None)
    cache: list = []

    def shipped():
        if not cache:
            cache.append(network.features(None, device))
        return cache[0]
    return network.name, shipped


def input_images(cfg: DistillConfig, teacher: Teacher) -> tuple[InputImages, bool]:
    """The training and held-out input images, and whether to augment them (``--input-source``)."""
    t = teacher.config
    if cfg.real_data:
        raise ConfigError("--real-data is for noise teachers; give a translator's input images with --data")
    source = cfg.input_source
    if source == "auto":
        source = "folder" if cfg.data else "teacher-data"
    if source == "teacher-data":
        name = cfg.teacher_data or t.dataset
        if not name:
            raise ConfigError(f"the translator {teacher.source} records no data set: give its input images with "
                              "--data DIR (a folder) or --teacher-data NAME")
        what, flag = name, "--teacher-data"
    else:
        if not cfg.data:
            raise ConfigError(f"--input-source {source} needs --data DIR, a folder of input images")
        what, flag = cfg.data, "--data"
    held = cfg.eval_n if cfg.eval_n else 0
    direction = t.meta.get("translation", {}).get("direction", "AtoB")  # which domain of translation data is input
    images = load_inputs(what, t.input_channels, t.resolution, held, cfg.input_limit, cfg.data_dir, flag,
                         aligned=cfg.aligned, direction=direction)
    return images, source == "augment"


def distill_translator(cfg: DistillConfig, teacher: Teacher, resume: bool = False, overwrite: bool = False) -> Path:
    """Distil translator ``teacher`` (resolved from ``cfg``) into a smaller translator; returns the run directory."""
    if teacher.config.num_classes:
        raise ConfigError(f"{teacher.source} is a fused translator of {teacher.config.num_classes} mappings; "
                          "distilling one is not supported yet: distil its teachers, or fuse them again narrower "
                          "(gantransfer fuse --width W)")
    noise_only = [flag for flag, given in (("--elastic", cfg.elastic),
                                           ("--target-macs", cfg.target_macs), ("--target-params", cfg.target_params),
                                           ("--target-latency", cfg.target_latency)) if given]
    if noise_only:
        raise ConfigError(f"{', '.join(noise_only)}: not for translator teachers yet (the student is one translator "
                          "at --width); drop it")
    device = teacher_device(teacher)
    if cfg.black_box:
        teacher = dataclasses.replace(teacher, white_box=False)
    if cfg.input_size:  # the teacher's resolution is nominal: any side its downsampling divides
        check_size(cfg.input_size, teacher.config, teacher.module, "--input-size")
        teacher = dataclasses.replace(teacher, config=dataclasses.replace(teacher.config, resolution=cfg.input_size))
    scfg = student_config(cfg, teacher)
    images, augment = input_images(cfg, teacher)
    batch = cfg.batch_size
    if len(images.train) < batch:
        warnings.warn(f"only {len(images.train)} training input image(s) for --batch-size {batch}: each batch "
                      "draws with replacement" + ("" if augment else "; --input-source augment adds variety"))
    domain = inputs_data_set(cfg, teacher)
    choice = translator_terms(cfg.terms, cfg.perceptual_net, teacher, scfg.family.capabilities.feature_taps,
                              cfg.term_weights, shipped_perceptual=domain if domain and ships(domain, "perceptual")
                              and cfg.perceptual_net == "auto" else "")
    choice.announce("distill")
    weights = choice.weights
    net_name, net = perceptual_features(choice.perceptual_net, domain or cfg.teacher_data or teacher.config.dataset,
                                        scfg.channels, device)
    scfg.loss_networks = loss_network_names(weights, PerceptualNetwork("translator", "", net_name))
    torch.manual_seed(cfg.seed)
    student = build_generator(scfg).to(device)
    initial = initialise_student(student, scfg, teacher, cfg.init, cfg.prune_criterion, cfg.svs, cfg.seed,
                                 inputs=images.train)
    t_params = sum(p.numel() for p in teacher.module.parameters())
    s_params = sum(p.numel() for p in student.parameters())
    if s_params >= t_params:
        warnings.warn(f"the student ({s_params:,} parameters) is not smaller than its teacher ({t_params:,})")
    terms, providers = matching_terms(weights, student, net)
    providers["student"] = lambda ctx: student(ctx["input"])
    modules: dict[str, torch.nn.Module] = {"G": student}
    trained = list(student.parameters())
    with_features = weights.get("feature", 0) > 0
    pairs = None
    if with_features:
        adapters = tap_adapters(teacher, student, scfg, device)
        pairs = adapters.pairs
        modules["adapters"] = adapters
        trained += list(adapters.parameters())
        terms.append(FeatureMatching(adapters, weights["feature"]))
        providers["student_pair"] = lambda ctx: student.forward_features(ctx["input"])
        providers["student"] = lambda ctx: ctx["student_pair"][0]
        providers["student_features"] = lambda ctx: ctx["student_pair"][1]
    s_opt = generator_adam(trained, cfg)
    optimizers: dict[str, torch.optim.Optimizer] = {"G": s_opt}
    adv = weights.get("adversarial", 0)
    if adv > 0:
        ndf = max(4, round(64 * cfg.discriminator_width)) if cfg.discriminator_width else 16
        d = PatchDiscriminator(scfg.input_channels + scfg.channels, ndf).to(device)
        d_opt = discriminator_adam(d.parameters(), cfg)
        modules["D"], optimizers["D"] = d, d_opt
        providers["fake"] = lambda ctx: torch.cat([ctx["input"], ctx["student"]], 1)
        phases = gan_phases(student, d, s_opt, d_opt, "hinge", extra_g_terms=terms, extra_providers=providers,
                            adv_weight=adv)
    else:
        phases = [Phase("G", s_opt, terms, providers)]
    sampler = TranslatorInputSampler(teacher, images.train, batch, with_features, augment, conditional=adv > 0)
    resolved = {**dataclasses.asdict(cfg), "terms": choice.terms, "perceptual_net": choice.perceptual_net}
    preview_x = (images.held_out if len(images.held_out) else images.train)[:8]  # fixed: the first held-out
    shown = "held-out inputs, never trained on" if len(images.held_out) else "training inputs (none held out)"

    def final(run: Path) -> dict | None:
        from gantransfer.metrics.translator_distill import evaluate_translator_student
        save_rows(run, teacher, preview_x, device, shown)
        if not cfg.eval_n or not len(images.held_out):
            return None
        return evaluate_translator_student(run, teacher, images.held_out, device)

    plan = RunPlan(command="distill", settings=cfg, resolved=resolved, generator=scfg, modules=modules,
                   optimizers=optimizers, phases=phases, sampler=sampler, config_key="distill_config",
                   preview=rows_preview(teacher, preview_x, scfg, device), final=final,
                   run_info={"teacher": teacher.source, "white_box": teacher.white_box, "translator": True,
                             "inputs": {**images.record(), "augment": augment},
                             "perceptual_network": net_name if "perceptual" in weights or "gram" in weights
                             else None, "feature_pairs": pairs, "terms_chosen": choice.record(),
                             "student_init": initial})
    return execute(plan, cfg.out, resume, overwrite)


def teacher_device(teacher: Teacher) -> torch.device:
    """The device the teacher's weights are on."""
    return next(teacher.module.parameters(), torch.empty(0)).device


def input_teacher_student(teacher: Teacher, student: torch.nn.Module, x: torch.Tensor, channels: int,
                          device: torch.device) -> torch.Tensor:
    """Rows input | teacher | student of images ``x`` (the inputs shown at the outputs' channel count)."""
    with torch.inference_mode():
        t = teacher.module(x.to(device)).float().cpu()
        s = student(x.to(device)).float().cpu()
    return torch.cat([convert_images(x.float(), x.shape[-1], channels), t, s])


def save_rows(run: Path, teacher: Teacher, x: torch.Tensor, device: torch.device, inputs: str) -> None:
    """The report's rows (``report/translation_rows.png``): input, teacher and final student on the fixed inputs
    ``x`` (``inputs``: where they come from, in words)."""
    from gantransfer.models.store import load_generator
    from gantransfer.report.translation_rows import save_translation_rows
    student, _ = load_generator(run, device)
    with torch.inference_mode():
        t = teacher.module(x.to(device)).float().cpu()
        s = student(x.to(device)).float().cpu()
    save_translation_rows(run, [("input", x), ("teacher", t), ("student", s)], inputs)


def rows_preview(teacher: Teacher, x: torch.Tensor, scfg: GeneratorConfig, device: torch.device):
    """The run's sample grid: rows input, teacher, student on up to 8 fixed (held-out) inputs."""
    def preview(s: torch.nn.Module, run: Path, step: int) -> None:
        grid = input_teacher_student(teacher, s, x, scfg.channels, device)
        save_image_grid(grid, run / "samples" / f"step-{step:07d}.png", nrow=len(x))
    return preview
