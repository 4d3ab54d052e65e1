"""Readers: turn one input file into a stream of outcomes, one per input record.

Every record of a file becomes exactly one of:

* a :class:`~corpusflow.core.document.Document`,
* a :class:`~corpusflow.core.document.Rejected` (stage ``read``; e.g. ``input.too_long`` for a
  document longer than ``limits.max_doc_chars``: rejected whole, never truncated),
* an :class:`~corpusflow.core.document.ErrorRecord` (invalid UTF-8, a JSON line cut in half, a
  missing or non-string text field, a truncated compressed stream, a Parquet file without the
  mapped text column...), with the file, the 1-based line (JSONL) or row index (Parquet), the
  error class and message, and the first bytes of the record.

Blank lines in JSONL are not records and are skipped (they carry no document). A file that
cannot be opened at all yields one error record. A compressed stream that ends early yields the
records read so far plus one ``TruncatedInput`` error at the position where reading stopped.

Documents without an id (field missing or null) get a stable one:
``{source}/{file_key}#L{line}`` (JSONL) or ``{source}/{file_key}#R{row}`` (Parquet), where
``file_key`` is the file's path relative to the non-glob part of its source pattern, so ids do
not depend on where the data is mounted.

Pure Python (no Beam import); the Beam wiring is in :mod:`corpusflow.stages.read`.
"""

from __future__ import annotations

import fnmatch
import heapq
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from corpusflow.core.document import Document, ErrorRecord, Rejected, safe_text, unencodable_field
from corpusflow.core.paths import is_remote, resolve_path
from corpusflow.io import warc
from corpusflow.io.config import SourceConfig
from corpusflow.io.filesystems import (
    InputPlanError,
    codec_of,
    lz4_available,
    open_read,
    scan_local_pattern,
    supported_compressions,
)
from corpusflow.io.warc import LOSS_CLASSES as WARC_LOSS

Outcome = Document | Rejected | ErrorRecord

REASON_TOO_LONG = "input.too_long"
HEAD_BYTES = 200
JSONL_EXTS = (".jsonl", ".json", ".ndjson")
COMPRESSION_EXTS = (".gz", ".bz2", ".zst", ".xz", ".lz4")
PARQUET_EXTS = (".parquet", ".pq")


@dataclass(frozen=True, slots=True)
class FileSpec:
    """One input file of one source, as planned at launch."""

    source: str
    path: str
    file_key: str
    format: str  # a READERS name: jsonl | parquet | warc | wet


def detect_format(path: str, declared: str = "auto") -> str:
    """The reader for ``path``: the declared format, or the first :data:`READERS` row whose file
    endings match the name (a compression ending such as ``.gz`` removed first)."""
    if declared != "auto":
        return declared
    name = path.lower()
    for ext in COMPRESSION_EXTS:
        if name.endswith(ext):
            name = name[: -len(ext)]
            break
    for reader in READERS.values():
        if name.endswith(reader.extensions):
            return reader.name
    raise ValueError(
        f"cannot tell the format of {path!r} from its extension; set the source's format "
        f"(allowed: {', '.join(sorted(READERS))})"
    )


def glob_base(pattern: str) -> str:
    """The directory part of a glob before its first wildcard."""
    head = re.split(r"[*?\[]", pattern, maxsplit=1)[0]
    if head == pattern:  # no wildcard: the file itself
        return os.path.dirname(pattern) if not is_remote(pattern) else pattern.rsplit("/", 1)[0]
    return head if head.endswith("/") else head.rsplit("/", 1)[0] if "/" in head else ""


def file_key(path: str, pattern: str) -> str:
    base = glob_base(pattern)
    if base and path.startswith(base):
        return path[len(base) :].lstrip("/")
    return os.path.basename(path)


def get_field(record: dict[str, Any], dotted: str) -> Any:
    """``record['a']['b']`` for ``'a.b'``; a literal key with dots wins over the nested path."""
    if dotted in record:
        return record[dotted]
    node: Any = record
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _head(raw: bytes | str) -> str:
    if isinstance(raw, str):
        return raw[:HEAD_BYTES]
    return raw[:HEAD_BYTES].decode("utf-8", "backslashreplace")


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return str(value)


