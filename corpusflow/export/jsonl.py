"""JSONL training shards (plain, ``.gz`` or ``.zst``), dolma-style, with deterministic bytes.

One JSON object per line with the shard row's columns in schema order (a training shard:
``id``, ``text``, ``lang``, ``source``, ``lang_score``, ``url``, ``n_chars``, ``n_tokens``,
``copy``, ``metadata``, ``signals``; a run without a mixture: its document columns),
``metadata`` as one object (struct fields and ``extra`` merged) and ``signals`` decoded, plus
``token_ids`` when asked for (the shard's stored ids when it has them); ``ensure_ascii=False``, one ``\\n`` per record.
gzip is written with mtime 0 and no file name, zstd at a fixed level without threads, so the
same rows give the same bytes.
"""

from __future__ import annotations

import gzip
import io
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, cast

from corpusflow.core.schemas import metadata_dict

COMPRESSIONS = ("zst", "gz", "none")
SUFFIX = {"zst": ".jsonl.zst", "gz": ".jsonl.gz", "none": ".jsonl"}
ZSTD_LEVEL = 3
GZIP_LEVEL = 6

#: Columns whose Parquet value is a JSON string (``metadata`` before it was a struct); JSONL
#: carries them decoded (objects).
JSON_COLUMNS = ("metadata", "signals")


def record(row: dict[str, Any], token_ids: Sequence[int] | None = None) -> dict[str, Any]:
    """A shard row as a JSONL record: its columns in order, JSON-string columns decoded, the
    ``metadata`` struct as the document's metadata object (its non-null fields and the keys of
    ``extra``, :func:`corpusflow.core.schemas.metadata_dict`)."""
    out: dict[str, Any] = {}
    for k, v in row.items():
        if k == "metadata":
            v = metadata_dict(v)
        elif k in JSON_COLUMNS and isinstance(v, str):
            v = json.loads(v) if v else {}
        out[k] = v
    if token_ids is not None:
        out["token_ids"] = [int(t) for t in token_ids]
    return out


def encode_record(rec: dict[str, Any]) -> bytes:
    return (json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8", "surrogatepass")


class JsonlWriter:
    """Writes records to ``path`` (compression from :data:`COMPRESSIONS`), atomically on close."""

    def __init__(self, path: str | os.PathLike[str], compression: str) -> None:
        if compression not in COMPRESSIONS:
            raise ValueError(f"compression must be one of {COMPRESSIONS}, not {compression!r}")
        self.path = os.fspath(path)
        self.compression = compression
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path + ".tmp"
        self._raw = open(self._tmp, "wb")  # noqa: SIM115 - closed in close()
        self._out: IO[bytes]
        if compression == "gz":
            self._out = cast(IO[bytes], gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0,
                                                      compresslevel=GZIP_LEVEL))
        elif compression == "zst":
            import zstandard  # lazy: heavy or optional dependency, loaded only when used

            cctx = zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=0, write_checksum=True)
            self._out = cctx.stream_writer(self._raw, closefd=False)
        else:
            self._out = self._raw
        self.records = 0
        self.bytes_uncompressed = 0

    def write(self, rec: dict[str, Any]) -> None:
        data = encode_record(rec)
        self._out.write(data)
        self.records += 1
        self.bytes_uncompressed += len(data)

    def write_many(self, recs: Iterable[dict[str, Any]]) -> None:
        buf = io.BytesIO()
        n = 0
        for rec in recs:
            buf.write(encode_record(rec))
            n += 1
        data = buf.getvalue()
        self._out.write(data)
        self.records += n
        self.bytes_uncompressed += len(data)

    def close(self) -> dict[str, Any]:
        if self._out is not self._raw:
            self._out.close()
        self._raw.close()
        os.replace(self._tmp, self.path)
        return {"path": self.path, "records": self.records, "bytes_uncompressed": self.bytes_uncompressed,
                "bytes": os.path.getsize(self.path)}

    def abort(self) -> None:
        try:
            if self._out is not self._raw:
                self._out.close()
        finally:
            self._raw.close()
            if os.path.exists(self._tmp):
                os.remove(self._tmp)

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            self.abort()
        elif not self._raw.closed:
            self.close()


def read_jsonl(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Records of a JSONL file written by :class:`JsonlWriter` (compression from the suffix)."""
    path = os.fspath(path)
    if path.endswith(".zst"):
        import zstandard  # lazy: heavy or optional dependency, loaded only when used

        with open(path, "rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as z:
            yield from _lines(io.BufferedReader(z))  # type: ignore[arg-type]
    elif path.endswith(".gz"):
        with gzip.open(path, "rb") as f:
            yield from _lines(cast(IO[bytes], f))
    else:
        with open(path, "rb") as f:
            yield from _lines(f)


def _lines(f: IO[bytes]) -> Iterator[dict[str, Any]]:
    for line in f:
        if line.strip():
            yield json.loads(line)
