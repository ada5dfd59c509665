"""The report's pages in a real headless browser (Debian's Chromium, driven by Playwright): they load with no
console error, nothing is wider than the window at 1280 and 390 px, every image loads, and the comparison sorts.
The screenshots are kept under pytest's tmp dir (the path is printed)."""
import os

import pytest

from gantransfer.cli import main
from gantransfer.config import DistillConfig, TrainConfig
from gantransfer.report.browser import chromium, unavailable
from gantransfer.tasks.distill import distill
from gantransfer.tasks.train import train

REASON = unavailable()
if REASON and os.environ.get("CI"):
    raise RuntimeError(f"CI must run the browser test: {REASON}")  # .ci/run installs both
# slow: drives headless Chromium over trained runs' reports
pytestmark = [pytest.mark.slow, pytest.mark.skipif(REASON is not None, reason=REASON or ""), pytest.mark.run_report]


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    fast = dict(batch_size=16, progress=False)
    teacher = train(TrainConfig(data="digits", conditional=True, width=0.25, steps=3, eval_every=3, eval_n=100,
                                out=str(root / "teacher"), **fast))
    a = distill(DistillConfig(teacher=str(teacher), width=0.125, steps=3, eval_n=100, sample_every=1,
                              out=str(root / "narrow"), **fast))
    b = distill(DistillConfig(teacher=str(teacher), width=0.2, terms="pixel=1", steps=3, eval_n=100,
                              out=str(root / "wide"), **fast))
    assert main(["report", str(a), str(b), str(teacher), "--out", str(root / "compare")]) == 0
    return {"run": a / "report" / "index.html", "compare": root / "compare" / "index.html", "root": root}


@pytest.mark.parametrize("which", ["run", "compare"])
def test_pages_fit_load_and_show_every_image(pages, which):
    from gantransfer.report.browser import check_page
    shots = pages["root"] / "screenshots"
    results = check_page(pages[which], (1280, 390), screenshots=shots)
    for width, r in results.items():
        assert r["errors"] == [], (width, r["errors"])
        assert r["wide"] == [] and r["scrollWidth"] <= width, (width, r["wide"])
        assert r["images"] >= 3 and r["broken"] == [], (width, r["broken"])
        assert os.path.getsize(r["screenshot"]) > 10_000
    print(f"screenshots of the {which} page: {shots}")


def test_the_comparison_sorts_by_a_column(pages):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(pages["compare"].as_uri())
        names = lambda: page.eval_on_selector(  # noqa: E731 - the runs' table, the first on the page
            "table.sortable", "t => Array.from(t.tBodies[0].rows).map(r => r.cells[0].textContent)")
        heads = page.locator("table.sortable").first.locator("thead th")
        params = heads.all_text_contents().index("parameters")
        heads.nth(params).click()
        ascending = names()
        heads.nth(params).click()
        assert names() == ascending[::-1] and ascending == ["narrow", "wide", "teacher"]
        browser.close()
