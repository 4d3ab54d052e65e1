"""Pool and training-shard rows: explicit schemas, row tuples, tables, routing keys (no Beam).

The *pool* (``OUTPUT/pool/``) is every document that survived filters and dedup, with its
token count: everything ``corpusflow mix`` needs to build a new mixture without re-reading raw
data. The *training shards* (``OUTPUT/data/train-XXXXX-of-YYYYY.parquet``) hold the selected
copies, globally shuffled.

Inside Beam a document travels as a plain tuple (cheap to encode) in :data:`POOL_COLUMNS`
order. Shuffle keys: copy ``j`` of a document gets ``order = stable_hash64("mix.order", source,
id, j, seed)`` and goes to shard ``(order * N) >> 64`` (range partitioning of the key space), so
each shard holds a contiguous key range, rows are sorted by key inside a shard, and reading
the shards in order gives the same global order whatever N is (docs/design.md#mixture-allocation). Copies of a
document get independent keys, so they land in different shards and positions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import pyarrow as pa
from xxhash import xxh3_64_intdigest

from corpusflow.core.schemas import POOL_SCHEMA, TRAIN_SCHEMA

POOL_DIR = "pool"
POOL_META = "_pool.json"
POOL_PREFIX = "pool"
TRAIN_PREFIX = "train"
POOL_FORMAT_VERSION = 1

POOL_COLUMNS = tuple(POOL_SCHEMA.names)
(P_ID, P_TEXT, P_SOURCE, P_LANG, P_LANG_SCORE, P_URL, P_N_CHARS, P_N_BYTES, P_N_TOKENS,
 P_METADATA, P_SIGNALS, P_FILE, P_LINE) = range(len(POOL_COLUMNS))

_U64 = 1 << 64


def dumps(obj: Any) -> str:
    """Canonical JSON (sorted keys, no spaces): equal objects give equal bytes."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def order_key(seed: int, source: str, doc_id: str, copy: int) -> int:
    """Shuffle key of copy ``copy`` of a document; equal to
    ``stable_hash64("mix.order", source, doc_id, copy, seed=seed)`` (computed in one xxh3 call)."""
    return xxh3_64_intdigest(
        b"mix.order\x1f" + source.encode("utf-8", "surrogatepass") + b"\x1f"
        + doc_id.encode("utf-8", "surrogatepass") + b"\x1f" + str(copy).encode(),
        seed & 0xFFFFFFFFFFFFFFFF,
    )


def shard_of(key: int, num_shards: int) -> int:
    """Range partition of the 64-bit key space into ``num_shards`` equal parts."""
    return (key * num_shards) >> 64


def pool_row(
    doc_id: str, text: str, source: str, lang: str | None, lang_score: float | None, url: str | None,
    meta: dict[str, Any], signals: dict[str, Any], file: str, line: int, n_tokens: int,
) -> tuple[Any, ...]:
    return (
        doc_id, text, source, lang, None if lang_score is None else float(lang_score), url,
        len(text), len(text.encode("utf-8", "surrogatepass")), int(n_tokens),
        dumps(meta or {}), dumps(signals or {}), file or "", int(line),
    )


def train_metadata(row: Sequence[Any]) -> str:
    """The training row's ``metadata`` JSON: url, language score, pass-through meta, signals."""
    md: dict[str, Any] = {}
    if row[P_URL]:
        md["url"] = row[P_URL]
    if row[P_LANG_SCORE] is not None:
        md["lang_score"] = round(float(row[P_LANG_SCORE]), 4)
    meta = row[P_METADATA]
    if meta and meta != "{}":
        md["meta"] = json.loads(meta)
    sig = row[P_SIGNALS]
    if sig and sig != "{}":
        md["signals"] = json.loads(sig)
    return dumps(md)


def pool_table(rows: Sequence[Sequence[Any]]) -> pa.Table:
    cols: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [[] for _ in POOL_COLUMNS]
    return pa.Table.from_arrays(
        [pa.array(list(c), type=f.type) for c, f in zip(cols, POOL_SCHEMA, strict=True)], schema=POOL_SCHEMA
    )


def train_table(copies: Sequence[tuple[int, Sequence[Any]]], lang_of: Any = None) -> pa.Table:
    """Training rows from ``(copy_index, pool_row)`` pairs, in the given order."""
    n = len(copies)
    columns: list[list[Any]] = [[None] * n for _ in range(8)]
    ids, texts, langs, sources, n_chars, n_tokens, copy_ix, meta = columns
    for i, (j, r) in enumerate(copies):
        ids[i] = r[P_ID]
        texts[i] = r[P_TEXT]
        langs[i] = r[P_LANG] or "und"
        sources[i] = r[P_SOURCE]
        n_chars[i] = r[P_N_CHARS]
        n_tokens[i] = r[P_N_TOKENS]
        copy_ix[i] = j
        meta[i] = train_metadata(r)
    arrays = [ids, texts, langs, sources, n_chars, n_tokens, copy_ix, meta]
    return pa.Table.from_arrays(
        [pa.array(a, type=f.type) for a, f in zip(arrays, TRAIN_SCHEMA, strict=True)], schema=TRAIN_SCHEMA
    )


def table_to_pool_rows(table: pa.Table) -> Iterable[tuple[Any, ...]]:
    """Rows of a pool file as tuples in :data:`POOL_COLUMNS` order."""
    missing = [c for c in POOL_COLUMNS if c not in table.column_names]
    if missing:
        raise ValueError(f"not a corpusflow pool file: columns {missing} are missing")
    cols = [table.column(c).to_pylist() for c in POOL_COLUMNS]
    return zip(*cols, strict=True)
