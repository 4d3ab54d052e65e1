"""The numbers behind every figure of a run report (pure: tables in, JSON-able dicts out).

Each function takes a :class:`~corpusflow.report.load.RunData` and returns a dict that the
plotting code draws and ``report.json`` stores. Sources of truth:

* documents per stage, source and reason: ``manifest["stages"]`` (the ledger of the run; exact);
* per language, characters and lengths: the Parquet outputs (``n_chars`` is the length of the
  text when the document left the pipeline, i.e. after normalisation);
* tokens: ``n_tokens`` of the pool / training shards and ``manifest["mixture"]`` when the run
  has a mixture stage. Removed documents were never tokenized: their tokens are *estimated*
  as characters x the tokens-per-character of kept documents of the same source and language
  (else source, else all), and labelled as estimates.

A section whose data the run does not have (no dedup, no mixture, no errors) returns
``{"status": "absent" | "disabled" | "none", "message": ...}`` instead of failing.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpusflow.core.hashing import stable_hash64
from corpusflow.report.load import RunData

UND = "und"
"""Language label of documents removed before language ID (or without a language)."""

SAMPLE_KEY = "corpusflow.inspect"
"""Key of the sampling hash shared by the report's examples and ``corpusflow inspect``."""


# ------------------------------------------------------------------------------------------------
# Small helpers
# ------------------------------------------------------------------------------------------------


def _col(t: pa.Table | None, name: str) -> list[Any]:
    if t is None or name not in t.column_names:
        return [] if t is None else [None] * t.num_rows
    return t.column(name).to_pylist()


def _nchars(t: pa.Table | None) -> np.ndarray:
    if t is None or "n_chars" not in t.column_names:
        return np.zeros(0 if t is None else t.num_rows, dtype=np.int64)
    return np.asarray(t.column("n_chars").fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)


def _key_col(t: pa.Table, name: str) -> pa.ChunkedArray | pa.Array:
    """A grouping column: strings, nulls -> ``und`` for ``lang`` and ``""`` otherwise."""
    if name not in t.column_names:
        return pa.array([UND if name == "lang" else ""] * t.num_rows, pa.string())
    col = t.column(name)
    if not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type):
        col = pc.cast(col, pa.string())
    return pc.fill_null(col, UND if name == "lang" else "")


def _agg(t: pa.Table | None, keys: list[str], aggs: Iterable[tuple[str, str]] = ()) -> dict[tuple[Any, ...], list[Any]]:
    """``(key values) -> [count, agg1, ...]`` with pyarrow's group_by (vectorised; scales to
    millions of rows). ``aggs``: ``(column, "sum" | "max")``; a missing column counts as 0."""
    aggs = list(aggs)
    if t is None or t.num_rows == 0:
        return {}
    cols = {f"k{i}": _key_col(t, k) for i, k in enumerate(keys)}
    for j, (c, _fn) in enumerate(aggs):
        v = t.column(c).fill_null(0) if c in t.column_names else pa.array([0] * t.num_rows, pa.int64())
        cols[f"v{j}"] = v
    cols["one"] = pa.array(np.ones(t.num_rows, dtype=np.int64))
    g = pa.table(cols).group_by([f"k{i}" for i in range(len(keys))]).aggregate(
        [("one", "sum")] + [(f"v{j}", fn) for j, (_c, fn) in enumerate(aggs)])
    d = g.to_pydict()
    n = g.num_rows
    out: dict[tuple[Any, ...], list[Any]] = {}
    for r in range(n):
        key = tuple(d[f"k{i}"][r] for i in range(len(keys)))
        out[key] = [d["one_sum"][r]] + [d[f"v{j}_{fn}"][r] for j, (_c, fn) in enumerate(aggs)]
    return out


def removal_label(kind: str, stage: str, code: str) -> str:
    """Display/key label of one way out: a reason code, ``duplicate (stage)``, ``error: class``."""
    if kind == "rejected":
        return code
    if kind == "duplicates":
        return f"duplicate ({stage})"
    return f"error: {code} ({stage})"


def sample_key(source: str, doc_id: str, seed: int = 0) -> int:
    """Deterministic sampling order: smallest keyed hash of (source, id) first."""
    return stable_hash64(SAMPLE_KEY, source, doc_id, seed=seed)


# ------------------------------------------------------------------------------------------------
# Overview
# ------------------------------------------------------------------------------------------------


