"""Reports of the JSON written by ``corpusflow eval-filters --json`` and ``corpusflow tokens --json``.

Input formats (only the keys listed are read; anything else is ignored):

*eval-filters* (``corpusflow.filters.evaluate.EvalReport.to_dict``)::

    {"profile": "ja_web",
     "n_bad": 435, "n_good": 415,                  # labelled documents
     "rules": [{"name": "ja.hiragana_fraction", "category": "composition",
                "n_bad": 435, "n_good": 415, "bad_dropped": 120, "good_dropped": 9,
                "precision": .., "recall": .., "youden_j": ..}, ...],   # derived keys optional
     "profile_all_rules": {<same keys as a rule>},              # optional
     "profile_without_length_rules": {<same keys>},             # optional
     "first_reasons": {"<reason code>": {"bad": 10, "good": 2}}} # optional

  Per rule the confusion is: bad dropped (true positive), good dropped (false positive),
  bad kept (false negative) = n_bad - bad_dropped, good kept (true negative).

*tokens* (``corpusflow tokens --json``)::

    {"inputs": ["..."],
     "rows": [{"tokenizer": "llm-jp-v3.1", "vocab_size": 98452, "lang": "ja", "docs": 850,
               "chars": 93000, "bytes": 270000, "tokens": 46000,
               "chars_per_token": 2.02, "bytes_per_token": 5.8}, ...]}     # ratios optional

Both are detected by :func:`kind_of`.
"""

from __future__ import annotations

import json
import os
from typing import Any

from matplotlib.figure import Figure

from corpusflow import __version__
from corpusflow.io.filesystems import write_bytes_atomic
from corpusflow.report import plots
from corpusflow.report.html import Image, Section, esc, page


def kind_of(obj: Any) -> str | None:
    """``"eval-filters"``, ``"tokens"`` or ``None`` for a decoded JSON document."""
    if not isinstance(obj, dict):
        return None
    rows = obj.get("rules")
    if isinstance(rows, list) and (not rows or "bad_dropped" in rows[0]):
        return "eval-filters"
    rows = obj.get("rows")
    if isinstance(rows, list) and rows and {"tokenizer", "tokens", "chars"} <= set(rows[0]):
        return "tokens"
    return None


# ------------------------------------------------------------------------------------------------
# eval-filters
# ------------------------------------------------------------------------------------------------


def confusion(rule: dict[str, Any]) -> dict[str, Any]:
    """tp/fp/fn/tn and rates of one rule (or profile) row; derived keys recomputed from counts."""
    nb, ng = int(rule.get("n_bad", 0)), int(rule.get("n_good", 0))
    tp, fp = int(rule.get("bad_dropped", 0)), int(rule.get("good_dropped", 0))
    recall = tp / nb if nb else 0.0
    gdr = fp / ng if ng else 0.0
    prec = tp / (tp + fp) if tp + fp else 0.0
    return {"name": rule.get("name", "?"), "category": rule.get("category", ""), "tp": tp, "fp": fp,
            "fn": nb - tp, "tn": ng - fp, "n_bad": nb, "n_good": ng, "recall": recall, "good_drop_rate": gdr,
            "precision": prec, "youden_j": recall - gdr}


def eval_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Profile rows first, then rules sorted by Youden's J (best separators first)."""
    rows = [confusion(r) for r in report.get("rules", [])]
    rows.sort(key=lambda r: (-r["youden_j"], r["name"]))
    prof = [confusion(report[k]) for k in ("profile_all_rules", "profile_without_length_rules") if report.get(k)]
    return prof + rows


