"""Real snippets for the filter tests, loaded by id (no tests in here).

Every text used by the filter tests is a genuine document of one of the shared data sets
(mC4-ja labelled snippets, Japanese Wikipedia paragraphs, KWDLC web leads, ABEJA Common Crawl,
C4, ABC news, raw Common Crawl), picked by id or line number, so a reader can look each one up
in ../shared/data. The cited records ship in tests/fixtures/filter_snippets.jsonl.gz (rebuilt by
tests/fixtures/build_fixtures.py, which finds the citations in these tests), so the filter
tests run without ../shared; a newly cited record is missing until the fixtures are rebuilt.
"""

from __future__ import annotations

import functools
import gzip
import json

import pytest

from tests.helpers import FIXTURES, SHARED_DATA, SHARED_REASON

SNIPPETS = FIXTURES / "filter_snippets.jsonl.gz"


def _read(rel: str) -> list[dict]:
    path = SHARED_DATA / rel
    if not path.is_file():
        pytest.skip(SHARED_REASON)
    op = gzip.open if rel.endswith(".gz") else open
    with op(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@functools.cache
def _snippets() -> dict[str, dict]:
    out: dict[str, dict] = {}
    with gzip.open(SNIPPETS, "rt", encoding="utf-8") as f:
        for line in f:
            s = json.loads(line)
            out.setdefault(s["file"], {})[s["key"]] = s["record"]
    return out


class _Table:
    def __init__(self, rel: str) -> None:
        self.rel = rel

    def __getitem__(self, key: object) -> dict:
        try:
            return _snippets()[self.rel][key]
        except KeyError:
            raise KeyError(f"{self.rel} record {key!r} is not in {SNIPPETS.name}: run "
                           "python tests/fixtures/build_fixtures.py ../shared/data") from None


def _table(rel: str, key: str | None) -> _Table:
    """The cited records of ``rel``, by ``key`` (a field) or by line number when ``key`` is None."""
    return _Table(rel)


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
    """(text, is_bad) of the whole labelled mC4-ja dev set (from ../shared: mark the test
    ``shared_data``)."""
    return [(r["text"], r["label"] == "bad") for r in _read("ja/mc4ja_quality_labels.dev.jsonl")]


BUILTIN_MODULES = ("corpusflow.filters.rules_text", "corpusflow.filters.rules_ja", "corpusflow.filters.rules_en")


def builtin_rules() -> list[str]:
    """Registry names of the built-in rules (plug-ins registered elsewhere are left out)."""
    from corpusflow.filters.base import FILTERS
    from corpusflow.filters.catalog import ensure_registered

    ensure_registered()
    return [n for n in FILTERS.names() if FILTERS.get(n).__module__ in BUILTIN_MODULES]
