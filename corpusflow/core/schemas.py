"""Explicit pyarrow schemas of every Parquet file corpusflow writes, and row converters.

A schema is never inferred from the data (a field that first appears late cannot fail a write
at the end of a job).

``metadata`` is a struct (:data:`METADATA_TYPE`, the same type in every table that has it): one
typed field per key that corpusflow itself writes (WARC/HTTP provenance of the reader, what
HTML extraction found, the id rewrite, dedup's ``cluster_size``, tag-mode ``filter_reasons``,
decontamination hits) and ``extra``, a JSON object string holding every other key: the input's
own pass-through fields (``sources[].fields.meta``), whose names and types only the input knows.
A known key whose value does not have its field's type stays in ``extra``, so
:func:`metadata_struct` and :func:`metadata_dict` are exact inverses. ``signals`` stays a JSON
string: its keys are the filter profile's measurements (rule names, plugins, word lists), a
different set per config.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from corpusflow.core.document import Document, Duplicate, ErrorRecord, Rejected

#: One decontamination hit (:meth:`corpusflow.decontam.match.Hit.record`).
DECONTAM_HIT_TYPE = pa.struct([
    pa.field("benchmark", pa.string()),
    pa.field("item", pa.string()),
    pa.field("field", pa.string()),
    pa.field("overlap", pa.float64()),
    pa.field("ngrams", pa.int64()),
    pa.field("spans", pa.list_(pa.list_(pa.int64()))),
    pa.field("items_sharing_text", pa.int64()),
    pa.field("excerpt", pa.string()),
])

#: Keys corpusflow writes into a document's metadata, with their Arrow types and who writes them.
METADATA_FIELDS: tuple[tuple[str, pa.DataType, str], ...] = (
    ("original_id", pa.string(), "the input id when `ids` rewrote it"),
    ("cluster_size", pa.int64(), "dedup: documents in the kept document's cluster (1: no copy)"),
    ("filter_reasons", pa.list_(pa.string()), "filters in tag mode: the reasons that would drop it"),
    ("decontam", pa.list_(DECONTAM_HIT_TYPE), "decontam cut/tag: the benchmark hits"),
    ("content_kind", pa.string(), "reader/extract: `html` or `text`"),
    ("extractor", pa.string(), "extract: the HTML extractor used"),
    ("title", pa.string(), "extract: the HTML title"),
    ("html_lang", pa.string(), "extract: the HTML `lang` attribute"),
    ("ja_prefilter", pa.string(), "extract: why the Japanese pre-filter let the page through"),
    ("html_bytes", pa.int64(), "WARC: size of the HTML payload"),
    ("charset", pa.string(), "WARC: the charset the HTML was decoded with"),
    ("charset_source", pa.string(), "WARC: where the charset came from"),
    ("charset_replaced", pa.int64(), "WARC: characters replaced while decoding"),
    ("content_type", pa.string(), "WARC: the HTTP/record Content-Type"),
    ("content_language", pa.string(), "WARC: the HTTP Content-Language"),
    ("http_status", pa.int64(), "WARC: the HTTP status"),
    ("warc_date", pa.string(), "WARC: WARC-Date"),
    ("warc_offset", pa.int64(), "WARC: byte offset of the record"),
    ("warc_truncated", pa.string(), "WARC: WARC-Truncated"),
    ("warc_identified_payload_type", pa.string(), "WARC: WARC-Identified-Payload-Type"),
    ("warc_refers_to", pa.string(), "WARC: WARC-Refers-To"),
    ("cc_languages", pa.string(), "WARC: WARC-Identified-Content-Language"),
)
#: The struct of the ``metadata`` column: :data:`METADATA_FIELDS` and ``extra`` (JSON object).
METADATA_TYPE = pa.struct(
    [pa.field(k, t) for k, t, _ in METADATA_FIELDS] + [pa.field("extra", pa.string(), nullable=False)]
)


def _dumps(obj: dict[str, Any]) -> str:
    if not obj:
        return "{}"  # what json.dumps gives for an empty dict, without the encoder (most rows)
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and -(1 << 63) <= v < (1 << 63)


def _is_float(v: Any) -> bool:
    return (isinstance(v, float) and math.isfinite(v)) or _is_int(v)


def _is_str_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _is_span_list(v: Any) -> bool:
    return isinstance(v, list) and all(
        isinstance(s, (list, tuple)) and all(_is_int(x) for x in s) for s in v)


_HIT_CHECKS: dict[str, Callable[[Any], bool]] = {
    "benchmark": _is_str, "item": _is_str, "field": _is_str, "overlap": _is_float, "ngrams": _is_int,
    "spans": _is_span_list, "items_sharing_text": _is_int, "excerpt": _is_str,
}


def _is_hit_list(v: Any) -> bool:
    return isinstance(v, list) and all(
        isinstance(h, dict) and all(k in _HIT_CHECKS and _HIT_CHECKS[k](x) for k, x in h.items()) for h in v)


_CHECKS: dict[pa.DataType, Callable[[Any], bool]] = {
    pa.string(): _is_str, pa.int64(): _is_int, pa.float64(): _is_float, pa.list_(pa.string()): _is_str_list,
    pa.list_(DECONTAM_HIT_TYPE): _is_hit_list,
}
_KNOWN: dict[str, Callable[[Any], bool]] = {k: _CHECKS[t] for k, t, _ in METADATA_FIELDS}


def metadata_struct(meta: dict[str, Any] | None) -> dict[str, Any]:
    """A document's ``meta`` as a :data:`METADATA_TYPE` value: known keys with a value of their
    field's type as fields (absent ones are null), every other key in ``extra`` (JSON)."""
    if not meta:
        return {"extra": "{}"}
    out: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for k, v in meta.items():
        check = _KNOWN.get(k)
        if check is not None and v is not None and check(v):
            out[k] = v
        else:
            extra[k] = v
    out["extra"] = _dumps(extra)
    return out