def eval_figure(report: dict[str, Any], *, max_rules: int = 40) -> Figure:
    """Per-rule confusion as diverging bars: share of *good* documents dropped (left, red) and
    of *bad* documents dropped (right, green), with the counts and Youden's J."""
    rows = eval_rows(report)[:max_rules]
    if not rows:
        return plots.empty_figure("no rules in this evaluation")
    fig = Figure(figsize=(11, 1.4 + 0.3 * len(rows)), layout="constrained")
    ax = fig.add_subplot()
    y = range(len(rows))
    ax.barh(list(y), [-100 * r["good_drop_rate"] for r in rows], color=plots.REMOVED, height=0.7,
            label="good documents dropped (false positives)")
    ax.barh(list(y), [100 * r["recall"] for r in rows], color=plots.KEPT, height=0.7,
            label="bad documents dropped (true positives)")
    for i, r in enumerate(rows):
        ax.text(100 * r["recall"] + 1, i, f"{r['tp']}/{r['n_bad']}  J={r['youden_j']:+.2f}", va="center", fontsize=7)
        ax.text(-100 * r["good_drop_rate"] - 1, i, f"{r['fp']}/{r['n_good']}", va="center", ha="right", fontsize=7)
    ax.axvline(0, color="#212121", linewidth=0.8)
    ax.set_yticks(list(y), [f"{plots.short(r['name'], 40)}" + (f"  [{r['category']}]" if r["category"] else "")
                            for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(-100, 125)
    ax.set_xticks([-100, -50, 0, 50, 100], ["100%", "50%", "0", "50%", "100%"])
    ax.set_title(f"{report.get('profile', '')}: per-rule confusion on {rows[0]['n_bad']:,} bad / "
                 f"{rows[0]['n_good']:,} good labelled documents", fontsize=10)
    ax.legend(fontsize=7, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.03), ncol=2)
    plots.style_axes(ax)
    return fig


def eval_matrix_figure(report: dict[str, Any]) -> Figure | None:
    """The 2 x 2 confusion matrix of the whole profile (``None`` when the JSON has no profile row)."""
    key = "profile_without_length_rules" if report.get("length_rules_excluded") else "profile_all_rules"
    if not report.get(key):
        return None
    c = confusion(report[key])
    fig = Figure(figsize=(4.2, 3.4), layout="constrained")
    ax = fig.add_subplot()
    m = [[c["tp"], c["fn"]], [c["fp"], c["tn"]]]
    ax.imshow([[c["tp"] / max(c["n_bad"], 1), c["fn"] / max(c["n_bad"], 1)],
               [c["fp"] / max(c["n_good"], 1), c["tn"] / max(c["n_good"], 1)]], cmap="Greens", vmin=0, vmax=1)
    for i in range(2):
        for j in range(2):
            ax.text(j, i, f"{m[i][j]:,}", ha="center", va="center", fontsize=12)
    ax.set_xticks([0, 1], ["dropped", "kept"])
    ax.set_yticks([0, 1], ["bad", "good"])
    ax.set_xlabel("profile verdict", fontsize=8)
    ax.set_ylabel("label", fontsize=8)
    ax.set_title(c["name"], fontsize=9)
    return fig


# ------------------------------------------------------------------------------------------------
# tokens
# ------------------------------------------------------------------------------------------------


def token_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for r in report.get("rows", []):
        tok = int(r.get("tokens") or 0)
        out.append({**r, "chars_per_token": r.get("chars_per_token") or (r["chars"] / tok if tok else 0.0),
                    "bytes_per_token": r.get("bytes_per_token") or (r.get("bytes", 0) / tok if tok else 0.0)})
    return out


def tokens_figure(report: dict[str, Any], *, min_share: float = 0.005, max_langs: int = 8) -> Figure:
    """Tokenizer efficiency: characters and UTF-8 bytes per token, per language and tokenizer
    (higher = fewer tokens for the same text)."""
    rows = token_rows(report)
    if not rows:
        return plots.empty_figure("no token counts in this file")
    toks = list(dict.fromkeys(r["tokenizer"] for r in rows))
    chars: dict[str, int] = {}
    docs: dict[str, int] = {}
    for r in rows:  # a document is counted once per tokenizer: take the largest count
        chars[r["lang"]] = max(chars.get(r["lang"], 0), int(r["chars"]))
        docs[r["lang"]] = max(docs.get(r["lang"], 0), int(r.get("docs") or 0))
    total = sum(chars.values()) or 1
    ranked = sorted(chars, key=lambda x: (-chars[x], x))
    langs = [x for x in ranked if chars[x] / total >= min_share][:max_langs] or ranked[:1]
    hidden = len(ranked) - len(langs)
    val = {(r["tokenizer"], r["lang"]): r for r in rows}
    fig = Figure(figsize=(11, 3.2), layout="constrained")
    axes = fig.subplots(1, 2)
    w = 0.8 / max(len(toks), 1)
    for ax, key, title in ((axes[0], "chars_per_token", "characters per token"),
                           (axes[1], "bytes_per_token", "UTF-8 bytes per token")):
        for k, tok in enumerate(toks):
            xs = [i + (k - (len(toks) - 1) / 2) * w for i in range(len(langs))]
            vs = [val[(tok, lang)][key] if (tok, lang) in val else 0 for lang in langs]
            ax.bar(xs, vs, width=w, color=plots.QUALITATIVE[k % len(plots.QUALITATIVE)], label=tok)
            for x, v in zip(xs, vs, strict=True):
                if v:
                    ax.text(x, v, f"{v:.2f}", ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(langs)), [f"{lang}\n{docs[lang]:,} docs" for lang in langs], fontsize=8)
        ax.set_title(title + " (higher = more efficient)", fontsize=10)
        plots.style_axes(ax, grid_axis="y")
    axes[0].legend(fontsize=8, frameon=False)
    if hidden:
        fig.suptitle(f"{hidden} language(s) with less than {min_share:.1%} of the characters not shown "
                     "(all are in the table)", fontsize=8, color="#616161")
    return fig


