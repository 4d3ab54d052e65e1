"""Assemble the run report: figures' data -> PNGs -> ``OUTPUT/report/index.html`` + ``report.json``.

``index.html`` is self-contained (inline CSS, PNGs embedded as base64, no scripts, nothing
fetched); every figure is also written next to it as a PNG, and all the numbers behind the
figures go to ``report.json``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from corpusflow import __version__
from corpusflow.io.filesystems import write_bytes_atomic
from corpusflow.report import figures, plots
from corpusflow.report.html import Image, Section, cards, esc, page
from corpusflow.report.load import RunData, load_run
from corpusflow.report.samples import Sample, format_detail, sample_duplicates, sample_kept, sample_rejected

REPORT_DIR = "report"
INDEX = "index.html"
DATA_JSON = "report.json"


@dataclass
class ReportResult:
    """Where the report went, the PNG files written, and the figures' data."""

    index: str
    pngs: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


def _pct(a: float, b: float) -> str:
    return f"{100 * a / b:.1f}%" if b else "–"


def _write(out_dir: str, name: str, data: bytes) -> str:
    path = os.path.join(out_dir, name)
    write_bytes_atomic(path, data)
    return path


def _snippet(text: str, n: int) -> str:
    text = (text or "").strip()
    return text if len(text) <= n else text[:n].rstrip() + f" … (+{len(text) - n:,} chars)"


def _signals_html(s: Sample) -> str:
    if not s.signals:
        return ""
    items = []
    for k in sorted(s.signals):
        v = s.signals[k]
        v = f"{v:.4g}" if isinstance(v, float) else str(v)
        item = f"{esc(k)}={esc(v)}"
        items.append(f"<b>{item}</b>" if k in s.deciding else item)
    return '<div class="sig">signals: ' + " · ".join(items) + "</div>"


def _doc_html(row: dict[str, Any], *, kept: bool = False, title: str = "", chars: int = 500) -> str:
    score = row.get("lang_score")
    head = [title, f"id {row.get('id')}", f"source {row.get('source')}",
            f"lang {row.get('lang') or '–'}" + (f" ({score:.3f})" if isinstance(score, float) else ""),
            f"{row.get('n_chars', len(row.get('text') or '')):,} chars"]
    if row.get("reason"):
        head.append(f"{row.get('stage')}: {row['reason']}")
    if row.get("detail"):
        head.append(f"detail: {format_detail(row['detail'])}")
    text = row.get("text")
    body = "(text not written: output.write_rejected_text is off)" if not text and row.get("n_chars") else \
        _snippet(text or "", chars)
    return (f'<div class="doc{" kept" if kept else ""}"><div class="h">{esc(" · ".join(h for h in head if h))}</div>'
            f"<pre>{esc(body)}</pre>")


def _examples(run: RunData, funnel: dict[str, Any], *, reasons: int = 8, per_reason: int = 2) -> Section:
    sec = Section("examples", "Examples of removed documents")
    sec.note("A deterministic sample (keyed hash of source and id, as `corpusflow inspect` uses) of the "
             "largest ways out. Signals that belong to the rule behind the reason are in bold. More: "
             f"corpusflow inspect {run.root} --reason REASON --n 20")
    top = [s for s in sorted(funnel["steps"], key=lambda s: (-s["docs"], s["label"])) if s["kind"] == "rejected"]
    shown = 0
    for step in top[:reasons]:
        samples = sample_rejected(run, [step["code"]], n=per_reason)
        if not samples:
            continue
        sec.raw(f"<h3>{esc(step['code'])} <small>({step['docs']:,} documents, stage {esc(step['stage'])})</small></h3>")
        for s in samples:
            sec.raw(_doc_html(s.row, chars=400) + _signals_html(s) + "</div>")
        shown += 1
    dups = sample_duplicates(run, n=per_reason)
    if dups:
        sec.raw("<h3>duplicates, next to the document kept instead</h3>")
        for s in dups:
            sim = s.row.get("similarity")
            title = f"duplicate (cluster of {s.row.get('cluster_size')}" + \
                (f", similarity {sim:.3f})" if isinstance(sim, float) else ")")
            left = _doc_html(s.row, title=title, chars=300) + "</div>"
            right = (_doc_html(s.kept, kept=True, title="kept instead", chars=300) + "</div>") if s.kept else \
                f'<div class="doc kept"><div class="h">kept instead: {esc(s.row.get("kept_id"))} ' \
                "(not found in pool/ or data/)</div></div>"
            sec.raw(f'<div class="pair">{left}{right}</div>')
        shown += 1
    if not shown:
        sec.absent("no rejected or duplicate documents in this run")
    return sec


