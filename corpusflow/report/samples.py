"""Deterministic samples of rejected and duplicate documents, with the signals that decided them.

Sampling is a keyed hash, not a random draw: the documents matching a query are ordered by
``stable_hash64("corpusflow.inspect", source, id, seed=seed)`` and the first ``n`` are taken,
so the same output directory and seed always show the same documents, whatever the shard
layout, and ``--n 10`` shows the ``--n 5`` documents plus five more.
"""

from __future__ import annotations

import fnmatch
import heapq
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from corpusflow.report.figures import sample_key
from corpusflow.report.load import RunData, parquet_files, read_rows


@dataclass
class Sample:
    """One document to show: its row (text included), and for a duplicate the kept row."""

    row: dict[str, Any]
    kind: str  # "rejected" | "duplicate"
    signals: dict[str, Any] = field(default_factory=dict)
    deciding: list[str] = field(default_factory=list)
    kept: dict[str, Any] | None = None


def _decode(s: str | None) -> dict[str, Any]:
    try:
        v = json.loads(s or "{}")
    except ValueError:
        return {}
    return v if isinstance(v, dict) else {}


def parse_detail(detail: str) -> dict[str, Any] | None:
    """The filter stage's ``detail`` JSON (``{"rule", "signal", "value", "op", "limit"}``), else ``None``."""
    if not detail or not detail.startswith("{"):
        return None
    try:
        d = json.loads(detail)
    except ValueError:
        return None
    return d if isinstance(d, dict) else None


def format_detail(detail: str) -> str:
    """``ja.hiragana_fraction = 0.04 < 0.2 (limit)`` for a filter verdict; other details as they are."""
    d = parse_detail(detail)
    if d is None or "signal" not in d:
        return detail
    text = f"{d['signal']} = {d.get('value', '?')}"
    if d.get("op") and "limit" in d:
        text += f" {d['op']} {d['limit']} (limit)"
    return text


def deciding_signals(signals: dict[str, Any], reason: str, detail: str = "") -> list[str]:
    """Signal names that decided a rejection.

    The filter stage names the deciding signal in ``detail`` (``{"signal": ...}``); that one
    wins. Otherwise: reason codes are ``<rule id>.<cause>`` and a rule's signals are
    ``<rule id>`` or ``<rule id>.<key>`` (corpusflow.filters.base), so every signal of the rule
    behind ``reason`` is returned.
    """
    d = parse_detail(detail)
    if d is not None and isinstance(d.get("signal"), str) and d["signal"]:
        return [d["signal"]]
    rule = reason.rsplit(".", 1)[0] if "." in reason else reason
    out = [k for k in signals if reason.startswith(k + ".") or k == rule or k.startswith(rule + ".")]
    return sorted(out)


def matching_reasons(run: RunData, pattern: str) -> list[str]:
    """Reason codes of ``rejected/`` that equal ``pattern`` or match it as a glob (``langid.*``)."""
    if run.rejected is None:
        return []
    reasons = sorted(set(run.rejected.column("reason").to_pylist()))
    if pattern in reasons:
        return [pattern]
    return [r for r in reasons if fnmatch.fnmatchcase(r, pattern)]


def _select(t: pa.Table, reasons: Iterable[str] | None, source: str | None, lang: str | None) -> pa.Table:
    """Rows of ``t`` matching the query (vectorised filters; ``lang`` ``und`` = no language)."""
    mask = None

    def both(m: Any) -> Any:
        return m if mask is None else pc.and_(mask, m)

    if reasons is not None:
        mask = both(pc.is_in(t.column("reason"), value_set=pa.array(sorted(set(reasons)), pa.string())))
    if source is not None:
        mask = both(pc.equal(t.column("source"), source))
    if lang is not None:
        col = t.column("lang") if "lang" in t.column_names else pa.nulls(t.num_rows, pa.string())
        mask = both(pc.equal(pc.fill_null(col, "und"), lang))
    if mask is None:
        return t
    return t.filter(pc.fill_null(mask, False))


def _pick(t: pa.Table, n: int, seed: int) -> list[tuple[str, str]]:
    """The ``n`` (source, id) pairs of ``t`` with the smallest sampling keys."""
    ids, srcs = t.column("id").to_pylist(), t.column("source").to_pylist()
    keyed = heapq.nsmallest(n, ((sample_key(s, i, seed), s, i) for s, i in zip(srcs, ids, strict=True)))
    return [(s, i) for _k, s, i in keyed]


