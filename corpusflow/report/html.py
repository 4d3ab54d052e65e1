"""A self-contained HTML page: inline CSS, PNG figures embedded as base64, no scripts, no network.

The page is assembled from :class:`Section` objects; everything interpolated is escaped.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from corpusflow.report.cjkfont import font_face_css

CSS = """
:root { --fg:#212121; --muted:#616161; --line:#e0e0e0; --kept:#2e7d32; --bad:#c62828; --bg:#fafafa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "Noto Sans", "Noto Sans CJK JP",
       "Hiragino Sans", "corpusflow-ipaexg", sans-serif; color: var(--fg); margin: 0; background: #fff; }
header { padding: 18px 28px 8px; border-bottom: 1px solid var(--line); background: var(--bg); }
header h1 { font-size: 20px; margin: 0 0 4px; }
.meta { color: var(--muted); font-size: 12px; margin: 0; }
nav { padding: 8px 28px; border-bottom: 1px solid var(--line); font-size: 13px; position: sticky; top: 0;
      background: #fff; z-index: 1; }
nav a { margin-right: 14px; color: #1565c0; text-decoration: none; }
main { padding: 4px 28px 40px; max-width: 1320px; }
section { margin-top: 22px; }
h2 { font-size: 17px; margin: 0 0 6px; border-bottom: 2px solid var(--line); padding-bottom: 3px; }
h3 { font-size: 14px; margin: 14px 0 4px; }
p.note { color: var(--muted); margin: 4px 0 8px; max-width: 980px; }
.absent { background: #fff8e1; border: 1px solid #ffe082; padding: 8px 12px; border-radius: 4px; display: inline-block; }
.problem { background: #ffebee; border: 1px solid #ef9a9a; padding: 8px 12px; border-radius: 4px; }
figure { margin: 6px 0 10px; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { font-size: 12px; color: var(--muted); }
.cards { display: flex; gap: 10px; flex-wrap: wrap; margin: 10px 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 130px; background: var(--bg); }
.card .v { font-size: 20px; font-weight: 600; }
.card .k { font-size: 12px; color: var(--muted); }
.card.ok .v { color: var(--kept); } .card.bad .v { color: var(--bad); }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 12.5px; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 10px; text-align: left; vertical-align: top; }
th { background: var(--bg); font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.doc { border: 1px solid var(--line); border-left: 4px solid var(--bad); border-radius: 4px; padding: 6px 10px;
       margin: 6px 0; background: #fff; }
.doc.kept { border-left-color: var(--kept); }
.doc .h { font-size: 12px; color: var(--muted); }
.doc pre { white-space: pre-wrap; word-break: break-word; margin: 4px 0 0; font: 12.5px/1.5 ui-monospace,
           "Noto Sans Mono CJK JP", "corpusflow-ipaexg", monospace; max-height: 12em; overflow: auto; }
.sig { font: 12px ui-monospace, "corpusflow-ipaexg", monospace; }
.sig b { color: var(--bad); }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 10px; }
code { font: 12px ui-monospace, monospace; background: var(--bg); padding: 0 3px; }
footer { color: var(--muted); font-size: 12px; padding: 14px 28px; border-top: 1px solid var(--line); }
"""


def esc(x: Any) -> str:
    return html.escape("" if x is None else str(x), quote=True)


def num(x: Any) -> str:
    if x is None:
        return "–"
    if isinstance(x, float) and not x.is_integer():
        return f"{x:,.4g}"
    return f"{int(x):,}"


@dataclass
class Image:
    name: str  # file name of the PNG next to index.html
    data: bytes
    alt: str
    caption: str = ""

    def html(self) -> str:
        b64 = base64.b64encode(self.data).decode("ascii")
        cap = f"<figcaption>{esc(self.caption)} <a href=\"{esc(self.name)}\">PNG</a></figcaption>"
        return f'<figure><img src="data:image/png;base64,{b64}" alt="{esc(self.alt)}">{cap}</figure>'


@dataclass
class Section:
    id: str
    title: str
    parts: list[str] = field(default_factory=list)

    def note(self, text: str) -> Section:
        self.parts.append(f'<p class="note">{esc(text)}</p>')
        return self

    def absent(self, text: str) -> Section:
        self.parts.append(f'<p class="absent">{esc(text)}</p>')
        return self

    def raw(self, markup: str) -> Section:
        self.parts.append(markup)
        return self

    def image(self, img: Image) -> Section:
        self.parts.append(img.html())
        return self

    def table(self, header: Sequence[str], rows: Iterable[Sequence[Any]], *, numeric: Iterable[int] = ()) -> Section:
        self.parts.append(table(header, rows, numeric=numeric))
        return self

    def html(self) -> str:
        return f'<section id="{esc(self.id)}"><h2>{esc(self.title)}</h2>{"".join(self.parts)}</section>'


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], *, numeric: Iterable[int] = ()) -> str:
    numeric = set(numeric)
    th = "".join(f'<th class="n">{esc(h)}</th>' if i in numeric else f"<th>{esc(h)}</th>" for i, h in enumerate(header))
    body = []
    for r in rows:
        tds = "".join(f'<td class="n">{num(v) if isinstance(v, (int, float)) else esc(v)}</td>' if i in numeric
                      else f"<td>{esc(v)}</td>" for i, v in enumerate(r))
        body.append(f"<tr>{tds}</tr>")
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def cards(items: Iterable[tuple[str, str, str]]) -> str:
    """``(value, label, css class)`` cards."""
    return '<div class="cards">' + "".join(
        f'<div class="card {esc(c)}"><div class="v">{esc(v)}</div><div class="k">{esc(k)}</div></div>'
        for v, k, c in items) + "</div>"


def page(title: str, meta: str, sections: Sequence[Section], footer: str) -> str:
    nav = "".join(f'<a href="#{esc(s.id)}">{esc(s.title)}</a>' for s in sections)
    body = "".join(s.html() for s in sections)
    font_css, licence = font_face_css(title + meta + nav + body + footer)
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"{licence}<title>{esc(title)}</title><style>{font_css}{CSS}</style></head><body>"
        f"<header><h1>{esc(title)}</h1><p class=\"meta\">{meta}</p></header>"
        f"<nav>{nav}</nav><main>{body}</main><footer>{footer}</footer></body></html>\n"
    )