def _kept_examples(run: RunData, *, per_lang: int = 2) -> Section:
    sec = Section("kept", "Examples of kept documents")
    sec.note(f"A deterministic sample of kept documents (from {run.kept_from}/) per language. More: "
             f"corpusflow inspect {run.root} --kept --lang LANG --n 20")
    langs = sorted({str(x) for x in run.kept.column("lang").to_pylist() if x}) if run.kept is not None else []
    shown = 0
    for lang in langs:
        samples = sample_kept(run, n=per_lang, lang=lang)
        if not samples:
            continue
        sec.raw(f"<h3>{esc(lang)}</h3>")
        for s in samples:
            sec.raw(_doc_html(s.row, kept=True, chars=400) + "</div>")
        shown += 1
    if not shown:
        sec.absent("no kept documents in this run")
    return sec


@dataclass
class _Pngs:
    """Writes each figure as a PNG next to the report and remembers the files, in order."""

    out_dir: str
    written: list[str]

    def image(self, name: str, fig: Any, alt: str, caption: str = "") -> Image:
        """Render ``fig``, write it as ``name`` next to the report and return it for the page."""
        img = Image(name, plots.png(fig), alt, caption)
        self.written.append(_write(self.out_dir, name, img.data))
        return img


def _stage_rows(run: RunData) -> list[tuple[Any, ...]]:
    """Decide each stage's totals over sources (in, out, rejected, duplicates, errors, removed %)."""
    stage_rows = []
    for st in run.manifest.get("stages", []):
        tot = {"in": 0, "out": 0, "rej": 0, "dup": 0, "err": 0}
        for v in st.get("by_source", {}).values():
            tot["in"] += v.get("in", 0)
            tot["out"] += v.get("out", 0)
            tot["rej"] += sum(v.get("rejected", {}).values())
            tot["dup"] += v.get("duplicates", 0)
            tot["err"] += sum(v.get("errors", {}).values())
        stage_rows.append((st["stage"], tot["in"], tot["out"], tot["rej"], tot["dup"], tot["err"],
                           _pct(tot["in"] - tot["out"], tot["in"])))
    return stage_rows


def _summary_section(run: RunData, ov: dict[str, Any]) -> Section:
    """Decide the summary: problems, headline cards, per-source and per-stage tables."""
    t = ov["total"]
    sec = Section("summary", "Summary")
    for prob in ov["problems"]:
        sec.raw(f'<p class="problem">{esc(prob)}</p>')
    inp = t.get("input", 0)
    sec.raw(cards([
        (f"{inp:,}", "input records", ""),
        (f"{t.get('kept', 0):,}", f"kept ({_pct(t.get('kept', 0), inp)})", "ok"),
        (f"{t.get('rejected', 0):,}", f"rejected ({_pct(t.get('rejected', 0), inp)})", ""),
        (f"{t.get('duplicates', 0):,}", f"duplicates ({_pct(t.get('duplicates', 0), inp)})", ""),
        (f"{t.get('errors', 0):,}", f"errors ({_pct(t.get('errors', 0), inp)})", "bad" if t.get("errors") else ""),
        ("yes" if t.get("conserved") else "NO", "input = kept + rejected + duplicates + errors",
         "ok" if t.get("conserved") else "bad"),
    ]))
    sec.table(["source", "input", "kept", "kept %", "rejected", "duplicates", "errors", "kept by language"],
              [(s, v.get("input", 0), v.get("kept", 0), _pct(v.get("kept", 0), v.get("input", 0)),
                v.get("rejected", 0), v.get("duplicates", 0), v.get("errors", 0),
                ", ".join(f"{k} {n:,}" for k, n in (v.get("kept_by_lang") or {}).items()))
               for s, v in ov["by_source"].items()], numeric=(1, 2, 4, 5, 6))
    sec.table(["stage", "in", "out", "rejected", "duplicates", "errors", "removed %"], _stage_rows(run),
              numeric=(1, 2, 3, 4, 5))
    return sec


