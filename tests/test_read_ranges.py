"""Byte-range reading (issue #8): the ranges of a file yield exactly the outcomes of the whole file."""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path

import pytest

from corpusflow.config import SourceConfig
from corpusflow.document import Document, ErrorRecord, Rejected
from corpusflow.io.readers import FileSpec, iter_file, plan_ranges
from tests.conftest import read_jsonl


def _key(out: Document | Rejected | ErrorRecord) -> tuple:
    if isinstance(out, Document):
        return ("doc", out.line, out.id, out.text)
    if isinstance(out, Rejected):
        return ("rejected", out.doc.line, out.reason)
    return ("error", out.offset, out.error_class)


def _lines(shared_data: Path) -> list[bytes]:
    """Real JA/EN records with the faults a crawl dump has, one JSON line each (or not)."""
    ja = read_jsonl(shared_data / "ja" / "kwdlc_leads.jsonl", limit=40)
    en = read_jsonl(shared_data / "en" / "c4_sample.jsonl.gz", limit=40)
    lines = []
    for i, (a, b) in enumerate(zip(ja, en, strict=True)):
        lines.append(json.dumps({"id": f"ja{i}", "text": a["text"]}, ensure_ascii=False).encode())
        lines.append(json.dumps({"id": f"en{i}", "text": b["text"]}).encode())
        if i == 5:
            lines.append(b"")  # a blank line: no record, but it is counted in line numbers
        if i == 9:
            lines.append(b'{"id": "cut", "text": "half a rec')  # cut JSON
        if i == 17:
            lines.append(b'{"id": "sjis", "text": "\x82\xa0"}')  # not UTF-8
        if i == 23:
            lines.append(json.dumps({"id": "long", "text": "長" * 500}, ensure_ascii=False).encode())
    return lines


def _read_all(spec: FileSpec, src: SourceConfig, ranges: list[tuple[FileSpec, int, int | None]]) -> list[tuple]:
    out = []
    for s, lo, hi in ranges:
        assert s == spec
        out.extend(_key(o) for o in iter_file(spec, src, 300, (lo, hi)))
    return out


@pytest.mark.parametrize("compress", [None, "gz"])
@pytest.mark.parametrize("parts", [1, 2, 3, 7, 40])
def test_ranges_tile_the_file(tmp_path: Path, shared_data: Path, compress: str | None, parts: int) -> None:
    data = b"\n".join(_lines(shared_data)) + b"\n"
    path = tmp_path / ("part.jsonl" + (".gz" if compress else ""))
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    spec = FileSpec("s", str(path), path.name, "jsonl")
    src = SourceConfig(name="s", paths=[str(path)])
    whole = [_key(o) for o in iter_file(spec, src, 300)]
    assert {k[0] for k in whole} == {"doc", "rejected", "error"}
    ranges = plan_ranges([spec], parts=parts, min_bytes=1)
    assert len(ranges) == parts
    assert ranges[0][1] == 0 and ranges[-1][2] is None
    assert all(a[2] == b[1] for a, b in itertools.pairwise(ranges))
    assert _read_all(spec, src, ranges) == whole


def test_truncated_gzip_reported_once(tmp_path: Path, shared_data: Path) -> None:
    data = b"\n".join(_lines(shared_data)) + b"\n"
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(gzip.compress(data, mtime=0)[:-900])
    spec = FileSpec("s", str(path), path.name, "jsonl")
    src = SourceConfig(name="s", paths=[str(path)])
    whole = [_key(o) for o in iter_file(spec, src, 300)]
    assert whole[-1][0] == "error" and whole[-1][2] == "TruncatedInput"
    for parts in (2, 5, 9):
        # the ISIZE trailer is gone, so split by compressed size: still tiles [0, None)
        ranges = plan_ranges([spec], parts=parts, min_bytes=1)
        assert _read_all(spec, src, ranges) == whole


def test_unreadable_file_reported_once(tmp_path: Path) -> None:
    path = tmp_path / "gone.jsonl"
    spec = FileSpec("s", str(path), path.name, "jsonl")
    src = SourceConfig(name="s", paths=[str(path)])
    ranges = [(spec, 0, 100), (spec, 100, 200), (spec, 200, None)]
    out = _read_all(spec, src, ranges)
    assert [k[2] for k in out] == ["Unreadable"]


def test_plan_keeps_small_and_other_files_whole(tmp_path: Path) -> None:
    small = tmp_path / "small.jsonl"
    small.write_text('{"text": "a"}\n')
    zst = tmp_path / "big.jsonl.zst"
    zst.write_bytes(b"x" * 100)
    specs = [FileSpec("s", str(small), small.name, "jsonl"), FileSpec("s", str(zst), zst.name, "jsonl"),
             FileSpec("s", "s3://bucket/x.jsonl", "x.jsonl", "jsonl")]
    assert plan_ranges(specs) == [(s, 0, None) for s in specs]
