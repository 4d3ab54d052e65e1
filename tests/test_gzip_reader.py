"""GzipChunkReader (corpusflow/io/filesystems.py) gives the bytes gzip.GzipFile gives, and fails
where it fails: real JSONL.gz (the test fixtures and embedded sample, and the larger files of
../shared/data, written by other compressors), multi-member files, zero padding, damage."""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path

import pytest
from isal import isal_zlib

from corpusflow.io.filesystems import GzipChunkReader, inflate_backend
from tests.helpers import FIXTURES, SAMPLE, SHARED_DATA

BACKENDS = [zlib, isal_zlib]


def _ours(data: bytes, backend=None) -> bytes:
    return io.BufferedReader(GzipChunkReader(io.BytesIO(data), backend), buffer_size=1 << 20).read()


def _lines(data: bytes, backend=None) -> list[bytes]:
    return list(io.BufferedReader(GzipChunkReader(io.BytesIO(data), backend), buffer_size=1 << 20))


def test_isal_is_the_default_backend() -> None:
    assert inflate_backend() is isal_zlib


def _real_gz_files(where: str) -> list[Path]:
    if where == "shared":
        return sorted(SHARED_DATA.glob("*/*.jsonl.gz"))
    return sorted(FIXTURES.glob("*/*.jsonl.gz")) + sorted(SAMPLE.glob("*.jsonl.gz"))


@pytest.mark.parametrize("where", ["fixtures", pytest.param("shared", marks=pytest.mark.shared_data)])
@pytest.mark.parametrize("backend", BACKENDS)
def test_real_files_equal_gzip_module(where: str, backend) -> None:
    files = _real_gz_files(where)
    assert len(files) >= 3
    for path in files:
        data = path.read_bytes()
        with gzip.open(path, "rb") as f:
            expected = f.read()
        assert _ours(data, backend) == expected, path.name
        assert b"".join(_lines(data, backend)) == expected


MEMBER = gzip.compress("日本語の行\nEnglish line\n".encode() * 3000, mtime=0)


@pytest.mark.parametrize(
    "data",
    [
        b"",  # empty file
        MEMBER,
        MEMBER + MEMBER,  # multi-member (concatenated gzip, e.g. Common Crawl style)
        MEMBER + b"\0" * 7000,  # zero padding after the last member
        MEMBER + b"\0" * 10 + MEMBER,  # and between members
        gzip.compress(b"", mtime=0),  # a member with no data
    ],
)
@pytest.mark.parametrize("backend", BACKENDS)
def test_same_bytes_as_gzip_module(data: bytes, backend) -> None:
    assert _ours(data, backend) == gzip.decompress(data)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (MEMBER[:-100], EOFError),  # truncated inside the member
        (MEMBER[:-4] + b"\0\0\0\1", (zlib.error, isal_zlib.error)),  # wrong length in the trailer
        (b"this is not gzip, not at all, not even a header" * 3, (zlib.error, isal_zlib.error)),
        (MEMBER + b"trailing garbage, not a gzip member" * 3, (zlib.error, isal_zlib.error)),
    ],
)
@pytest.mark.parametrize("backend", BACKENDS)
def test_damaged_streams_fail(data: bytes, error, backend) -> None:
    with pytest.raises(error):
        _ours(data, backend)
    with pytest.raises((EOFError, OSError, zlib.error)):
        gzip.decompress(data)