def record_to_outcome(
    record: Any,
    *,
    spec: FileSpec,
    source: SourceConfig,
    position: int,
    position_kind: str,
    max_doc_chars: int,
    raw_head: str,
) -> Outcome:
    """Map one parsed record to a Document (or an error/rejection) with the field mapping."""

    def error(cls: str, msg: str) -> ErrorRecord:
        return ErrorRecord(
            source=spec.source, file=spec.path, offset=position, offset_kind=position_kind,
            stage="read", error_class=cls, message=msg, head=raw_head,
        )

    if not isinstance(record, dict):
        return error("NotAnObject", f"expected a JSON object, got {type(record).__name__}")
    fields = source.fields
    text = get_field(record, fields.text)
    if text is None:
        keys = ", ".join(sorted(map(str, record))[:20])
        return error("MissingField", f"text field {fields.text!r} not found (record keys: {keys})")
    if not isinstance(text, str):
        return error("BadFieldType", f"text field {fields.text!r} is {type(text).__name__}, not a string")
    doc_id: Any = get_field(record, fields.id) if fields.id else None
    if doc_id is None or doc_id == "":
        tag = "L" if position_kind == "line" else "R"
        doc_id = f"{spec.source}/{spec.file_key}#{tag}{position}"
    elif not isinstance(doc_id, str):
        if isinstance(doc_id, (int, float)) and not isinstance(doc_id, bool):
            doc_id = str(doc_id)
        else:
            return error("BadFieldType", f"id field {fields.id!r} is {type(doc_id).__name__}")
    url = get_field(record, fields.url) if fields.url else None
    if url is not None and not isinstance(url, str):
        url = str(url)
    meta = {}
    for name in fields.meta:
        value = get_field(record, name)
        if value is not None:
            meta[name] = _jsonable(value)
    doc = Document(
        id=doc_id, text=text, source=spec.source, url=url, meta=meta,
        file=spec.path, line=position,
    )
    if len(text) > max_doc_chars:
        short = doc.replace(text=text[:1000])
        return Rejected(
            doc=short, stage="read", reason=REASON_TOO_LONG,
            detail=json.dumps({"n_chars": len(text), "max_doc_chars": max_doc_chars}),
        )
    return doc


@dataclass(slots=True)
class ReadStats:
    """What one read of a file (range) consumed, for the per-file report.

    Attributes:
        size: the file's size in bytes as stored (None when it cannot be known).
        bytes_read: bytes of the stored file consumed (compressed bytes for a compressed file);
            set by the read that reaches the end of the file.
        complete: False when the read did not reach the end of the file or damage was skipped
            (an error record always says why).
        at_end: this read is the one that owns the end of the file (its bytes are the file's).
        position: stored bytes consumed so far, live while the read goes on (JSONL: after each
            line; whole-file formats: set at the end). For live progress only.
        first: ``position`` when the first line this read owns had been read (0 for a read
            from the start of the file; None before). For a JSONL file cut into byte ranges,
            each range decompresses the same stream the same way, so the position after the
            line where range k-1 stops is the position where range k starts: the ranges'
            :meth:`consumed` add up to the file's stored size, compressed or not.
    """

    size: int | None = None
    bytes_read: int = 0
    complete: bool = True
    at_end: bool = False
    position: int = 0
    first: int | None = None

    def consumed(self) -> int:
        """Stored bytes this read has accounted for so far (its share of the file's size)."""
        return self.position - self.first if self.first is not None and self.position > self.first else 0


#: Error classes of records that stand for data the reader could not read (lost bytes/rows).
LOSS_CLASSES = frozenset({"TruncatedInput", "CorruptInput", "IncompleteRead", "CorruptRowGroup",
                          "Unreadable", "TruncatedRecord", "CorruptRecord"})

_JSON_ARRAY_HINT = ("the file looks like one JSON array, not JSON Lines (one object per line); "
                    "convert it first, e.g. jq -c '.[]' FILE > FILE.jsonl")


def local_size(path: str) -> int | None:
    """The size in bytes of a local file as stored (None for a remote or missing file)."""

    path = resolve_path(path)
    if path.startswith("file://"):
        path = path[len("file://"):]
    if is_remote(path):
        return None
    try:
        return os.path.getsize(path)
    except OSError:
        return None


def _line_error(spec: FileSpec, line_no: int, cls: str, msg: str, head: str) -> ErrorRecord:
    return ErrorRecord(source=spec.source, file=spec.path, offset=line_no, offset_kind="line",
                       stage="read", error_class=cls, message=msg[:2000], head=head)


def _damage_error(spec: FileSpec, line_no: int, damage: Any, size: int | None, head: str = "") -> ErrorRecord:
    """One error record for a damaged stretch of a compressed stream (see StreamDamage)."""
    end = "the end of the file" if size is not None and damage.raw_end >= size else f"byte {damage.raw_end}"
    if damage.kind == "truncated":
        cls = "TruncatedInput"
        what = (f"the compressed stream ends inside the member that starts at byte {damage.raw_start} "
                f"({damage.lost_bytes} compressed bytes of it present; the rest of the record and "
                "anything after it are missing)")
    else:
        cls = "CorruptInput"
        what = (f"compressed data damaged in the member that starts at byte {damage.raw_start}: "
                f"{damage.lost_bytes} compressed bytes skipped, reading resumed at {end}")
    where = f"after {damage.out_offset} decompressed bytes (line {line_no})"
    return _line_error(spec, line_no, cls, f"{what}, {where}; {damage.message}", head)


