"""MkDocs hook: fill the API reference page with one mkdocstrings block per name of ``gantransfer.__all__``.

Reading the exports at build time keeps the page in step with the package: a name added to, moved within or
removed from the public API changes the page without editing it.
"""
from __future__ import annotations

import importlib
from typing import Any

MARKER = "<!-- gantransfer-api:"
SECTIONS = (("Tasks", "gantransfer.tasks"), ("Configs", "gantransfer.config"), ("Evaluation", "gantransfer.metrics"),
            ("Generators and teachers", ""), ("Errors", "gantransfer.errors"))  # "": every other module


def public_api() -> list[tuple[str, str]]:
    """``(name, dotted path of its definition)`` for every exported name, sorted by name: a class or function's own
    definition; for an exported instance (a registry, a constant), its class's."""
    package = importlib.import_module("gantransfer")
    out = []
    for name in sorted(package.__all__):
        obj = getattr(package, name)
        if not (getattr(obj, "__module__", None) and getattr(obj, "__qualname__", None)):
            obj = type(obj)
        out.append((name, f"{obj.__module__}.{obj.__qualname__}"))
    return out


def section_of(path: str) -> str:
    """The page section of a definition: the one whose module prefix matches, else the catch-all ``""``."""
    for title, prefix in SECTIONS:
        if prefix and path.startswith(prefix + "."):
            return title
    return next(title for title, prefix in SECTIONS if not prefix)


def render() -> str:
    """The page body: a heading per section, a mkdocstrings block per exported name."""
    groups: dict[str, list[str]] = {title: [] for title, _ in SECTIONS}
    for name, path in public_api():
        groups[section_of(path)].append(f"::: {path}\n    options:\n      show_root_heading: true\n"
                                        f"      show_root_full_path: false\n      heading_level: 3\n\n"
                                        f"`gantransfer.{name}`, defined in `{path.rsplit('.', 1)[0]}`.\n")
    return "\n".join(f"## {title}\n\n" + "\n".join(blocks) for title, blocks in groups.items() if blocks)


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    """Replace the marker line of the API page with the generated reference."""
    if MARKER not in markdown:
        return markdown
    head, _, tail = markdown.partition(MARKER)
    return head + render() + tail.partition("-->")[2]