def _funnel_section(fun: dict[str, Any], palette: plots.Palette, pngs: _Pngs) -> Section:
    """Decide the funnel section: notes on characters and tokens, the figure and the per-reason table."""
    sec = Section("funnel", "Funnel")
    sec.note("Documents, characters and (when the run counted them) tokens from input to kept, one bar "
             "per way out in pipeline order (largest reasons first within a stage). Characters are the "
             "length of the text when the document left the pipeline (after normalisation).")
    if fun["tokens_note"]:
        sec.note(fun["tokens_note"] + ".")
    else:
        sec.note("Tokens of removed documents are estimates: characters × the tokens per character of kept "
                 "documents of the same source and language (they were never tokenized).")
    sec.image(pngs.image("funnel.png", plots.funnel_figure(fun, palette), "funnel of documents and characters",
                         "Funnel: what each stage and reason removed."))
    inp_docs = fun["input"]["docs"]
    with_tokens = fun["kept"].get("tokens") is not None
    sec.table(["stage", "way out", "documents", "% of input", "characters"] + (["tokens (est.)"] if with_tokens else []),
              [(s["stage"], s["label"], s["docs"], _pct(s["docs"], inp_docs), s["chars"])
               + ((s["tokens_est"],) if with_tokens else ()) for s in fun["steps"]], numeric=(2, 4, 5))
    return sec


def _sources_section(fun: dict[str, Any], vol: dict[str, Any], palette: plots.Palette, pngs: _Pngs) -> Section:
    """Decide the by-source/by-language section: removal figures and volume tables (tokens when counted)."""
    sec = Section("sources", "By source and language")
    sec.image(pngs.image("by_source.png", plots.by_source_figure(fun, palette), "removal by source",
                         "Share of each source's input kept and removed by each reason."))
    sec.image(pngs.image("by_language.png", plots.by_lang_figure(fun, palette), "removal by language",
                         "Share of each detected language's documents kept and removed."))
    tok = vol["by_source"] and next(iter(vol["by_source"].values()))["tokens_kept"] is not None
    sec.note("Volume in and kept (in = kept + rejected + duplicates; malformed records have no text)."
             + (" Tokens in are estimates (removed documents were never tokenized)." if tok else
                " No token counts in this run (no mixture stage)."))
    for group, label in (("by_source", "source"), ("by_lang", "language")):
        rows = []
        for key, v in list(vol[group].items())[:30]:
            row = [key, v["docs_in"], v["docs_kept"], v["chars_in"], v["chars_kept"], _pct(v["chars_kept"], v["chars_in"])]
            if tok:
                row += [v["tokens_in_est"], v["tokens_kept"], _pct(v["tokens_kept"], v["tokens_in_est"])]
            rows.append(row)
        sec.table([label, "docs in", "docs kept", "chars in", "chars kept", "chars kept %"]
                  + (["tokens in (est.)", "tokens kept", "tokens kept %"] if tok else []),
                  rows, numeric=(1, 2, 3, 4, 6, 7))
    return sec


def _languages_section(lang: dict[str, Any], pngs: _Pngs) -> Section:
    """Decide the languages section: counts and score histograms, or why they are absent."""
    sec = Section("languages", "Languages")
    if lang.get("status") == "ok":
        sec.image(pngs.image("languages.png", plots.languages_figure(lang), "documents per language"))
        sec.note("fastText lid.176 score of the detected language, kept vs rejected; the dashed line is "
                 "the config's minimum score for that language (stages.langid).")
        sec.image(pngs.image("language_scores.png", plots.lang_scores_figure(lang), "language score histograms"))
    else:
        sec.absent(lang.get("message", "no data"))
    return sec


