"""How close a student is to its teacher, for any domain and with no pretrained network: a classifier two-sample
test, Fréchet distance and KID in the teacher's own learned feature space (``teacher_space.py``), and PSNR/SSIM
on fresh shared latents. Used by ``gantransfer eval STUDENT --against TEACHER`` and at the end of every distill
and fuse run (``eval.json`` key ``teacher_relative``).

None of these networks is used by any loss of a run: the two-sample critic and the encoder are trained here,
from scratch, on samples only.
"""
from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any, Callable

import torch

from gantransfer.errors import CheckpointError, ConfigError, GantransferError
from gantransfer.image_space import convert_images
from gantransfer.metrics.fid import fid_from_features
from gantransfer.metrics.kid import kernel_inception_distance
from gantransfer.metrics import teacher_space as space
from gantransfer.metrics.teacher_space import SpaceSettings, embed, teacher_key, teacher_space
from gantransfer.metrics.two_sample import MIN_PER_SIDE, check_sample_count, two_sample_test
from gantransfer.models.config import GeneratorConfig
from gantransfer.models.sampling import draw_inputs

TEACHER_SEED, STUDENT_SEED, FIDELITY_SEED = 9101, 9102, 4242  # latents no run trains on
KID_SUBSETS = 50


def sampler_of(g: Callable, cfg: GeneratorConfig, device: torch.device, truncation: float = 0.0,
               shape: tuple[int, int] | None = None) -> Callable[[int, int], torch.Tensor]:
    """``f(n, seed)`` -> n images of generator ``g`` on CPU (float32), converted to ``shape`` = (resolution,
    channels) when given."""
    def draw(n: int, seed: int) -> torch.Tensor:
        z, y = draw_inputs(cfg, n, torch.Generator().manual_seed(seed), truncation=truncation)
        out = []
        with torch.inference_mode():
            for i in range(0, n, 500):
                x = g(z[i:i + 500].to(device), None if y is None else y[i:i + 500].to(device)).float().cpu()
                out.append(x if shape is None else convert_images(x, shape[0], shape[1]))
        return torch.cat(out) if out else torch.empty(0)
    return draw


def distribution_figures(teacher_x: torch.Tensor, student_x: torch.Tensor, encoder, seed: int = 0
                         ) -> dict[str, Any]:
    """FD and KID in the encoder's space, and the two-sample test, of two image sets of one shape."""
    start = time.perf_counter()
    ft, fs = embed(encoder, teacher_x), embed(encoder, student_x)
    fd = fid_from_features(ft, fs)
    kid, kid_std = kernel_inception_distance(ft, fs, subsets=KID_SUBSETS, subset_size=min(1000, len(ft), len(fs)),
                                             seed=seed)
    out: dict[str, Any] = {"fd": fd, "kid": kid, "kid_std": kid_std, "feature_seconds": time.perf_counter() - start}
    if min(len(teacher_x), len(student_x)) >= MIN_PER_SIDE:
        out["two_sample"] = two_sample_test(teacher_x, student_x, seed=seed)
    else:
        out["two_sample"] = {"skipped": f"needs at least {MIN_PER_SIDE} samples a side, got "
                                        f"{min(len(teacher_x), len(student_x))}"}
    return out


def hash_of_teacher(teacher, draw_teacher: Callable[[int, int], torch.Tensor]) -> str:
    """The teacher's key: its weights' hash, or its images' on fixed latents for a teacher without weights."""
    cfg = teacher.config
    module = teacher.module
    has_weights = isinstance(module, torch.nn.Module) and bool(module.state_dict())
    return teacher_key(module, tuple(cfg.sample_shape), cfg.latent_dim, cfg.num_classes,
                       None if has_weights else draw_teacher(16, 0))


def teacher_relative(student: torch.nn.Module, scfg: GeneratorConfig, teacher, n: int, device: torch.device,
                     own_run: Path | None, truncation: float = 0.0, fidelity_latents: bool = True,
                     settings: SpaceSettings | None = None) -> dict[str, Any]:
    """Teacher-relative figures of ``student`` against ``teacher`` (a Teacher), ``n`` samples each.

    Student images of another shape are converted to the teacher's (recorded under ``converted``);
    PSNR/SSIM need shared inputs (same latent size and labels) and are skipped with the reason otherwise.
    """
    settings = settings or space.DEFAULT_SPACE
    tcfg = teacher.config
    t_shape = (tcfg.resolution, tcfg.channels)
    result: dict[str, Any] = {"n": n}
    if (scfg.resolution, scfg.channels) != t_shape:
        result["converted"] = (f"student images {scfg.channels}x{scfg.resolution}x{scfg.resolution} converted to "
                               f"the teacher's {tcfg.channels}x{tcfg.resolution}x{tcfg.resolution}")
    draw_t = sampler_of(teacher, tcfg, device, truncation)
    draw_s = sampler_of(student, scfg, device, truncation, t_shape)
    t_hash = hash_of_teacher(teacher, draw_t)
    encoder, record = teacher_space(lambda k: draw_t(k, settings.seed), t_hash, teacher.source, own_run, settings)
    result["space"] = record
    tx, sx = draw_t(n, TEACHER_SEED), draw_s(n, STUDENT_SEED)
    result.update(distribution_figures(tx, sx, encoder))
    if fidelity_latents and scfg.latent_dim == tcfg.latent_dim and scfg.num_classes == tcfg.num_classes:
        from gantransfer.metrics.fidelity import fidelity
        z, y = draw_inputs(scfg, n, torch.Generator().manual_seed(FIDELITY_SEED), truncation=truncation)
        shaped = (lambda zz, yy: convert_images(student(zz, yy).float(), *t_shape)) if "converted" in result \
            else student
        result["fidelity_fresh"] = fidelity(shaped, teacher, tcfg, z, y, device=device)
    elif fidelity_latents:
        result["fidelity_fresh"] = {"skipped": f"the student takes latents of {scfg.latent_dim} and "
                                               f"{scfg.num_classes} classes, the teacher {tcfg.latent_dim} and "
                                               f"{tcfg.num_classes}: no shared inputs"}
    return result