def overview(run: RunData) -> dict[str, Any]:
    m = run.manifest
    total = (m.get("counts") or {}).get("total", {})
    outputs = m.get("outputs") or {}
    return {
        "name": m.get("name", ""),
        "status": m.get("status", ""),
        "version": m.get("corpusflow_version", ""),
        "config_hash": m.get("config_hash", ""),
        "seed": m.get("seed"),
        "runner": m.get("runner", {}),
        "seconds": m.get("seconds"),
        "error_rate": m.get("error_rate"),
        "problems": m.get("problems", []),
        "total": total,
        "by_source": (m.get("counts") or {}).get("by_source", {}),
        "stage_order": [st["stage"] for st in m.get("stages", [])],
        "kept_from": run.kept_from,
        "shards": {k: len(v) for k, v in outputs.items()},
        "inputs": len(m.get("inputs", [])),
    }


# ------------------------------------------------------------------------------------------------
# Funnel: documents, characters, tokens through each stage and reason
# ------------------------------------------------------------------------------------------------


def _token_rates(run: RunData) -> dict[tuple[str, str] | str, float] | None:
    """Tokens per character of kept documents by (source, lang), by source, and overall ("*")."""
    k = run.kept
    if k is None or "n_tokens" not in k.column_names or k.column("n_tokens").null_count == k.num_rows:
        return None
    cells = _agg(k, ["source", "lang"], [("n_chars", "sum"), ("n_tokens", "sum")])
    rates: dict[tuple[str, str] | str, float] = {}
    src_sum: dict[str, list[float]] = defaultdict(lambda: [0, 0])
    for (src, lang), (_n, c, tok) in cells.items():
        if c:
            rates[(src, lang)] = tok / c
        src_sum[src][0] += c
        src_sum[src][1] += tok
    for src, (c, tok) in src_sum.items():
        if c:
            rates[src] = tok / c
    c_all = sum(c for c, _t in src_sum.values())
    if c_all:
        rates["*"] = sum(t for _c, t in src_sum.values()) / c_all
    return rates


def _rate(rates: dict[Any, float], source: str, lang: str) -> float:
    return rates.get((source, lang), rates.get(source, rates.get("*", 0.0)))