def _lengths_section(lens: dict[str, Any], pngs: _Pngs) -> Section:
    """Decide the lengths section: histograms and quantiles before/after filtering, or why absent."""
    sec = Section("lengths", "Document lengths")
    if lens.get("status") == "ok":
        sec.note("Characters per document before filtering (every document that had text: kept, rejected "
                 "and duplicates) and after (kept), log-spaced bins.")
        sec.image(pngs.image("lengths.png", plots.lengths_figure(lens), "document length histograms"))
        sec.table(["language", "docs before", "p10", "median", "p90", "docs after", "p10", "median", "p90"],
                  [(name, p["n_before"], p["q_before"].get("p10"), p["q_before"].get("p50"), p["q_before"].get("p90"),
                    p["n_after"], p["q_after"].get("p10"), p["q_after"].get("p50"), p["q_after"].get("p90"))
                   for name, p in lens["panels"].items()], numeric=range(1, 9))
    else:
        sec.absent(lens.get("message", "no data"))
    return sec


def _duplicates_section(dup: dict[str, Any], pngs: _Pngs) -> Section:
    """Decide the duplicates section: cluster cards and size figure, or why absent."""
    sec = Section("duplicates", "Duplicates")
    if dup["status"] == "ok":
        sec.raw(cards([(f"{dup['removed']:,}", "duplicates removed", ""), (f"{dup['clusters']:,}", "clusters", ""),
                       (f"{dup['largest']:,}", "largest cluster", ""), (f"{dup['mean_size']}", "mean cluster size", "")]))
        sec.image(pngs.image("duplicates.png", plots.duplicates_figure(dup), "duplicate cluster sizes"))
    else:
        sec.absent(dup["message"])
    return sec


def _mixture_section(mix: dict[str, Any], pngs: _Pngs) -> Section:
    """Decide the mixture section: target vs achieved per group and cell, shortfalls, or why absent."""
    sec = Section("mixture", "Mixture")
    if mix["status"] == "ok":
        sec.note(f"Tokenizer {mix.get('tokenizer')} (counting: {mix.get('count_mode')}), unit {mix['unit']}, "
                 f"budget {mix.get('budget')}. Target vs achieved per source/language cell and per group.")
        sec.image(pngs.image("mixture.png", plots.mixture_figure(mix), "mixture target vs achieved"))
        sec.table(["group", "target share", "achieved share", "target", "achieved", "available", "share of chars"],
                  [(g["group"], g["share"], g["achieved_share"], g["target"], g["achieved"], g["available"],
                    g["share_of_chars"]) for g in mix["groups"]], numeric=range(1, 7))
        sec.table(["cell", "group", "docs", "available", "target", "rate", "achieved", "rows", "binding"],
                  [(c["cell"], c["group"], c["docs"], c["available"], c["target"], c["rate"], c["achieved"],
                    c["copies"], c["binding"] or "") for c in mix["cells"]], numeric=(2, 3, 4, 5, 6, 7))
        for msg in mix.get("shortfall") or []:
            sec.raw(f'<p class="problem">shortfall: {esc(msg)}</p>')
    else:
        sec.absent(mix["message"])
    return sec


def _shards_section(sh: dict[str, Any], pngs: _Pngs) -> Section:
    """Decide the shards section: tokens per shard, or why absent."""
    sec = Section("shards", "Shards")
    if sh["status"] == "ok":
        if sh.get("note"):
            sec.note(sh["note"] + ".")
        sec.image(pngs.image("shards.png", plots.shards_figure(sh), "tokens per shard"))
    else:
        sec.absent(sh["message"])
    return sec


def _errors_section(err: dict[str, Any]) -> Section:
    """Decide the errors section: the first 50 error rows, or why absent."""
    sec = Section("errors", "Errors")
    if err["status"] == "ok":
        sec.table(["source", "stage", "error class", "records", "example"],
                  [(r["source"], r["stage"], r["error_class"], r["n"], r["example"]) for r in err["rows"][:50]],
                  numeric=(3,))
    else:
        sec.absent(err["message"])
    return sec


