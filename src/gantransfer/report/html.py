"""Self-contained HTML pages: one style sheet and one small sorting script inline, images beside the page.

The layout fits any width from a phone's (about 360 px) up: tables take the page's width and wrap their cells,
images shrink to fit (and small ones are scaled up crisply, without smoothing), wide tables become one card per row
on narrow screens. Nothing is loaded from the network.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from gantransfer.io import atomic_write

STYLE = """
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d1d1f;background:#f6f7f9}
main{max-width:1200px;margin:0 auto;padding:16px}
h1{font-size:1.55em;margin:.2em 0 .3em}h2{font-size:1.2em;margin:0 0 .5em}h3{font-size:1em;margin:1em 0 .3em}
p{margin:.4em 0}a{color:#0b57d0}
section{background:#fff;border:1px solid #e2e4e8;border-radius:10px;padding:14px 18px;margin:14px 0}
.lead{font-size:1.05em;color:#333}
.note{color:#555;font-size:.92em}
.warn{background:#fff4e5;border:1px solid #f0c36d;border-radius:8px;padding:8px 12px}
nav.toc{display:flex;flex-wrap:wrap;gap:6px 14px;font-size:.92em}
.glance{display:flex;flex-wrap:wrap;gap:10px;margin:.6em 0 0}
.glance div{background:#f1f5fb;border-radius:8px;padding:6px 12px;flex:0 1 auto;min-width:9em;max-width:100%}
@media (max-width:760px){.glance div{flex:1 1 40%;min-width:0}}
.glance b{display:block;font-size:1.2em}
table{border-collapse:collapse;width:100%;table-layout:fixed;margin:.4em 0 .9em}
th,td{border-bottom:1px solid #e6e8eb;padding:5px 7px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f3f4f6;font-weight:600;font-size:.92em}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tr.changed td:first-child{font-weight:600}
.better{color:#137333;font-weight:600}.worse{color:#b3261e;font-weight:600}.same{color:#555}
table.sortable{table-layout:auto}table.sortable th{cursor:pointer;user-select:none;overflow-wrap:normal;hyphens:auto}
table.sortable td{overflow-wrap:break-word}table.sortable td.num{white-space:nowrap}
table.sortable th[aria-sort=ascending]::after{content:" \\25B2"}table.sortable th[aria-sort=descending]::after{content:" \\25BC"}
.figs{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start}
figure{margin:0;max-width:100%}
figcaption{font-size:.88em;color:#444;max-width:100%;margin-top:3px}
img{max-width:100%;height:auto;display:block;background:#fff}
img.px{image-rendering:pixelated;image-rendering:crisp-edges}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f1f3f4;padding:10px 12px;border-radius:8px;margin:.4em 0;
font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.92em;overflow-wrap:anywhere}
details summary{cursor:pointer;color:#0b57d0;margin:.3em 0}
@media (max-width:1100px){
 table.cards thead{display:none}
 table.cards,table.cards tbody,table.cards tr,table.cards td{display:block;width:100%}
 table.cards tr{border:1px solid #e2e4e8;border-radius:8px;margin:0 0 10px;padding:4px 0}
 table.cards td{border:0;text-align:right;padding:3px 8px}
 table.cards td::before{content:attr(data-label);float:left;font-weight:600;color:#444;text-align:left;
  max-width:55%;padding-right:8px}
 table.cards td::after{content:"";display:block;clear:both}
 table.sortable td.num{white-space:normal}
}
@media (max-width:760px){
 body{font-size:14px}main{padding:8px}section{padding:10px 10px;margin:10px 0}
 th,td{padding:4px 4px;font-size:13px}th{overflow-wrap:normal;hyphens:auto}td.num{font-size:12px}
}
"""

# Click a header to sort by it (numbers by value, text alphabetically); click again to reverse.
SORT_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  var heads = table.querySelectorAll("thead th");
  heads.forEach(function (th, col) {
    th.addEventListener("click", function () {
      var up = th.getAttribute("aria-sort") !== "ascending";
      heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", up ? "ascending" : "descending");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var key = function (row) {
        var cell = row.cells[col];
        var v = cell.getAttribute("data-v");
        return v !== null && v !== "" && !isNaN(+v) ? +v : cell.textContent.trim().toLowerCase();
      };
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        var c = typeof x === typeof y ? (x < y ? -1 : x > y ? 1 : 0) : (typeof x === "number" ? -1 : 1);
        return up ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""


def esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


@dataclass
class Cell:
    """A table cell: its text (or HTML), a sort key, and classes (``num``, ``better``, ...)."""

    text: str
    sort: float | str | None = None
    cls: str = ""
    raw_html: bool = False

    def render(self, label: str = "") -> str:
        attrs = f' class="{self.cls}"' if self.cls else ""
        if self.sort is not None:
            attrs += f' data-v="{esc(self.sort)}"'
        if label:
            attrs += f' data-label="{esc(label)}"'
        return f"<td{attrs}>{self.text if self.raw_html else esc(self.text)}</td>"


def table(rows: Iterable[Iterable[Any]], header: list[str] | None = None, cls: str = "",
          widths: list[str] | None = None, row_classes: list[str] | None = None) -> str:
    """An HTML table; cells are Cells or plain values (escaped). ``cls``: ``sortable``, ``cards`` (one card per row
    on narrow screens); ``widths``: CSS widths of the columns."""
    out = [f'<table class="{cls}">' if cls else "<table>"]
    if widths:
        out.append("<colgroup>" + "".join(f'<col style="width:{w}">' for w in widths) + "</colgroup>")
    if header:
        out.append("<thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr></thead>")
    out.append("<tbody>")
    for i, row in enumerate(rows):
        rc = row_classes[i] if row_classes and i < len(row_classes) and row_classes[i] else ""
        cells = [c if isinstance(c, Cell) else Cell(str(c)) for c in row]
        labels = header or [""] * len(cells)
        out.append((f'<tr class="{rc}">' if rc else "<tr>")
                   + "".join(c.render(labels[j] if j < len(labels) else "") for j, c in enumerate(cells)) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def figure(src: str, caption: str, size: tuple[int, int] | None = None, pixels: bool = True,
           target: int = 300, widest: int = 1160) -> str:
    """An image beside the page with its caption. A small pixel grid is shown at a whole multiple of its size (at
    least ``target`` px wide), a large one at most ``widest`` px wide, and never wider than the page."""
    style, box = "", "max-width:100%"
    if size is not None:
        w, h = size
        k = max(1, target // max(w, 1)) if pixels else 1
        shown = min(w * k, widest)
        style = f' width="{shown}" height="{round(h * shown / w)}" style="width:{shown}px"'
        box = f"width:{shown}px;max-width:100%"
    cls = ' class="px"' if pixels else ""
    return (f'<figure style="{box}"><img src="{esc(src)}" alt="{esc(caption)}"{cls}{style}>'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def figures(items: list[str]) -> str:
    return '<div class="figs">' + "".join(items) + "</div>" if items else ""


def section(title: str, body: str, anchor: str) -> str:
    return f'<section id="{esc(anchor)}"><h2>{esc(title)}</h2>{body}</section>'


def page(title: str, intro: str, sections: list[tuple[str, str, str]], sortable: bool = False) -> str:
    """A whole page: ``sections`` are (title, anchor, inner HTML); a table of contents links to them."""
    toc = '<nav class="toc">' + "".join(f'<a href="#{esc(a)}">{esc(t)}</a>' for t, a, _ in sections) + "</nav>"
    body = "".join(section(t, inner, a) for t, a, inner in sections)
    script = f"<script>{SORT_SCRIPT}</script>" if sortable else ""
    return ("<!doctype html><html lang=en><head><meta charset=utf-8>"
            '<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{esc(title)}</title><style>{STYLE}</style></head><body><main>"
            f"<header><h1>{esc(title)}</h1>{intro}{toc}</header>{body}</main>{script}</body></html>\n")


def write_page(path: str | Path, text: str) -> Path:
    """Write a page atomically; returns its path."""
    p = Path(path)
    atomic_write(p, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return p
