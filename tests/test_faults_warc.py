"""Fault suite, WARC (one gzip member per record) and plain WARC: cut at every record boundary
and inside records, flipped bytes (hypothesis). Per file: no exception; every record before
the damage gives its document; damage is one error that says from which byte the file is not
read; the file is reported incomplete exactly when such an error exists."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpusflow.core.document import Document, ErrorRecord
from corpusflow.io.config import SourceConfig
from corpusflow.io.readers import FileSpec, ReadStats, iter_file
from corpusflow.io.warc import LOSS_CLASSES
from tests.faults.generators import cut, flip, real_texts, warc_bytes

FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def read(path: Path) -> tuple[list, ReadStats]:
    src = SourceConfig(name="w", paths=[str(path)], format="warc")
    stats = ReadStats()
    return list(iter_file(FileSpec("w", str(path), path.name, "warc"), src, 2_000_000, None, stats)), stats


@pytest.fixture(scope="module")
def pages(shared_data: Path) -> list[str]:
    return real_texts(12)


def _doc_index(doc: Document) -> int:
    """The page number in the record id (-1 when a flipped byte changed the id itself)."""
    tail = doc.id.rsplit("-", 1)[-1]
    return int(tail) if tail.isascii() and tail.isdigit() else -1


@pytest.mark.parametrize("gz", [True, False])
def test_cut_at_every_record_boundary_and_inside(tmp_path: Path, pages: list[str], gz: bool) -> None:
    data, spans = warc_bytes(pages, gz=gz)
    bounds = [0, *(e for _s, e in spans)]
    path = tmp_path / ("cut.warc.gz" if gz else "cut.warc")
    for b in bounds:
        for pos in sorted({b, b + 1, b + 30, max(0, b - 1), max(0, b - 25)}):
            if pos > len(data):
                continue
            path.write_bytes(cut(data, pos))
            out, stats = read(path)
            docs = [o for o in out if isinstance(o, Document)]
            errors = [o for o in out if isinstance(o, ErrorRecord)]
            # a plain WARC cut inside the blank line that ends a record keeps the whole record
            ends = [e if gz else e - 4 for _s, e in spans]
            whole = [i for i, e in enumerate(ends) if e <= pos]
            if (not gz and pos in ends) or pos in bounds:
                assert not [o for o in out if isinstance(o, ErrorRecord)] and stats.complete, pos
            got = sorted(_doc_index(d) for d in docs)
            # every complete record; the cut one only when just its gzip trailer is missing
            assert got == whole or (pos not in bounds and got == [*whole, len(whole)] and pos > spans[len(whole)][1] - 9), pos
            if pos in bounds or (not gz and any(e - 4 <= pos <= e for e in bounds[1:])):
                assert not errors and stats.complete, (pos, errors)
            else:
                assert len(errors) == 1 and errors[0].error_class in LOSS_CLASSES, (pos, errors)
                assert not stats.complete
                assert "is not read" in errors[0].message


@FAST
@given(frac=st.floats(0, 1, exclude_max=True), mask=st.integers(1, 255), gz=st.booleans())
def test_flipped_byte_is_never_a_crash(tmp_path: Path, pages: list[str], frac: float, mask: int, gz: bool) -> None:
    data, spans = warc_bytes(pages, gz=gz)
    pos = int(frac * len(data))
    path = tmp_path / ("flip.warc.gz" if gz else "flip.warc")
    path.write_bytes(flip(data, pos, mask))
    out, stats = read(path)
    damaged = next(i for i, (s, e) in enumerate(spans) if s <= pos < e)
    docs = [o for o in out if isinstance(o, Document)]
    assert set(range(damaged)) <= {_doc_index(d) for d in docs}  # every record before the damage
    loss = [o for o in out if isinstance(o, ErrorRecord) and o.error_class in LOSS_CLASSES]
    assert stats.complete == (not loss)
    assert len(loss) <= 1
    for d in docs:  # whatever was read carries its file and record offset
        assert d.file == str(path) and d.line >= 0


# --- resync after a damaged record in the middle ---------------------------------------------


def _records(pages: list[str]) -> list[bytes]:
    """The uncompressed bytes of each record (header, block and the blank lines after it)."""
    data, spans = warc_bytes(pages, gz=False)
    return [data[s:e] for s, e in spans]


def _set_length(rec: bytes, new: bytes) -> bytes:
    head, sep, rest = rec.partition(b"\r\n\r\n")
    lines = [b"Content-Length: " + new if ln.startswith(b"Content-Length:") else ln for ln in head.split(b"\r\n")]
    return b"\r\n".join(lines) + sep + rest


def _length(rec: bytes) -> int:
    head = rec.partition(b"\r\n\r\n")[0]
    return int(next(ln for ln in head.split(b"\r\n") if ln.startswith(b"Content-Length:")).split(b":")[1])


GARBAGE = "これはレコードではありません。 this is not a record\r\n".encode() * 3
DAMAGE = {  # name -> (record j's bytes -> damaged bytes, what record j gives)
    "length_too_long": (lambda r: _set_length(r, str(_length(r) + 37).encode()), "error"),
    "length_much_too_long": (lambda r: _set_length(r, str(_length(r) + 5000).encode()), "error"),
    "length_too_short": (lambda r: _set_length(r, str(_length(r) - 11).encode()), "error"),
    "length_not_a_number": (lambda r: _set_length(r, b"12x4"), "error"),
    "length_missing": (lambda r: r.replace(b"Content-Length:", b"Content-Lenght:", 1), "error"),
    "version_garbled": (lambda r: r.replace(b"WARC/1.0", b"WARC/1\x00", 1), "error"),
    "type_garbled": (lambda r: r.replace(b"WARC-Type: response", b"WARC-Type: respxnse", 1), "error"),
    "id_line_joined": (lambda r: r.replace(b"\r\nWARC-Date", b"WARC-Date", 1), "document with a damaged id"),
    "garbage_after": (lambda r: r + GARBAGE, "document, then an error for the garbage"),
    "zeros_after": (lambda r: r + bytes(300), "document, then an error for the garbage"),
}


def _assemble(recs: list[bytes], gz: bool) -> tuple[bytes, list[int]]:
    """The file and each record's offset in it (a gzip member per record when ``gz``; garbage
    appended to a record becomes bytes between members)."""
    out, offsets = b"", []
    for r in recs:
        offsets.append(len(out))
        if gz:
            body, garbage = (r[: -len(GARBAGE)], GARBAGE) if r.endswith(GARBAGE) else \
                            (r[:-300], bytes(300)) if r.endswith(bytes(300)) else (r, b"")
            out += gzip.compress(body, mtime=0) + garbage
        else:
            out += r
    return out, offsets


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
@pytest.mark.parametrize("name", sorted(DAMAGE))
@pytest.mark.parametrize("j", [0, 4, 11])
def test_damaged_record_in_the_middle_is_skipped_and_reading_resumes(
    tmp_path: Path, pages: list[str], name: str, gz: bool, j: int
) -> None:
    """Per file: records = documents + errors; every record but the damaged one is read, before
    and after it; the damage is one error that says which bytes are not read and where reading
    resumed."""
    recs = _records(pages)
    damage, gives = DAMAGE[name]
    size = len(recs[j])
    recs[j] = damage(recs[j])
    data, offsets = _assemble(recs, gz)
    path = tmp_path / ("d.warc.gz" if gz else "d.warc")
    path.write_bytes(data)
    out, stats = read(path)
    docs = [o for o in out if isinstance(o, Document)]
    errors = [o for o in out if isinstance(o, ErrorRecord)]
    got = sorted(_doc_index(d) for d in docs)
    others = [i for i in range(len(recs)) if i != j]
    if gives == "error":  # one outcome per record: the damaged one is the error
        assert got == others and len(errors) == 1 and len(out) == len(recs), (name, got, errors)
        assert errors[0].offset == offsets[j]
    elif gives.startswith("document with"):
        assert got == sorted([-1, *others]) and not errors and len(out) == len(recs)
    else:  # every record read; the garbage after record j is one error of its own
        assert got == list(range(len(recs))) and len(errors) == 1 and len(out) == len(recs) + 1
        garbage_at = offsets[j] + (len(gzip.compress(recs[j][:size], mtime=0)) if gz else size)
        assert errors[0].offset == garbage_at, (errors[0].offset, garbage_at)
    for err in errors:
        assert err.file == str(path)
        if err.error_class == "UnknownRecordType":
            assert "respxnse" in err.message
            continue
        if j + 1 < len(recs):
            end = offsets[j + 1]
            assert f"({end - err.offset} bytes) are not read; reading resumes at byte {end}" in err.message, err.message
        else:
            assert "is not read" in err.message, err.message
        assert not stats.complete
    assert stats.bytes_read == len(data)


@FAST
@given(j=st.integers(0, 11), where=st.floats(0, 1, exclude_max=True), mask=st.integers(1, 255), gz=st.booleans())
def test_flipped_header_byte_loses_at_most_that_record(
    tmp_path: Path, pages: list[str], j: int, where: float, mask: int, gz: bool
) -> None:
    """A byte flipped anywhere in one record's WARC header: the other records are all read, the
    damaged one gives at most one outcome, never an exception."""
    recs = _records(pages)
    head_len = recs[j].index(b"\r\n\r\n") + 4
    recs[j] = flip(recs[j], int(where * head_len), mask)
    data, offsets = _assemble(recs, gz)
    path = tmp_path / ("f.warc.gz" if gz else "f.warc")
    path.write_bytes(data)
    out, stats = read(path)
    docs = [o for o in out if isinstance(o, Document)]
    others = set(range(len(recs))) - {j}
    by_offset = {d.line: _doc_index(d) for d in docs}
    assert all(by_offset.get(offsets[i]) == i for i in others), (by_offset, offsets)
    assert len([d for d in docs if d.line != offsets[j]]) == len(others)
    assert len(out) - len(others) <= 1 + (j == 11)  # the damaged record; a cut last one may add its rest
    errors = [o for o in out if isinstance(o, ErrorRecord)]
    for e in errors:
        assert e.offset >= offsets[j] and e.file == str(path)
    assert stats.complete == (not [e for e in errors if e.error_class in LOSS_CLASSES])
    assert stats.bytes_read == len(data)
