"""WriteShards: a PCollection of records -> size-bounded, deterministic Parquet shards.

How rows are placed (the same whatever the runner, bundle sizes or worker count):

1. Each record becomes a row (explicit schema) with a sort key
   ``stable_hash64(seed, kind, id, source, file, line)`` and its UTF-8 size.
2. The total size gives the shard count ``N = ceil(total_bytes / shard_max_bytes)``
   (a side input), so shards are bounded by ``shard_max_bytes`` on average; assignment is
   by the sort key, so shard sizes vary by a few percent around ``total / N``.
3. Rows are grouped by shard, sorted by key, and written as
   ``{prefix}-{i:05d}-of-{N:05d}.parquet`` atomically (temp name + rename). The sort by a
   keyed hash also shuffles documents, which is what a trainer wants.

Each shard emits ``{"file", "rows", "bytes", "sha256"}`` for the manifest.

Memory: rows travel through the shuffle as zstd-compressed pickles of the row dict (about a
third of the text size), because a local runner holds the whole shuffle in RAM (about 5x the
encoded payload, see shared/specs/beam.md §5); the shard writer decompresses one shard at a time.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable, Iterable
from typing import Any

import apache_beam as beam
import pyarrow as pa

from corpusflow.hashing import stable_hash64
from corpusflow.io.filesystems import join
from corpusflow.io.parquet import write_parquet_atomic


def shard_name(prefix: str, index: int, count: int) -> str:
    return f"{prefix}-{index:05d}-of-{count:05d}.parquet"


def _sort_key(row: dict[str, Any], kind: str, seed: int) -> tuple[Any, ...]:
    rid = row.get("id") or row.get("doc_id") or ""
    parts = (rid, row.get("source", ""), row.get("file", ""), row.get("line", row.get("offset", -1)))
    return (stable_hash64(kind, *map(str, parts), seed=seed), *map(str, parts))


class _ToRowFn(beam.DoFn):
    """record -> (sort key, zstd(pickle(row)), UTF-8 size of the row)."""

    def __init__(self, to_row: Callable[[Any], dict[str, Any]], kind: str, seed: int) -> None:
        self._to_row, self._kind, self._seed = to_row, kind, seed

    def setup(self) -> None:
        import zstandard

        self._cctx = zstandard.ZstdCompressor(level=1)

    def process(self, rec: Any):
        row = self._to_row(rec)
        size = sum(len(v.encode("utf-8", "surrogatepass")) if isinstance(v, str) else 8 for v in row.values())
        blob = self._cctx.compress(pickle.dumps(row, protocol=pickle.HIGHEST_PROTOCOL))
        yield _sort_key(row, self._kind, self._seed), blob, size


class _WriteShardFn(beam.DoFn):
    def __init__(self, directory: str, prefix: str, schema: pa.Schema, row_group_rows: int,
                 compression: str, compression_level: int) -> None:
        self._dir, self._prefix, self._schema = directory, prefix, schema
        self._rg, self._comp, self._level = row_group_rows, compression, compression_level

    def setup(self) -> None:
        import zstandard

        self._dctx = zstandard.ZstdDecompressor()

    def process(self, element: tuple[int, Iterable[tuple[Any, bytes]]], n_shards: int):
        index, items = element
        rows = [pickle.loads(self._dctx.decompress(blob)) for _key, blob in sorted(items, key=lambda kv: kv[0])]
        table = pa.Table.from_pylist(rows, schema=self._schema)
        name = shard_name(self._prefix, index, n_shards)
        info = write_parquet_atomic(join(self._dir, name), table, row_group_rows=self._rg,
                                    compression=self._comp, compression_level=self._level)
        yield {"file": name, **info}


class WriteShards(beam.PTransform):
    """Writes records as sorted, size-bounded Parquet shards; outputs one info dict per shard.

    Args:
        directory: output folder (local path or object-store URL).
        prefix: file name prefix (``train``, ``rejected``, ``duplicates``, ``errors``).
        schema: the explicit pyarrow schema.
        to_row: converts one record to a row dict matching ``schema``.
    """

    def __init__(self, directory: str, prefix: str, schema: pa.Schema,
                 to_row: Callable[[Any], dict[str, Any]], *, seed: int, shard_max_bytes: int,
                 row_group_rows: int, compression: str = "zstd", compression_level: int = 3) -> None:
        super().__init__()
        self._dir, self._prefix, self._schema, self._to_row = directory, prefix, schema, to_row
        self._seed, self._max_bytes = seed, shard_max_bytes
        self._rg, self._comp, self._level = row_group_rows, compression, compression_level
        self.shard_count: beam.PCollection | None = None

    def expand(self, records: beam.PCollection) -> beam.PCollection:
        rows = records | "ToRow" >> beam.ParDo(_ToRowFn(self._to_row, self._prefix, self._seed))
        max_bytes = self._max_bytes
        n_shards = (
            rows
            | "Size" >> beam.Map(lambda t: t[2])
            | "TotalSize" >> beam.CombineGlobally(sum)
            | "ShardCount" >> beam.Map(lambda total: max(1, math.ceil(total / max_bytes)))
        )
        self.shard_count = n_shards

        def assign(t: tuple[tuple[Any, ...], bytes, int], n: int) -> tuple[int, tuple[Any, ...]]:
            key, blob, _ = t
            return key[0] % n, (key, blob)

        return (
            rows
            | "AssignShard" >> beam.Map(assign, n=beam.pvalue.AsSingleton(n_shards))
            | "GroupByShard" >> beam.GroupByKey()
            | "WriteShard" >> beam.ParDo(
                _WriteShardFn(self._dir, self._prefix, self._schema, self._rg, self._comp, self._level),
                n_shards=beam.pvalue.AsSingleton(n_shards),
            )
        )