def funnel(run: RunData) -> dict[str, Any]:
    """Steps from input to kept: one per (stage, way out), with documents, chars and tokens.

    ``by_source`` / ``by_lang``: input, kept and removed per way out for each source /
    language (documents; ``by_source`` from the manifest, ``by_lang`` from the Parquet files).
    """
    m = run.manifest
    total = (m.get("counts") or {}).get("total", {})
    rates = _token_rates(run)

    # chars (and estimated tokens) removed per (kind, stage, code), from the Parquet outputs
    removed_chars: dict[tuple[str, str, str], float] = defaultdict(float)
    removed_tokens: dict[tuple[str, str, str], float] = defaultdict(float)
    lang_removed: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    lang_removed_chars: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for kind, t, code_col in (("rejected", run.rejected, "reason"), ("duplicates", run.duplicates, "-")):
        groups = _agg(t, ["stage", code_col, "source", "lang"], [("n_chars", "sum")])
        for (stage, code, source, lang), (n, chars) in groups.items():
            key = (kind, stage, code)
            removed_chars[key] += chars
            if rates is not None:
                removed_tokens[key] += chars * _rate(rates, source, lang)
            label = removal_label(kind, stage, code)
            lang_removed[lang][label] += int(n)
            lang_removed_chars[lang][label] += chars
    for (stage, cls), (n,) in _agg(run.errors, ["stage", "error_class"]).items():
        lang_removed[UND][removal_label("errors", stage, cls)] += int(n)

    steps: list[dict[str, Any]] = []
    by_source: dict[str, dict[str, Any]] = {}
    for st in m.get("stages", []):
        stage = st["stage"]
        agg: dict[tuple[str, str], int] = defaultdict(int)
        for source, v in st.get("by_source", {}).items():
            srow = by_source.setdefault(source, {"input": 0, "kept": 0, "removed": {}})
            if stage == m["stages"][0]["stage"]:
                srow["input"] = v.get("in", 0)
            ways = [("rejected", r, n) for r, n in v.get("rejected", {}).items()]
            ways += [("errors", c, n) for c, n in v.get("errors", {}).items()]
            if v.get("duplicates"):
                ways.append(("duplicates", "", v["duplicates"]))
            for kind, code, n in ways:
                agg[(kind, code)] += n
                label = removal_label(kind, stage, code)
                srow["removed"][label] = srow["removed"].get(label, 0) + n
        for (kind, code), n in sorted(agg.items(), key=lambda kv: (-kv[1], kv[0])):
            key = (kind, stage, code)
            steps.append({
                "stage": stage, "kind": kind, "code": code, "label": removal_label(kind, stage, code),
                "docs": n, "chars": int(removed_chars.get(key, 0)),
                "tokens_est": round(removed_tokens[key]) if rates is not None else None,
            })
    for source, v in ((m.get("counts") or {}).get("by_source", {})).items():
        srow = by_source.setdefault(source, {"input": v.get("input", 0), "kept": 0, "removed": {}})
        srow["input"] = v.get("input", srow["input"])
        srow["kept"] = v.get("kept", 0)

    kept_chars = int(_nchars(run.kept).sum())
    kept_tokens = None
    if rates is not None and run.kept is not None:
        kept_tokens = int(pc.sum(run.kept.column("n_tokens").fill_null(0)).as_py() or 0)
    removed_c = sum(s["chars"] for s in steps)
    by_lang: dict[str, dict[str, Any]] = {}
    kept_by_lang = _agg(run.kept, ["lang"], [("n_chars", "sum")])
    for lang in sorted({x for (x,) in kept_by_lang} | set(lang_removed)):
        kept_n = int(kept_by_lang.get((lang,), [0, 0])[0])
        rem = dict(sorted(lang_removed.get(lang, {}).items(), key=lambda kv: (-kv[1], kv[0])))
        by_lang[lang] = {"input": kept_n + sum(rem.values()), "kept": kept_n, "removed": rem,
                         "kept_chars": int(kept_by_lang.get((lang,), [0, 0])[1]),
                         "removed_chars": {k: int(v) for k, v in lang_removed_chars.get(lang, {}).items()}}
    mixture = None
    mix = m.get("mixture")
    if mix:
        t = mix.get("totals", {})
        mixture = {"rows": t.get("rows"), "documents_selected": t.get("documents_selected"),
                   "tokens": t.get("tokens"), "chars": t.get("chars"), "unit": mix.get("unit")}
    return {
        "input": {"docs": total.get("input", 0), "chars": kept_chars + removed_c,
                  "tokens_est": (kept_tokens + sum(s["tokens_est"] or 0 for s in steps))
                  if kept_tokens is not None else None},
        "steps": steps,
        "kept": {"docs": total.get("kept", 0), "chars": kept_chars, "tokens": kept_tokens, "from": run.kept_from},
        "mixture": mixture,
        "tokens_note": None if rates is not None else
        "no token counts in this run (no mixture stage): characters are shown instead",
        "by_source": {s: by_source[s] for s in [*((m.get("counts") or {}).get("by_source", {})), *sorted(by_source)]
                      if s in by_source},
        "by_lang": dict(sorted(by_lang.items(), key=lambda kv: (-kv[1]["input"], kv[0]))),
    }


def volumes(run: RunData) -> dict[str, Any]:
    """Characters and tokens in and kept, per source and per detected language.

    ``input`` = kept + rejected + duplicates (errors have no text). Tokens: kept ones counted by
    the mixture stage; removed ones estimated as in :func:`funnel` (``None`` without a mixture).
    """
    rates = _token_rates(run)
    out: dict[str, dict[str, dict[str, Any]]] = {"by_source": {}, "by_lang": {}}
    parts = [("kept", run.kept)] + [("removed", t) for t in (run.rejected, run.duplicates)]
    for what, t in parts:
        for (src, lang), (n, c, tok) in _agg(t, ["source", "lang"], [("n_chars", "sum"), ("n_tokens", "sum")]).items():
            if rates is None:
                tok = 0.0
            elif what == "removed":
                tok = c * _rate(rates, src, lang)
            for group, key in (("by_source", src), ("by_lang", lang)):
                row = out[group].setdefault(key, {"docs_in": 0, "docs_kept": 0, "chars_in": 0, "chars_kept": 0,
                                                  "tokens_in_est": 0.0, "tokens_kept": 0.0})
                row["docs_in"] += n
                row["chars_in"] += c
                row["tokens_in_est"] += tok
                if what == "kept":
                    row["docs_kept"] += n
                    row["chars_kept"] += c
                    row["tokens_kept"] += tok
    for group in out.values():
        for row in group.values():
            if rates is None:
                row["tokens_in_est"] = row["tokens_kept"] = None
            else:
                row["tokens_in_est"] = round(row["tokens_in_est"])
                row["tokens_kept"] = round(row["tokens_kept"])
    order = list((run.manifest.get("counts") or {}).get("by_source", {}))
    out["by_source"] = {s: out["by_source"][s] for s in [*order, *sorted(out["by_source"])] if s in out["by_source"]}
    out["by_lang"] = dict(sorted(out["by_lang"].items(), key=lambda kv: (-kv[1]["chars_in"], kv[0])))
    return out


