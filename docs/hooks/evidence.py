"""MkDocs hook: ship the measured results (``benchmarks/results/``) with the site, so that the links of the docs
to their JSON, written relative to the repository (``../benchmarks/results/x.json``), work in the site too."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

EVIDENCE = "benchmarks/results"
REPO_LINK = f"](../{EVIDENCE}/"


def on_files(files: Files, config: Any, **kwargs: Any) -> Files:
    """Add every file of ``benchmarks/results`` to the site under the same relative path."""
    root = Path(config["config_file_path"]).parent
    for path in sorted((root / EVIDENCE).glob("*")):
        if path.is_file():
            files.append(File(f"{EVIDENCE}/{path.name}", str(root), config["site_dir"], config["use_directory_urls"]))
    return files


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    """Point the repository-relative result links of a top-level page at the site's copy."""
    if "/" in page.file.src_uri:
        return markdown
    return markdown.replace(REPO_LINK, f"]({EVIDENCE}/")