def _rows_for(root: str, sub: str, picks: list[tuple[str, str]]) -> list[dict[str, Any]]:
    rows = read_rows(parquet_files(root, sub), (i for _s, i in picks))
    by_key = {(r["source"], r["id"]): r for r in rows}
    return [by_key[p] for p in picks if p in by_key]


def count_matches(run: RunData, *, reasons: Iterable[str] | None = None, source: str | None = None,
                  lang: str | None = None, duplicates: bool = False) -> int:
    t = run.duplicates if duplicates else run.rejected
    if t is None:
        return 0
    return _select(t, reasons, source, lang).num_rows


def sample_rejected(run: RunData, reasons: Iterable[str], *, n: int = 5, source: str | None = None,
                    lang: str | None = None, seed: int = 0) -> list[Sample]:
    """Up to ``n`` rejected documents with one of ``reasons`` (deterministic, see module doc)."""
    if run.rejected is None:
        return []
    picks = _pick(_select(run.rejected, reasons, source, lang), n, seed)
    out = []
    for row in _rows_for(run.root, "rejected", picks):
        if str(row.get("reason", "")).startswith(DECONTAM_PREFIX):
            out.append(decontam_sample(row))
            continue
        signals = _decode(row.get("signals"))
        out.append(Sample(row=row, kind="rejected", signals=signals,
                          deciding=deciding_signals(signals, row.get("reason", ""), row.get("detail", ""))))
    return out


DECONTAM_PREFIX = "decontam."


def decontam_sample(row: dict[str, Any], context: int = 120) -> Sample:
    """A document rejected by decontamination, beside the benchmark text it contains.

    The document's text is cut to the first matched span with ``context`` characters on each
    side, the span between ``⟦`` and ``⟧``; the other side is the benchmark excerpt of the hit
    with the largest overlap (``detail`` JSON of :mod:`corpusflow.steps.decontam`).
    """
    detail = parse_detail(str(row.get("detail", ""))) or {}
    hits = detail.get("hits") or []
    top = hits[0] if hits and isinstance(hits[0], dict) else {}
    shown = dict(row)
    spans = top.get("spans") or []
    text = str(row.get("text") or "")
    if spans and text:
        s, e = int(spans[0][0]), int(spans[0][1])
        shown["text"] = ("…" if s > context else "") + text[max(0, s - context):s] + "⟦" + text[s:e] + "⟧" \
            + text[e:e + context] + ("…" if e + context < len(text) else "")
    shown["detail"] = "; ".join(
        f"{h.get('benchmark')}/{h.get('item')} ({h.get('field')}) overlap {h.get('overlap')} spans {h.get('spans')}"
        for h in hits if isinstance(h, dict)) + (f"  [{detail.get('outcome')}]" if detail.get("outcome") else "")
    item = {"id": top.get("item"), "source": top.get("benchmark"), "text": top.get("excerpt", ""),
            "field": top.get("field")} if top else None
    return Sample(row=shown, kind="decontam", kept=item)


def sample_duplicates(run: RunData, *, n: int = 5, source: str | None = None, lang: str | None = None,
                      seed: int = 0) -> list[Sample]:
    """Up to ``n`` duplicates, each with the document kept instead (looked up by ``kept_id`` in
    ``pool/`` or ``data/``; ``None`` when it is in neither, e.g. a later stage removed it)."""
    if run.duplicates is None:
        return []
    picks = _pick(_select(run.duplicates, None, source, lang), n, seed)
    rows = _rows_for(run.root, "duplicates", picks)
    kept_ids = {r["kept_id"] for r in rows}
    kept: dict[str, dict[str, Any]] = {}
    for sub in ("pool", "data"):
        missing = kept_ids - set(kept)
        if missing and os.path.isdir(os.path.join(run.root, sub)):
            for r in read_rows(parquet_files(run.root, sub), missing):
                kept.setdefault(r["id"], r)
    return [Sample(row=r, kind="duplicate", signals=_decode(r.get("signals")), kept=kept.get(r["kept_id"]))
            for r in rows]


def count_kept(run: RunData, *, source: str | None = None, lang: str | None = None) -> int:
    return 0 if run.kept is None else _select(run.kept, None, source, lang).num_rows


def sample_kept(run: RunData, *, n: int = 5, source: str | None = None, lang: str | None = None,
                seed: int = 0) -> list[Sample]:
    """Up to ``n`` kept documents (from ``pool/`` with a mixture, else ``data/``), sampled as above."""
    if run.kept is None:
        return []
    picks = _pick(_select(run.kept, None, source, lang), n, seed)
    return [Sample(row=r, kind="kept", signals=_decode(r.get("signals"))) for r in _rows_for(run.root, run.kept_from, picks)]