# ------------------------------------------------------------------------------------------------
# Languages
# ------------------------------------------------------------------------------------------------

SCORE_BINS = 20


def _lang_mask(t: pa.Table, lang: str) -> np.ndarray:
    return np.asarray(pc.equal(_key_col(t, "lang"), lang).to_numpy(zero_copy_only=False), dtype=bool)


def _score_hist(t: pa.Table, lang: str) -> list[int]:
    """Histogram of ``lang_score`` (clipped to [0, 1]) of the rows whose language is ``lang``."""
    if "lang_score" not in t.column_names:
        return [0] * SCORE_BINS
    sc = np.asarray(pc.fill_null(pc.cast(t.column("lang_score"), pa.float64()), np.nan)
                    .to_numpy(zero_copy_only=False), dtype=np.float64)
    vals = sc[_lang_mask(t, lang) & ~np.isnan(sc)]
    hist, _ = np.histogram(np.clip(vals, 0.0, 1.0), bins=SCORE_BINS, range=(0.0, 1.0))
    return hist.astype(int).tolist()


def _top_langs(counts: dict[str, dict[str, int]], top: int) -> list[str]:
    """Languages with kept documents first (most kept first), then the most frequent others."""
    kept = sorted((x for x in counts if x != UND and counts[x].get("kept")), key=lambda x: (-counts[x]["kept"], x))
    rest = sorted((x for x in counts if x != UND and x not in kept), key=lambda x: (-sum(counts[x].values()), x))
    return [*kept, *rest][:top]


