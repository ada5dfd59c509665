"""StyleKD's latent-direction term: the student's image change between W and a step towards another mapped latent
points as the teacher's. Registered as a matching term; off unless --terms names it (no default changes)."""
import json

import pytest
import torch

from gantransfer.cli import main
from gantransfer.config import DistillConfig
from gantransfer.engine.terms import StepContext
from gantransfer.errors import ConfigError
from gantransfer.losses.direction import DIRECTION_STEP, LatentDirectionLoss
from gantransfer.models.store import load_generator
from gantransfer.tasks.direction_term import latent_direction_term
from gantransfer.tasks.distill import distill
from gantransfer.tasks.samplers import StyledTeacherSampler
from gantransfer.teachers import load_teacher
from gantransfer.term_registry import term, term_names
from test_stylegan2_transfer import make_teacher


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    return make_teacher(tmp_path_factory.mktemp("ld") / "teacher")


def test_the_term_is_one_minus_the_cosine_of_the_changes():
    t0, t1 = torch.zeros(3, 1, 4, 4), torch.randn(3, 1, 4, 4)
    batch = {"teacher": t0, "teacher_shifted": t1}
    loss = LatentDirectionLoss()
    for student_change, want in ((2.5 * t1, 0.0), (-t1, 2.0)):  # the same direction at any size; the opposite
        ctx = StepContext(batch, {"student": lambda c: torch.ones(3, 1, 4, 4),
                                  "student_shifted": lambda c, d=student_change: torch.ones(3, 1, 4, 4) + d})
        assert abs(float(loss(ctx)) - want) < 1e-5
    with pytest.raises(ConfigError, match="--latent-space w"):
        loss(StepContext({"teacher": t0}, {}))
    assert "latent_direction" in term_names() and term("latent_direction").build is not None


def test_the_sampler_moves_w_towards_another_mapped_latent_only_when_asked(teacher):
    t = load_teacher(teacher)
    plain = StyledTeacherSampler(t, 4, 0, 0, psi=0.7).next(torch.Generator().manual_seed(1), torch.device("cpu"))
    moved = StyledTeacherSampler(t, 4, 0, 0, psi=0.7, direction_step=DIRECTION_STEP).next(
        torch.Generator().manual_seed(1), torch.device("cpu"))
    assert "ws_shifted" not in plain and "teacher_shifted" not in plain
    for k in ("z", "ws", "teacher"):  # the same draws before the extra latent: defaults unchanged
        assert torch.equal(plain[k], moved[k])
    step = moved["ws_shifted"] - moved["ws"]
    assert step.abs().max() > 0 and torch.allclose(step[:, 0], step[:, -1])  # one W per sample, moved as one
    with torch.no_grad():
        assert torch.equal(moved["teacher_shifted"], t.module.synthesis(moved["ws_shifted"], noise=moved["noise"]))
    # a student equal to the teacher has no direction error
    student, _ = load_generator(teacher)
    loss, providers = latent_direction_term(1.0, student, None)
    providers["student"] = lambda ctx: student.synthesis(ctx["ws"], noise=ctx["noise"])
    with torch.no_grad():
        assert float(loss(StepContext(moved, providers))) < 1e-5


def test_a_w_space_run_trains_on_the_term_and_other_spaces_are_refused(teacher, tmp_path, capsys):
    run = distill(DistillConfig(teacher=str(teacher), width=0.25, terms="pixel=1,latent_direction=1", steps=3,
                                batch_size=4, log_every=1, eval_n=0, progress=False, latent_space="w",
                                out=str(tmp_path / "w")))
    logs = [json.loads(x) for x in (run / "logs" / "metrics.jsonl").read_text().splitlines()]
    values = [r["loss/G/latent_direction"] for r in logs if "loss/G/latent_direction" in r]
    assert len(values) == 3 and all(0 <= v <= 2 for v in values)
    rc = main(["distill", "--teacher", str(teacher), "--latent-space", "z", "--terms", "pixel=1,latent_direction=1",
               "--steps", "1", "--eval-n", "0", "--out", str(tmp_path / "z")])
    err = capsys.readouterr().err
    assert rc == 2 and "latent_direction term" in err and "--latent-space w" in err and "Traceback" not in err
    assert not (tmp_path / "z" / "generator").exists()
