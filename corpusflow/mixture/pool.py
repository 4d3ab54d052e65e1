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

import numpy as np
import pyarrow as pa
from xxhash import xxh3_64_intdigest

from corpusflow.core.schemas import (
    POOL_SCHEMA,
    POOL_SCHEMA_TOKEN_IDS,
    TRAIN_SCHEMA,
    TRAIN_SCHEMA_TOKEN_IDS,
    check_lang_score,
    metadata_struct,
)

POOL_DIR = "pool"
POOL_META = "_pool.json"
POOL_PREFIX = "pool"
TRAIN_PREFIX = "train"
#: 2: ``metadata`` is the METADATA_TYPE struct (1: a JSON string; still read).
POOL_FORMAT_VERSION = 2

POOL_COLUMNS = tuple(POOL_SCHEMA.names)
(P_ID, P_TEXT, P_SOURCE, P_LANG, P_LANG_SCORE, P_URL, P_N_CHARS, P_N_BYTES, P_N_TOKENS,
 P_METADATA, P_SIGNALS, P_FILE, P_LINE) = range(len(POOL_COLUMNS))
#: A row tuple has one more element after the POOL_COLUMNS: the token ids of the counting pass
#: as little-endian uint32 bytes (``stages.mixture.count.keep_token_ids``), or None.
P_TOKEN_IDS = len(POOL_COLUMNS)

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
    """A pool row tuple (``metadata`` as its struct value, ``signals`` as JSON, no token ids)."""
    return (
        doc_id, text, source, lang, check_lang_score(lang_score), url,
        len(text), len(text.encode("utf-8", "surrogatepass")), int(n_tokens),
        metadata_struct(meta), dumps(signals or {}), file or "", int(line), None,
    )


def ids_to_bytes(ids: Sequence[int]) -> bytes:
    """Token ids as the row tuple carries them (little-endian uint32)."""
    return np.asarray(ids, dtype="<u4").tobytes()


def _token_ids_array(blobs: Sequence[bytes | None]) -> pa.Array:
    """A ``list<uint32>`` array from per-row uint32 byte strings (built from one buffer)."""
    if any(b is None for b in blobs):
        raise ValueError("token_ids asked for, but a row has none (was it counted with keep_token_ids?)")
    lengths = np.fromiter((len(b) // 4 for b in blobs), dtype=np.int32, count=len(blobs))  # type: ignore[arg-type]
    offsets = np.zeros(len(blobs) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    values = np.frombuffer(b"".join(blobs), dtype="<u4")  # type: ignore[arg-type]
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values, type=pa.uint32()))


def pool_table(rows: Sequence[Sequence[Any]], token_ids: bool = False) -> pa.Table:
    """Pool rows as a table (:data:`POOL_SCHEMA`; with ``token_ids``, POOL_SCHEMA_TOKEN_IDS)."""
    n = len(POOL_COLUMNS)
    cols: list[list[Any]] = [[] for _ in POOL_COLUMNS]
    if rows:
        cols = [list(c) for c in zip(*rows, strict=True)][:n]
    arrays = [pa.array(c, type=f.type) for c, f in zip(cols, POOL_SCHEMA, strict=True)]
    schema = POOL_SCHEMA
    if token_ids:
        arrays.append(_token_ids_array([r[P_TOKEN_IDS] for r in rows]))
        schema = POOL_SCHEMA_TOKEN_IDS
    return pa.Table.from_arrays(arrays, schema=schema)


def train_table(copies: Sequence[tuple[int, Sequence[Any]]], token_ids: bool = False) -> pa.Table:
    """Training rows from ``(copy_index, pool_row)`` pairs, in the given order (with
    ``token_ids``: :data:`TRAIN_SCHEMA_TOKEN_IDS`, the rows' ids of the counting pass)."""
    n = len(copies)
    columns: list[list[Any]] = [[None] * n for _ in range(11)]
    ids, texts, langs, sources, scores, urls, n_chars, n_tokens, copy_ix, meta, signals = columns
    for i, (j, r) in enumerate(copies):
        ids[i] = r[P_ID]
        texts[i] = r[P_TEXT]
        langs[i] = r[P_LANG] or "und"
        sources[i] = r[P_SOURCE]
        scores[i] = r[P_LANG_SCORE]
        urls[i] = r[P_URL]
        n_chars[i] = r[P_N_CHARS]
        n_tokens[i] = r[P_N_TOKENS]
        copy_ix[i] = j
        meta[i] = r[P_METADATA]
        signals[i] = r[P_SIGNALS]
    arrays = [pa.array(a, type=f.type) for a, f in zip(columns, TRAIN_SCHEMA, strict=True)]
    schema = TRAIN_SCHEMA
    if token_ids:
        arrays.append(_token_ids_array([r[P_TOKEN_IDS] if len(r) > P_TOKEN_IDS else None for _, r in copies]))
        schema = TRAIN_SCHEMA_TOKEN_IDS
    return pa.Table.from_arrays(arrays, schema=schema)


def table_to_pool_rows(table: pa.Table) -> Iterable[tuple[Any, ...]]:
    """Rows of a pool file as tuples in :data:`POOL_COLUMNS` order."""
    missing = [c for c in POOL_COLUMNS if c not in table.column_names]
    if missing:
        raise ValueError(f"not a corpusflow pool file: columns {missing} are missing")
    cols = [table.column(c).to_pylist() for c in POOL_COLUMNS]
    if pa.types.is_string(table.schema.field("metadata").type):  # a pool of format version 1
        cols[P_METADATA] = [metadata_struct(json.loads(m or "{}")) for m in cols[P_METADATA]]
    if "token_ids" in table.column_names:
        arr = table.column("token_ids").combine_chunks()
        offsets = arr.offsets.to_numpy()
        values = arr.values.to_numpy(zero_copy_only=False).astype("<u4", copy=False)
        cols.append([values[offsets[i]:offsets[i + 1]].tobytes() for i in range(len(arr))])
    else:
        cols.append([None] * table.num_rows)
    return zip(*cols, strict=True)
