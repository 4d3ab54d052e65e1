"""Explicit pyarrow schemas of every Parquet file corpusflow writes, and row converters.

A schema is never inferred from the data (a field that first appears late cannot fail a write
at the end of a job). ``metadata`` and ``signals`` are JSON strings because their keys depend on
the input and the filter profile; readers decode them with ``json.loads``.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from corpusflow.core.document import Document, Duplicate, ErrorRecord, Rejected

_DOC_FIELDS = [
    pa.field("id", pa.string(), nullable=False),
    pa.field("text", pa.string(), nullable=False),
    pa.field("source", pa.string(), nullable=False),
    pa.field("lang", pa.string()),
    pa.field("lang_score", pa.float64()),
    pa.field("url", pa.string()),
    pa.field("n_chars", pa.int64(), nullable=False),
    pa.field("metadata", pa.string(), nullable=False),
    pa.field("signals", pa.string(), nullable=False),
    pa.field("file", pa.string(), nullable=False),
    pa.field("line", pa.int64(), nullable=False),
]

#: ``documents``: every kept document of a run without a mixture (``data/``).
DOC_SCHEMA = pa.schema(_DOC_FIELDS)

REJECTED_SCHEMA = pa.schema(
    [
        *_DOC_FIELDS[:7],
        pa.field("stage", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("detail", pa.string(), nullable=False),
        *_DOC_FIELDS[7:],
    ]
)

DUPLICATE_SCHEMA = pa.schema(
    [
        *_DOC_FIELDS[:7],
        pa.field("stage", pa.string(), nullable=False),
        pa.field("kept_id", pa.string(), nullable=False),
        pa.field("cluster_size", pa.int64(), nullable=False),
        pa.field("similarity", pa.float32()),
        *_DOC_FIELDS[7:],
    ]
)

#: ``pool``: every kept document of a run with a mixture, with its token count (``pool/``):
#: what ``corpusflow mix`` re-mixes without re-reading anything.
POOL_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("lang", pa.string()),
        pa.field("lang_score", pa.float64()),
        pa.field("url", pa.string()),
        pa.field("n_chars", pa.int64(), nullable=False),
        pa.field("n_bytes", pa.int64(), nullable=False),
        pa.field("n_tokens", pa.int32(), nullable=False),
        pa.field("metadata", pa.string(), nullable=False),
        pa.field("signals", pa.string(), nullable=False),
        pa.field("file", pa.string(), nullable=False),
        pa.field("line", pa.int64(), nullable=False),
    ]
)

#: ``training rows``: the mixture's output (``data/`` of a mixture run): one row per selected copy
#: of a pool document, ``(id, copy)`` unique; url, score and signals are in ``metadata`` (JSON).
TRAIN_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("lang", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("n_chars", pa.int64(), nullable=False),
        pa.field("n_tokens", pa.int32(), nullable=False),
        pa.field("copy", pa.int16(), nullable=False),
        pa.field("metadata", pa.string(), nullable=False),
    ]
)

#: ``errors``: input records that could not be read or processed (``errors/``).
ERROR_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("file", pa.string(), nullable=False),
        pa.field("offset", pa.int64(), nullable=False),
        pa.field("offset_kind", pa.string(), nullable=False),
        pa.field("stage", pa.string(), nullable=False),
        pa.field("error_class", pa.string(), nullable=False),
        pa.field("message", pa.string(), nullable=False),
        pa.field("head", pa.string(), nullable=False),
        pa.field("doc_id", pa.string()),
    ]
)


def _dumps(obj: dict[str, Any]) -> str:
    if not obj:
        return "{}"  # what json.dumps gives for an empty dict, without the encoder (most rows)
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def doc_row(doc: Document) -> dict[str, Any]:
    return {
        "id": doc.id,
        "text": doc.text,
        "source": doc.source,
        "lang": doc.lang,
        "lang_score": doc.lang_score,
        "url": doc.url,
        "n_chars": len(doc.text),
        "metadata": _dumps(doc.meta),
        "signals": _dumps(doc.signals),
        "file": doc.file,
        "line": doc.line,
    }


def rejected_row(rec: Rejected, *, with_text: bool = True) -> dict[str, Any]:
    row = doc_row(rec.doc)
    if not with_text:
        row["text"] = ""
    row.update(stage=rec.stage, reason=rec.reason, detail=rec.detail)
    return row


def duplicate_row(rec: Duplicate) -> dict[str, Any]:
    row = doc_row(rec.doc)
    row.update(stage=rec.stage, kept_id=rec.kept_id, cluster_size=rec.cluster_size,
               similarity=rec.similarity)
    return row


def error_row(rec: ErrorRecord) -> dict[str, Any]:
    return {
        "source": rec.source,
        "file": rec.file,
        "offset": rec.offset,
        "offset_kind": rec.offset_kind,
        "stage": rec.stage,
        "error_class": rec.error_class,
        "message": rec.message,
        "head": rec.head,
        "doc_id": rec.doc_id,
    }


def row_to_document(row: dict[str, Any]) -> Document:
    """Rebuild a Document from a row of a DOC_SCHEMA file (e.g. to re-mix an earlier output)."""
    line = row.get("line")
    return Document(
        id=row["id"], text=row["text"], source=row["source"], lang=row.get("lang"),
        lang_score=row.get("lang_score"), url=row.get("url"),
        meta=json.loads(row.get("metadata") or "{}"), signals=json.loads(row.get("signals") or "{}"),
        file=row.get("file") or "", line=-1 if line is None else int(line),
    )


def shard_name(prefix: str, index: int, count: int) -> str:
    """File name of shard ``index`` of ``count`` (``train-00003-of-00010.parquet``)."""
    return f"{prefix}-{index:05d}-of-{count:05d}.parquet"


#: Every output table: (name, where its files are, schema). The README's schema section is
#: :func:`schemas_markdown` of this table (``tests/test_readme.py`` checks they agree).
TABLES: tuple[tuple[str, str, str, pa.Schema], ...] = (
    ("documents", "data/train-*.parquet", "a run without a mixture", DOC_SCHEMA),
    ("training rows", "data/train-*.parquet", "a run or `mix` with a mixture; `(id, copy)` is unique",
     TRAIN_SCHEMA),
    ("pool", "pool/pool-*.parquet", "a run with a mixture: every kept document", POOL_SCHEMA),
    ("rejected", "rejected/rejected-*.parquet", "documents dropped by a stage", REJECTED_SCHEMA),
    ("duplicates", "duplicates/duplicates-*.parquet", "documents dropped as duplicates", DUPLICATE_SCHEMA),
    ("errors", "errors/errors-*.parquet", "records that could not be read or processed", ERROR_SCHEMA),
)


def schemas_markdown() -> str:
    """One Markdown table per output table: column, Arrow type, whether it can be null."""
    out: list[str] = []
    for name, where, when, schema in TABLES:
        out.append(f"**{name}**: `OUTPUT/{where}`, {when}\n")
        out.append("| column | type | null |")
        out.append("|---|---|---|")
        out.extend(f"| `{f.name}` | {f.type} | {'yes' if f.nullable else 'no'} |" for f in schema)
        out.append("")
    return "\n".join(out).rstrip() + "\n"