def decontam_rows(manifest: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(benchmark, outcome, documents) from the manifest's ``decontamination`` section."""
    by_bench = ((manifest.get("decontamination") or {}).get("by_benchmark") or {})
    return [(bench, outcome, int(n)) for bench, outs in sorted(by_bench.items()) for outcome, n in sorted(outs.items())]


def _decontam_section(run: RunData) -> Section:
    """Decide the decontamination section: documents per benchmark and outcome, or why absent."""
    sec = Section("decontam", "Benchmark decontamination")
    if not ((run.config.get("stages") or {}).get("decontam") or {}).get("enabled"):
        return sec.absent("stages.decontam is off in this run")
    rows = decontam_rows(run.manifest)
    if not rows:
        return sec.absent("no document matched an item of the benchmark index")
    sec.note(f"Documents that contained benchmark items, per benchmark and what was done. Side by side with "
             f"the items: corpusflow inspect {run.root} --reason 'decontam.*'")
    return sec.table(["benchmark", "outcome", "documents"], rows, numeric=(2,))


def _meta_line(ov: dict[str, Any]) -> str:
    """Decide the page's metadata line (status, version, config, seed, runner, time, inputs)."""
    runner = ov["runner"] or {}
    return " · ".join(esc(x) for x in [
        f"status {ov['status']}", f"corpusflow {ov['version']}", f"config {str(ov['config_hash'])[:12]}",
        f"seed {ov['seed']}", f"{runner.get('runner', '')} {runner.get('mode', '')}".strip(),
        f"{ov['seconds']} s" if ov["seconds"] is not None else "", f"{ov['inputs']} input file(s)",
    ] if x)


def build_run_report(root: str, out_dir: str | None = None, *, examples: bool = True) -> ReportResult:
    """Write the report of the run in ``root`` to ``out_dir`` (default ``root/report``)."""
    run = load_run(root)
    out_dir = out_dir or os.path.join(run.root, REPORT_DIR)
    os.makedirs(out_dir, exist_ok=True)
    data: dict[str, Any] = {"kind": "run", "corpusflow_version": __version__, "output": os.path.abspath(run.root)}
    data["overview"] = ov = figures.overview(run)
    data["funnel"] = fun = figures.funnel(run)
    data["volumes"] = vol = figures.volumes(run)
    data["languages"] = lang = figures.languages(run)
    data["lengths"] = lens = figures.lengths(run)
    data["duplicates"] = dup = figures.duplicates(run)
    data["mixture"] = mix = figures.mixture(run)
    data["shards"] = sh = figures.shards(run)
    data["errors"] = err = figures.errors(run)

    palette = plots.Palette(s["label"] for s in sorted(fun["steps"], key=lambda s: (-s["docs"], s["label"])))
    result = ReportResult(index=os.path.join(out_dir, INDEX), data=data)
    pngs = _Pngs(out_dir, result.pngs)

    sections: list[Section] = [
        _summary_section(run, ov),
        _funnel_section(fun, palette, pngs),
        _sources_section(fun, vol, palette, pngs),
        _languages_section(lang, pngs),
        _lengths_section(lens, pngs),
        _duplicates_section(dup, pngs),
        _mixture_section(mix, pngs),
        _shards_section(sh, pngs),
        _errors_section(err),
        _decontam_section(run),
    ]
    if examples:
        sections.append(_examples(run, fun))
        sections.append(_kept_examples(run))

    footer = (f"Generated by corpusflow {esc(__version__)} from {esc(os.path.abspath(run.root))} "
              f"(manifest.json and the Parquet outputs). The numbers behind every figure: {DATA_JSON}.")
    doc = page(f"corpusflow report: {ov['name']}", _meta_line(ov), sections, footer)
    _write(out_dir, INDEX, doc.encode("utf-8"))
    _write(out_dir, DATA_JSON, (json.dumps(data, ensure_ascii=False, indent=1, default=str) + "\n").encode())
    return result
