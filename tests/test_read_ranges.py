"""Byte-range reading (issue #8): the ranges of a file yield exactly the outcomes of the whole file."""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path

import pytest

from corpusflow.core.document import Document, ErrorRecord, Rejected
from corpusflow.io.config import SourceConfig
from corpusflow.io.readers import FileSpec, iter_file, plan_ranges
from tests.conftest import read_jsonl
from tests.helpers import fixture


def _key(out: Document | Rejected | ErrorRecord) -> tuple:
    if isinstance(out, Document):
        return ("doc", out.line, out.id, out.text)
    if isinstance(out, Rejected):
        return ("rejected", out.doc.line, out.reason)
    return ("error", out.offset, out.error_class)


def _lines() -> list[bytes]:
    """Real JA/EN records with the faults a crawl dump has, one JSON line each (or not)."""
    ja = read_jsonl(fixture("ja/kwdlc_leads.jsonl"), limit=40)
    en = read_jsonl(fixture("en/c4_sample.jsonl.gz"), limit=40)
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
def test_ranges_tile_the_file(tmp_path: Path, compress: str | None, parts: int) -> None:
    data = b"\n".join(_lines()) + b"\n"
    path = tmp_path / ("part.jsonl" + (".gz" if compress else ""))
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    spec = FileSpec("s", str(path), path.name, "jsonl")
    src = SourceConfig(name="s", paths=[str(path)])
    whole = [_key(o) for o in iter_file(spec, src, 300)]
    assert {k[0] for k in whole} == {"doc", "rejected", "error"}
    ranges = plan_ranges([spec], parts=parts, min_bytes=1, workers=parts)  # one range per worker
    assert len(ranges) == parts
    assert ranges[0][1] == 0 and ranges[-1][2] is None
    assert all(a[2] == b[1] for a, b in itertools.pairwise(ranges))
    assert _read_all(spec, src, ranges) == whole


def test_truncated_gzip_reported_once(tmp_path: Path) -> None:
    data = b"\n".join(_lines()) + b"\n"
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


def _sized_files(tmp_path: Path, sizes: list[int]) -> list[FileSpec]:
    """Plain JSONL files of the given byte sizes (content is irrelevant to the plan)."""
    specs = []
    for i, size in enumerate(sizes):
        path = tmp_path / f"part-{i}.jsonl"
        path.write_bytes(b"x" * size)
        specs.append(FileSpec("s", str(path), path.name, "jsonl"))
    return specs


def _loads(ranges: list[tuple[FileSpec, int, int | None]]) -> list[int]:
    sizes = {s.path: Path(s.path).stat().st_size for s, _lo, _hi in ranges}
    return [(hi if hi is not None else sizes[s.path]) - lo for s, lo, hi in ranges]


@pytest.mark.parametrize(
    ("sizes", "workers", "n_ranges", "max_spread"),
    [
        # 5 equal files, 2 workers: 15 ranges would be 8 against 7, 16 would be 4+3+3+3+3
        # (unequal); 10 ranges of 2 per file give every worker the same bytes.
        ([1000] * 5, 2, 10, 1.0),
        ([1000] * 5, 4, 20, 1.0),  # at least 4 per worker: 16 is unequal, 20 is even
        ([1000] * 4, 2, 8, 1.0),
        ([3000, 1000], 2, 8, 1.0),  # 6 + 2 ranges of 500 bytes
        ([1000] * 5, 1, 5, 1.0),  # one worker: whole files (fewest ranges)
    ],
)
def test_plan_balances_workers(tmp_path: Path, sizes: list[int], workers: int, n_ranges: int,
                               max_spread: float) -> None:
    specs = _sized_files(tmp_path, sizes)
    ranges = plan_ranges(specs, parts=16, min_bytes=1, workers=workers)
    assert len(ranges) == n_ranges and len(ranges) % workers == 0
    loads = _loads(ranges)
    assert sum(loads) == sum(sizes)
    assert max(loads) / min(loads) <= max_spread
    # any assignment of an equal number of ranges per worker is within a range of even
    per = len(ranges) // workers
    worst = sum(sorted(loads, reverse=True)[:per])
    assert worst == sum(sizes) / workers
    assert plan_ranges(specs, parts=16, min_bytes=1, workers=workers) == ranges  # deterministic


def test_plan_prefers_fewer_ranges_of_compressed_files(tmp_path: Path) -> None:
    """Each range of a .gz file decompresses it from the start: among plans that balance
    equally, the one with fewer ranges wins (and balance still wins over decompression)."""
    specs = []
    for i in range(5):
        path = tmp_path / f"part-{i}.jsonl.gz"
        data = b"".join(json.dumps({"id": f"{i}-{j}", "text": "x" * 50}).encode() + b"\n" for j in range(2000))
        path.write_bytes(gzip.compress(data, mtime=0))
        specs.append(FileSpec("s", str(path), path.name, "jsonl"))
    assert len(plan_ranges(specs, parts=16, min_bytes=1, workers=2)) == 10
    assert len(plan_ranges(specs, parts=16, min_bytes=1, workers=4)) == 20


def test_plan_respects_min_bytes_and_whole_files(tmp_path: Path) -> None:
    specs = _sized_files(tmp_path, [100, 5000])
    ranges = plan_ranges(specs, parts=16, min_bytes=1000, workers=2)
    loads = _loads(ranges)
    assert [r[0].file_key for r in ranges].count("part-0.jsonl") == 1  # below min_bytes: whole
    assert all(z >= 1000 for z, r in zip(loads, ranges, strict=True) if r[0].file_key == "part-1.jsonl")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], 1),
        (["--direct_running_mode=multi_processing", "--direct_num_workers=2"], 2),
        (["--direct_running_mode=multi_processing", "--direct_num_workers=4"], 4),
    ],
)
def test_local_workers_from_options(argv: list[str], expected: int) -> None:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    from corpusflow.stages.read import _local_workers

    p = beam.Pipeline(runner=FnApiRunner(), options=PipelineOptions([*argv, "--shared_filesystem=true"]))
    assert _local_workers(p) == expected
    # workers that do not share this machine: their count is unknown here
    p = beam.Pipeline(runner=FnApiRunner(), options=PipelineOptions([*argv, "--shared_filesystem=false"]))
    assert _local_workers(p) is None


def test_local_workers_is_unknown_for_other_runners() -> None:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.runners.portability.portable_runner import PortableRunner

    from corpusflow.stages.read import _local_workers

    p = beam.Pipeline(runner=PortableRunner(), options=PipelineOptions(["--direct_num_workers=4"]))
    assert _local_workers(p) is None


def test_unknown_worker_count_still_gets_many_equal_ranges(tmp_path: Path) -> None:
    """A distributed runner never splits a work item: keep at least `parts` equal ranges."""
    specs = _sized_files(tmp_path, [1000] * 5)
    ranges = plan_ranges(specs, parts=16, min_bytes=1)
    loads = _loads(ranges)
    assert len(ranges) == 20 and max(loads) == min(loads)
