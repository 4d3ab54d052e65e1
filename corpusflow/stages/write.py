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
encoded payload, measured: docs/design.md#beam-offline); the shard writer decompresses one shard at a time.

Local runners: on Beam's DirectRunner/FnApiRunner (any running mode) the rows do not
go through Beam at all, so memory stays flat whatever the corpus size. Steps 2-3 become:

2'. each bundle appends its rows, with the four sort-key columns, to local Arrow IPC "run"
    files of about ``spill_bytes`` of text each (in ``$CORPUSFLOW_SPILL_DIR`` or the system temp
    directory; only ``{path, rows, bytes}`` of each run enters Beam), and ``N`` is computed from
    the runs' sizes exactly as above;
3'. the writer of shard ``i`` memory-maps every run, reads its hash column, takes the rows with
    ``hash % N == i``, sorts them by the same key with Arrow, and writes the same Parquet bytes;
    the run files are deleted when every shard is written.

Peak memory is then one spill buffer plus one shard, instead of the whole corpus (measured in
docs/scaling.md). Distributed runners keep the shuffle (their shuffle spills to disk and the
workers do not share a file system); ``WriteShards(..., spill=True/False)`` forces either path.
"""

from __future__ import annotations

import math
import os
import pickle
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

import apache_beam as beam
import pyarrow as pa

from corpusflow.core.hashing import stable_hash64
from corpusflow.io.parquet import ShardFiles
from corpusflow.stages.spill import Spill


def _sort_key(row: dict[str, Any], kind: str, seed: int) -> tuple[Any, ...]:
    rid = row.get("id") or row.get("doc_id") or ""
    parts = (rid, row.get("source", ""), row.get("file", ""), row.get("line", row.get("offset", -1)))
    return (stable_hash64(kind, *map(str, parts), seed=seed), *map(str, parts))


def _row_size(row: dict[str, Any]) -> int:
    """UTF-8 bytes of the string values (8 per other value): what shard_max_bytes bounds."""
    return sum(len(v.encode("utf-8", "surrogatepass")) if isinstance(v, str) else 8 for v in row.values())


class _ToRowFn(beam.DoFn):
    """record -> (sort key, zstd(pickle(row)), UTF-8 size of the row)."""

    def __init__(self, to_row: Callable[[Any], dict[str, Any]], kind: str, seed: int) -> None:
        self._to_row, self._kind, self._seed = to_row, kind, seed

    def setup(self) -> None:
        import zstandard  # lazy: heavy or optional dependency, loaded only when used

        self._cctx = zstandard.ZstdCompressor(level=1)

    def process(self, rec: Any):
        row = self._to_row(rec)
        size = _row_size(row)
        blob = self._cctx.compress(pickle.dumps(row, protocol=pickle.HIGHEST_PROTOCOL))
        yield _sort_key(row, self._kind, self._seed), blob, size


class _WriteShardFn(beam.DoFn):
    def __init__(self, files: ShardFiles) -> None:
        self._files = files

    def setup(self) -> None:
        import zstandard  # lazy: heavy or optional dependency, loaded only when used

        self._dctx = zstandard.ZstdDecompressor()

    def process(self, element: tuple[int, Iterable[tuple[Any, bytes]]], n_shards: int):
        index, items = element
        rows = [pickle.loads(self._dctx.decompress(blob)) for _key, blob in sorted(items, key=lambda kv: kv[0])]
        yield self._files.write(index, n_shards, pa.Table.from_pylist(rows, schema=self._files.schema))


class ShardsWritten(NamedTuple):
    #: One ``{"file", "rows", "bytes", "sha256"}`` per shard that got rows.
    infos: beam.PCollection
    #: A single element: the number of shards (the ones that got no rows are written empty later).
    count: beam.PCollection


class WriteShards(beam.PTransform):
    """Writes records as sorted, size-bounded Parquet shards; returns :class:`ShardsWritten`.

    Args:
        directory: output folder (local path or object-store URL).
        prefix: file name prefix (``train``, ``rejected``, ``duplicates``, ``errors``).
        schema: the explicit pyarrow schema.
        to_row: converts one record to a row dict matching ``schema``.
    """

    def __init__(self, directory: str, prefix: str, schema: pa.Schema,
                 to_row: Callable[[Any], dict[str, Any]], *, seed: int, shard_max_bytes: int,
                 row_group_rows: int, compression: str = "zstd", compression_level: int = 3,
                 spill: bool | None = None, spill_bytes: int | None = None) -> None:
        super().__init__()
        self._files = ShardFiles(directory, prefix, schema, row_group_rows, compression, compression_level)
        self._prefix, self._schema, self._to_row = prefix, schema, to_row
        self._seed, self._max_bytes = seed, shard_max_bytes
        self._spill = spill
        # Text per spill run: the spill buffer's memory (~1.3x this as Arrow) and the number of
        # run files every shard writer memory-maps (total / spill_bytes).
        self._spill_bytes = spill_bytes or SPILL_BYTES

    def expand(self, records: beam.PCollection | tuple[beam.PCollection, ...]) -> ShardsWritten:
        # A tuple of PCollections (e.g. the rejected records of every stage) is written as one
        # set of shards. On local runners each part is spilled where it is produced and only
        # the run files are merged, so no record passes through the runner.
        parts = list(records) if isinstance(records, (tuple, list)) else [records]
        settings = Spill.of(parts[0].pipeline)
        spill = self._spill if self._spill is not None else settings.local
        if spill:
            return self._expand_spill(parts, settings)
        records = parts[0] if len(parts) == 1 else tuple(parts) | "FlattenParts" >> beam.Flatten()
        rows = records | "ToRow" >> beam.ParDo(_ToRowFn(self._to_row, self._prefix, self._seed))
        max_bytes = self._max_bytes
        n_shards = (
            rows
            | "Size" >> beam.Map(lambda t: t[2])
            | "TotalSize" >> beam.CombineGlobally(sum)
            | "ShardCount" >> beam.Map(lambda total: max(1, math.ceil(total / max_bytes)))
        )

        def assign(t: tuple[tuple[Any, ...], bytes, int], n: int) -> tuple[int, tuple[Any, ...]]:
            key, blob, _ = t
            return key[0] % n, (key, blob)

        infos = (
            rows
            | "AssignShard" >> beam.Map(assign, n=beam.pvalue.AsSingleton(n_shards))
            | "GroupByShard" >> beam.GroupByKey()
            | "WriteShard" >> beam.ParDo(
                _WriteShardFn(self._files),
                n_shards=beam.pvalue.AsSingleton(n_shards),
            )
        )
        return ShardsWritten(infos, n_shards)

    # ---- local-runner spill path (see the module docstring) ----
    def _expand_spill(self, parts: list[beam.PCollection], settings: Spill) -> ShardsWritten:
        spill_dir = settings.new_dir(f"spill-{self._prefix}")
        spills = [
            part | ("SpillRuns" if i == 0 else f"SpillRuns{i}") >> beam.ParDo(
                _SpillRunsFn(spill_dir, self._schema, self._to_row, self._prefix, self._seed, self._spill_bytes))
            for i, part in enumerate(parts)
        ]
        runs = spills[0] if len(spills) == 1 else tuple(spills) | "FlattenRuns" >> beam.Flatten()
        max_bytes = self._max_bytes
        n_shards = (
            runs
            | "RunSize" >> beam.Map(lambda r: r["bytes"])
            | "TotalSize" >> beam.CombineGlobally(sum)
            | "ShardCount" >> beam.Map(lambda total: max(1, math.ceil(total / max_bytes)))
        )
        infos = (
            n_shards
            | "ShardIndexes" >> beam.FlatMap(lambda n: range(n))
            | "SpreadShards" >> beam.Reshuffle()
            | "WriteFromRuns" >> beam.ParDo(
                _WriteFromRunsFn(self._files),
                runs=beam.pvalue.AsList(runs), n_shards=beam.pvalue.AsSingleton(n_shards),
            )
        )
        if not settings.keep_runs:  # else finish_run removes them with OUTPUT/_work/spill
            _ = (
                infos
                | "CountWritten" >> beam.combiners.Count.Globally()
                | "RemoveRuns" >> beam.Map(_remove_spill_dir, spill_dir=spill_dir)
            )
        return ShardsWritten(infos, n_shards)


SPILL_BYTES = 64 << 20
_KEY_FIELDS = [pa.field("__k0", pa.uint64(), nullable=False)] + [
    pa.field(f"__k{i}", pa.string(), nullable=False) for i in range(1, 5)
]
_KEY_NAMES = [f.name for f in _KEY_FIELDS]
_SPILL_BATCH_ROWS = 2000  # rows converted to Arrow at a time (Python dicts are ~3x larger)


def _spill_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema([*schema, *_KEY_FIELDS])


class _SpillRunsFn(beam.DoFn):
    """records -> Arrow IPC run files (rows + sort-key columns); emits {path, rows, bytes} per run."""

    def __init__(self, spill_dir: str, schema: pa.Schema, to_row: Callable[[Any], dict[str, Any]],
                 kind: str, seed: int, spill_bytes: int) -> None:
        self._dir, self._schema, self._to_row = spill_dir, schema, to_row
        self._kind, self._seed, self._spill_bytes = kind, seed, spill_bytes

    def setup(self) -> None:
        self._full_schema = _spill_schema(self._schema)
        self._reset()

    def _reset(self) -> None:
        self._rows: list[dict[str, Any]] = []
        self._keys: list[tuple[Any, ...]] = []
        self._tables: list[pa.Table] = []
        self._n = 0
        self._bytes = 0

    def start_bundle(self) -> None:
        self._reset()

    def process(self, rec: Any) -> Iterator[dict[str, Any]]:
        row = self._to_row(rec)
        self._rows.append(row)
        self._keys.append(_sort_key(row, self._kind, self._seed))
        self._n += 1
        self._bytes += _row_size(row)
        if len(self._rows) >= _SPILL_BATCH_ROWS:
            self._seal()
        if self._bytes >= self._spill_bytes:
            yield self._flush()

    def finish_bundle(self) -> Iterator[Any]:
        if self._n:
            from apache_beam.transforms.window import (  # lazy: heavy or optional dependency, loaded only when used
                GlobalWindow,  # lazy: heavy or optional dependency, loaded only when used
            )
            from apache_beam.utils.timestamp import (  # lazy: heavy or optional dependency, loaded only when used
                MIN_TIMESTAMP,  # lazy: heavy or optional dependency, loaded only when used
            )
            from apache_beam.utils.windowed_value import (  # lazy: heavy or optional dependency, loaded only when used
                WindowedValue,  # lazy: heavy or optional dependency, loaded only when used
            )

            yield WindowedValue(self._flush(), MIN_TIMESTAMP, [GlobalWindow()])

    def _seal(self) -> None:
        if not self._rows:
            return
        table = pa.Table.from_pylist(self._rows, schema=self._schema)
        cols = list(zip(*self._keys, strict=True))
        keys = [pa.array(cols[0], pa.uint64())] + [pa.array(c, pa.string()) for c in cols[1:]]
        self._tables.append(pa.Table.from_arrays([*table.columns, *keys], schema=self._full_schema))
        self._rows, self._keys = [], []

    def _flush(self) -> dict[str, Any]:
        self._seal()
        os.makedirs(self._dir, exist_ok=True)
        path = os.path.join(self._dir, f"run-{uuid.uuid4().hex}.arrow")
        with pa.OSFile(path + ".tmp", "wb") as sink, pa.ipc.new_file(sink, self._full_schema) as writer:
            for t in self._tables:
                writer.write_table(t)
        os.replace(path + ".tmp", path)
        info = {"path": path, "rows": self._n, "bytes": self._bytes}
        self._reset()
        return info


class _WriteFromRunsFn(beam.DoFn):
    """Shard index -> the shard's rows from every run (memory-mapped), sorted, written as Parquet."""

    def __init__(self, files: ShardFiles) -> None:
        self._files = files

    def process(self, index: int, runs: list[dict[str, Any]], n_shards: int) -> Iterator[dict[str, Any]]:
        import numpy as np  # lazy: heavy or optional dependency, loaded only when used

        pieces = []
        for run in sorted(runs, key=lambda r: r["path"]):
            with pa.memory_map(run["path"], "r") as src:
                table = pa.ipc.open_file(src).read_all()
                h = table.column("__k0").to_numpy()
                take = np.nonzero(h % np.uint64(n_shards) == np.uint64(index))[0]
                if take.size:
                    pieces.append(table.take(pa.array(take)))  # copies out of the mapping
        if pieces:  # no row hashed here: finish_run writes the empty shard
            yield self._write(index, n_shards, pieces)

    def _write(self, index: int, n_shards: int, pieces: list[pa.Table]) -> dict[str, Any]:
        import pyarrow.compute as pc  # lazy: heavy or optional dependency, loaded only when used

        table = pa.concat_tables(pieces)
        order = pc.sort_indices(table, sort_keys=[(k, "ascending") for k in _KEY_NAMES])
        table = table.drop_columns(_KEY_NAMES).take(order).combine_chunks()  # keys are not copied
        return self._files.write(index, n_shards, pa.Table.from_arrays(table.columns, schema=self._files.schema))


def _remove_spill_dir(_count: int, spill_dir: str) -> None:
    shutil.rmtree(spill_dir, ignore_errors=True)
