"""Terminal rendering for ``corpusflow inspect``: display-width aware wrapping (Japanese
characters take two columns), truncated text, a header block per document, side-by-side
columns for a duplicate and the document kept instead.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any

from corpusflow.report.samples import Sample, format_detail


def char_width(c: str) -> int:
    if unicodedata.combining(c):
        return 0
    return 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1


def display_width(s: str) -> int:
    return sum(char_width(c) for c in s)


def wrap(text: str, width: int) -> list[str]:
    """Wrap ``text`` to ``width`` columns; breaks at spaces when a line has one, else anywhere
    (Japanese has no spaces). Newlines are kept; tabs become spaces."""
    width = max(width, 8)
    out: list[str] = []
    for para in text.replace("\t", "    ").split("\n"):
        line, w = "", 0
        last_space = -1
        for c in para:
            cw = char_width(c)
            if w + cw > width:
                if last_space > 0 and last_space >= len(line) // 2:
                    out.append(line[:last_space].rstrip())
                    line = line[last_space + 1:]
                else:
                    out.append(line)
                    line = ""
                w = display_width(line)
                last_space = -1
            if c == " ":
                last_space = len(line)
            line += c
            w += cw
        out.append(line.rstrip())
    return out


def truncate(text: str, max_chars: int, max_lines: int) -> tuple[str, int]:
    """First ``max_chars`` characters and ``max_lines`` lines of ``text`` (runs of blank lines
    collapsed); returns the shown text and how many characters were cut."""
    lines, prev_blank = [], False
    for ln in text.strip().split("\n"):
        blank = not ln.strip()
        if blank and prev_blank:
            continue
        lines.append(ln)
        prev_blank = blank
    shown = "\n".join(lines[:max_lines])
    if len(shown) > max_chars:
        shown = shown[:max_chars]
    shown = shown.rstrip()
    cut = max(len(text.strip()) - len(shown), 0)
    return shown, cut


def pad(s: str, width: int) -> str:
    return s + " " * max(width - display_width(s), 0)


def _fmt_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def field_lines(row: dict[str, Any], sample: Sample | None, width: int, *, kept: bool = False) -> list[str]:
    """``label  value`` lines: id, source, lang, where, url, reason/detail, signals."""
    score = row.get("lang_score")
    lang = (row.get("lang") or "–") + (f" ({score:.3f})" if isinstance(score, float) else "")
    n_chars = row.get("n_chars")
    items: list[tuple[str, str]] = [
        ("id", str(row.get("id"))),
        ("source", f"{row.get('source')}   lang {lang}   {n_chars:,} chars" if isinstance(n_chars, int)
         else f"{row.get('source')}   lang {lang}"),
    ]
    if row.get("file"):
        items.append(("where", f"{row.get('file')}:{row.get('line')}"))
    if row.get("url"):
        items.append(("url", str(row["url"])))
    if not kept and row.get("reason"):
        items.append(("reason", f"{row['reason']}  (stage {row.get('stage')})"))
    if not kept and "kept_id" in row:
        sim = row.get("similarity")
        items.append(("dup of", f"{row['kept_id']}  (stage {row.get('stage')}, cluster of {row.get('cluster_size')}"
                                + (f", similarity {sim:.3f})" if isinstance(sim, float) else ")")))
    if row.get("detail"):
        items.append(("detail", format_detail(str(row["detail"]))))
    if sample is not None and sample.signals:
        parts = [f"{k}={_fmt_value(v)}" + (" ◀" if k in sample.deciding else "")
                 for k, v in sorted(sample.signals.items(), key=lambda kv: (kv[0] not in sample.deciding, kv[0]))]
        items.append(("signals", "  ".join(parts)))
    elif sample is not None and not kept and sample.kind == "rejected":
        items.append(("signals", "(none recorded by this stage; the language score above decided langid reasons)"
                      if str(row.get("reason", "")).startswith("langid.") else "(none recorded)"))
    lines = []
    for label, value in items:
        wrapped = wrap(value, width - 9)
        lines.append(f"{label:<8} {wrapped[0] if wrapped else ''}")
        lines.extend(f"{'':<8} {w}" for w in wrapped[1:])
    return lines


def text_lines(row: dict[str, Any], width: int, *, max_chars: int, max_lines: int) -> list[str]:
    text = row.get("text") or ""
    if not text:
        if row.get("n_chars"):
            return ["(text not written: output.write_rejected_text is off)"]
        return ["(empty text)"]
    shown, cut = truncate(text, max_chars, max_lines)
    lines = [f"│ {w}" for w in wrap(shown, width - 2)]
    if cut:
        lines.append(f"… (+{cut:,} more chars)")
    return lines


def render_sample(i: int, n: int, s: Sample, *, width: int = 100, max_chars: int = 600, max_lines: int = 14) -> str:
    """One document (or a duplicate beside its kept document) as terminal text."""
    title = s.row.get("reason") or ("kept" if s.kind == "kept" else "duplicate")
    head = f"── {i}/{n} · {title} "
    head += "─" * max(width - display_width(head), 3)
    if s.kind not in ("duplicate", "decontam"):
        body = field_lines(s.row, s, width) + text_lines(s.row, width, max_chars=max_chars, max_lines=max_lines)
        return "\n".join([head, *body])
    narrow = width < 100
    col = width if narrow else (width - 3) // 2
    removed, other = ("REMOVED (duplicate)", "KEPT INSTEAD") if s.kind == "duplicate" else \
        ("DOCUMENT (match in ⟦⟧)", "BENCHMARK ITEM")
    left_head = [removed, *field_lines(s.row, s, col)]
    left_text = text_lines(s.row, col, max_chars=max_chars, max_lines=max_lines)
    if s.kept is not None:
        right_head = [other, *field_lines(s.kept, None, col, kept=True)]
        right_text = text_lines(s.kept, col, max_chars=max_chars, max_lines=max_lines)
    else:
        right_head = ["KEPT INSTEAD", f"id       {s.row.get('kept_id')}",
                      "(not found in pool/ or data/: a later stage removed it)"]
        right_text = []
    if narrow:  # too narrow for two columns: one after the other
        return "\n".join([head, *left_head, *left_text, "", *right_head, *right_text])
    # the two texts start on the same line
    h = max(len(left_head), len(right_head))
    left = left_head + [""] * (h - len(left_head)) + left_text
    right = right_head + [""] * (h - len(right_head)) + right_text
    rows = [f"{pad(a, col)} │ {b}".rstrip() for a, b in zip_longest(left, right)]
    return "\n".join([head, *rows])


def zip_longest(a: list[str], b: list[str]) -> Iterable[tuple[str, str]]:
    for k in range(max(len(a), len(b))):
        yield (a[k] if k < len(a) else "", b[k] if k < len(b) else "")
