"""Deterministic, atomic Parquet writing.

Same rows + schema + options -> byte-identical file (no timestamps are written; the writer's
``created_by`` string only changes with the pyarrow version). A file appears under its final
name only when complete (:func:`corpusflow.io.filesystems.write_bytes_atomic`).
"""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from corpusflow.io.filesystems import write_bytes_atomic


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
