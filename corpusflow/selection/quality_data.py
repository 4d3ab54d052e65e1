"""Build training files for a Japanese quality classifier from ../shared/data, honestly.

The evaluation set (``ja/mc4ja_quality_labels.dev.jsonl``: mC4-ja snippets labelled good / bad,
where bad = ads, spam, SEO, BBS) is never read here, and neither is anything derived from it
(``bench/make_corpus.py``'s noise pages include its "bad" snippets; the embedded sample's
``ja_mc4_labelled`` is drawn from it).

What "bad" means in that set is commercial and SEO copy, so a Wikipedia-vs-web classifier
(Swallow "wiki-top10" style) does not separate it: both classes of mC4 are web text. Measured
on the set: J ~ 0 (see configs/recipes/README.md). Instead we use *weak labels from public
keyword lists* on real Japanese web text that is not mC4:

* texts: KWDLC leads (first three sentences of real web pages: blogs, shops, government...;
  ``ja/kwdlc_leads.jsonl``) and ABEJA Common Crawl pages cut into ~300-character chunks at line
  boundaries (``ja/abeja_cc_ja.jsonl``);
* negative (``cc``): the text contains at least one advertisement / promotional keyword of
  HojiChar's ``advertisement_keywords_ja.txt`` (Apache-2.0, shipped in
  ``corpusflow/resources/ngwords/hojichar``) or corpusflow's ``promo_ja.txt`` (written from
  the genres of ad copy, not mined from labelled data — its header says so);
* positive (``hq``): every other text.

The classifier then learns the *register* of commercial copy (honorific service language,
prices, calls to action) beyond the literal keywords. Its scores are weak labels' scores: it
cannot be better than what the lists imply plus what generalises from them.

Usage::

    python -m corpusflow.selection.quality_data --shared ../shared/data --out models/quality_data
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from corpusflow.core.paths import resolve_path

KEYWORD_LISTS = (
    "pkg:resources/ngwords/hojichar/advertisement_keywords_ja.txt",
    "pkg:filters/wordlists/promo_ja.txt",
)
SOURCES = ("ja/kwdlc_leads.jsonl", "ja/abeja_cc_ja.jsonl")
EVAL_FILE = "mc4ja_quality_labels"


def load_keywords(paths: Iterable[str] = KEYWORD_LISTS) -> list[str]:
    words: list[str] = []
    for p in paths:
        with open(resolve_path(p), encoding="utf-8") as f:
            for line in f:
                w = line.strip()
                if w and not w.startswith("#"):
                    words.append(w)
    return sorted(set(words))


def chunks(text: str, min_chars: int = 300) -> Iterator[str]:
    """Consecutive non-empty lines joined until a chunk has ``min_chars`` characters."""
    buf: list[str] = []
    n = 0
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        buf.append(line)
        n += len(line)
        if n >= min_chars:
            yield "\n".join(buf)
            buf, n = [], 0
    if buf:
        yield "\n".join(buf)


def _read(path: Path) -> Iterator[dict]:
    if EVAL_FILE in path.name:  # belt and braces: the evaluation set never trains anything
        raise ValueError(f"{path}: refusing to build training data from the evaluation set")
    op = gzip.open if path.suffix == ".gz" else open
    with op(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def weak_labels(shared: Path, keywords: list[str], chunk_chars: int = 300) -> tuple[list[str], list[str]]:
    """(positives, negatives) from the KWDLC leads and ABEJA CC chunks under ``shared``."""
    pos: list[str] = []
    neg: list[str] = []
    texts: list[str] = [r["text"] for r in _read(shared / SOURCES[0])]
    for r in _read(shared / SOURCES[1]):
        texts.extend(chunks(r["text"], chunk_chars))
    for t in texts:
        (neg if any(k in t for k in keywords) else pos).append(t)
    return pos, neg


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", default="../shared/data", help="the shared data folder (default ../shared/data)")
    ap.add_argument("--out", required=True, help="output folder: positive.jsonl, negative.jsonl, summary.json")
    args = ap.parse_args(argv)
    shared = Path(args.shared)
    missing = [s for s in SOURCES if not (shared / s).is_file()]
    if missing:
        print(f"error: missing under {shared}: {', '.join(missing)}", file=sys.stderr)
        return 2
    kw = load_keywords()
    pos, neg = weak_labels(shared, kw)
    os.makedirs(args.out, exist_ok=True)
    for name, rows in (("positive", pos), ("negative", neg)):
        with open(os.path.join(args.out, f"{name}.jsonl"), "w", encoding="utf-8") as f:
            for t in rows:
                f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
    summary = {"positives": len(pos), "negatives": len(neg), "keywords": len(kw),
               "keyword_lists": list(KEYWORD_LISTS), "sources": list(SOURCES)}
    with open(os.path.join(args.out, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
    print(f"{len(pos)} positive, {len(neg)} negative texts ({len(kw)} keywords) -> {args.out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