def _process_line(raw: bytes, line_no: int, spec: FileSpec, source: SourceConfig, max_doc_chars: int,
                  array_hint: bool) -> Outcome:
    """One JSONL line to one outcome; never raises (a value problem is an error for this line)."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _line_error(spec, line_no, "UnicodeDecodeError",
                           f"invalid UTF-8 at byte {exc.start} of the line: {exc.reason}", _head(raw))
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        msg = f"{exc}; {_JSON_ARRAY_HINT}" if array_hint else str(exc)
        return _line_error(spec, line_no, "NotJsonLines" if array_hint else "JSONDecodeError", msg, _head(line))
    except RecursionError:
        return _line_error(spec, line_no, "JSONDecodeError", "nesting too deep", _head(line))
    except Exception as exc:  # e.g. an integer of more than 4300 digits (ValueError)
        return _line_error(spec, line_no, type(exc).__name__, f"{type(exc).__name__}: {exc}", _head(line))
    if array_hint and isinstance(record, list):
        return _line_error(spec, line_no, "NotJsonLines",
                           f"a JSON array of {len(record)} item(s) on one line; {_JSON_ARRAY_HINT}", _head(line))
    try:
        out = record_to_outcome(record, spec=spec, source=source, position=line_no, position_kind="line",
                                max_doc_chars=max_doc_chars, raw_head=_head(line))
    except Exception as exc:  # a value the field mapping cannot handle: this record only
        return _line_error(spec, line_no, type(exc).__name__, f"{type(exc).__name__}: {exc}", _head(line))
    if "\\u" in line and not isinstance(out, ErrorRecord):  # only JSON escapes make lone surrogates
        doc = out.doc if isinstance(out, Rejected) else out
        bad = unencodable_field(doc)
        if bad is not None:
            return _line_error(spec, line_no, "UnencodableValue",
                               f"{bad} holds a lone UTF-16 surrogate (a JSON \\ud800-\\udfff escape without "
                               "its pair), which cannot be written as UTF-8", safe_text(_head(line)))
    return out


def iter_jsonl(spec: FileSpec, source: SourceConfig, max_doc_chars: int,
               byte_range: tuple[int, int | None] | None = None,
               stats: ReadStats | None = None) -> Iterator[Outcome]:
    """Stream a (possibly compressed) JSONL file; see the module docstring for the outcomes.

    Isolation: every problem with one line (invalid UTF-8, invalid JSON, a value the mapping
    cannot take, a lone surrogate) is an error record for that line and reading goes on. Damage
    to the compressed stream (a member cut short, corrupt data, garbage between members) is one
    ``TruncatedInput`` or ``CorruptInput`` error saying which compressed bytes were lost and
    where; reading resumes at the next intact member (multi-member gzip, concatenated zstd/xz/
    bz2/lz4 streams). A cut last line is reported inside the ``TruncatedInput`` error, not as a
    second error. After a skipped stretch, line numbers count the lines that could be read (the
    lines lost with it are unknown). A UTF-8 byte order mark at the start of the file is skipped. A file that is one
    JSON array gets a ``NotJsonLines`` error per line saying so.

    ``byte_range=(lo, hi)``: only the lines whose first byte, counted in the
    decompressed stream, lies in ``[lo, hi)`` (``hi=None``: to the end) are records of this call;
    the lines before are read but not decoded, and line numbers still count from the start of
    the file. Ranges that tile ``[0, None)`` (:func:`plan_ranges`) yield, together, exactly the
    outcomes of the whole file: a file that cannot be opened is reported by the range at 0,
    stream damage by the range holding the decompressed position where it was met, and the
    check of bytes read against the file size by the open-ended range.
    """

    lo, hi = byte_range or (0, None)
    stats = stats if stats is not None else ReadStats()
    stats.at_end = hi is None
    stats.size = local_size(spec.path)
    if lo == 0:
        stats.first = 0
    line_no = 0
    offset = 0  # decompressed bytes before the current line
    try:
        fh = open_read(spec.path, record_damage=True)
    except Exception as exc:
        stats.complete = False
        if lo == 0:
            yield _file_error(spec, 0, "line", "Unreadable", exc)
        return

    def owned(pos: int) -> bool:
        return lo <= pos and (hi is None or pos < hi)

    decoder = getattr(fh, "raw", None)
    counter = decoder if hasattr(decoder, "raw_pos") else None  # compressed: bytes of the stored file
    damage: list[Any] = getattr(decoder, "damage", [])
    seen = 0
    array_hint = False
    with fh:
        it = iter(fh)
        while True:
            try:
                raw = next(it)
            except StopIteration:
                break
            except Exception as exc:  # an I/O error of the file itself (disk, network)
                stats.complete = False
                if owned(offset):
                    yield _line_error(spec, line_no + 1, "IncompleteRead",
                                      f"reading stopped after {offset} bytes (file size {stats.size}): "
                                      f"{type(exc).__name__}: {exc}", "")
                return
            line_no += 1
            start = offset
            offset += len(raw)
            stats.position = counter.raw_pos if counter is not None else offset
            attached = None
            while seen < len(damage):  # stream damage met while reading up to this line
                d = damage[seen]
                seen += 1
                stats.complete = False
                if d.kind == "truncated" and d.out_offset == offset and not raw.endswith(b"\n"):
                    attached = d  # the cut last line belongs to the truncation error
                elif owned(d.out_offset):
                    yield _damage_error(spec, line_no, d, stats.size)
            if start < lo:
                continue
            if stats.first is None:
                stats.first = stats.position
            if hi is not None and start >= hi:
                return
            if attached is not None:
                yield _damage_error(spec, line_no, attached, stats.size, _head(raw))
                continue
            if line_no == 1:
                if raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]  # UTF-8 byte order mark: not part of the first record
                array_hint = raw.lstrip()[:1] == b"["
            if not raw.strip():
                continue
            yield _process_line(raw, line_no, spec, source, max_doc_chars, array_hint)
        for d in damage[seen:]:  # damage after the last line (e.g. garbage after the last member)
            stats.complete = False
            if owned(d.out_offset):
                yield _damage_error(spec, line_no + 1, d, stats.size)
        if stats.first is None:  # no line starts in this range: it accounts for no bytes
            stats.first = stats.position
        if hi is None:
            read = counter.raw_pos if counter is not None else offset
            stats.bytes_read = stats.position = read
            if stats.size is not None and read != stats.size:
                stats.complete = False
                yield _line_error(spec, line_no + 1, "IncompleteRead",
                                  f"read {read} of the file's {stats.size} bytes (was it changed while "
                                  "it was read?)", "")


def _file_error(spec: FileSpec, position: int, kind: str, cls: str, exc: BaseException) -> ErrorRecord:
    return ErrorRecord(
        source=spec.source, file=spec.path, offset=position, offset_kind=kind, stage="read",
        error_class=cls, message=safe_text(f"{type(exc).__name__}: {exc}"[:2000]),
    )


def _row_errors(spec: FileSpec, rows: range, cls: str, msg: str) -> Iterator[ErrorRecord]:
    for i in rows:
        yield ErrorRecord(source=spec.source, file=spec.path, offset=i, offset_kind="row", stage="read",
                          error_class=cls, message=msg[:2000])


def _column_values(column: Any, name: str) -> tuple[list[Any], dict[int, str]]:
    """Python values of an Arrow column, and the rows whose value cannot be converted (with why).

    Binary columns (text stored as bytes) are decoded as UTF-8; a value that is not UTF-8 is a
    problem of its row only. A column that fails to convert as a whole is converted row by row.
    """
    import pyarrow as pa  # lazy: heavy or optional dependency, loaded only when used

    problems: dict[int, str] = {}
    try:
        values = column.to_pylist()
    except Exception:
        values = []
        for i in range(len(column)):
            try:
                values.append(column[i].as_py())
            except Exception as exc:
                values.append(None)
                problems[i] = f"column {name!r}: {type(exc).__name__}: {exc}"
    if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type) \
            or pa.types.is_fixed_size_binary(column.type):
        for i, v in enumerate(values):
            if isinstance(v, bytes):
                try:
                    values[i] = v.decode("utf-8")
                except UnicodeDecodeError as exc:
                    values[i] = None
                    problems[i] = f"column {name!r} (binary) is not UTF-8 at byte {exc.start}: {exc.reason}"
    return values, problems


def iter_parquet(
    spec: FileSpec, source: SourceConfig, max_doc_chars: int, batch_rows: int = 1024,
    stats: ReadStats | None = None,
) -> Iterator[Outcome]:
    """Stream a Parquet file row group by row group, mapping columns with the field mapping.

    Every row of the file (``num_rows`` in its footer) gives exactly one outcome:

    * a value that cannot be converted (or binary text that is not UTF-8: binary columns are
      decoded as UTF-8) is an error for its row only;
    * a row group that cannot be read (corrupt page, bad compression) gives one
      ``CorruptRowGroup`` error per row it holds that was not yet read, naming the row group,
      and reading goes on with the next row group;
    * a schema without the mapped text column (``SchemaMismatch``) or with two columns of a
      mapped name (``AmbiguousColumn``) gives one error per row, naming the columns;
    * a file whose footer cannot be read is one ``Unreadable`` error (its rows are unknown).
    """
    import pyarrow.parquet as pq  # lazy: heavy or optional dependency, loaded only when used


    stats = stats if stats is not None else ReadStats()
    stats.at_end = True
    stats.size = local_size(spec.path)
    fields = source.fields
    text_col = fields.text.split(".")[0]
    wanted = {text_col}
    for name in (fields.id, fields.url, *fields.meta):
        if name:
            wanted.add(name.split(".")[0])
    try:
        fh = open_read(spec.path, compressed=False)
    except Exception as exc:
        stats.complete = False
        yield _file_error(spec, 0, "row", "Unreadable", exc)
        return
    with fh:
        try:
            pf = pq.ParquetFile(fh, page_checksum_verification=True)  # when pages carry a CRC
            names = list(pf.schema_arrow.names)
            num_rows = pf.metadata.num_rows
            groups = [pf.metadata.row_group(i).num_rows for i in range(pf.metadata.num_row_groups)]
        except Exception as exc:
            stats.complete = False
            yield _file_error(spec, 0, "row", "Unreadable", exc)
            return
        if text_col not in names:
            stats.bytes_read = stats.size or 0
            msg = f"Parquet schema has no text column {fields.text!r}; columns: {', '.join(sorted(names))}"
            yield from _row_errors(spec, range(num_rows), "SchemaMismatch", msg)
            return
        twice = sorted(n for n in wanted if names.count(n) > 1)
        if twice:
            stats.bytes_read = stats.size or 0
            msg = (f"Parquet schema has {len(twice)} mapped column name(s) more than once: "
                   f"{', '.join(twice)}; rename the columns so each mapped name is unique")
            yield from _row_errors(spec, range(num_rows), "AmbiguousColumn", msg)
            return
        columns = sorted(wanted & set(names))
        row = 0
        for g, group_rows in enumerate(groups):
            first = row
            try:
                for batch in pf.iter_batches(batch_size=batch_rows, columns=columns, row_groups=[g]):
                    converted = {}
                    problems: dict[int, str] = {}
                    for name in batch.schema.names:
                        converted[name], bad = _column_values(batch.column(name), name)
                        for i, why in bad.items():
                            problems.setdefault(i, why)
                    keys = list(converted)
                    for i in range(batch.num_rows):
                        if i in problems:
                            yield ErrorRecord(source=spec.source, file=spec.path, offset=row,
                                              offset_kind="row", stage="read", error_class="BadValue",
                                              message=problems[i][:2000])
                        else:
                            record = {k: converted[k][i] for k in keys}
                            try:
                                yield record_to_outcome(
                                    record, spec=spec, source=source, position=row, position_kind="row",
                                    max_doc_chars=max_doc_chars,
                                    raw_head=_head(str(record.get(fields.text, ""))),
                                )
                            except Exception as exc:
                                yield ErrorRecord(source=spec.source, file=spec.path, offset=row,
                                                  offset_kind="row", stage="read",
                                                  error_class=type(exc).__name__, message=str(exc)[:2000])
                        row += 1
            except Exception as exc:  # a page or column chunk of this row group cannot be read
                stats.complete = False
                end = first + group_rows
                msg = (f"row group {g} (rows {first}-{end - 1}) cannot be read: {type(exc).__name__}: "
                       f"{exc}; {end - row} of its {group_rows} rows lost")
                yield from _row_errors(spec, range(row, end), "CorruptRowGroup", safe_text(msg))
                row = end
        stats.bytes_read = stats.size or 0
        if row != num_rows:  # pragma: no cover - row groups always add up to the footer's count
            stats.complete = False
            yield _file_error(spec, row, "row", "IncompleteRead",
                              ValueError(f"read {row} rows of the footer's {num_rows}"))


def _safe_error(rec: ErrorRecord) -> ErrorRecord:
    """The error record with every text field writable as UTF-8."""
    head, msg = safe_text(rec.head), safe_text(rec.message)
    doc_id = safe_text(rec.doc_id) if rec.doc_id is not None else None
    if head is rec.head and msg is rec.message and doc_id is rec.doc_id:
        return rec
    return ErrorRecord(source=rec.source, file=safe_text(rec.file), offset=rec.offset,
                       offset_kind=rec.offset_kind, stage=rec.stage, error_class=rec.error_class,
                       message=msg, head=head, doc_id=doc_id)


def _checked_warc(spec: FileSpec, outcomes: Iterator[Outcome], stats: ReadStats) -> Iterator[Outcome]:
    """WARC/WET outcomes with unwritable header values turned into error records; an error after
    which the reader stops (cut or corrupt record, not a WARC) says how many bytes are not read
    and marks the file incomplete (so does one after which it resumed at the next record: its
    message already names the bytes skipped)."""

    for out in outcomes:
        if isinstance(out, ErrorRecord):
            if out.error_class in WARC_LOSS or out.error_class == "Unreadable":
                stats.complete = False
                lost = max(0, stats.size - out.offset) if stats.size is not None else 0
                if out.offset_kind == "byte" and lost and out.error_class != "Unreadable" \
                        and warc.RESUMED_MARK not in out.message:  # else it says which bytes are lost
                    out = ErrorRecord(**{**{f: getattr(out, f) for f in ErrorRecord.__slots__},
                                         "message": f"{out.message}; the rest of the file from byte "
                                                    f"{out.offset} ({lost} of its {stats.size} bytes) is not read"})
            yield _safe_error(out)
            continue
        doc = out.doc if isinstance(out, Rejected) else out
        bad = unencodable_field(doc)
        if bad is None:
            yield out
        else:
            yield ErrorRecord(source=spec.source, file=spec.path, offset=doc.line, offset_kind="byte",
                              stage="read", error_class="UnencodableValue",
                              message=f"{bad} cannot be written as UTF-8", doc_id=safe_text(doc.id))


def iter_file(spec: FileSpec, source: SourceConfig, max_doc_chars: int,
              byte_range: tuple[int, int | None] | None = None,
              stats: ReadStats | None = None) -> Iterator[Outcome]:
    """Read one file with the reader of its format (``byte_range``: formats that allow byte
    ranges only, see :func:`plan_ranges`).

    ``stats`` (optional) is filled with the bytes read and whether the file was read whole.
    Every error record is writable (text fields safe for UTF-8).
    """
    reader = READERS.get(spec.format)
    if reader is None:  # pragma: no cover - validated in plan_files
        raise ValueError(f"unknown format {spec.format!r}")
    if byte_range is not None and byte_range != (0, None) and not reader.byte_ranges:
        raise ValueError(f"byte ranges are only supported for JSONL, not {spec.format}")
    stats = stats if stats is not None else ReadStats()
    for out in reader.read(spec, source, max_doc_chars, byte_range, stats):
        yield _safe_error(out) if isinstance(out, ErrorRecord) else out
    if not reader.byte_ranges:  # whole-file readers account for their bytes at the end
        stats.first, stats.position = 0, stats.bytes_read


def _read_jsonl(spec: FileSpec, source: SourceConfig, max_doc_chars: int,
                byte_range: tuple[int, int | None] | None, stats: ReadStats) -> Iterator[Outcome]:
    yield from iter_jsonl(spec, source, max_doc_chars, byte_range, stats)


def _read_parquet(spec: FileSpec, source: SourceConfig, max_doc_chars: int,
                  byte_range: tuple[int, int | None] | None, stats: ReadStats) -> Iterator[Outcome]:
    yield from iter_parquet(spec, source, max_doc_chars, stats=stats)


def _read_warc(spec: FileSpec, source: SourceConfig, max_doc_chars: int,
               byte_range: tuple[int, int | None] | None, stats: ReadStats) -> Iterator[Outcome]:
    stats.at_end = True
    stats.size = local_size(spec.path)
    wstats: Counter[str] = Counter()
    yield from _checked_warc(spec, warc.iter_warc(spec, source, max_doc_chars, stats=wstats), stats)
    stats.bytes_read = wstats.get("bytes_read", 0)
    if stats.complete and stats.size is not None and stats.bytes_read != stats.size:
        stats.complete = False
        yield ErrorRecord(source=spec.source, file=spec.path, offset=stats.bytes_read, offset_kind="byte",
                          stage="read", error_class="IncompleteRead",
                          message=f"read {stats.bytes_read} of the file's {stats.size} bytes")


ReadFn = Callable[[FileSpec, SourceConfig, int, "tuple[int, int | None] | None", ReadStats], Iterator[Outcome]]


@dataclass(frozen=True)
class ReaderSpec:
    """An input format: its name (``sources[].format``), the file endings that select it (after a
    compression ending is removed), its read function and whether a big file may be cut into
    byte ranges read in parallel."""

    name: str
    extensions: tuple[str, ...]
    read: ReadFn
    byte_ranges: bool = False


#: Every input format, in the order file endings are tried. A new reader is one row here (and its
#: name in :data:`corpusflow.io.config.INPUT_FORMATS`): see docs/developing.md.
READERS: dict[str, ReaderSpec] = {r.name: r for r in (
    ReaderSpec("parquet", PARQUET_EXTS, _read_parquet),
    ReaderSpec("wet", (".warc.wet", ".wet"), _read_warc),
    ReaderSpec("warc", (".warc", ".arc"), _read_warc),
    ReaderSpec("jsonl", JSONL_EXTS, _read_jsonl, byte_ranges=True),
)}
SUPPORTED_FORMATS = tuple(READERS)


def supported_inputs() -> str:
    """The input file names this build can read, for error messages."""

    comp = "/".join(supported_compressions())
    return (f"JSONL ({', '.join(JSONL_EXTS)}, optionally {comp}), Parquet ({', '.join(PARQUET_EXTS)}), "
            f"WARC (.warc, .warc.gz), WET (.wet, .warc.wet, .wet.gz)")


def plan_files(sources: list[SourceConfig], files_by_source: dict[str, list[str]]) -> list[FileSpec]:
    """The ordered list of files to read, with formats and stable file keys.

    Checked here, at launch, before anything is read (all problems together in one
    :class:`~corpusflow.io.filesystems.InputPlanError`, a ``ValueError``, so ``run`` and
    ``validate`` exit 2 naming them):

    * a file whose format cannot be told or whose compression cannot be read here (e.g. ``.lz4``
      without the lz4 package), with the list of what is supported;
    * a local file that cannot be opened for reading;
    * a symlink loop or a folder that cannot be listed under a local glob
      (:func:`~corpusflow.io.filesystems.scan_local_pattern`);
    * the same real file (after symlinks and ``..``) in two sources.

    The same real file reached through several spellings within one source (two globs, a
    symlinked folder) is planned once, under its first spelling.
    """

    specs: list[FileSpec] = []
    problems: list[str] = []
    reader_of: dict[str, str] = {}  # real path -> source that reads it
    for s in sources:
        patterns = list(s.paths)  # as written: files of a pkg: glob keep their pkg: spelling
        for pat in patterns:
            problems.extend(scan_local_pattern(pat))
        for path in files_by_source[s.name]:
            local = resolve_path(path)  # pkg: paths are checked where this install keeps them
            local = local[len("file://"):] if local.startswith("file://") else local
            if not is_remote(local):
                real = os.path.realpath(local)
                if real in reader_of:
                    if reader_of[real] != s.name:
                        problems.append(f"{path}: the same file is read by sources {reader_of[real]!r} and {s.name!r}")
                    continue
                reader_of[real] = s.name
                if not os.access(local, os.R_OK):
                    problems.append(f"{path}: not readable (permission denied)")
                    continue
            try:
                fmt = detect_format(path, s.format)
            except ValueError:
                problems.append(f"{path}: unsupported input format; supported: {supported_inputs()}")
                continue
            if fmt not in SUPPORTED_FORMATS:
                problems.append(f"{path}: unknown format {fmt!r}; supported: {', '.join(SUPPORTED_FORMATS)}")
                continue
            codec = codec_of(path)
            if codec == "lz4" and not lz4_available():
                problems.append(f"{path}: .lz4 needs the lz4 package (pip install lz4); supported: "
                                f"{supported_inputs()}")
                continue
            if codec not in (None, "gzip") and fmt in ("warc", "wet"):
                problems.append(f"{path}: WARC/WET files can only be read plain or gzipped; "
                                f"supported: {supported_inputs()}")
                continue
            if codec is not None and fmt in ("parquet",):
                problems.append(f"{path}: a compressed Parquet file cannot be read (Parquet compresses "
                                "its pages itself); decompress it first")
                continue
            pattern = next((p for p in patterns if _matches(path, p)), patterns[0])
            specs.append(FileSpec(source=s.name, path=path, file_key=file_key(path, pattern), format=fmt))
    if problems:
        unique = list(dict.fromkeys(problems))
        more = f"\n  ... and {len(unique) - 20} more" if len(unique) > 20 else ""
        raise InputPlanError(f"inputs: {len(unique)} problem(s)\n  " + "\n  ".join(unique[:20]) + more)
    return specs


def _matches(path: str, pattern: str) -> bool:
    return fnmatch.fnmatch(path, pattern) or path == pattern


# ---- read parallelism: files split into byte ranges ----
#: Ranges per run: enough for a local runner to give every one of up to 8 workers a few equal
#: parts, whatever the number and sizes of the input files.
TARGET_PARTS = 16
#: Never split below this many (decompressed) bytes per range: each range of a compressed file
#: decompresses the file from its start, so small ranges cost more decompression than they save.
MIN_RANGE_BYTES = 16 << 20


def estimated_size(spec: FileSpec) -> int | None:
    """Decompressed size of a local JSONL file (plain, or .gz from its ISIZE trailer), else None.

    Only a balance hint: a wrong value (a multi-member .gz, a file over 4 GiB) changes how
    evenly work is spread, never what is read, because the last range is open-ended.
    """

    path = resolve_path(spec.path)
    path = path[len("file://"):] if path.startswith("file://") else path
    if spec.format != "jsonl" or is_remote(path):
        return None
    try:
        size = os.path.getsize(path)
        name = path.lower()
        if name.endswith(".gz"):
            if size < 18:
                return None
            with open(path, "rb") as f:
                f.seek(-4, os.SEEK_END)
                return max(size, int.from_bytes(f.read(4), "little"))
        if name.endswith(COMPRESSION_EXTS):
            return None  # no cheap size: read whole
        return size
    except OSError:
        return None


def _split_counts(sizes: list[int], total_ranges: int, min_bytes: int) -> list[int]:
    """Ranges per file, summing to at most ``total_ranges``: each step splits the file whose
    ranges are currently the largest (never below ``min_bytes`` a range), so sizes end up as
    equal as whole-file boundaries allow. Deterministic: ties go to the earlier file."""
    counts = [1] * len(sizes)
    caps = [max(1, z // max(1, min_bytes)) for z in sizes]
    heap: list[tuple[float, int]] = [(-float(z), i) for i, z in enumerate(sizes) if caps[i] > 1]
    heapq.heapify(heap)
    left = total_ranges - len(sizes)
    while left > 0 and heap:
        _, i = heapq.heappop(heap)
        counts[i] += 1
        left -= 1
        if counts[i] < caps[i]:
            heapq.heappush(heap, (-sizes[i] / counts[i], i))
    return counts


def _worst_share(sizes: list[int], counts: list[int], workers: int) -> float:
    """Load of the busiest worker relative to an even split, when a runner hands each of
    ``workers`` workers an equal number of ranges in an order it chooses (the local runner's
    round-robin): the ``ceil(n / workers)`` largest ranges on one worker."""
    ranges = sorted((z / k for z, k in zip(sizes, counts, strict=True) for _ in range(k)), reverse=True)
    per_worker = -(-len(ranges) // workers)
    return sum(ranges[:per_worker]) / (sum(ranges) / workers)


#: Cost of decompressing a byte relative to processing it (~3 ns against ~300 ns per byte of
#: JSONL in the full pipeline, bench_scale --stage-costs): the price of one more range of a
#: compressed file, which decompresses from the start of its file (see :func:`plan_ranges`).
DECOMPRESS_COST = 0.01


def _plan_cost(sizes: list[int], counts: list[int], compressed: list[bool], workers: int) -> float:
    """Expected time of the read stage relative to a perfect split: the busiest worker's share
    times the extra decompression (a file cut into ``k`` ranges is decompressed ``(k+1)/2``
    times instead of once)."""
    total = sum(sizes)
    extra = sum(z * (k - 1) / 2 for z, k, c in zip(sizes, counts, compressed, strict=True) if c) / total
    return _worst_share(sizes, counts, workers) * (1 + DECOMPRESS_COST * extra)


def plan_ranges(specs: list[FileSpec], parts: int = TARGET_PARTS, min_bytes: int = MIN_RANGE_BYTES,
                workers: int | None = None) -> list[tuple[FileSpec, int, int | None]]:
    """Split big local JSONL files into byte ranges so that ``workers`` workers get equal work.

    Beam's local runner (multi_processing) hands each worker a fixed, equal *number* of the work
    items, round-robin in an order of its choosing, and runs the next stage only when every
    worker is done. One item per file leaves workers idle when there are few or unequal files
    (two files of 20,000 and 5,000 documents: one worker does 80% of the work), and so do
    unequal ranges: 5 equal files cut into 15 ranges give one of 2 workers 8 and the other 7,
    which left a core idle for ~8 s of a 90 s 100k-document run.

    So the number of ranges ``n`` is chosen to minimise :func:`_plan_cost`: the busiest worker's
    share when every worker gets the same number of ranges, times the extra decompression that
    more ranges of a compressed file cost (each decompresses its file from the start). ``n`` runs
    from ``min(parts, 4 * workers)`` (at least four ranges per worker, so that work that is not
    proportional to bytes, e.g. a file sorted by language, still interleaves; at least one range
    per file) to ``2 * parts``, the smallest on a tie. Each file gets ranges as equal in size as
    whole-file boundaries allow (:func:`_split_counts`), none below ``min_bytes`` decompressed
    bytes. Five equal ``.jsonl.gz`` files: 10 ranges for 2 workers, 20 for 4, whole files for 1.

    ``workers=None`` (a distributed runner: the worker count is not known when the graph is built,
    and a work item is never split) asks for at least ``parts`` ranges as equal in size as
    possible: 20 for the five files.

    Each file becomes ``(spec, lo, hi)`` items that tile ``[0, None)`` (see :func:`iter_jsonl`);
    other formats, remote files and files of unknown size stay whole ``(spec, 0, None)``. What
    is read is the same whatever the plan; only the balance changes.
    """
    sizes = [estimated_size(s) for s in specs]
    split_idx = [i for i, z in enumerate(sizes) if z]
    split_sizes = [sizes[i] or 0 for i in split_idx]
    compressed = [specs[i].path.lower().endswith(COMPRESSION_EXTS) for i in split_idx]
    counts_by_idx: dict[int, int] = {}
    if split_sizes:
        if workers is None:  # unknown: at least `parts` ranges, judged as if each had its own worker
            lo_n = max(len(split_sizes), parts)
        else:
            workers = max(1, workers)
            lo_n = max(len(split_sizes), min(parts, 4 * workers))
        best: tuple[float, int, list[int]] | None = None
        for total in range(lo_n, max(2 * parts, lo_n) + 1):
            counts = _split_counts(split_sizes, total, min_bytes)
            per = workers if workers is not None else sum(counts)
            key = (round(_plan_cost(split_sizes, counts, compressed, per), 4), sum(counts), counts)
            if best is None or key[:2] < best[:2]:
                best = key
        assert best is not None
        counts_by_idx = dict(zip(split_idx, best[2], strict=True))
    out: list[tuple[FileSpec, int, int | None]] = []
    for i, (spec, size) in enumerate(zip(specs, sizes, strict=True)):
        n = counts_by_idx.get(i, 1)
        bounds: list[int | None] = [size * j // n for j in range(n)] if size else [0]
        bounds.append(None)
        out.extend((spec, bounds[j], bounds[j + 1]) for j in range(len(bounds) - 1))  # type: ignore[misc]
    return out
