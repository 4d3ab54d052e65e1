"""Readers: every format and compression, field mappings on real data, and per-record errors."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpusflow.core.document import Document, ErrorRecord, Rejected
from corpusflow.io.config import FieldMapping, SourceConfig
from corpusflow.io.readers import FileSpec, detect_format, file_key, iter_file
from tests.conftest import read_jsonl, write_jsonl
from tests.helpers import fixture


def _read(path: Path, fields: FieldMapping | None = None, fmt: str = "auto", max_chars: int = 10**7):
    src = SourceConfig(name="s", paths=[str(path)], fields=fields or FieldMapping())
    spec = FileSpec("s", str(path), path.name, detect_format(str(path), fmt))
    return list(iter_file(spec, src, max_chars))


@pytest.mark.parametrize("compress", [None, "gz", "zst", "bz2"])
def test_jsonl_compressions(tmp_path: Path, compress: str | None) -> None:
    rows = read_jsonl(fixture("ja/kwdlc_leads.jsonl"), limit=50)
    ext = ".jsonl" + (f".{compress}" if compress else "")
    path = write_jsonl(tmp_path / f"part{ext}", rows, compress=compress)
    docs = _read(path)
    assert [d.id for d in docs] == [r["id"] for r in rows]
    assert [d.text for d in docs] == [r["text"] for r in rows]
    assert all(isinstance(d, Document) and d.line == i + 1 for i, d in enumerate(docs))


def test_parquet_reader_and_mapping(tmp_path: Path) -> None:
    rows = read_jsonl(fixture("ja/aozora_dev.jsonl.gz"))
    assert len(rows) >= 4
    table = pa.Table.from_pylist([{"doc_id": r["id"], "body": r["text"], "title": r["title"],
                                   "author": r["author"]} for r in rows])
    path = tmp_path / "aozora.parquet"
    pq.write_table(table, path, row_group_size=len(rows) // 2 - 1)  # several row groups, the last one short
    docs = _read(path, FieldMapping(text="body", id="doc_id", url=None, meta=["title", "author"]))
    assert [d.id for d in docs] == [r["id"] for r in rows]
    assert docs[3].meta == {"title": rows[3]["title"], "author": rows[3]["author"]}
    assert [d.line for d in docs] == list(range(len(rows)))


@pytest.mark.parametrize(
    ("relpath", "fields", "check"),
    [
        # ja wiki paragraphs have no id: ids are derived from source, file and line.
        ("ja/ja_wiki_paragraphs.jsonl.gz", FieldMapping(id=None, meta=["title"]),
         lambda d: d.id == "s/ja_wiki_paragraphs.jsonl.gz#L1" and "title" in d.meta),
        ("ja/abeja_cc_ja.jsonl", FieldMapping(id="sample_id", url="url"),
         lambda d: d.id == "1" and d.url.startswith("http")),
        ("en/c4_sample.jsonl.gz", FieldMapping(id=None, url="url", meta=["date"]),
         lambda d: d.url.startswith("http") and "date" in d.meta),
        ("en/cc_main_raw_multilingual.jsonl.gz", FieldMapping(meta=["created", "source"]),
         lambda d: d.meta["source"] and len(d.id) > 10),
        ("mixed/ja_react_docs.jsonl", FieldMapping(meta=["ja_char_ratio"]),
         lambda d: isinstance(d.meta["ja_char_ratio"], float)),
    ],
)
def test_field_mappings_on_real_files(relpath: str, fields: FieldMapping, check) -> None:
    out = _read(fixture(relpath), fields)
    docs = [o for o in out if isinstance(o, Document)]
    assert len(docs) == len(out) > 0
    assert check(docs[0])


def test_nested_field_mapping(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "n.jsonl", [{"content": {"body": "本文です。"}, "meta": {"url": "http://x.jp"}}])
    (doc,) = _read(path, FieldMapping(text="content.body", id=None, url="meta.url"))
    assert doc.text == "本文です。" and doc.url == "http://x.jp"


def test_malformed_records_become_errors(tmp_path: Path) -> None:
    good = read_jsonl(fixture("ja/kwdlc_leads.jsonl"), limit=3)
    import json

    lines = [
        json.dumps(good[0], ensure_ascii=False).encode(),
        json.dumps(good[1], ensure_ascii=False).encode()[:25],  # cut in half
        good[2]["text"].replace("\n", "").encode("shift_jis"),  # Shift_JIS in a UTF-8 file
        b'{"id": "no-text", "body": "x"}',  # missing text field
        b'{"id": "num", "text": 12}',  # wrong type
        b'["not", "an", "object"]',
        b"",  # blank line: not a record
        json.dumps(good[2], ensure_ascii=False).encode(),
    ]
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    out = _read(path)
    kinds = [(type(o).__name__, getattr(o, "error_class", None)) for o in out]
    assert kinds == [
        ("Document", None), ("ErrorRecord", "JSONDecodeError"), ("ErrorRecord", "UnicodeDecodeError"),
        ("ErrorRecord", "MissingField"), ("ErrorRecord", "BadFieldType"), ("ErrorRecord", "NotAnObject"),
        ("Document", None),
    ]
    err = out[1]
    assert err.offset == 2 and err.offset_kind == "line" and err.file == str(path) and err.head


def test_truncated_gzip_keeps_readable_part(tmp_path: Path) -> None:
    rows = read_jsonl(fixture("ja/kwdlc_leads.jsonl"), limit=2000)
    data = gzip.compress("".join(__import__("json").dumps(r, ensure_ascii=False) + "\n" for r in rows).encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    out = _read(path)
    docs = [o for o in out if isinstance(o, Document)]
    errors = [o for o in out if isinstance(o, ErrorRecord)]
    assert 100 < len(docs) < len(rows)
    assert len(errors) == 1 and errors[0].error_class == "TruncatedInput"
    assert errors[0].offset == len(docs) + 1 or errors[0].offset > len(docs)


def test_too_long_documents_are_rejected_not_truncated(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "long.jsonl", [{"id": "big", "text": "あ" * 5000}, {"id": "ok", "text": "短い。"}])
    out = _read(path, max_chars=1000)
    assert isinstance(out[0], Rejected) and out[0].reason == "input.too_long"
    assert '"n_chars": 5000' in out[0].detail
    assert isinstance(out[1], Document) and out[1].text == "短い。"


def test_parquet_with_another_schema_is_an_error_per_row(tmp_path: Path) -> None:
    path = tmp_path / "other.parquet"
    pq.write_table(pa.table({"content": ["a", "b", "c"]}), path)
    out = _read(path)
    assert len(out) == 3 and all(isinstance(o, ErrorRecord) and o.error_class == "SchemaMismatch" for o in out)
    assert "content" in out[0].message


def test_unreadable_file_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "gone.jsonl"
    spec = FileSpec("s", str(path), "gone.jsonl", "jsonl")
    out = list(iter_file(spec, SourceConfig(name="s", paths=[str(path)]), 100))
    assert len(out) == 1 and out[0].error_class == "Unreadable"


@pytest.mark.parametrize(
    ("path", "fmt"),
    [("a.jsonl", "jsonl"), ("a.jsonl.gz", "jsonl"), ("a.json.zst", "jsonl"), ("a.parquet", "parquet"),
     ("x.warc.gz", "warc"), ("CC-MAIN-1.warc.wet.gz", "wet")],
)
def test_detect_format(path: str, fmt: str) -> None:
    assert detect_format(path) == fmt


def test_detect_format_unknown_extension_names_allowed() -> None:
    with pytest.raises(ValueError, match="allowed: jsonl, parquet, warc, wet"):
        detect_format("data.csv")


def test_file_key_is_relative_to_glob_base() -> None:
    assert file_key("/data/crawl/2024/part-1.jsonl.gz", "/data/crawl/**/*.jsonl.gz") == "2024/part-1.jsonl.gz"
    assert file_key("s3://b/web/p.jsonl", "s3://b/web/*.jsonl") == "p.jsonl"


def test_every_reader_is_a_config_format_and_detection_follows_the_table() -> None:
    from corpusflow.io.config import INPUT_FORMATS
    from corpusflow.io.readers import READERS, detect_format

    assert set(INPUT_FORMATS) == {"auto", *READERS}
    for name, reader in READERS.items():
        for ext in reader.extensions:
            assert detect_format(f"crawl/part-0{ext}.gz") == name
