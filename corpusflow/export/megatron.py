"""Megatron-LM indexed datasets (``PREFIX.bin`` + ``PREFIX.idx``), written and read without torch.

The format is Megatron-Core's ``IndexedDataset`` (formerly ``MMapIndexedDataset``,
``megatron/core/datasets/indexed_dataset.py``), version 1:

``PREFIX.bin``: the token ids of every sequence, concatenated, in the dataset's dtype
(little-endian, no header).

``PREFIX.idx``, little-endian::

    b"MMIDIDX\\x00\\x00"              9 bytes, the header
    uint64 1                          the index version
    uint8  dtype code                 1 uint8, 2 int8, 3 int16, 4 int32, 5 int64, 6 float64,
                                      7 float32, 8 uint16
    uint64 sequence_count             S
    uint64 document_count             D + 1 (the length of document_indices)
    int32[S]  sequence_lengths        tokens per sequence
    int64[S]  sequence_pointers       byte offset of each sequence in PREFIX.bin
    int64[D+1] document_indices       0, then the sequence count after each document

(multimodal datasets add an int8 mode per sequence; text datasets never do.) Like Megatron's
``tools/preprocess_data.py`` without ``--split-sentences``, every document is one sequence
whose last token is the end-of-document token, so ``document_indices == [0, 1, ..., D]``. The
dtype follows Megatron's ``DType.optimal_dtype``: uint16 when the vocabulary has fewer than
65,500 ids, int32 otherwise (both LLM-jp-3, 98,452, and Llama-3, 128,256, are int32).

Everything is a function of the documents given: the same documents give the same bytes.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

INDEX_HEADER = b"MMIDIDX\x00\x00"
INDEX_VERSION = 1

#: Megatron-Core's ``DType`` codes.
DTYPE_CODES: dict[np.dtype[Any], int] = {
    np.dtype(np.uint8): 1,
    np.dtype(np.int8): 2,
    np.dtype(np.int16): 3,
    np.dtype(np.int32): 4,
    np.dtype(np.int64): 5,
    np.dtype(np.float64): 6,
    np.dtype(np.float32): 7,
    np.dtype(np.uint16): 8,
}
DTYPES_BY_CODE: dict[int, np.dtype[Any]] = {code: dt for dt, code in DTYPE_CODES.items()}

#: ``DType.optimal_dtype``: below this vocabulary size token ids fit uint16.
UINT16_VOCAB_LIMIT = 65500


def optimal_dtype(vocab_size: int | None) -> np.dtype[Any]:
    """The dtype Megatron picks for a vocabulary: uint16 below 65,500 ids, else int32."""
    if vocab_size is not None and vocab_size < UINT16_VOCAB_LIMIT:
        return np.dtype(np.uint16)
    return np.dtype(np.int32)


def bin_path(prefix: str | os.PathLike[str]) -> str:
    return f"{os.fspath(prefix)}.bin"


def idx_path(prefix: str | os.PathLike[str]) -> str:
    return f"{os.fspath(prefix)}.idx"


class IndexedDatasetWriter:
    """Writes one indexed dataset, one document (= one sequence) per :meth:`add_document`.

    Files are written under temporary names and renamed by :meth:`close`, so a prefix whose
    ``.idx`` exists is complete. Use as a context manager; an exception removes both files.
    """

    def __init__(self, prefix: str | os.PathLike[str], dtype: np.dtype[Any] | type) -> None:
        self.prefix = os.fspath(prefix)
        self.dtype = np.dtype(dtype)
        if self.dtype not in DTYPE_CODES:
            raise ValueError(f"dtype {self.dtype} has no Megatron code")
        self._info = np.iinfo(self.dtype) if self.dtype.kind in "iu" else None
        Path(self.prefix).parent.mkdir(parents=True, exist_ok=True)
        self._bin_tmp = bin_path(self.prefix) + ".tmp"
        self._bin = open(self._bin_tmp, "wb")  # noqa: SIM115 - closed in close()/abort()
        self._lengths: list[int] = []
        self.tokens = 0

    def add_document(self, ids: np.ndarray | Sequence[int]) -> None:
        """Append one document (its token ids, end-of-document token included)."""
        arr = np.asarray(ids)
        if arr.ndim != 1:
            raise ValueError("a document is a 1-D sequence of token ids")
        if arr.size and self._info is not None and (arr.min() < self._info.min or arr.max() > self._info.max):
            raise ValueError(f"token id out of range for {self.dtype}: {int(arr.min())}..{int(arr.max())}")
        if arr.size > np.iinfo(np.int32).max:
            raise ValueError("a sequence longer than 2^31-1 tokens cannot be indexed")
        self._bin.write(arr.astype(self.dtype, copy=False).tobytes(order="C"))
        self._lengths.append(int(arr.size))
        self.tokens += int(arr.size)

    def add_documents(self, flat_ids: np.ndarray, lengths: np.ndarray) -> None:
        """Append many documents at once: ``flat_ids`` is their ids concatenated, ``lengths``
        the number of ids of each (faster than one :meth:`add_document` per document)."""
        flat = np.asarray(flat_ids)
        lengths = np.asarray(lengths, dtype=np.int64)
        if int(lengths.sum()) != flat.size:
            raise ValueError(f"lengths add up to {int(lengths.sum())}, not to the {flat.size} ids given")
        if flat.size and self._info is not None and (flat.min() < self._info.min or flat.max() > self._info.max):
            raise ValueError(f"token id out of range for {self.dtype}: {int(flat.min())}..{int(flat.max())}")
        self._bin.write(flat.astype(self.dtype, copy=False).tobytes(order="C"))
        self._lengths.extend(lengths.tolist())
        self.tokens += int(flat.size)

    @property
    def documents(self) -> int:
        return len(self._lengths)

    def close(self) -> dict[str, Any]:
        """Finish both files; returns ``{prefix, documents, tokens, dtype}``."""
        self._bin.close()
        lengths = np.asarray(self._lengths, dtype=np.int32)
        write_index(idx_path(self.prefix) + ".tmp", lengths, np.arange(len(lengths) + 1, dtype=np.int64), self.dtype)
        os.replace(self._bin_tmp, bin_path(self.prefix))
        os.replace(idx_path(self.prefix) + ".tmp", idx_path(self.prefix))
        return {"prefix": self.prefix, "documents": len(lengths), "tokens": self.tokens, "dtype": self.dtype.name}

    def abort(self) -> None:
        self._bin.close()
        for p in (self._bin_tmp, idx_path(self.prefix) + ".tmp"):
            if os.path.exists(p):
                os.remove(p)

    def __enter__(self) -> IndexedDatasetWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            self.abort()
        elif not self._bin.closed:
            self.close()


def write_index(path: str, sequence_lengths: np.ndarray, document_indices: np.ndarray,
                dtype: np.dtype[Any]) -> None:
    """Write an ``.idx`` file (Megatron-Core's ``_IndexWriter`` layout, text datasets)."""
    lengths = np.ascontiguousarray(sequence_lengths, dtype="<i4")
    pointers = np.zeros(len(lengths), dtype="<i8")
    if len(lengths) > 1:
        np.cumsum(lengths[:-1].astype(np.int64) * np.dtype(dtype).itemsize, out=pointers[1:])
    doc_idx = np.ascontiguousarray(document_indices, dtype="<i8")
    with open(path, "wb") as f:
        f.write(INDEX_HEADER)
        f.write(struct.pack("<Q", INDEX_VERSION))
        f.write(struct.pack("<B", DTYPE_CODES[np.dtype(dtype)]))
        f.write(struct.pack("<Q", len(lengths)))
        f.write(struct.pack("<Q", len(doc_idx)))
        f.write(lengths.tobytes(order="C"))
        f.write(pointers.tobytes(order="C"))
        f.write(doc_idx.tobytes(order="C"))


@dataclass(frozen=True)
class IndexedDataset:
    """A small reader of the format above (no torch): what the tests and the export's own
    read-back check use; ``bench/bench_export.py --verify-megatron`` also reads every export
    with Megatron-Core's reader."""

    prefix: str
    dtype: np.dtype[Any]
    sequence_lengths: np.ndarray
    sequence_pointers: np.ndarray
    document_indices: np.ndarray
    _bin: np.ndarray

    @classmethod
    def open(cls, prefix: str | os.PathLike[str]) -> IndexedDataset:
        prefix = os.fspath(prefix)
        with open(idx_path(prefix), "rb") as f:
            raw = f.read()
        if raw[: len(INDEX_HEADER)] != INDEX_HEADER:
            raise ValueError(f"{idx_path(prefix)}: not a Megatron index (bad header)")
        off = len(INDEX_HEADER)
        (version,) = struct.unpack_from("<Q", raw, off)
        if version != INDEX_VERSION:
            raise ValueError(f"{idx_path(prefix)}: index version {version}, expected {INDEX_VERSION}")
        (code,) = struct.unpack_from("<B", raw, off + 8)
        seq_count, doc_count = struct.unpack_from("<QQ", raw, off + 9)
        off += 9 + 16
        lengths = np.frombuffer(raw, dtype="<i4", count=seq_count, offset=off)
        off += 4 * seq_count
        pointers = np.frombuffer(raw, dtype="<i8", count=seq_count, offset=off)
        off += 8 * seq_count
        doc_idx = np.frombuffer(raw, dtype="<i8", count=doc_count, offset=off)
        off += 8 * doc_count
        if off != len(raw):
            raise ValueError(f"{idx_path(prefix)}: {len(raw) - off} bytes after the document indices")
        dtype = DTYPES_BY_CODE[code]
        size = os.path.getsize(bin_path(prefix))
        data = (np.memmap(bin_path(prefix), dtype=dtype, mode="r") if size
                else np.zeros(0, dtype=dtype))
        expected = int(lengths.astype(np.int64).sum()) * dtype.itemsize
        if size != expected:
            raise ValueError(f"{bin_path(prefix)}: {size} bytes, the index describes {expected}")
        return cls(prefix, dtype, lengths, pointers, doc_idx, data)

    def __len__(self) -> int:
        return len(self.sequence_lengths)

    def __getitem__(self, i: int) -> np.ndarray:
        start = int(self.sequence_pointers[i]) // self.dtype.itemsize
        return np.asarray(self._bin[start : start + int(self.sequence_lengths[i])])

    @property
    def tokens(self) -> int:
        return int(self.sequence_lengths.astype(np.int64).sum())

    def documents(self) -> Iterable[np.ndarray]:
        """Token ids of each document (its sequences concatenated)."""
        for a, b in zip(self.document_indices[:-1], self.document_indices[1:], strict=True):
            parts = [self[i] for i in range(int(a), int(b))]
            yield np.concatenate(parts) if parts else np.zeros(0, dtype=self.dtype)


def data_path_args(entries: Sequence[tuple[int | float, str]]) -> str:
    """``weight prefix weight prefix ...``: the value of Megatron's ``--data-path`` (also the
    content of a ``--data-args-path`` file). Entries with weight 0 are left out (Megatron
    rejects an empty dataset in a blend)."""
    parts = []
    for weight, prefix in entries:
        if weight <= 0:
            continue
        if any(c.isspace() for c in prefix):
            raise ValueError(f"a Megatron data prefix cannot contain whitespace: {prefix!r}")
        parts.append(f"{weight} {prefix}")
    return " ".join(parts)
