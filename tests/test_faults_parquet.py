"""Fault suite, Parquet: bad values in every column type, text stored as binary, ambiguous and
missing columns, corrupt pages (flipped bytes, hypothesis) and cut files. Per file: one outcome
per row of the footer's count (or one ``Unreadable`` error when the footer itself is lost), no
exception, the rest of the file read after a bad row group."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpusflow.core.document import Document, ErrorRecord
from corpusflow.io.config import FieldMapping, SourceConfig
from corpusflow.io.readers import FileSpec, ReadStats, iter_file
from tests.faults.generators import cut, flip, outcome_class, parquet_bytes, parquet_page_region, real_texts

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def read(path: Path, fields: FieldMapping | None = None) -> tuple[list, ReadStats]:
    src = SourceConfig(name="s", paths=[str(path)], fields=fields or FieldMapping(text="text", id="id", meta=["m"]))
    stats = ReadStats()
    return list(iter_file(FileSpec("s", str(path), path.name, "parquet"), src, 2000, None, stats)), stats


@pytest.fixture(scope="module")
def texts(shared_data: Path) -> list[str]:
    return real_texts(40)


BAD_COLUMNS = [
    # (name, extra column "m" or replaced "text", rows expected as errors, expected class)
    ("meta_timestamp_out_of_range", {"m": pa.array([0, 10**17, 5, 0], pa.timestamp("ms"))}, {1}, "BadValue"),
    ("meta_decimal", {"m": pa.array([1, 2, 3, 4], pa.decimal128(5, 2))}, set(), None),
    ("meta_nested", {"m": pa.array([{"a": [1]}, None, {"a": []}, {"a": [2, 3]}])}, set(), None),
    ("text_null", {"text": pa.array(["ok", None, "ok", "ok"])}, {1}, "MissingField"),
    ("text_int", {"text": pa.array([1, 2, 3, 4])}, {0, 1, 2, 3}, "BadFieldType"),
    ("text_binary_bad_utf8", {"text": pa.array([b"ok", b"\xff\xfe", "日本".encode(), b"x"], pa.binary())},
     {1}, "BadValue"),
    ("text_large_string", {"text": pa.array(["a", "b", "c", "d"], pa.large_string())}, set(), None),
    ("id_list", {"id": pa.array([[1], [2], [3], [4]])}, {0, 1, 2, 3}, "BadFieldType"),
]


@pytest.mark.parametrize(("name", "cols", "bad_rows", "cls"), BAD_COLUMNS, ids=[c[0] for c in BAD_COLUMNS])
def test_bad_value_is_an_error_for_its_row_only(tmp_path: Path, texts: list[str], name: str, cols: dict,
                                                bad_rows: set[int], cls: str | None) -> None:
    base = {"id": pa.array([f"p{i}" for i in range(4)]), "text": pa.array(texts[:4])}
    path = tmp_path / f"{name}.parquet"
    pq.write_table(pa.table({**base, **cols}), path, row_group_size=2)
    out, stats = read(path)
    assert len(out) == 4 and stats.complete
    for i, o in enumerate(out):
        if i in bad_rows:
            assert outcome_class(o) == cls and o.offset == i, o
        else:
            assert isinstance(o, Document) and o.line == i, o


def test_binary_text_is_decoded(tmp_path: Path, texts: list[str]) -> None:
    path = tmp_path / "bin.parquet"
    path.write_bytes(parquet_bytes(texts, row_group_rows=7, binary_text=True))
    out, _ = read(path)
    assert [o.text for o in out] == texts


def test_two_columns_with_the_mapped_name(tmp_path: Path, texts: list[str]) -> None:
    t = pa.Table.from_arrays([pa.array(texts[:3]), pa.array(["x", "y", "z"])], names=["text", "text"])
    path = tmp_path / "dup.parquet"
    pq.write_table(t, path)
    out, _ = read(path, FieldMapping(text="text", id=None))
    assert [o.error_class for o in out] == ["AmbiguousColumn"] * 3 and "text" in out[0].message


def test_missing_text_column(tmp_path: Path, texts: list[str]) -> None:
    path = tmp_path / "other.parquet"
    pq.write_table(pa.table({"body": texts[:5]}), path)
    out, _ = read(path)
    assert [o.error_class for o in out] == ["SchemaMismatch"] * 5 and "body" in out[0].message


@st.composite
def page_damage(draw: st.DrawFn) -> tuple[str, int, float, int]:
    return (draw(st.sampled_from(["zstd", "snappy", "none", "gzip"])), draw(st.integers(3, 15)),
            draw(st.floats(0, 1, exclude_max=True)), draw(st.integers(1, 255)))


@FAST
@given(case=page_damage())
def test_damaged_pages_cost_at_most_their_row_group(tmp_path: Path, texts: list[str], case) -> None:
    compression, rg, frac, mask = case
    data = parquet_bytes(texts, row_group_rows=rg, compression=compression)
    lo, hi = parquet_page_region(data)
    pos = lo + int(frac * (hi - lo))
    path = tmp_path / "flip.parquet"
    path.write_bytes(flip(data, pos, mask))
    out, stats = read(path)  # never raises
    if len(out) == 1 and outcome_class(out[0]) == "Unreadable":
        return  # the footer names every page: nothing can be said about the rows
    assert len(out) == len(texts)  # one outcome per row of the footer, in order
    assert [o.offset if isinstance(o, ErrorRecord) else o.line for o in out] == list(range(len(texts)))
    lost = [o for o in out if isinstance(o, ErrorRecord) and o.error_class == "CorruptRowGroup"]
    assert stats.complete == (not lost)
    if lost:  # a whole row group at most (the one holding the flipped byte), named in the message
        groups = {o.message.split(" (")[0] for o in lost}
        assert len(groups) == 1 and len(lost) <= rg
    good = [o for o in out if isinstance(o, Document)]
    assert len(good) >= len(texts) - rg


def test_cut_file_is_one_unreadable_error(tmp_path: Path, texts: list[str]) -> None:
    data = parquet_bytes(texts, row_group_rows=5)
    for pos in (0, 4, len(data) // 2, len(data) - 1):
        path = tmp_path / "cut.parquet"
        path.write_bytes(cut(data, pos))
        out, stats = read(path)
        assert [outcome_class(o) for o in out] == ["Unreadable"] and not stats.complete


def test_row_group_read_error_keeps_other_groups(tmp_path: Path, texts: list[str], monkeypatch) -> None:
    """A row group whose pages cannot be read: its rows are errors, the next groups are read."""
    path = tmp_path / "rg.parquet"
    path.write_bytes(parquet_bytes(texts, row_group_rows=10))
    original = pq.ParquetFile.iter_batches

    def failing(self, *args, row_groups=None, **kw):  # type: ignore[no-untyped-def]
        if row_groups == [1]:
            raise OSError("Corrupt snappy compressed data.")
        yield from original(self, *args, row_groups=row_groups, **kw)

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", failing)
    src = SourceConfig(name="s", paths=[str(path)], fields=FieldMapping(text="text", id="id"))
    out = list(iter_file(FileSpec("s", str(path), path.name, "parquet"), src, 2000, None))
    assert len(out) == 40
    kinds = [outcome_class(o) for o in out]
    assert kinds[:10] == ["Document"] * 10 and kinds[20:] == ["Document"] * 20
    assert kinds[10:20] == ["CorruptRowGroup"] * 10
    assert "row group 1 (rows 10-19) cannot be read" in next(o for o in out if isinstance(o, ErrorRecord)).message


def test_bytes_are_accounted(tmp_path: Path, texts: list[str]) -> None:
    buf = io.BytesIO()
    pq.write_table(pa.table({"id": [f"p{i}" for i in range(40)], "text": texts}), buf, row_group_size=8)
    path = tmp_path / "ok.parquet"
    path.write_bytes(buf.getvalue())
    out, stats = read(path)
    assert len(out) == 40 and stats.complete and stats.bytes_read == stats.size == path.stat().st_size
