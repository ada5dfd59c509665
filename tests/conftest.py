import os
from pathlib import Path

import pytest

FMNIST_DIR = Path("/usr/share/datasets/fashion-mnist")


def has_fmnist() -> bool:
    return (FMNIST_DIR / "train-images-idx3-ubyte.gz").is_file()


needs_fmnist = pytest.mark.skipif(not has_fmnist(), reason="apt-get install dataset-fashion-mnist")


@pytest.fixture(autouse=True)
def _small_threads(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "2"))


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    """Run the command line in-process: (exit code, stdout, stderr); argparse exits become codes."""
    from gantransfer.cli import main
    try:
        code = main(list(argv))
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def pytest_configure(config):
    config.addinivalue_line("markers", "run_report: let training runs write their HTML report (tests/test_report*.py)")


@pytest.fixture(autouse=True)
def _no_run_reports(request, monkeypatch):
    """Training runs in tests skip their end-of-run HTML report (about a second each) unless the test is marked
    run_report; the report itself is tested in tests/test_report*.py."""
    if "run_report" not in request.keywords:
        monkeypatch.setattr("gantransfer.report.build.write_run_report", lambda run, measure=True: None)
