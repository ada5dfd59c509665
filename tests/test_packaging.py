"""The installed wheel, not the checkout: CI builds the wheel and sdist, installs the wheel in a fresh venv and runs
this suite against it with GANTRANSFER_TEST_WHEEL=1 (see .ci/run)."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "gantransfer"
WHEEL_RUN = os.environ.get("GANTRANSFER_TEST_WHEEL") == "1"


@pytest.mark.skipif(not WHEEL_RUN, reason="CI sets GANTRANSFER_TEST_WHEEL=1 after installing the wheel")
def test_the_suite_imports_gantransfer_from_the_installed_wheel():
    import gantransfer
    here = Path(gantransfer.__file__).resolve()
    assert Path(sysconfig.get_paths()["purelib"]).resolve() in here.parents, here
    assert PACKAGE.resolve() not in here.parents


def _wheel(tmp_path: Path) -> Path:
    """The wheel CI built (dist/), or one built now without build isolation."""
    built = sorted((REPO / "dist").glob("gantransfer-*.whl"), key=lambda p: p.stat().st_mtime)
    if WHEEL_RUN and built:
        return built[-1]
    if importlib.util.find_spec("setuptools") is None:
        pytest.skip("setuptools is not installed: cannot build a wheel here")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                           str(tmp_path), str(REPO)], capture_output=True, text=True)
    if done.returncode != 0 and "setuptools>=77" in done.stderr:
        pytest.skip("setuptools >= 77 is needed to build the wheel here")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "SetuptoolsDeprecationWarning" not in done.stderr, done.stderr
    return next(tmp_path.glob("gantransfer-*.whl"))


def test_the_wheel_ships_every_file_of_the_package_and_its_license(tmp_path):
    with zipfile.ZipFile(_wheel(tmp_path)) as zf:
        names = set(zf.namelist())
        meta = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    expected = {"gantransfer/" + p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}
    missing = sorted(expected - names)
    assert not missing, f"the wheel lacks {missing[:5]}: add a package-data rule in pyproject.toml"
    assert any(n.startswith("gantransfer/assets/judges/") and n.endswith(".safetensors") for n in names)
    assert "License-Expression: MIT" in meta and any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
