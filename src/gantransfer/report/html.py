"""A self-contained HTML report: headings, tables of figures, and images beside it."""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any

STYLE = ("body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}"
         "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
         "td.num{text-align:right;font-family:monospace}img{image-rendering:pixelated;margin:4px}"
         "code{background:#f4f4f4;padding:1px 4px}")


def table(rows: dict[str, Any] | list[list[Any]], header: list[str] | None = None) -> str:
    """An HTML table of a mapping (key, value) or of rows."""
    items = list(rows.items()) if isinstance(rows, dict) else rows
    out = ["<table>"]
    if header:
        out.append("<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>")
    for row in items:
        cells = []
        for v in row:
            if isinstance(v, float):
                cells.append(f"<td class=num>{v:.4f}</td>")
            else:
                cells.append(f"<td>{html.escape(str(v))}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def image(src: str, caption: str = "", width: int | None = None) -> str:
    w = f" width={width}" if width else ""
    return (f"<figure><img src='{html.escape(src)}'{w} alt='{html.escape(caption)}'>"
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def write_report(path: str | Path, title: str, sections: list[tuple[str, str]]) -> Path:
    """Write ``sections`` (heading, inner HTML) as one page; images are referenced relative to it."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    body = "\n".join(f"<h2>{html.escape(h)}</h2>\n{content}" for h, content in sections)
    p.write_text(f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(title)}</title>"
                 f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n")
    return p
