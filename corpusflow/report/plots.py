"""Matplotlib figures of a run report (Agg, no pyplot state): figure data in, PNG bytes out.

Every function takes the dict computed in :mod:`corpusflow.report.figures` and returns a
:class:`matplotlib.figure.Figure`; :func:`png` renders it. Figures are built with the
object API on an Agg canvas, so they work without a display, in threads, and never open a
window. Colours: kept documents green, each way out (reason code) one stable colour across
all figures of a report (:class:`Palette`).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # must precede any backend import; the report never needs a display

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

KEPT = "#2e7d32"
MIXED = "#1565c0"
BEFORE = "#9e9e9e"
REMOVED = "#c62828"
GRID = "#e0e0e0"
QUALITATIVE = ["#e53935", "#fb8c00", "#8e24aa", "#3949ab", "#00897b", "#6d4c41", "#d81b60", "#fdd835",
         "#5e35b1", "#43a047", "#f4511e", "#546e7a", "#c0ca33", "#00acc1", "#7cb342", "#ffb300"]
OTHER = "#bdbdbd"
DPI = 110


class Palette:
    """One colour per label, in order of first request (reasons ranked by size get the first colours)."""

    def __init__(self, labels: Iterable[str] = ()) -> None:
        self._map: dict[str, str] = {}
        for label in labels:
            self(label)

    def __call__(self, label: str) -> str:
        if label == "other":
            return OTHER
        c = self._map.get(label)
        if c is None:
            c = QUALITATIVE[len(self._map) % len(QUALITATIVE)]
            self._map[label] = c
        return c


def png(fig: Figure) -> bytes:
    """PNG bytes of ``fig`` (no timestamp or software metadata: same figure, same bytes)."""
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def human(x: float) -> str:
    """1234567 -> '1.23M'."""
    x = float(x)
    for unit, div in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= div:
            v = x / div
            return f"{v:.3g}{unit}"
    return f"{x:.0f}" if x == int(x) else f"{x:.2g}"


_HUMAN = FuncFormatter(lambda x, _pos: human(x))


def style_axes(ax: Any, *, grid_axis: str = "x") -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis=grid_axis, color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)
    ax.tick_params(labelsize=8)


def legend_outside(ax: Any) -> None:
    """The axes' legend right of its plot area, top-aligned: it can cover neither a bar nor a
    label (the constrained layout counts it as part of the axes and makes room for it)."""
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.005, 1.0), borderaxespad=0.0)


def empty_figure(message: str, size: tuple[float, float] = (9, 1.2)) -> Figure:
    fig = Figure(figsize=size)
    ax = fig.add_subplot()
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=10, color="#616161", wrap=True)
    return fig


def short(label: str, n: int = 38) -> str:
    return label if len(label) <= n else label[: n - 1] + "…"


# ------------------------------------------------------------------------------------------------
# Funnel
# ------------------------------------------------------------------------------------------------


def _collapse_steps(steps: list[dict[str, Any]], max_steps: int) -> list[dict[str, Any]]:
    """Keep the largest ``max_steps - 1`` ways out (in pipeline order) and sum the rest as 'other'."""
    if len(steps) <= max_steps:
        return steps
    keep = {id(s) for s in sorted(steps, key=lambda s: -s["docs"])[: max_steps - 1]}
    out = [s for s in steps if id(s) in keep]
    rest = [s for s in steps if id(s) not in keep]
    other = {"stage": "", "kind": "other", "code": "other", "label": f"other ({len(rest)} reasons)",
             "docs": sum(s["docs"] for s in rest), "chars": sum(s["chars"] for s in rest),
             "tokens_est": None if any(s.get("tokens_est") is None for s in rest)
             else sum(s["tokens_est"] for s in rest)}
    return [*out, other]


def funnel_figure(f: dict[str, Any], palette: Palette, *, max_steps: int = 18) -> Figure:
    """Waterfall per measure (documents, characters, tokens): input, minus each way out, kept."""
    steps = _collapse_steps(f["steps"], max_steps)
    measures = [("docs", "documents", "docs"), ("chars", "characters", "chars")]
    if f["kept"].get("tokens") is not None:
        measures.append(("tokens", "tokens (removed: estimated)", "tokens_est"))
    labels = ["input", *[f"{short(s['label'], 34)}  [{s['stage']}]" if s["stage"] else s["label"] for s in steps],
              f"kept ({f['kept'].get('from', 'data')})"]
    mix = f.get("mixture")
    if mix and mix.get("rows") is not None:
        labels.append("training mixture")
    height = 1.2 + 0.32 * len(labels)
    fig = Figure(figsize=(4.2 * len(measures) + 2.6, height), layout="constrained")
    axes = fig.subplots(1, len(measures), sharey=True, squeeze=False)[0]
    for ax, (key, title, step_key) in zip(axes, measures, strict=True):
        total = f["input"]["tokens_est" if key == "tokens" else key] or 0
        kept = f["kept"][key] or 0
        y = list(range(len(labels)))
        ax.barh(0, total, color=BEFORE, height=0.7)
        ax.text(total, 0, f" {human(total)}", va="center", fontsize=7)
        remaining = total
        for i, s in enumerate(steps, start=1):
            v = s.get(step_key) or 0
            ax.barh(i, v, left=remaining - v, color=palette(s["label"]) if s["kind"] != "other" else OTHER,
                    height=0.7)
            pct = f" ({100 * v / total:.1f}%)" if total else ""
            ax.text(remaining, i, f" −{human(v)}{pct}", va="center", fontsize=7)
            remaining -= v
        ax.barh(len(steps) + 1, kept, color=KEPT, height=0.7)
        pct = f" ({100 * kept / total:.1f}%)" if total else ""
        ax.text(kept, len(steps) + 1, f" {human(kept)}{pct}", va="center", fontsize=7)
        if len(labels) > len(steps) + 2:
            v = mix.get("rows") if key == "docs" else mix.get(key)
            if v is not None:
                ax.barh(len(steps) + 2, v, color=MIXED, height=0.7)
                ax.text(v, len(steps) + 2, f" {human(v)}", va="center", fontsize=7)
        ax.set_yticks(y, labels, fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.xaxis.set_major_formatter(_HUMAN)
        ax.set_xlim(0, max(total, kept, 1) * 1.22)
        style_axes(ax)
    axes[0].invert_yaxis()  # shared y: once for all panels
    return fig


def _stacked_shares(rows: dict[str, dict[str, Any]], palette: Palette, title: str, *,
                    max_rows: int = 16, max_reasons: int = 8) -> Figure:
    """100 % bars: per row (source / language) kept plus each way out, input count on the right.
    Rows beyond ``max_rows`` are summed into one ``other (k)`` row."""
    names = list(rows)
    if not names:
        return empty_figure("no documents")
    if len(names) > max_rows:
        rest = names[max_rows - 1:]
        merged: dict[str, Any] = {"input": 0, "kept": 0, "removed": {}}
        for n in rest:
            merged["input"] += rows[n]["input"]
            merged["kept"] += rows[n]["kept"]
            for label, v in rows[n]["removed"].items():
                merged["removed"][label] = merged["removed"].get(label, 0) + v
        rows = {**{n: rows[n] for n in names[: max_rows - 1]}, f"other ({len(rest)})": merged}
        names = list(rows)
    totals: dict[str, int] = {}
    for n in names:
        for label, v in rows[n]["removed"].items():
            totals[label] = totals.get(label, 0) + v
    top = [label for label, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:max_reasons]]
    fig = Figure(figsize=(11, 1.3 + 0.36 * len(names)), layout="constrained")
    ax = fig.add_subplot()
    seen: set[str] = set()
    for i, n in enumerate(names):
        r = rows[n]
        inp = max(r["input"], 1)
        left = 0.0
        segs = [("kept", r["kept"], KEPT)] + [(label, r["removed"].get(label, 0), palette(label)) for label in top]
        other = sum(v for label, v in r["removed"].items() if label not in top)
        if other:
            segs.append(("other", other, OTHER))
        for label, v, color in segs:
            if v:
                ax.barh(i, 100 * v / inp, left=left, color=color, height=0.7,
                        label=None if label in seen else label)
                seen.add(label)
                left += 100 * v / inp
        ax.text(101, i, f"{r['input']:,} in · {100 * r['kept'] / inp:.1f}% kept", va="center", fontsize=7)
    ax.set_yticks(range(len(names)), [short(n, 28) for n in names], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 125)
    ax.set_xticks([0, 25, 50, 75, 100], ["0%", "25%", "50%", "75%", "100%"])
    ax.set_title(title, fontsize=10)
    handles, labels = ax.get_legend_handles_labels()
    uniq = dict(zip(labels, handles, strict=True))
    ax.legend(uniq.values(), [short(x, 40) for x in uniq], fontsize=7, loc="upper center",
              bbox_to_anchor=(0.45, -0.06 if len(names) > 3 else -0.2), ncol=4, frameon=False)
    style_axes(ax)
    return fig


def by_source_figure(f: dict[str, Any], palette: Palette) -> Figure:
    return _stacked_shares(f["by_source"], palette, "What happened to each source's documents")


def by_lang_figure(f: dict[str, Any], palette: Palette) -> Figure:
    return _stacked_shares(f["by_lang"], palette, "What happened to the documents of each language "
                           "(detected; 'und' = removed before language ID)", max_rows=10)


# ------------------------------------------------------------------------------------------------
# Languages
# ------------------------------------------------------------------------------------------------


#: Lower end of a log count axis: below 1, so that a bar of one document has a visible height
#: (log10(1 / 0.5) = 0.3 decades) instead of starting and ending at the axis' bottom.
LOG_FLOOR = 0.5


def languages_figure(d: dict[str, Any], *, max_langs: int = 16) -> Figure:
    """Stacked bars per detected language (kept, rejected, duplicates), the total above each bar.

    A log axis (when the largest total is over 50 times the smallest) starts at :data:`LOG_FLOOR`
    so that a language with one document still has a bar, and ends high enough for the total
    written above the tallest bar. The legend sits outside the plot, right of it, so that it
    never covers a bar or a total."""
    if d.get("status") != "ok":
        return empty_figure(d.get("message", "no data"))
    langs = list(d["counts"])[:max_langs]
    fig = Figure(figsize=(11, 3.4), layout="constrained")
    ax = fig.add_subplot()
    bottom = [0] * len(langs)
    for what, color in (("kept", KEPT), ("rejected", REMOVED), ("duplicates", "#fb8c00")):
        vals = [d["counts"][x][what] for x in langs]
        if any(vals):
            ax.bar(range(len(langs)), vals, bottom=bottom, color=color, label=what, width=0.7)
            bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
    for i, b in enumerate(bottom):
        ax.text(i, b, human(b), ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(langs)), langs, fontsize=8)
    top = max(bottom, default=1)
    if top > 50 * max(min(bottom, default=1), 1):
        ax.set_yscale("log")
        ax.set_ylim(LOG_FLOOR, top * 3)  # 3x: half a decade of room for the total above the bar
    else:
        ax.set_ylim(0, max(top, 1) * 1.15)
    ax.yaxis.set_major_formatter(_HUMAN)
    ax.set_ylabel("documents", fontsize=8)
    ax.set_title("Documents per detected language", fontsize=10)
    legend_outside(ax)
    style_axes(ax, grid_axis="y")
    return fig


def lang_scores_figure(d: dict[str, Any]) -> Figure:
    if d.get("status") != "ok" or not d.get("score_hist"):
        return empty_figure(d.get("message", "no language scores in this run"))
    hists = d["score_hist"]
    bins = d["score_bins"]
    fig = Figure(figsize=(3.1 * len(hists) + 0.6, 2.9), layout="constrained")
    axes = fig.subplots(1, len(hists), squeeze=False)[0]
    width = bins[1] - bins[0]
    for ax, (lang, h) in zip(axes, hists.items(), strict=True):
        ax.bar(bins[:-1], h["kept"], width=width, align="edge", color=KEPT, alpha=0.85, label="kept")
        ax.bar(bins[:-1], h["rejected"], width=width, align="edge", color=REMOVED, alpha=0.6, label="rejected",
               bottom=h["kept"])
        if h.get("threshold") is not None:
            ax.axvline(h["threshold"], color="#212121", linestyle="--", linewidth=1)
            ax.text(h["threshold"], ax.get_ylim()[1] * 0.95, f" min {h['threshold']}", fontsize=7, va="top")
        ax.set_title(f"{lang}: fastText score", fontsize=9)
        ax.set_xlim(0, 1)
        ax.set_yscale("symlog", linthresh=1)
        ax.yaxis.set_major_formatter(_HUMAN)
        style_axes(ax, grid_axis="y")
    axes[0].set_ylabel("documents", fontsize=8)
    legend_outside(axes[-1])
    return fig


# ------------------------------------------------------------------------------------------------
# Lengths
# ------------------------------------------------------------------------------------------------


def lengths_figure(d: dict[str, Any]) -> Figure:
    if d.get("status") != "ok":
        return empty_figure(d.get("message", "no data"))
    edges = [max(e, 0) + 1 for e in d["edges"]]  # x = 1 + n_chars on a log axis (empty documents at 1)
    panels = d["panels"]
    fig = Figure(figsize=(3.2 * len(panels) + 0.6, 3.0), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (name, p) in zip(axes, panels.items(), strict=True):
        ax.stairs(p["before"], edges, color=BEFORE, fill=True, alpha=0.55, label=f"before ({p['n_before']:,})")
        ax.stairs(p["after"], edges, color=KEPT, linewidth=1.6, label=f"after ({p['n_after']:,})")
        qa = p.get("q_after") or {}
        if qa:
            ax.axvline(qa["p50"] + 1, color=KEPT, linestyle=":", linewidth=1)
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(_HUMAN)
        ax.set_title(f"{'all languages' if name == 'all' else name}: characters per document"
                     + (f"\nmedian {qa['p50']:,} after" if qa else ""), fontsize=9)
        style_axes(ax, grid_axis="y")
        legend_outside(ax)
    axes[0].set_ylabel("documents", fontsize=8)
    return fig


# ------------------------------------------------------------------------------------------------
# Duplicates, mixture, shards
# ------------------------------------------------------------------------------------------------


def duplicates_figure(d: dict[str, Any]) -> Figure:
    if d.get("status") != "ok":
        return empty_figure(d.get("message", "no duplicates"))
    n = 3 if d.get("similarity_hist") else 2
    fig = Figure(figsize=(4.0 * n, 3.0), layout="constrained")
    axes = fig.subplots(1, n, squeeze=False)[0]
    h = d["size_hist"]
    last = max((i for i, x in enumerate(h) if x["clusters"]), default=0)
    h = h[: max(last + 1, 4)]  # no empty buckets past the largest cluster
    ax = axes[0]
    ax.bar(range(len(h)), [x["clusters"] for x in h], color="#fb8c00")
    ax.set_xticks(range(len(h)), [x["size"] for x in h], fontsize=8)
    ax.set_title(f"cluster sizes ({d['clusters']:,} clusters, largest {d['largest']:,})", fontsize=9)
    ax.set_xlabel("documents per cluster (kept one included)", fontsize=8)
    ax.set_ylabel("clusters", fontsize=8)
    ax.yaxis.set_major_formatter(_HUMAN)
    style_axes(ax, grid_axis="y")
    ax = axes[1]
    src = list(d["by_source"].items())[:12]
    ax.barh([short(s, 22) for s, _ in src], [v for _, v in src], color="#fb8c00")
    ax.invert_yaxis()
    ax.set_title(f"duplicates removed per source ({d['removed']:,})", fontsize=9)
    ax.xaxis.set_major_formatter(_HUMAN)
    style_axes(ax)
    if n == 3:
        ax = axes[2]
        sims = d["similarity_hist"]
        ax.bar([i / len(sims) for i in range(len(sims))], sims, width=1 / len(sims), align="edge", color="#fb8c00")
        ax.set_xlim(0, 1)
        ax.set_title("similarity to the kept document", fontsize=9)
        style_axes(ax, grid_axis="y")
    return fig


def mixture_figure(d: dict[str, Any]) -> Figure:
    if d.get("status") != "ok":
        return empty_figure(d.get("message", "no mixture"))
    cells = d["cells"]
    groups = d["groups"]
    fig = Figure(figsize=(11, 1.6 + 0.42 * max(len(cells), 3)), layout="constrained")
    ax, ax2 = fig.subplots(1, 2, width_ratios=[2.2, 1])
    y = range(len(cells))
    w = 0.27
    for off, key, color, label in ((-w, "available", BEFORE, "available (pool)"), (0, "target", "#1e88e5", "target"),
                                   (w, "achieved", KEPT, "achieved")):
        ax.barh([i + off for i in y], [c[key] or 0 for c in cells], height=w, color=color, label=label)
    for i, c in enumerate(cells):
        if c["target"]:
            ax.text(c["achieved"] or 0, i + w, f" {100 * (c['achieved'] or 0) / c['target']:.1f}% of target",
                    va="center", fontsize=7)
    ax.set_yticks(list(y), [f"{c['cell']}  [{c['group'] or '-'}]" for c in cells], fontsize=8)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(_HUMAN)
    ax.set_xlim(0, max([c[k] or 0 for c in cells for k in ("available", "target", "achieved")] + [1]) * 1.3)
    ax.set_title(f"{d['unit']} per source/language: target vs achieved", fontsize=10)
    legend_outside(ax)
    style_axes(ax)
    gy = range(len(groups))
    ax2.barh([i - 0.2 for i in gy], [100 * (g["share"] or 0) for g in groups], height=0.38, color="#1e88e5",
             label="target share")
    ax2.barh([i + 0.2 for i in gy], [100 * (g["achieved_share"] or 0) for g in groups], height=0.38, color=KEPT,
             label="achieved share")
    for i, g in enumerate(groups):
        ax2.text(100 * (g["achieved_share"] or 0), i + 0.2, f" {100 * (g['achieved_share'] or 0):.2f}%",
                 va="center", fontsize=7)
    ax2.set_yticks(list(gy), [g["group"] for g in groups], fontsize=8)
    ax2.invert_yaxis()
    ax2.set_xlim(0, 118)
    ax2.set_title(f"group share of {d['unit']}", fontsize=10)
    legend_outside(ax2)
    style_axes(ax2)
    return fig


def shards_figure(d: dict[str, Any]) -> Figure:
    if d.get("status") != "ok":
        return empty_figure(d.get("message", "no shards"))
    sh = d["shards"]
    x = range(len(sh))
    labels = [str(i) for i in x]
    if d.get("unit") == "tokens":
        fig = Figure(figsize=(11, 2.9), layout="constrained")
        ax = fig.add_subplot()
        vals = [s["tokens"] for s in sh]
        ax.bar(x, vals, color=MIXED)
        mean = sum(vals) / len(vals)
        ax.axhline(mean, color="#212121", linestyle="--", linewidth=1)
        ax.set_title(f"tokens per training shard ({len(sh)} shards, mean {human(mean)}, "
                     f"min {human(min(vals))}, max {human(max(vals))})", fontsize=10)
        ax.set_ylabel("tokens", fontsize=8)
    else:
        fig = Figure(figsize=(11, 2.9), layout="constrained")
        ax = fig.add_subplot()
        ax.bar(x, [s["rows"] for s in sh], color=MIXED, label="rows")
        ax.set_ylabel("rows", fontsize=8)
        ax2 = ax.twinx()
        ax2.plot(list(x), [s["bytes"] for s in sh], color="#fb8c00", marker="o", linewidth=1, label="file bytes")
        ax2.set_ylabel("file bytes", fontsize=8)
        ax2.yaxis.set_major_formatter(_HUMAN)
        ax2.set_ylim(0, max(s["bytes"] for s in sh) * 1.15)
        ax2.tick_params(labelsize=8)
        ax.set_title(f"rows and file bytes per data shard ({len(sh)} shards; no token counts in this run)",
                     fontsize=10)
    ax.set_xticks(list(x), labels if len(sh) <= 40 else [s if int(s) % 10 == 0 else "" for s in labels], fontsize=7)
    ax.set_xlabel("shard", fontsize=8)
    ax.yaxis.set_major_formatter(_HUMAN)
    style_axes(ax, grid_axis="y")
    return fig


def bar_table_figure(names: Sequence[str], values: Sequence[float], title: str) -> Figure:
    """A plain horizontal bar chart (used by small sections)."""
    fig = Figure(figsize=(8, 1 + 0.3 * len(names)), layout="constrained")
    ax = fig.add_subplot()
    ax.barh(list(names), list(values), color=MIXED)
    ax.invert_yaxis()
    ax.set_title(title, fontsize=10)
    style_axes(ax)
    return fig
