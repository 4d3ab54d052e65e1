"""Find benchmark texts in a document, decide, and act (drop / cut / tag). No Beam.

:func:`find_hits` hashes every n-gram of the document (both schemes of the index, whatever the
document's detected language: an English question quoted in a Japanese page is found too) and
looks them up in the sorted index with one ``searchsorted``. Only a document sharing at least one
n-gram goes on to the slow path: its units are recomputed with their offsets, and for each indexed
text it shares n-grams with, the overlap is the share of that text's distinct n-grams found in the
document. A hit (overlap >= ``min_overlap``) records the benchmark, item id, field, overlap and
the matched character spans of the document: runs of matched n-grams, where n-grams at most
``2n`` units apart belong to one span (an edited copy loses the ~n n-grams around each edit, and
the text between two matched n-grams of one item is part of the copy).

Actions (:func:`decide`):

* ``drop``: the document is rejected as ``decontam.<benchmark of the largest overlap>``;
* ``cut``: the matched spans are removed; the rest is kept (hits in ``meta["decontam"]``) when
  it has at least ``min_remaining_chars`` non-space characters and ``min_remaining_fraction`` of
  the original ones, else the document is rejected as with ``drop``;
* ``tag``: the document is kept unchanged with its hits in ``meta["decontam"]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from corpusflow.decontam.config import DecontamStageConfig
from corpusflow.decontam.index import DecontamIndex
from corpusflow.decontam.ngrams import ngram_hashes, unit_codes, units_with_offsets
from corpusflow.dedup.shingle import WordHasher

REASON_PREFIX = "decontam."


@dataclass
class Hit:
    """One indexed benchmark text found in a document."""

    segment: int
    benchmark: str
    item_id: str
    field: str
    overlap: float  # share of the text's distinct n-grams found in the document
    matched: int  # distinct n-grams found
    spans: list[tuple[int, int]]  # [start, end) character spans of the document

    def record(self, index: DecontamIndex, excerpt_chars: int) -> dict[str, Any]:
        """The JSON-able record written in ``detail`` / ``meta["decontam"]``."""
        rec: dict[str, Any] = {"benchmark": self.benchmark, "item": self.item_id, "field": self.field,
                               "overlap": round(self.overlap, 4), "ngrams": self.matched,
                               "spans": [list(s) for s in self.spans]}
        if index.n_items[self.segment] > 1:
            rec["items_sharing_text"] = index.n_items[self.segment]
        if excerpt_chars:
            rec["excerpt"] = index.texts[self.segment][:excerpt_chars]
        return rec


def _spans(text: str, positions: np.ndarray, starts: np.ndarray, ends: np.ndarray, n: int) -> list[tuple[int, int]]:
    """Character spans of runs of matched n-gram start positions (sorted, unique); a span's end
    takes in the punctuation that follows its last unit (the "。" closing the copied sentence)."""
    out: list[tuple[int, int]] = []

    def close(first: int, last: int) -> None:
        e = int(ends[last + n - 1])
        while e < len(text) and not text[e].isalnum() and not text[e].isspace():
            e += 1
        out.append((int(starts[first]), e))

    first = prev = int(positions[0])
    for p in positions[1:].tolist():
        if p - prev > 2 * n:
            close(first, prev)
            first = p
        prev = p
    close(first, prev)
    return out


def find_hits(text: str, index: DecontamIndex, min_overlap: float,
              words: WordHasher | None = None) -> list[Hit]:
    """Indexed texts of which ``text`` holds at least ``min_overlap`` of the n-grams, largest
    overlap first (ties: benchmark, item id)."""
    hits: list[Hit] = []
    for scheme in index.schemes:
        n = index.n(scheme)
        keys = index.keys[scheme]
        h = ngram_hashes(unit_codes(text, scheme, words), n, scheme)
        if not h.size:
            continue
        pos = np.searchsorted(keys, h)
        np.minimum(pos, keys.size - 1, out=pos)
        if not (keys[pos] == h).any():
            continue
        units = units_with_offsets(text, scheme)
        h = ngram_hashes(units.codes, n, scheme)
        if not h.size:
            continue
        left = np.searchsorted(keys, h, "left")
        right = np.searchsorted(keys, h, "right")
        cnt = right - left
        at = np.nonzero(cnt)[0]
        if not at.size:
            continue
        reps = cnt[at]
        ngram_pos = np.repeat(at, reps)
        # index of every (n-gram, key) pair: left[at] + 0..reps-1
        offs = np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps)
        seg = index.segs[scheme][np.repeat(left[at], reps) + offs]
        order = np.lexsort((ngram_pos, seg))
        seg, ngram_pos = seg[order], ngram_pos[order]
        bounds = np.flatnonzero(np.diff(seg)) + 1
        for part_pos, part_seg in zip(np.split(ngram_pos, bounds), np.split(seg, bounds), strict=True):
            sid = int(part_seg[0])
            total = int(index.n_ngrams[sid])
            matched = int(np.unique(h[part_pos]).size)
            overlap = matched / total if total else 0.0
            if overlap < min_overlap:
                continue
            hits.append(Hit(segment=sid, benchmark=index.benchmarks[sid], item_id=index.item_ids[sid],
                            field=index.fields[sid], overlap=overlap, matched=matched,
                            spans=_spans(text, np.unique(part_pos), units.starts, units.ends, n)))
    hits.sort(key=lambda x: (-x.overlap, x.benchmark, x.item_id, x.segment))
    return hits


def merged_spans(hits: list[Hit]) -> list[tuple[int, int]]:
    """The union of the hits' spans, sorted and merged."""
    spans = sorted(s for hit in hits for s in hit.spans)
    out: list[tuple[int, int]] = []
    for s, e in spans:
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def cut_spans(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` without ``spans``; the pieces left are joined by a newline (a cut ends a paragraph)."""
    pieces = []
    pos = 0
    for s, e in spans:
        pieces.append(text[pos:s])
        pos = e
    pieces.append(text[pos:])
    return "\n".join(p.strip() for p in pieces if p.strip())


def _nonspace(text: str) -> int:
    return len(text) - sum(text.count(c) for c in " \n\t\u3000")


@dataclass
class Decision:
    """What to do with a document that has hits."""

    outcome: str  # "dropped" | "cut" | "cut_too_short" | "tagged"
    reason: str  # decontam.<benchmark> (of the largest overlap)
    text: str | None  # the text to keep (None: reject)
    records: list[dict[str, Any]]
    benchmarks: list[str]  # distinct benchmarks hit, sorted


def decide(text: str, hits: list[Hit], index: DecontamIndex, cfg: DecontamStageConfig) -> Decision:
    """Apply ``cfg.action`` to a document with at least one hit."""
    records = [h.record(index, cfg.excerpt_chars) for h in hits[: cfg.max_hits_recorded]]
    reason = REASON_PREFIX + hits[0].benchmark
    benchmarks = sorted({h.benchmark for h in hits})
    if cfg.action == "drop":
        return Decision("dropped", reason, None, records, benchmarks)
    if cfg.action == "tag":
        return Decision("tagged", reason, text, records, benchmarks)
    rest = cut_spans(text, merged_spans(hits))
    left, before = _nonspace(rest), _nonspace(text)
    if left >= cfg.min_remaining_chars and (before == 0 or left / before >= cfg.min_remaining_fraction):
        return Decision("cut", reason, rest, records, benchmarks)
    return Decision("cut_too_short", reason, None, records, benchmarks)
