"""A distillation step's memory is estimated before anything big is allocated (activations included, not just
parameters), and a step that cannot fit is refused with the estimate and the batch that would fit."""
from pathlib import Path

import pytest
import torch

from gantransfer.cli import main
from gantransfer.models.config import GeneratorConfig, build_generator
from gantransfer.models.store import save_generator
from gantransfer.tasks.step_memory import step_memory

GIB = 2 ** 30


def config_f(resolution, width=2.0, **kw):
    return GeneratorConfig(arch="stylegan2", latent_dim=512, resolution=resolution, channels=3, width=width, **kw)


def test_the_estimate_counts_activations_and_tracks_the_measured_peaks():
    """Measured peak RSS (benchmarks/results/stylegan2_scale.json, config-f teacher, 1/4-width W student with its
    channel cap scaled to 64, as distill makes it): 256 px 1.46 / 2.26 GiB at batch 4 / 8; 1024 px 4.80 / 7.95."""
    student = {"latent_space": "w", "options": {"channel_max": 64}}
    e256 = step_memory(config_f(256), config_f(256, 0.25, **student))
    e1024 = step_memory(config_f(1024), config_f(1024, 0.25, **student))
    assert e1024.per_sample > 3 * e256.per_sample > 0  # the activations, not the parameters, grow with size
    for est, measured in ((e256, {4: 1.46, 8: 2.26}), (e1024, {4: 4.80, 8: 7.95})):
        for batch, gib in measured.items():
            assert abs(est.at(batch) / GIB - gib) < 0.12 * gib, (batch, est.at(batch) / GIB, gib)
    assert e1024.largest_batch(e1024.at(6) + 1) == 6 and e1024.largest_batch(e1024.fixed - 1) == 0


@pytest.fixture(scope="module")
def teacher_1024(tmp_path_factory):
    """A 1024 px StyleGAN2 with few channels: small weights, but 1024 x 1024 activations."""
    cfg = GeneratorConfig(arch="stylegan2", latent_dim=8, resolution=1024, channels=3, width=1 / 16,
                          options={"w_dim": 8, "mapping_layers": 1, "channel_max": 8})
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("t") / "teacher"
    save_generator(build_generator(cfg).eval(), cfg, path)
    return path


def test_a_1024_px_step_beyond_max_memory_is_refused_with_the_batch_that_fits(teacher_1024, tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["distill", "--teacher", str(teacher_1024), "--batch-size", "64", "--steps", "1", "--eval-n", "0",
               "--max-memory", "1G", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "1024 px teacher at --batch-size 64 needs about" in err and "per sample" in err
    assert "more than the 1.0 GiB of --max-memory; use --batch-size" in err
    fits = int(err.split("use --batch-size ")[1].split()[0])
    assert 1 <= fits < 64
    assert not (out / "generator").exists()


def test_when_not_even_batch_1_fits_it_says_so(teacher_1024, tmp_path, capsys):
    rc = main(["distill", "--teacher", str(teacher_1024), "--batch-size", "4", "--steps", "1", "--eval-n", "0",
               "--max-memory", "300M", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert rc == 2 and "not even batch 1 fits" in err and "--width" in err


def test_an_allocation_that_fails_at_run_time_is_one_line(monkeypatch, tmp_path, capsys):
    import gantransfer.tasks.distill as distill_task

    def fail(*_a, **_k):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate "
                           "memory: you tried to allocate 553779200 bytes. Error code 12 (Cannot allocate memory)")
    import gantransfer
    teacher = str(Path(gantransfer.__file__).parent / "assets" / "teachers" / "fashion-mnist-dcgan")
    monkeypatch.setattr(distill_task, "check_noise_settings", fail)
    rc = main(["distill", "--teacher", teacher, "--steps", "1", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert rc == 2 and "out of memory (an allocation of 528.1 MiB failed); use a smaller --batch-size" in err
    assert "Traceback" not in err
    monkeypatch.setattr(distill_task, "check_noise_settings", lambda *_a: (_ for _ in ()).throw(RuntimeError("x")))
    with pytest.raises(RuntimeError):  # any other RuntimeError is a bug: it is not dressed up as memory
        main(["distill", "--teacher", teacher, "--steps", "1", "--out", str(tmp_path / "r2")])
