"""Real snippets for the filter tests, loaded by id from ../shared/data (no tests in here).

Every text used by the filter tests is a genuine document of one of the shared data sets
(mC4-ja labelled snippets, Japanese Wikipedia paragraphs, KWDLC web leads, ABEJA Common Crawl,
C4, ABC news, raw Common Crawl), picked by id, so a reader can look each one up.
"""

from __future__ import annotations

import functools
import gzip
import json
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _read(rel: str) -> list[dict]:
    path = SHARED_DATA / rel
    if not path.is_file():
        pytest.skip(f"../shared/data/{rel} is not available")
    op = gzip.open if rel.endswith(".gz") else open
    with op(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@functools.cache
def _table(rel: str, key: str | None) -> dict:
    rows = _read(rel)
    if key is None:
        return dict(enumerate(rows))
    return {r[key]: r for r in rows}


def mc4(doc_id: str) -> str:
    """mC4-ja labelled snippet (ja/mc4ja_quality_labels.dev.jsonl) by id."""
    return _table("ja/mc4ja_quality_labels.dev.jsonl", "id")[doc_id]["text"]


def mc4_label(doc_id: str) -> str:
    return _table("ja/mc4ja_quality_labels.dev.jsonl", "id")[doc_id]["label"]


def wiki(i: int) -> str:
    """Japanese Wikipedia paragraph (ja/ja_wiki_paragraphs.jsonl.gz) by line number (0-based)."""
    return _table("ja/ja_wiki_paragraphs.jsonl.gz", None)[i]["text"]


def kwdlc(i: int) -> str:
    """KWDLC web-page lead (ja/kwdlc_leads.jsonl) by line number (0-based)."""
    return _table("ja/kwdlc_leads.jsonl", None)[i]["text"]


def abeja(i: int) -> str:
    """ABEJA Common Crawl page (ja/abeja_cc_ja.jsonl) by line number (0-based)."""
    return _table("ja/abeja_cc_ja.jsonl", None)[i]["text"]


def cc(doc_id: str) -> str:
    """Raw multilingual Common Crawl extraction (en/cc_main_raw_multilingual.jsonl.gz) by id."""
    return _table("en/cc_main_raw_multilingual.jsonl.gz", "id")[doc_id]["text"]


def abc(i: int) -> str:
    """ABC news story (en/abc_news.jsonl.gz) by line number (0-based)."""
    return _table("en/abc_news.jsonl.gz", None)[i]["text"]


def c4(i: int) -> str:
    """C4 English document (en/c4_sample.jsonl.gz) by line number (0-based)."""
    return _table("en/c4_sample.jsonl.gz", None)[i]["text"]


def labelled() -> list[tuple[str, bool]]:
    """(text, is_bad) of the whole labelled mC4-ja dev set."""
    return [(r["text"], r["label"] == "bad") for r in _read("ja/mc4ja_quality_labels.dev.jsonl")]


BUILTIN_MODULES = ("corpusflow.filters.rules_text", "corpusflow.filters.rules_ja", "corpusflow.filters.rules_en")


def builtin_rules() -> list[str]:
    """Registry names of the built-in rules (plug-ins registered elsewhere are left out)."""
    from corpusflow.filters.base import FILTERS
    from corpusflow.filters.catalog import ensure_registered

    ensure_registered()
    return [n for n in FILTERS.names() if FILTERS.get(n).__module__ in BUILTIN_MODULES]
