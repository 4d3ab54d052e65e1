"""Fault suite, WARC (one gzip member per record) and plain WARC: cut at every record boundary
and inside records, flipped bytes (hypothesis). Per file: no exception; every record before
the damage gives its document; damage is one error that says from which byte the file is not
read; the file is reported incomplete exactly when such an error exists."""

from __future__ import annotations

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
    return int(tail) if tail.isdigit() else -1


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