def languages(run: RunData, *, top: int = 3) -> dict[str, Any]:
    """Documents per detected language (kept / rejected / duplicates) and language-score
    histograms (kept vs rejected) of the most frequent languages, with the config thresholds."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"kept": 0, "rejected": 0, "duplicates": 0})
    for what, t in (("kept", run.kept), ("rejected", run.rejected), ("duplicates", run.duplicates)):
        for (lang,), (n,) in _agg(t, ["lang"]).items():
            counts[lang][what] += n
    if not counts:
        return {"status": "absent", "message": "no documents in this run"}
    order = sorted(counts, key=lambda x: (-sum(counts[x].values()), x))
    langid = ((run.config.get("stages") or {}).get("langid") or {})
    scored_langs = _top_langs(counts, top)
    hists = {}
    for lang in scored_langs:
        entry = {}
        for what, t in (("kept", run.kept), ("rejected", run.rejected)):
            if t is None:
                entry[what] = [0] * SCORE_BINS
                continue
            entry[what] = _score_hist(t, lang)
        thr = (langid.get("min_score_by_lang") or {}).get(lang, langid.get("min_score"))
        entry["threshold"] = thr
        hists[lang] = entry
    return {
        "status": "ok",
        "counts": {x: counts[x] for x in order},
        "score_bins": np.linspace(0, 1, SCORE_BINS + 1).round(3).tolist(),
        "score_hist": hists,
        "langid_enabled": run.stage_enabled("langid") is not False and bool(langid),
        "languages_kept_by_config": langid.get("languages"),
    }


# ------------------------------------------------------------------------------------------------
# Lengths
# ------------------------------------------------------------------------------------------------


def _length_edges(max_chars: int, per_decade: int = 8) -> np.ndarray:
    top = max(1.0, math.ceil(math.log10(max(max_chars, 1) + 1) * per_decade) / per_decade)
    logs = np.linspace(0.0, top, round(top * per_decade) + 1)
    return np.unique(np.round(10 ** logs - 1).astype(np.int64))


def _quantiles(x: np.ndarray) -> dict[str, int]:
    if not x.size:
        return {}
    q = np.quantile(x, [0.1, 0.5, 0.9])
    return {"p10": int(q[0]), "p50": int(q[1]), "p90": int(q[2]), "mean": round(float(x.mean()))}


def lengths(run: RunData, *, top: int = 3) -> dict[str, Any]:
    """Histograms of ``n_chars`` before filtering (every document that had text: kept,
    rejected and duplicates) and after (kept), over all languages and per frequent language.
    Bins are log-spaced (8 per decade); edges are in characters."""
    parts = [(t, what) for t, what in ((run.kept, "kept"), (run.rejected, "rejected"), (run.duplicates, "dup"))
             if t is not None]
    if not parts:
        return {"status": "absent", "message": "no documents in this run"}
    chars = {what: _nchars(t) for t, what in parts}
    before = np.concatenate(list(chars.values()))
    edges = _length_edges(int(before.max()) if before.size else 1)
    kept_c = chars.get("kept", np.zeros(0, dtype=np.int64))
    panels = {"all": (before, kept_c)}
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"kept": 0, "other": 0})
    for t, what in parts:
        for (lang,), (n,) in _agg(t, ["lang"]).items():
            counts[lang]["kept" if what == "kept" else "other"] += n
    for lang in _top_langs(counts, top):
        b = np.concatenate([chars[what][_lang_mask(t, lang)] for t, what in parts])
        a = kept_c[_lang_mask(run.kept, lang)] if run.kept is not None else np.zeros(0, dtype=np.int64)
        panels[lang] = (b, a)
    out = {}
    for name, (b, a) in panels.items():
        hb, _ = np.histogram(b, bins=edges)
        ha, _ = np.histogram(a, bins=edges)
        out[name] = {"before": hb.astype(int).tolist(), "after": ha.astype(int).tolist(),
                     "n_before": int(b.size), "n_after": int(a.size),
                     "q_before": _quantiles(b), "q_after": _quantiles(a)}
    return {"status": "ok", "edges": edges.astype(int).tolist(), "panels": out}


# ------------------------------------------------------------------------------------------------
# Duplicates
# ------------------------------------------------------------------------------------------------

CLUSTER_BUCKETS = ((2, 2), (3, 3), (4, 4), (5, 5), (6, 10), (11, 20), (21, 50), (51, 100), (101, 10**12))


def duplicates(run: RunData) -> dict[str, Any]:
    """Cluster sizes (one cluster per kept document; size = ``cluster_size``, the kept one
    included), duplicates removed per source and stage, and the similarity histogram."""
    t = run.duplicates
    if t is None or t.num_rows == 0:
        ran = any(st.get("stage") == "dedup" for st in run.manifest.get("stages", []))
        if ran:
            return {"status": "none", "message": "dedup ran and found no duplicates"}
        if run.stage_enabled("dedup"):
            return {"status": "disabled", "message": "stages.dedup.enabled is on in the config, but the run "
                    "has no dedup stage in its manifest (this corpusflow build did not run one): no duplicates"}
        return {"status": "disabled", "message": "no dedup stage in this run (stages.dedup.enabled is off)"}
    groups = _agg(t, ["kept_id"], [("cluster_size", "max")])
    # size of a cluster: its recorded cluster_size, at least the duplicates seen + the kept one
    sizes_arr = np.asarray([max(int(mx or 0), n + 1) for n, mx in groups.values()], dtype=np.int64)
    hist = []
    for lo, hi in CLUSTER_BUCKETS:
        sel = sizes_arr[(sizes_arr >= lo) & (sizes_arr <= hi)]
        label = str(lo) if lo == hi else (f"{lo}-{hi}" if hi < 10**12 else f">{lo - 1}")
        hist.append({"size": label, "clusters": int(sel.size), "documents": int(sel.sum())})
    by_source = dict(sorted(((k[0], v[0]) for k, v in _agg(t, ["source"]).items()), key=lambda kv: (-kv[1], kv[0])))
    by_stage = {k[0]: v[0] for k, v in _agg(t, ["stage"]).items()}
    sim_hist = None
    if "similarity" in t.column_names and t.column("similarity").null_count < t.num_rows:
        sims = np.asarray(pc.drop_null(t.column("similarity")).to_numpy(zero_copy_only=False), dtype=np.float64)
        h, _ = np.histogram(np.clip(sims, 0, 1), bins=20, range=(0.0, 1.0))
        sim_hist = h.astype(int).tolist()
    return {
        "status": "ok",
        "removed": t.num_rows,
        "clusters": int(sizes_arr.size),
        "largest": int(sizes_arr.max()) if sizes_arr.size else 0,
        "mean_size": round(float(sizes_arr.mean()), 3) if sizes_arr.size else 0.0,
        "size_hist": hist,
        "by_source": by_source,
        "by_stage": dict(sorted(by_stage.items())),
        "similarity_hist": sim_hist,
    }


# ------------------------------------------------------------------------------------------------
# Mixture and shards
# ------------------------------------------------------------------------------------------------


def mixture(run: RunData) -> dict[str, Any]:
    """Target vs achieved per cell (source/language) and per group, from ``manifest["mixture"]``."""
    mix = run.manifest.get("mixture")
    if not mix:
        return {"status": "absent", "message": "no mixture stage in this run: nothing was sampled to targets"}
    unit = mix.get("unit", "tokens")
    cells = []
    for c in mix.get("cells", []):
        cells.append({
            "cell": f"{c.get('source')}/{c.get('lang')}", "source": c.get("source"), "lang": c.get("lang"),
            "group": c.get("group"), "available": c.get("available", c.get("tokens")),
            "target": c.get("target"),
            "achieved": c.get("measured_tokens", c.get("achieved_tokens", c.get("achieved"))),
            "rate": c.get("rate"), "docs": c.get("docs"), "selected_docs": c.get("selected_docs"),
            "copies": c.get("measured_copies", c.get("copies_total")), "binding": c.get("binding"),
        })
    groups = []
    for g, gp in (mix.get("groups") or {}).items():
        groups.append({
            "group": g, "share": gp.get("share"),
            "achieved_share": gp.get("measured_share_of_tokens", gp.get("achieved_share")),
            "target": gp.get("target"), "achieved": gp.get("measured_tokens", gp.get("achieved")),
            "available": gp.get("available"), "share_of_chars": gp.get("share_of_chars"),
            "shortfall": gp.get("shortfall"),
        })
    return {
        "status": "ok", "unit": unit, "budget": mix.get("budget"), "tokenizer": (mix.get("tokenizer") or {}).get("name"),
        "count_mode": (mix.get("count") or {}).get("mode"), "cells": cells, "groups": groups,
        "totals": mix.get("totals", {}), "checks": mix.get("checks", {}), "shortfall": mix.get("shortfall", []),
        "excluded_cells": mix.get("excluded_cells", []),
    }


def shards(run: RunData) -> dict[str, Any]:
    """Rows, file bytes and (when counted) tokens per training shard."""
    m = run.manifest
    mix_shards = {s["file"]: s for s in ((m.get("mixture") or {}).get("shards") or [])}
    tokens_by_file: dict[str, int] = {}
    if run.train is not None and "n_tokens" in run.train.column_names:
        for (f,), (_n, tok) in _agg(run.train, ["__file"], [("n_tokens", "sum")]).items():
            tokens_by_file[f] = int(tok)
    out = []
    for s in (m.get("outputs") or {}).get("data", []):
        f = s["file"]
        tok = mix_shards.get(f, {}).get("tokens", tokens_by_file.get(f))
        out.append({"file": f, "rows": s.get("rows"), "bytes": s.get("bytes"), "tokens": tok})
    if not out:
        return {"status": "absent", "message": "no data shards in this run"}
    has_tokens = all(s["tokens"] is not None for s in out)
    return {"status": "ok", "unit": "tokens" if has_tokens else None, "shards": out,
            "note": None if has_tokens else "tokens are counted by the mixture stage; this run has none, "
            "so rows and file bytes per shard are shown"}


# ------------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------------


def errors(run: RunData) -> dict[str, Any]:
    t = run.errors
    if t is None or t.num_rows == 0:
        return {"status": "none", "message": "no malformed records in this run"}
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for src, st, cls, msg, f, off, kind in zip(*(_col(t, c) for c in (
            "source", "stage", "error_class", "message", "file", "offset", "offset_kind")), strict=True):
        r = rows.setdefault((src, st, cls), {"source": src, "stage": st, "error_class": cls, "n": 0,
                                              "example": f"{f}:{off} ({kind}): {msg}"[:300]})
        r["n"] += 1
    return {"status": "ok", "total": t.num_rows,
            "rows": sorted(rows.values(), key=lambda r: (-r["n"], r["source"], r["error_class"]))}