# ------------------------------------------------------------------------------------------------
# Pages
# ------------------------------------------------------------------------------------------------


def build_tool_report(json_path: str, out_dir: str | None = None) -> tuple[str, list[str]]:
    """Write ``index.html`` + PNGs for an eval-filters or tokens JSON; returns (index, pngs)."""
    with open(json_path, encoding="utf-8") as f:
        report = json.load(f)
    kind = kind_of(report)
    if kind is None:
        raise ValueError(f"{json_path}: not a corpusflow eval-filters or tokens JSON (no 'rules' with "
                         "'bad_dropped', no 'rows' with 'tokenizer'/'tokens'/'chars')")
    stem = os.path.splitext(os.path.basename(json_path))[0]
    out_dir = out_dir or os.path.join(os.path.dirname(os.path.abspath(json_path)), f"{stem}.report")
    os.makedirs(out_dir, exist_ok=True)
    pngs: list[str] = []

    def image(name: str, fig: Figure, alt: str, caption: str = "") -> Image:
        img = Image(name, plots.png(fig), alt, caption)
        path = os.path.join(out_dir, name)
        write_bytes_atomic(path, img.data)
        pngs.append(path)
        return img

    sections = []
    if kind == "eval-filters":
        title = f"corpusflow eval-filters: {report.get('profile', '')}"
        sec = Section("confusion", "Per-rule confusion")
        sec.note("Each rule judged on every labelled document (tag mode). Right: share of bad documents the "
                 "rule drops (recall); left: share of good documents it drops. Sorted by Youden's J = recall − "
                 "good-drop rate (0 = no better than dropping at random).")
        sec.image(image("eval_rules.png", eval_figure(report), "per-rule confusion"))
        mfig = eval_matrix_figure(report)
        if mfig is not None:
            sec.image(image("eval_profile.png", mfig, "profile confusion matrix"))
        sec.table(["rule", "category", "bad dropped (TP)", "good dropped (FP)", "bad kept (FN)", "good kept (TN)",
                   "precision", "recall", "good drop rate", "J"],
                  [(r["name"], r["category"], r["tp"], r["fp"], r["fn"], r["tn"], round(r["precision"], 3),
                    round(r["recall"], 3), round(r["good_drop_rate"], 3), round(r["youden_j"], 3))
                   for r in eval_rows(report)], numeric=range(2, 10))
        sections.append(sec)
        if report.get("first_reasons"):
            sec = Section("first", "First failing reason per dropped document")
            sec.table(["reason", "bad", "good"], sorted(((k, v.get("bad", 0), v.get("good", 0))
                                                         for k, v in report["first_reasons"].items()),
                                                        key=lambda r: (-(r[1] + r[2]), r[0])), numeric=(1, 2))
            sections.append(sec)
        meta = esc(f"{report.get('n_bad', '?')} bad / {report.get('n_good', '?')} good labelled documents")
    else:
        title = "corpusflow tokens: tokenizer efficiency"
        sec = Section("efficiency", "Tokenizer efficiency")
        sec.image(image("tokens.png", tokens_figure(report), "tokenizer efficiency"))
        rows = token_rows(report)
        sec.table(["tokenizer", "vocab", "lang", "docs", "chars", "bytes", "tokens", "chars/token", "bytes/token"],
                  [(r["tokenizer"], r.get("vocab_size"), r["lang"], r.get("docs"), r["chars"], r.get("bytes"),
                    r["tokens"], round(r["chars_per_token"], 3), round(r["bytes_per_token"], 3)) for r in rows],
                  numeric=range(3, 9))
        sections.append(sec)
        meta = esc("inputs: " + ", ".join(map(str, report.get("inputs", [])))[:300])
    footer = f"Generated by corpusflow {esc(__version__)} from {esc(os.path.abspath(json_path))}."
    index = os.path.join(out_dir, "index.html")
    write_bytes_atomic(index, page(title, meta, sections, footer).encode("utf-8"))
    return index, pngs