def distill_end_of_run(run: Path, teacher, n: int, device: torch.device, truncation: float = 0.0
                       ) -> dict[str, Any]:
    """The teacher-relative block of a distillation's eval.json (PSNR/SSIM are already in its ``fidelity``):
    figures, or why they were skipped (too few samples)."""
    from gantransfer.models.store import load_generator
    if n < MIN_PER_SIDE:
        return {"skipped": f"--eval-n {n}: the teacher-relative figures need at least {MIN_PER_SIDE} samples"}
    student, scfg = load_generator(run, device)
    return teacher_relative(student, scfg, teacher, n, device, run, truncation, fidelity_latents=False)


def fusion_end_of_run(run: Path, tset, n: int, device: torch.device) -> dict[str, Any]:
    """Per teacher of a fused student: the student's samples for that teacher against the teacher's own."""
    from gantransfer.metrics.fusion import student_samples_for
    from gantransfer.models.store import load_generator
    if n < MIN_PER_SIDE:
        return {"skipped": f"--eval-n {n}: the teacher-relative figures need at least {MIN_PER_SIDE} samples"}
    g, _ = load_generator(run, device)
    out: dict[str, Any] = {"n": n}
    for k, (name, t) in enumerate(zip(tset.names, tset.teachers)):
        draw_t = sampler_of(t, t.config, device)
        encoder, record = teacher_space(lambda m: draw_t(m, space.DEFAULT_SPACE.seed), hash_of_teacher(t, draw_t),
                                        t.source, run)
        shape = (t.config.resolution, t.config.channels)
        sx = convert_images(student_samples_for(g, tset, k, n, STUDENT_SEED, device), *shape)
        out[name] = {"space": record, **distribution_figures(draw_t(n, TEACHER_SEED), sx, encoder)}
    return out


def images_key(images: torch.Tensor) -> str:
    """sha256 (hex) of an image set's shape and bytes: the key of a space learned from those images."""
    import hashlib
    x = images.detach().cpu().float().contiguous()
    h = hashlib.sha256(str(tuple(x.shape)).encode())
    h.update(x.numpy().tobytes())
    return h.hexdigest()


def data_relative(generators: dict[str, tuple[Callable, GeneratorConfig]], real: torch.Tensor, device: torch.device,
                  own_run: Path | None, what: str = "held-out target images",
                  settings: SpaceSettings | None = None) -> dict[str, Any]:
    """How close each generator's samples are to ``real`` images (target images no run trained on: ``what``), for a
    domain with no shipped network: the space is learned from ``real`` alone (cached under their hash), and every
    generator gets the two-sample test and FD/KID against the same images (as many samples as there are images)."""
    settings = settings or space.DEFAULT_SPACE
    real = real.float().cpu()
    encoder, record = teacher_space(lambda k: real[:k], images_key(real), "", own_run, settings)
    out: dict[str, Any] = {"against": f"{len(real)} {what} (never trained on)", "n": len(real),
                           "space": {**record, "learned_from": f"those {what} alone"}}
    shape = (real.shape[-1], real.shape[1])
    for name, (g, cfg) in generators.items():
        out[name] = distribution_figures(real, sampler_of(g, cfg, device, shape=shape)(len(real), STUDENT_SEED),
                                         encoder)
    return out


def evaluate_against(student_path: str, against: str, n: int, device: torch.device) -> dict[str, Any]:
    """``gantransfer eval STUDENT --against TEACHER``: the teacher-relative figures, ``n`` samples each."""
    from gantransfer.models.store import load_generator, resolve_generator_dir
    from gantransfer.teachers import load_teacher
    check_sample_count(n, n, "samples (--n)")
    try:
        student, scfg = load_generator(student_path, device)
    except GantransferError as e:
        raise type(e)(f"the student {student_path} is not a generator gantransfer can load: {e}") from None
    try:
        teacher = load_teacher(against, device)
    except GantransferError as e:
        raise type(e)(f"--against {against} is not a generator gantransfer can load: {e}. Give a generator or "
                      "run directory, or a DCGAN/StyleGAN2 checkpoint") from None
    except (OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"--against {against} cannot be read as a generator: {e}") from None
    if teacher.config.kind != "image" or scfg.kind != "image":
        raise ConfigError("--against compares image generators; "
                          f"{'the teacher' if teacher.config.kind != 'image' else 'the student'} makes 2-D points")
    run = resolve_generator_dir(student_path).parent
    own = run if (run / "run.json").is_file() and (run / "generator").is_dir() else None
    result = teacher_relative(student, scfg, teacher, n, device, own)
    if "converted" in result:
        warnings.warn(result["converted"])
    return {"generator": str(student_path), "against": str(against), **result}
