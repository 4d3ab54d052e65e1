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
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from corpusflow.core.document import Document, ErrorRecord, Rejected
from corpusflow.core.paths import is_remote, resolve_path
from corpusflow.io import warc
from corpusflow.io.config import SourceConfig
from corpusflow.io.filesystems import open_read

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
    format: str  # jsonl | parquet | warc | wet


def detect_format(path: str, declared: str = "auto") -> str:
    """The reader for ``path``: the declared format, or one inferred from the extension."""
    if declared != "auto":
        return declared
    name = path.lower()
    for ext in COMPRESSION_EXTS:
        if name.endswith(ext):
            name = name[: -len(ext)]
            break
    if name.endswith(PARQUET_EXTS):
        return "parquet"
    if name.endswith(".warc.wet") or name.endswith(".wet"):
        return "wet"
    if name.endswith(".warc") or name.endswith(".arc"):
        return "warc"
    if name.endswith(JSONL_EXTS):
        return "jsonl"
    raise ValueError(
        f"cannot tell the format of {path!r} from its extension; set the source's format "
        "(allowed: jsonl, parquet, warc, wet)"
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


_STREAM_ERRORS: tuple[type[BaseException], ...] = (EOFError, OSError, zlib.error, ValueError)
try:  # ISA-L's inflate (corpusflow.io.filesystems.inflate_backend) raises its own error type
    from isal import isal_zlib

    _STREAM_ERRORS = (*_STREAM_ERRORS, isal_zlib.error)
except ImportError:  # pragma: no cover
    pass
try:  # zstandard raises its own error type on a truncated frame
    import zstandard

    _STREAM_ERRORS = (*_STREAM_ERRORS, zstandard.ZstdError)
except ImportError:  # pragma: no cover
    pass


def iter_jsonl(spec: FileSpec, source: SourceConfig, max_doc_chars: int,
               byte_range: tuple[int, int | None] | None = None) -> Iterator[Outcome]:
    """Stream a (possibly compressed) JSONL file; see the module docstring for the outcomes.

    ``byte_range=(lo, hi)``: only the lines whose first byte, counted in the
    decompressed stream, lies in ``[lo, hi)`` (``hi=None``: to the end) are records of this call;
    the lines before are read but not decoded, and line numbers still count from the start of
    the file. Ranges that tile ``[0, None)`` (:func:`plan_ranges`) yield, together, exactly the
    outcomes of the whole file: a file that cannot be opened is reported by the range at 0, a
    stream that ends early by the range holding the position where it ended.
    """

    lo, hi = byte_range or (0, None)
    line_no = 0
    offset = 0  # decompressed bytes before the current line
    try:
        fh = open_read(spec.path)
    except Exception as exc:
        if lo == 0:
            yield _file_error(spec, 0, "line", "Unreadable", exc)
        return
    try:
        with fh:
            for raw in fh:
                line_no += 1
                start = offset
                offset += len(raw)
                if start < lo:
                    continue
                if hi is not None and start >= hi:
                    return
                if not raw.strip():
                    continue
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    yield ErrorRecord(
                        source=spec.source, file=spec.path, offset=line_no, offset_kind="line",
                        stage="read", error_class="UnicodeDecodeError",
                        message=f"invalid UTF-8 at byte {exc.start} of the line: {exc.reason}",
                        head=_head(raw),
                    )
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield ErrorRecord(
                        source=spec.source, file=spec.path, offset=line_no, offset_kind="line",
                        stage="read", error_class="JSONDecodeError", message=str(exc), head=_head(line),
                    )
                    continue
                except RecursionError:
                    yield ErrorRecord(
                        source=spec.source, file=spec.path, offset=line_no, offset_kind="line",
                        stage="read", error_class="JSONDecodeError", message="nesting too deep",
                        head=_head(line),
                    )
                    continue
                yield record_to_outcome(
                    record, spec=spec, source=source, position=line_no, position_kind="line",
                    max_doc_chars=max_doc_chars, raw_head=_head(line),
                )
    except _STREAM_ERRORS as exc:
        if offset >= lo and (hi is None or offset < hi):
            yield _file_error(spec, line_no + 1, "line", "TruncatedInput", exc)


def _file_error(spec: FileSpec, position: int, kind: str, cls: str, exc: BaseException) -> ErrorRecord:
    return ErrorRecord(
        source=spec.source, file=spec.path, offset=position, offset_kind=kind, stage="read",
        error_class=cls, message=f"{type(exc).__name__}: {exc}"[:2000],
    )


def iter_parquet(
    spec: FileSpec, source: SourceConfig, max_doc_chars: int, batch_rows: int = 1024
) -> Iterator[Outcome]:
    """Stream a Parquet file by record batches, mapping columns with the field mapping.

    A file whose schema lacks the mapped text column is reported as one error per row (so the
    counts still add up) with the columns it does have in the message.
    """
    import pyarrow.parquet as pq  # lazy: heavy or optional dependency, loaded only when used


    fields = source.fields
    wanted = {fields.text.split(".")[0]}
    for name in (fields.id, fields.url, *fields.meta):
        if name:
            wanted.add(name.split(".")[0])
    row = 0
    try:
        fh = open_read(spec.path, compressed=False)
    except Exception as exc:
        yield _file_error(spec, 0, "row", "Unreadable", exc)
        return
    try:
        with fh:
            pf = pq.ParquetFile(fh)
            names = set(pf.schema_arrow.names)
            if fields.text.split(".")[0] not in names:
                msg = (f"Parquet schema has no text column {fields.text!r}; columns: "
                       f"{', '.join(sorted(names))}")
                for i in range(pf.metadata.num_rows):
                    yield ErrorRecord(
                        source=spec.source, file=spec.path, offset=i, offset_kind="row", stage="read",
                        error_class="SchemaMismatch", message=msg,
                    )
                return
            columns = sorted(wanted & names)
            for batch in pf.iter_batches(batch_size=batch_rows, columns=columns):
                for record in batch.to_pylist():
                    yield record_to_outcome(
                        record, spec=spec, source=source, position=row, position_kind="row",
                        max_doc_chars=max_doc_chars, raw_head=_head(str(record.get(fields.text, ""))),
                    )
                    row += 1
    except Exception as exc:
        yield _file_error(spec, row, "row", "TruncatedInput", exc)


def iter_file(spec: FileSpec, source: SourceConfig, max_doc_chars: int,
              byte_range: tuple[int, int | None] | None = None) -> Iterator[Outcome]:
    """Dispatch on the file format (``byte_range``: JSONL only, see :func:`plan_ranges`)."""
    if byte_range is not None and byte_range != (0, None) and spec.format != "jsonl":
        raise ValueError(f"byte ranges are only supported for JSONL, not {spec.format}")
    if spec.format == "jsonl":
        yield from iter_jsonl(spec, source, max_doc_chars, byte_range)
    elif spec.format == "parquet":
        yield from iter_parquet(spec, source, max_doc_chars)
    elif spec.format in ("warc", "wet"):
        yield from warc.iter_warc(spec, source, max_doc_chars)
    else:  # pragma: no cover - validated in plan_files
        raise ValueError(f"unknown format {spec.format!r}")


def plan_files(sources: list[SourceConfig], files_by_source: dict[str, list[str]]) -> list[FileSpec]:
    """The ordered list of files to read, with formats and stable file keys."""

    specs: list[FileSpec] = []
    for s in sources:
        patterns = list(s.paths)  # as written: files of a pkg: glob keep their pkg: spelling
        for path in files_by_source[s.name]:
            pattern = next((p for p in patterns if _matches(path, p)), patterns[0])
            specs.append(FileSpec(source=s.name, path=path, file_key=file_key(path, pattern),
                                  format=detect_format(path, s.format)))
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
    heap = [(-z, i) for i, z in enumerate(sizes) if caps[i] > 1]
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
