"""benchmarks/stylegan2_recipe.py's conditions: each takes out (or adds) exactly one piece of the recipe."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import stylegan2_recipe  # noqa: E402


def _flags(name: str) -> dict[str, str]:
    flags = stylegan2_recipe.condition_flags(name, 0.25, 0.003)
    return dict(zip(flags[::2], flags[1::2]))


def test_the_recipe_is_pruned_w_space_pixel_perceptual_direction() -> None:
    f = _flags("recipe")
    assert f["--init"] == "prune" and f["--latent-space"] == "w" and f["--width"] == "0.25"
    assert f["--terms"] == "pixel=1,perceptual=1,latent_direction=1" and f["--perceptual-net"] == "auto"


def test_each_condition_changes_one_piece() -> None:
    base = _flags("recipe")
    changed = {name: {k for k in base if _flags(name)[k] != base[k]} for name in stylegan2_recipe.CONDITIONS}
    assert changed == {"default": {"--terms"}, "recipe": set(), "no-prune": {"--init"}, "no-direction": {"--terms"},
                       "no-perceptual": {"--terms"}, "z-space": {"--latent-space", "--terms"},
                       "adversarial": {"--terms"}}
    assert _flags("adversarial")["--discriminator-width"] == "0.03125"
    assert "latent_direction" not in _flags("no-direction")["--terms"]
    assert _flags("default") == _flags("no-direction")  # the default kept is the recipe without the direction term
    assert _flags("recipe")["--lr-decay"] == "none"
    assert dict(zip(*[iter(stylegan2_recipe.condition_flags("default", 0.3, 0.003, "cosine"))] * 2))["--lr-decay"] \
        == "cosine"
    assert "latent_direction" not in _flags("z-space")["--terms"]  # the term needs W space
    assert _flags("adversarial")["--terms"].endswith("adversarial=0.1")


def test_the_job_writes_its_run_under_runs_and_its_log_beside(tmp_path: Path) -> None:
    name, cmd, marker, log = stylegan2_recipe.job("T", tmp_path, "recipe-100-s1", ["--width", "0.25"], 100, 1, 500,
                                                  16)
    assert marker == tmp_path / "recipe-100-s1" / "eval.json" and log == tmp_path / "recipe-100-s1.log"
    assert cmd[cmd.index("--teacher") + 1] == "T" and cmd[cmd.index("--seed") + 1] == "1"
    assert cmd[cmd.index("--out") + 1] == str(tmp_path / "recipe-100-s1")
