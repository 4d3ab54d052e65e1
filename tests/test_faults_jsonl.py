"""Fault suite, JSONL: bad values in every field type, and compressed streams (gzip, bz2, xz,
zstd; one member per few lines) cut at every member boundary and inside members, and with
flipped bytes. Per file: every record gives exactly one outcome, and the bytes read equal the
file's size or an error record says which bytes were lost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpusflow.core.document import Document, ErrorRecord, Rejected
from corpusflow.core.schemas import ERROR_SCHEMA, error_row
from corpusflow.io.config import FieldMapping, SourceConfig
from corpusflow.io.filesystems import open_read
from corpusflow.io.readers import FileSpec, ReadStats, iter_file, plan_ranges
from tests.faults.generators import (
    BAD_LINES,
    CODECS,
    Members,
    cut,
    flip,
    jsonl_members,
    outcome_class,
    real_texts,
)

FIELDS = FieldMapping(text="text", id="id", url="url", meta=["m"])
LOSS = {"TruncatedInput", "CorruptInput", "IncompleteRead"}
FAST = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def position(o: object) -> int:
    if isinstance(o, ErrorRecord):
        return o.offset
    return o.doc.line if isinstance(o, Rejected) else o.line  # type: ignore[attr-defined]


def read(path: Path, byte_range=None) -> tuple[list, ReadStats]:
    src = SourceConfig(name="s", paths=[str(path)], fields=FIELDS)
    stats = ReadStats()
    out = list(iter_file(FileSpec("s", str(path), path.name, "jsonl"), src, 2000, byte_range, stats))
    return out, stats


@pytest.fixture(scope="module")
def records(shared_data: Path) -> list[dict]:
    return [{"id": f"r{i}", "text": t, "url": f"https://example.jp/{i}", "m": {"n": i}}
            for i, t in enumerate(real_texts(40))]


# ------------------------------------------------------------------------------------------------
# Bad values: one outcome per line, of the expected class; the rest of the file is read
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "line", "expected"), BAD_LINES, ids=[b[0] for b in BAD_LINES])
@pytest.mark.parametrize("codec", ["none", "gz", "zst"])
def test_bad_value_is_one_outcome_and_reading_goes_on(tmp_path: Path, records: list[dict], name: str,
                                                      line: bytes, expected: str, codec: str) -> None:
    good = [json.dumps(r, ensure_ascii=False).encode() for r in records[:5]]
    raw = b"\n".join([*good[:2], line, *good[2:]]) + b"\n"
    from tests.faults.generators import compress

    path = tmp_path / f"{name}.jsonl{CODECS[codec]}"
    path.write_bytes(compress(raw, codec))
    out, stats = read(path)
    assert [position(o) for o in out] == [1, 2, 3, 4, 5, 6]
    assert outcome_class(out[2]) == expected, out[2]
    assert [outcome_class(o) for o in out[:2] + out[3:]] == ["Document"] * 5
    assert stats.complete and stats.bytes_read == path.stat().st_size
    # every outcome can be written: error rows and document fields are valid UTF-8
    import pyarrow as pa

    errors = [o for o in out if isinstance(o, ErrorRecord)]
    pa.Table.from_pylist([error_row(e) for e in errors], schema=ERROR_SCHEMA)
    for o in out:
        if isinstance(o, (Document, Rejected)):
            d = o.doc if isinstance(o, Rejected) else o
            (d.id + d.text + (d.url or "") + json.dumps(d.meta, ensure_ascii=False)).encode("utf-8")


@st.composite
def bad_files(draw: st.DrawFn) -> list[tuple[str, bytes, str]]:
    return draw(st.lists(st.sampled_from(BAD_LINES), min_size=1, max_size=12))


@FAST
@given(lines=bad_files(), codec=st.sampled_from(sorted(CODECS)), blank=st.booleans(), bom=st.booleans())
def test_any_mix_of_bad_values_is_conserved(tmp_path: Path, lines, codec: str, blank: bool, bom: bool) -> None:
    from tests.faults.generators import compress

    raw_lines = [b for _n, b, _e in lines]
    if blank:
        raw_lines = [x for b in raw_lines for x in (b, b"   ")]
    raw = (b"\xef\xbb\xbf" if bom else b"") + b"\n".join(raw_lines) + b"\n"
    path = tmp_path / f"mix.jsonl{CODECS[codec]}"
    path.write_bytes(compress(raw, codec))
    out, stats = read(path)
    assert [outcome_class(o) for o in out] == [e for _n, _b, e in lines]  # one outcome per record, in order
    assert stats.complete and stats.bytes_read == path.stat().st_size


def test_bom_json_array_and_ranges(tmp_path: Path, records: list[dict]) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode())
    out, _ = read(path)
    assert all(isinstance(o, Document) for o in out) and len(out) == len(records)
    arr = tmp_path / "array.json"
    arr.write_text(json.dumps(records[:3], ensure_ascii=False, indent=2))
    out, _ = read(arr)
    assert out and all(o.error_class == "NotJsonLines" and "JSON array" in o.message for o in out)
    one = tmp_path / "array1.jsonl"
    one.write_text(json.dumps(records[:3], ensure_ascii=False))
    (err,) = read(one)[0]
    assert err.error_class == "NotJsonLines" and "3 item(s)" in err.message


# ------------------------------------------------------------------------------------------------
# Compressed streams: truncation at every member boundary and inside members, flipped bytes
# ------------------------------------------------------------------------------------------------

COMPRESSED = ["gz", "bz2", "xz", "zst"]


def _check_recovered(m: Members, out: list, lost: list[tuple[int, int]]) -> None:
    """Every member outside the reported lost spans gives all its records, unchanged (by id:
    after a skipped stretch, line numbers count the lines that could be read)."""
    docs = {o.id: o for o in out if isinstance(o, Document)}
    for span, lines in zip(m.spans, m.lines, strict=True):
        if any(span[0] < e and s < span[1] for s, e in lost):
            continue
        for ln in lines:
            rec = m.records[ln - 1]
            assert rec["id"] in docs, (ln, span, lost)
            assert docs[rec["id"]].text == rec["text"]


@pytest.mark.parametrize("codec", COMPRESSED)
def test_cut_at_every_member_boundary_and_inside(tmp_path: Path, records: list[dict], codec: str) -> None:
    m = jsonl_members(records, codec, per_member=4)
    bounds = m.boundaries()
    path = tmp_path / f"cut.jsonl{CODECS[codec]}"
    for b in bounds:
        for pos in {b, b + 1, b + 7, max(0, b - 1), max(0, b - 9)}:
            if pos > len(m.data):
                continue
            path.write_bytes(cut(m.data, pos))
            out, stats = read(path)
            assert stats.bytes_read == pos
            complete_members = [i for i, (_s, e) in enumerate(m.spans) if e <= pos]
            errors = [o for o in out if isinstance(o, ErrorRecord)]
            if pos in bounds:  # a shorter but valid file: every record of it, nothing else
                assert not errors and stats.complete
                assert len(out) == sum(len(m.lines[i]) for i in complete_members)
            else:  # cut inside a member: exactly one error says so, everything before is read
                assert [e.error_class for e in errors] == ["TruncatedInput"], (pos, errors)
                assert not stats.complete
                assert str(m.member_of(pos)) and f"starts at byte {m.spans[m.member_of(pos)][0]}" in errors[0].message
            gone_from = pos if pos in bounds else m.spans[m.member_of(pos)][0]
            _check_recovered(m, out, [(gone_from, len(m.data) + 1)])


@st.composite
def flips(draw: st.DrawFn) -> tuple[str, int, int, int]:
    codec = draw(st.sampled_from(COMPRESSED))
    per = draw(st.integers(1, 8))
    frac = draw(st.floats(0, 1, exclude_max=True))
    mask = draw(st.integers(1, 255))
    return codec, per, frac, mask


@FAST
@given(case=flips())
def test_flipped_byte_never_silently_corrupts(tmp_path: Path, records: list[dict], case) -> None:
    codec, per, frac, mask = case
    m = jsonl_members(records, codec, per_member=per)
    pos = int(frac * len(m.data))
    path = tmp_path / f"flip.jsonl{CODECS[codec]}"
    path.write_bytes(flip(m.data, pos, mask))
    out, stats = read(path)  # never raises
    assert stats.bytes_read == len(m.data)
    by_id = {r["id"]: r for r in m.records}
    changed = [o for o in out if isinstance(o, Document) and (o.id not in by_id or by_id[o.id]["text"] != o.text)]
    loss = [o for o in out if isinstance(o, ErrorRecord) and o.error_class in LOSS]
    if changed:  # wrong bytes came out before a checksum caught them: the damage must be reported
        assert loss, changed[:1]
    assert stats.complete == (not loss)
    if not loss:  # nothing reported lost: every record is there, one outcome each
        assert len(out) == len(m.records)
    raw = open_read(str(path), record_damage=True)
    with raw:
        raw.read()
    spans = [(d.raw_start, d.raw_end) for d in raw.raw.damage]
    assert len(spans) == len(loss)
    _check_recovered(m, out, spans)


def test_damage_reported_once_whatever_the_ranges(tmp_path: Path, records: list[dict]) -> None:
    m = jsonl_members(records * 20, "gz", per_member=50)
    bad = flip(m.data, m.spans[3][0] + 40) + m.data[: m.spans[1][0] + 30]  # corrupt member, then cut
    path = tmp_path / "ranges.jsonl.gz"
    path.write_bytes(bad)
    spec = FileSpec("s", str(path), path.name, "jsonl")
    whole, _ = read(path)
    for parts in (2, 5):
        ranges = plan_ranges([spec], parts=parts, min_bytes=1)
        got = [o for _s, lo, hi in ranges for o in read(path, (lo, hi))[0]]
        assert [outcome_class(o) for o in got] == [outcome_class(o) for o in whole]
    classes = [outcome_class(o) for o in whole]
    assert classes.count("CorruptInput") == 1 and classes.count("TruncatedInput") == 1


def test_zero_byte_files_are_empty_not_errors(tmp_path: Path) -> None:
    for codec, ext in CODECS.items():
        path = tmp_path / f"empty{codec}.jsonl{ext}"
        path.write_bytes(b"")
        out, stats = read(path)
        assert out == [] and stats.complete and stats.bytes_read == 0, codec


def test_lz4_read_or_refused(tmp_path: Path, records: list[dict]) -> None:
    from corpusflow.io.filesystems import UnsupportedCompression, lz4_available

    path = tmp_path / "x.jsonl.lz4"
    if not lz4_available():
        path.write_bytes(b"\x04\x22\x4d\x18not really")
        with pytest.raises(UnsupportedCompression, match="pip install lz4"):
            open_read(str(path))
        return
    import lz4.frame

    raw = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
    data = lz4.frame.compress(raw, content_checksum=True)
    path.write_bytes(data)
    out, stats = read(path)
    assert [o.id for o in out] == [r["id"] for r in records] and stats.complete
    path.write_bytes(data[:-9])
    out, stats = read(path)
    assert outcome_class(out[-1]) == "TruncatedInput" and not stats.complete


@pytest.mark.parametrize("codec", COMPRESSED)
def test_line_cut_by_damage_does_not_swallow_the_next_member(tmp_path: Path, records: list[dict], codec: str) -> None:
    """A big member damaged near its end delivers its first lines, then the cut line is one bad
    record and the next member is read whole, its first line included."""
    import hashlib

    big = [{**r, "id": f"{r['id']}-{k}", "salt": hashlib.sha256(f"{k}/{r['id']}".encode()).hexdigest() * 2}
           for k in range(60) for r in records]  # ~2,400 records that do not compress to nothing
    m = jsonl_members(big, codec, per_member=len(big) - 5)
    assert m.spans[0][1] > (1 << 16) + 4000  # at least one decompressor slice before the damage
    path = tmp_path / f"late.jsonl{CODECS[codec]}"
    path.write_bytes(flip(m.data, m.spans[0][1] - 2000))
    out, stats = read(path)
    classes = [outcome_class(o) for o in out]
    tail = {o.id for o in out[-5:] if isinstance(o, Document)}
    assert tail == {r["id"] for r in big[-5:]}, classes[-8:]  # the second member, first line included
    assert classes.count("CorruptInput") == 1 and not stats.complete
    assert len([c for c in classes if c not in ("Document", "CorruptInput")]) <= 1
