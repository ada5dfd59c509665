"""The docs' links: every relative link of README.md and docs/*.md names a file that exists (the result JSON
every claim cites included), and every #anchor names a heading of the page it points to."""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "tests" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """The anchor of a heading, as Python-Markdown's toc (the docs site) and GitHub make it for plain headings."""
    text = unicodedata.normalize("NFKD", heading).encode("ascii", "ignore").decode()
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(page: Path) -> set[str]:
    """The anchors of a Markdown page's headings (code blocks left out)."""
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return {slug(h) for h in re.findall(r"^#+ (.*)$", text, flags=re.M)}


def links(page: Path) -> list[str]:
    """The relative links of a page, outside code blocks."""
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return [m for m in LINK.findall(text) if not m.startswith(("http://", "https://", "mailto:"))]


def test_slug_matches_the_docs_site() -> None:
    assert slug("The demo's recipe") == "the-demos-recipe"
    assert slug("Distillation at 2,000 steps, both protocols") == "distillation-at-2000-steps-both-protocols"
    assert slug("Any teacher: the default at 30 minutes a student") == \
        "any-teacher-the-default-at-30-minutes-a-student"


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for link in links(page):
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        if not target.exists():
            broken.append(f"{link}: no such file")
        elif anchor and target.suffix == ".md" and anchor not in anchors(target):
            broken.append(f"{link}: no heading with that anchor in {target.relative_to(ROOT)}")
    assert not broken, "\n".join(broken)


def test_the_claims_cite_json_that_exists() -> None:
    cited = {m for m in links(ROOT / "docs" / "results.md") if m.endswith(".json")}
    assert len(cited) >= 40  # one or more per claim
    assert all((ROOT / "docs" / c).resolve().is_file() for c in cited)


def test_the_readme_test_command_is_what_ci_runs() -> None:
    last = [l for l in (ROOT / ".ci" / "run").read_text().splitlines() if l.strip()][-1]
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    assert any(last in b.splitlines() for b in blocks), last


def test_every_docs_page_is_in_the_site_nav() -> None:
    """mkdocs --strict (in .ci/run) fails on a page left out of the nav: caught here first."""
    nav = (ROOT / "mkdocs.yml").read_text()
    listed = set(re.findall(r":\s*([\w./-]+\.md)\s*$", nav, re.M))
    pages = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")}
    assert pages - listed == set(), f"add these pages to mkdocs.yml's nav: {sorted(pages - listed)}"