def metadata_dict(value: dict[str, Any] | str | None) -> dict[str, Any]:
    """The inverse of :func:`metadata_struct`: a ``metadata`` value read back (a struct as a dict,
    or the JSON string of outputs written before the struct) as a document's ``meta``."""
    if not value:
        return {}
    if isinstance(value, str):
        return dict(json.loads(value))
    out = {k: v for k, v in value.items() if k != "extra" and v is not None}
    if out.get("decontam"):
        out["decontam"] = [{k: v for k, v in h.items() if v is not None} for h in out["decontam"]]
    extra = value.get("extra")
    if extra and extra != "{}":
        out.update(json.loads(extra))
    return out


def check_lang_score(score: float | None) -> float | None:
    """``score`` as written to ``lang_score``: a float in [0, 1], or None; anything else is a bug
    upstream (language identification clamps its probabilities) and raises ``ValueError``."""
    if score is None:
        return None
    s = float(score)
    if not 0.0 <= s <= 1.0:  # also refuses NaN
        raise ValueError(f"lang_score {score!r} is outside [0, 1]")
    return s


_DOC_FIELDS = [
    pa.field("id", pa.string(), nullable=False),
    pa.field("text", pa.string(), nullable=False),
    pa.field("source", pa.string(), nullable=False),
    pa.field("lang", pa.string()),
    pa.field("lang_score", pa.float64()),
    pa.field("url", pa.string()),
    pa.field("n_chars", pa.int64(), nullable=False),
    pa.field("metadata", METADATA_TYPE, nullable=False),
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
        pa.field("metadata", METADATA_TYPE, nullable=False),
        pa.field("signals", pa.string(), nullable=False),
        pa.field("file", pa.string(), nullable=False),
        pa.field("line", pa.int64(), nullable=False),
    ]
)

#: ``training rows``: the mixture's output (``data/`` of a mixture run): one row per selected copy
#: of a pool document, ``(id, copy)`` unique; the pool's columns but ``n_bytes``, ``file`` and
#: ``line``, with the same types (``lang`` is ``und`` rather than null).
TRAIN_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("lang", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("lang_score", pa.float64()),
        pa.field("url", pa.string()),
        pa.field("n_chars", pa.int64(), nullable=False),
        pa.field("n_tokens", pa.int32(), nullable=False),
        pa.field("copy", pa.int16(), nullable=False),
        pa.field("metadata", METADATA_TYPE, nullable=False),
        pa.field("signals", pa.string(), nullable=False),
    ]
)

#: The optional last column of training rows and pool rows with
#: ``stages.mixture.count.keep_token_ids``: the ids the counting pass produced (no BOS/EOS; with
#: ``add_eos`` the count is ``len(token_ids) + 1``), so an export need not tokenise again.
TOKEN_IDS_FIELD = pa.field("token_ids", pa.list_(pa.uint32()), nullable=False)
TRAIN_SCHEMA_TOKEN_IDS = TRAIN_SCHEMA.append(TOKEN_IDS_FIELD)
POOL_SCHEMA_TOKEN_IDS = POOL_SCHEMA.append(TOKEN_IDS_FIELD)

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


def doc_row(doc: Document) -> dict[str, Any]:
    return {
        "id": doc.id,
        "text": doc.text,
        "source": doc.source,
        "lang": doc.lang,
        "lang_score": check_lang_score(doc.lang_score),
        "url": doc.url,
        "n_chars": len(doc.text),
        "metadata": metadata_struct(doc.meta),
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
        meta=metadata_dict(row.get("metadata")), signals=json.loads(row.get("signals") or "{}"),
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


def _type_name(t: pa.DataType) -> str:
    return "struct (see `metadata` below)" if t == METADATA_TYPE else str(t)


def schemas_markdown() -> str:
    """One Markdown table per output table (column, Arrow type, whether it can be null), then the
    fields of the ``metadata`` struct and the optional ``token_ids`` column."""
    out: list[str] = []
    for name, where, when, schema in TABLES:
        out.append(f"**{name}**: `OUTPUT/{where}`, {when}\n")
        out.append("| column | type | null |")
        out.append("|---|---|---|")
        out.extend(f"| `{f.name}` | {_type_name(f.type)} | {'yes' if f.nullable else 'no'} |" for f in schema)
        out.append("")
    out.append("**metadata** (struct, same type in every table that has it): a field per key corpusflow "
               "writes (null when absent), `extra` for every other key (JSON object string)\n")
    out.append("| field | type | written by |")
    out.append("|---|---|---|")
    out.extend(f"| `{k}` | {t} | {why} |" for k, t, why in METADATA_FIELDS)
    out.append("| `extra` | string | the input's own fields (`sources[].fields.meta`) and any key of another "
               "type, as a JSON object |")
    out.append("")
    out.append(f"**token_ids** (`{TOKEN_IDS_FIELD.type}`, not null): last column of training rows and pool "
               "rows when `stages.mixture.count.keep_token_ids` is on: the ids of the counting pass, which "
               "`corpusflow export` then uses instead of tokenising again\n")
    return "\n".join(out).rstrip() + "\n"
