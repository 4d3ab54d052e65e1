"""Deterministic, atomic Parquet writing.

Same rows + schema + options -> byte-identical file (no timestamps are written; the writer's
``created_by`` string only changes with the pyarrow version). A file appears under its final
name only when complete (:func:`corpusflow.io.filesystems.write_bytes_atomic`).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from corpusflow.core.schemas import shard_name
from corpusflow.io.filesystems import join, write_bytes_atomic


def table_to_bytes(
    table: pa.Table, *, row_group_rows: int, compression: str = "zstd", compression_level: int | None = 3
) -> bytes:
    buf = io.BytesIO()
    codec = None if compression == "none" else compression
    level = compression_level if codec in ("zstd", "gzip") else None
    pq.write_table(
        table,
        buf,
        row_group_size=max(1, row_group_rows),
        compression=codec,
        compression_level=level,
        use_dictionary=["source", "lang", "stage", "reason", "offset_kind", "error_class"],
        write_statistics=True,
        store_schema=True,
    )
    return buf.getvalue()


def write_parquet_atomic(
    path: str,
    table: pa.Table,
    *,
    row_group_rows: int,
    compression: str = "zstd",
    compression_level: int | None = 3,
) -> dict[str, Any]:
    """Write ``table`` to ``path`` atomically; return rows, bytes and sha256 of the file."""
    data = table_to_bytes(
        table, row_group_rows=row_group_rows, compression=compression, compression_level=compression_level
    )
    write_bytes_atomic(path, data)
    return {"rows": table.num_rows, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


@dataclass(frozen=True)
class ShardFiles:
    """One set of sharded Parquet files, and the one way every output table is written.

    ``DIRECTORY/PREFIX-00003-of-00010.parquet``, each with the explicit ``schema`` (a table
    with another schema is refused: no silent casts), bounded row groups, the configured
    compression, written atomically; :meth:`write` returns ``{"file", "rows", "bytes",
    "sha256"}`` for the manifest. The Beam transforms decide which rows go to which shard (by
    keyed hash and size in :class:`corpusflow.stages.write.WriteShards`, by the mixture plan in
    :mod:`corpusflow.stages.mixture`) and in which order; this class writes them.
    """

    directory: str
    prefix: str
    schema: pa.Schema
    row_group_rows: int
    compression: str = "zstd"
    compression_level: int = 3

    def name(self, index: int, count: int) -> str:
        return shard_name(self.prefix, index, count)

    def write(self, index: int, count: int, table: pa.Table) -> dict[str, Any]:
        if not table.schema.equals(self.schema, check_metadata=False):
            raise ValueError(f"{self.prefix} shard {index}: table schema {table.schema} is not the "
                             f"declared schema {self.schema}")
        name = self.name(index, count)
        info = write_parquet_atomic(join(self.directory, name), table, row_group_rows=self.row_group_rows,
                                    compression=self.compression, compression_level=self.compression_level)
        return {"file": name, **info}

    def write_empty(self, index: int, count: int) -> dict[str, Any]:
        """A shard no row went to still exists, empty, so the set of files is complete."""
        return self.write(index, count, self.schema.empty_table())
