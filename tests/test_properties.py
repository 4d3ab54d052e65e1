"""Property-based tests (hypothesis): readers and text functions on arbitrary unicode and bytes.

No exception escapes, and every input record ends in exactly one outcome.
"""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpusflow.core.document import Document, ErrorRecord, Rejected
from corpusflow.io.config import SourceConfig
from corpusflow.io.readers import FileSpec, iter_file
from corpusflow.text.normalize import normalize_text

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _read(path: Path, max_chars: int = 10_000):
    spec = FileSpec("s", str(path), path.name, "jsonl")
    return list(iter_file(spec, SourceConfig(name="s", paths=[str(path)]), max_chars))


@SETTINGS
@given(st.lists(st.binary(max_size=300).filter(lambda b: b"\n" not in b), max_size=20))
def test_jsonl_reader_on_arbitrary_bytes(tmp_path_factory, lines: list[bytes]) -> None:
    path = tmp_path_factory.mktemp("h") / "x.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    out = _read(path)
    records = [ln for ln in lines if ln.strip()]
    assert len(out) == len(records)
    assert all(isinstance(o, (Document, Rejected, ErrorRecord)) for o in out)


@SETTINGS
@given(st.lists(st.dictionaries(st.sampled_from(["id", "text", "url", "x"]),
                                st.one_of(st.text(), st.integers(), st.none(), st.lists(st.text(), max_size=2))),
                max_size=15))
def test_jsonl_reader_on_arbitrary_records(tmp_path_factory, rows: list[dict]) -> None:
    path = tmp_path_factory.mktemp("h") / "r.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = _read(path, max_chars=50)
    assert len(out) == len(rows)
    for row, o in zip(rows, out, strict=True):
        if isinstance(o, Document):
            assert o.text == row["text"] and len(o.text) <= 50
        elif isinstance(o, Rejected):
            assert o.reason == "input.too_long" and len(row["text"]) > 50
        else:
            assert isinstance(o, ErrorRecord)
            bad_text = not isinstance(row.get("text"), str)
            bad_id = isinstance(row.get("id"), (list, bool))
            assert bad_text or bad_id, (row, o)


@SETTINGS
@given(st.text(max_size=2000))
def test_normalize_never_raises_and_is_idempotent(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once
    assert "\r" not in once and "\x00" not in once


@SETTINGS
@given(st.text(max_size=500))
def test_langid_never_raises(langid_model, text: str) -> None:
    from corpusflow.text.langid import identify

    res = identify(langid_model, text, languages={"ja", "en"}, min_score=0.5, min_score_by_lang={})
    assert isinstance(res.lang, str) and 0.0 <= res.score <= 1.0 + 1e-3
