"""Check a report page in a real headless browser (Chromium, driven by Playwright): it loads without console
errors, no element is wider than the window, every image loads; and take a screenshot. Used by the tests."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

# Every element whose box reaches past the window's edges, every image that did not load, and the page's width.
PROBE = """() => {
  const w = document.documentElement.clientWidth;
  const wide = [];
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && (r.right > w + 0.5 || r.left < -0.5)) {
      wide.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className ? "." + el.className : "")
                + " " + Math.round(r.left) + ".." + Math.round(r.right));
    }
  }
  const images = Array.from(document.images);
  return {width: w, scrollWidth: document.documentElement.scrollWidth, wide: wide.slice(0, 20),
          images: images.length,
          broken: images.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.getAttribute("src"))};
}"""


def chromium() -> str | None:
    """The system's Chromium (Debian's package), or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def unavailable() -> str | None:
    """Why no page can be checked here (no Playwright, no Chromium), or None when one can."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright; its own browser download is not needed)"
    return None if chromium() else "no chromium installed (apt-get install chromium)"


def check_page(page_path: str | Path, widths: tuple[int, ...] = (1280, 390), screenshots: str | Path | None = None,
               executable: str | None = None) -> dict[int, dict[str, Any]]:
    """Open ``page_path`` at each window width; per width: console errors, failed requests, elements wider than
    the window, images that did not load, and the screenshot's path (full page) when ``screenshots`` is given."""
    from playwright.sync_api import sync_playwright
    url = Path(page_path).resolve().as_uri()
    results: dict[int, dict[str, Any]] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable or chromium(), headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        try:
            for width in widths:
                context = browser.new_context(viewport={"width": width, "height": 900},
                                              device_scale_factor=1, is_mobile=width < 600, has_touch=width < 600)
                page = context.new_page()
                errors: list[str] = []
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.on("requestfailed", lambda r: errors.append(f"failed to load {r.url}"))
                page.goto(url, wait_until="load")
                probe = page.evaluate(PROBE)
                probe["errors"] = errors
                if screenshots is not None:
                    shot = Path(screenshots) / f"{Path(page_path).parent.name}-{width}px.png"
                    shot.parent.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(shot), full_page=True)
                    probe["screenshot"] = str(shot)
                results[width] = probe
                context.close()
        finally:
            browser.close()
    return results
