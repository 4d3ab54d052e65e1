"""Damaged input files, built from real text: JSONL in every compression with one member (frame,
stream) per group of lines, Parquet with several row groups, WARC with one gzip member per
record; bad values for every field type; truncation and flipped bytes at chosen positions.

Everything here is deterministic given its arguments, so hypothesis can shrink failures.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"

#: Codecs and the extensions the readers know them by.
CODECS = {"none": "", "gz": ".gz", "bz2": ".bz2", "xz": ".xz", "zst": ".zst"}


def real_texts(n: int = 60) -> list[str]:
    """``n`` real Japanese and English paragraphs from ../shared/data (KWDLC leads, C4)."""
    out: list[str] = []
    for rel, opener in (("ja/kwdlc_leads.jsonl", open), ("en/c4_sample.jsonl.gz", gzip.open)):
        with opener(SHARED_DATA / rel, "rt", encoding="utf-8") as f:  # type: ignore[operator]
            for line in f:
                if line.strip():
                    out.append(json.loads(line)["text"][:400])
                if len(out) >= (n + 1) // 2 * (1 + (rel.startswith("en"))):
                    break
    return out[:n]


def compress(data: bytes, codec: str) -> bytes:
    """One member/stream/frame of ``data`` (zstd with its content checksum)."""
    if codec == "none":
        return data
    if codec == "gz":
        return gzip.compress(data, mtime=0)
    if codec == "bz2":
        return bz2.compress(data)
    if codec == "xz":
        return lzma.compress(data)
    if codec == "zst":
        import zstandard

        return zstandard.ZstdCompressor(write_checksum=True).compress(data)
    raise ValueError(codec)


@dataclass
class Members:
    """A file of concatenated members: its bytes, each member's byte span, and the 1-based line
    numbers of the records each member holds."""

    data: bytes
    spans: list[tuple[int, int]]
    lines: list[list[int]]
    records: list[dict[str, Any]]  # every record, in line order

    def boundaries(self) -> list[int]:
        return [0, *(end for _s, end in self.spans)]

    def member_of(self, pos: int) -> int:
        return next(i for i, (s, e) in enumerate(self.spans) if s <= pos < e)


def jsonl_members(records: list[dict[str, Any]], codec: str, per_member: int) -> Members:
    """JSONL of ``records`` (one per line), compressed ``per_member`` lines to a member."""
    out = bytearray()
    spans, lines = [], []
    for start in range(0, len(records), per_member):
        chunk = records[start : start + per_member]
        raw = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in chunk).encode()
        blob = compress(raw, codec)
        spans.append((len(out), len(out) + len(blob)))
        lines.append(list(range(start + 1, start + len(chunk) + 1)))
        out += blob
    return Members(bytes(out), spans, lines, records)


def flip(data: bytes, pos: int, mask: int = 0xFF) -> bytes:
    """``data`` with the byte at ``pos`` XORed with ``mask``."""
    return data[:pos] + bytes([data[pos] ^ mask]) + data[pos + 1 :]


def cut(data: bytes, pos: int) -> bytes:
    return data[:pos]


# ------------------------------------------------------------------------------------------------
# Bad values, one per field type: (name, raw JSONL line, expected outcome class)
# ------------------------------------------------------------------------------------------------

#: Each is one line of a JSONL file mapped with ``fields: {text: text, id: id, url: url,
#: meta: [m]}``; the third item is the class of the one outcome it must give ("Document",
#: "Rejected" or the error class).
BAD_LINES: list[tuple[str, bytes, str]] = [
    ("text_missing", b'{"id": "a", "body": "x"}', "MissingField"),
    ("text_null", b'{"id": "a", "text": null}', "MissingField"),
    ("text_number", b'{"id": "a", "text": 12}', "BadFieldType"),
    ("text_list", b'{"id": "a", "text": ["x"]}', "BadFieldType"),
    ("text_object", b'{"id": "a", "text": {"x": 1}}', "BadFieldType"),
    ("text_lone_surrogate", b'{"id": "a", "text": "ok \\ud800 then"}', "UnencodableValue"),
    ("id_lone_surrogate", b'{"id": "a\\udc80", "text": "ok"}', "UnencodableValue"),
    ("url_lone_surrogate", b'{"id": "a", "text": "ok", "url": "http://x/\\ud83d"}', "UnencodableValue"),
    ("meta_lone_surrogate", b'{"id": "a", "text": "ok", "m": {"k": "\\udfff"}}', "UnencodableValue"),
    ("surrogate_pair_is_fine", b'{"id": "a", "text": "emoji \\ud83d\\ude00"}', "Document"),
    ("id_bool", b'{"id": true, "text": "ok"}', "BadFieldType"),
    ("id_list", b'{"id": [1], "text": "ok"}', "BadFieldType"),
    ("id_float", b'{"id": 1.5, "text": "ok"}', "Document"),
    ("id_huge_int", b'{"id": ' + b"9" * 5000 + b', "text": "ok"}', "ValueError"),
    ("meta_huge_int", b'{"id": "a", "text": "ok", "m": ' + b"1" * 5000 + b"}", "ValueError"),
    ("meta_nan", b'{"id": "a", "text": "ok", "m": NaN}', "Document"),
    ("url_number", b'{"id": "a", "text": "ok", "url": 5}', "Document"),
    ("invalid_utf8", b'{"id": "a", "text": "\xff\xfe"}', "UnicodeDecodeError"),
    ("cut_json", b'{"id": "a", "text": "ok', "JSONDecodeError"),
    ("deep_nesting", b'{"id": "a", "text": "ok", "m": ' + b"[" * 100000 + b"]" * 100000 + b"}", "JSONDecodeError"),
    ("not_an_object", b'"just a string"', "NotAnObject"),
    ("nul_in_text", b'{"id": "a", "text": "a\\u0000b"}', "Document"),
    ("too_long", b'{"id": "a", "text": "' + b"x" * 3000 + b'"}', "Rejected"),
]


def outcome_class(out: Any) -> str:
    from corpusflow.core.document import ErrorRecord

    return out.error_class if isinstance(out, ErrorRecord) else type(out).__name__


# ------------------------------------------------------------------------------------------------
# Parquet
# ------------------------------------------------------------------------------------------------


def parquet_bytes(texts: list[str], *, row_group_rows: int, compression: str = "zstd",
                  binary_text: bool = False, extra: dict[str, Any] | None = None) -> bytes:
    """A Parquet file with ``id``, ``text`` (string or binary) and optional extra columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols: dict[str, Any] = {
        "id": pa.array([f"p{i}" for i in range(len(texts))]),
        "text": pa.array([t.encode() for t in texts], pa.binary()) if binary_text else pa.array(texts),
    }
    for name, arr in (extra or {}).items():
        cols[name] = arr
    buf = io.BytesIO()
    pq.write_table(pa.table(cols), buf, row_group_size=row_group_rows, compression=compression)
    return buf.getvalue()


def parquet_page_region(data: bytes) -> tuple[int, int]:
    """Byte span of the column data (everything before the footer) of a Parquet file."""
    footer_len = int.from_bytes(data[-8:-4], "little")
    return 4, len(data) - 8 - footer_len


# ------------------------------------------------------------------------------------------------
# WARC
# ------------------------------------------------------------------------------------------------


def warc_bytes(pages: list[str], *, gz: bool = True) -> tuple[bytes, list[tuple[int, int]]]:
    """A WARC of one ``response`` per page (HTML of real paragraphs), one gzip member each;
    returns the bytes and each record's byte span."""
    import html

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=gz)
    spans = []
    for i, text in enumerate(pages):
        body = f"<html lang='ja'><body><article><p>{html.escape(text)}</p></article></body></html>".encode()
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        rec = w.create_warc_record(f"https://example.jp/{i}", "response", payload=io.BytesIO(body),
                                   http_headers=http, warc_headers_dict={
                                       "WARC-Record-ID": f"<urn:uuid:00000000-0000-4000-8000-{i:012d}>",
                                       "WARC-Date": "2024-04-25T16:24:44Z"})
        start = buf.tell()
        w.write_record(rec)
        spans.append((start, buf.tell()))
    return buf.getvalue(), spans
