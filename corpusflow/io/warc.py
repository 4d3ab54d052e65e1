"""WARC and WET readers: Common Crawl files to documents, streaming, one record at a time.

Every WARC record is accounted for in one of two ways:

* **Not an input document** (counted in ``stats``, never emitted): ``warcinfo``, ``request``,
  ``metadata``, ``resource``, ``revisit`` and ``continuation`` records. They describe the crawl,
  not pages, so they are not "input documents" and do not enter the manifest's conservation
  count (input = kept + rejected + duplicates + errors counts what the reader yields).
* **One outcome per page record** (``response`` in a WARC, ``conversion`` in a WET):

  - a :class:`~corpusflow.core.document.Document`: for a WARC response, the HTML decoded to text
    (:func:`corpusflow.text.html.decode_html`: HTTP header, ``<meta>``, Japanese detection) with
    ``meta["content_kind"] = "html"`` so the extraction stage (:mod:`corpusflow.steps.extract`)
    turns it into plain text; for a WET conversion record the plain text with
    ``content_kind = "text"``;
  - a :class:`~corpusflow.core.document.Rejected` at stage ``read`` with an empty text and the
    record's metadata: ``warc.http_status`` (status other than 200; the detail names it),
    ``warc.not_html`` (a non-HTML payload: images, PDF, JSON...), ``warc.empty`` (no payload),
    ``warc.too_large`` (record block over ``max_record_bytes``: not even read into memory),
    ``input.too_long`` (WET text over ``max_doc_chars``, as for JSONL);
  - an :class:`~corpusflow.core.document.ErrorRecord` (stage ``read``) with the file and the record's
    byte offset: ``UndecodableHtml`` (no charset decodes the page), ``InvalidUtf8`` (a WET record
    that is not UTF-8), ``TruncatedRecord`` (the file ends inside a record), ``CorruptRecord``
    (unreadable record header or compressed data, or a Content-Length that does not end at a
    record boundary), ``UnknownRecordType`` (a WARC-Type outside the standard's list: a damaged
    header), ``NotWarc`` (an ARC or non-WARC file), ``Unreadable`` (the file cannot be opened).

Damage in the middle of a file (a garbled header, a wrong Content-Length, garbage between
records, a corrupt gzip member) is one ``CorruptRecord`` (or ``TruncatedRecord``) error whose
message says which bytes are not read; reading then resumes at the next record header after the
damaged record (scanning forward for a ``WARC/1.0``/``WARC/1.1`` header, or for a gzip
member that inflates to one), so the records after it are read. Only when no record header
follows does the error cover the rest of the file. A file gzipped as a whole cannot be resynced
(its offsets are in the uncompressed stream): reading stops at the damage there.

Offsets are byte offsets in the file as stored: for ``.warc.gz`` the offset of the record's
gzip member (what Common Crawl's index gives, usable for a range request). A file gzipped as a
whole (one member for many records) is re-read through a decompressor, and its offsets are then
offsets in the uncompressed stream (``offset_kind = "byte_uncompressed"``).

Document ids are the WARC-Record-ID (``urn:uuid:...``, globally unique); ``url`` is the
WARC-Target-URI; ``line`` holds the record's byte offset; ``meta`` has ``warc_date``,
``content_type``, ``http_status``, ``charset``, ``charset_source``, ``html_bytes``,
``warc_offset`` and, when present, ``content_language``, ``warc_truncated`` (Common Crawl cuts
payloads over its size limit and says so in this header) and
``warc_identified_payload_type``; WET documents have ``warc_refers_to`` and ``cc_languages``
(WARC-Identified-Content-Language).

Files are opened with ``smart_open`` (local paths, ``s3://``, ``gs://``, ``http(s)://``) with
its own decompression disabled: warcio reads gzip members itself.

Pure Python (no Beam import); :mod:`corpusflow.io.readers` dispatches formats ``warc`` and
``wet`` here and :mod:`corpusflow.stages.read` wires it into Beam.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import zlib
from collections import Counter
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any

from corpusflow.core.document import Document, ErrorRecord, Rejected
from corpusflow.core.paths import resolve_path
from corpusflow.text.html import UndecodableHtml, decode_html, parse_content_type

Outcome = Document | Rejected | ErrorRecord

STAGE = "read"
REASON_HTTP_STATUS = "warc.http_status"
REASON_NOT_HTML = "warc.not_html"
REASON_EMPTY = "warc.empty"
REASON_TOO_LARGE = "warc.too_large"
REASON_TOO_LONG = "input.too_long"

#: Record types that carry a page; all others are crawl bookkeeping (see module docstring).
PAGE_RECORD_TYPES = ("response", "conversion")
#: The record types of the WARC 1.1 standard (ISO 28500:2017, section 6); any other is an error.
RECORD_TYPES = ("warcinfo", "response", "resource", "request", "metadata", "revisit", "conversion", "continuation")
HTML_MIME_TYPES = frozenset({"text/html", "application/xhtml+xml", "application/vnd.wap.xhtml+xml"})
#: Declared types that say nothing about the payload: we then sniff the bytes.
UNINFORMATIVE_MIME_TYPES = frozenset({"", "application/octet-stream", "unknown/unknown", "binary/octet-stream"})
HEAD_BYTES = 200
_DRAIN_CHUNK = 1 << 16


@dataclass(frozen=True, slots=True)
class WarcOptions:
    """Reader limits.

    Attributes:
        max_doc_chars: WET texts longer than this are rejected as ``input.too_long`` (the
            pipeline's ``limits.max_doc_chars``). HTML is bounded by the extraction stage's
            ``max_html_bytes`` instead, since markup is much longer than its text.
        max_record_bytes: a response whose WARC block is larger is rejected
            (``warc.too_large``) without being read into memory. Common Crawl truncates
            payloads itself (``WARC-Truncated``), so this only guards against other crawls.
        max_replacement_fraction: the lenient charset fallback accepts at most this share of
            undecodable characters (see :func:`corpusflow.text.html.decode_html`).
    """

    max_doc_chars: int = 2_000_000
    max_record_bytes: int = 64 * 1024 * 1024
    max_replacement_fraction: float = 0.01


def _options(opts: Any) -> WarcOptions:
    if opts is None:
        return WarcOptions()
    if isinstance(opts, WarcOptions):
        return opts
    if isinstance(opts, int):  # the readers' dispatch passes limits.max_doc_chars
        return WarcOptions(max_doc_chars=opts)
    if isinstance(opts, dict):
        return WarcOptions(**opts)
    raise TypeError(f"opts must be WarcOptions, dict, int or None, got {type(opts).__name__}")


def _strip_brackets(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1]
    return value


def looks_like_html(body: bytes) -> bool:
    """Sniff a payload without a useful Content-Type: does it start like an HTML document?"""
    head = body[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith(b"<!doctype html") or b"<html" in head


def _drain(record: Any) -> bool:
    """Read what is left of the record block; True if the file ended before its end."""
    raw = record.raw_stream
    while raw.read(_DRAIN_CHUNK):
        pass
    return getattr(raw, "limit", 0) > 0


def _open(path: str) -> Any:
    import smart_open  # lazy: heavy or optional dependency, loaded only when used


    return smart_open.open(resolve_path(path), "rb", compression="disable")


def iter_warc(
    path: Any,
    source: Any,
    opts: Any = None,
    *,
    stats: Counter[str] | None = None,
) -> Iterator[Outcome]:
    """Stream the page records of one WARC or WET file as documents, rejections and errors.

    Args:
        path: a path or URL, or a :class:`~corpusflow.io.readers.FileSpec` (its ``path`` is used).
        source: the :class:`~corpusflow.config.SourceConfig` (its ``name`` goes on every
            record), or a plain source name.
        opts: :class:`WarcOptions`, a dict of its fields, an int (``max_doc_chars``) or None.
        stats: optional counter updated with ``records.<type>`` for every WARC record read and
            ``outcome.<document|rejected|error>`` for what was yielded.

    Response and conversion records are handled whatever the file's declared format, so one
    function reads both WARC and WET files (a WARC has no conversion records, a WET no
    responses).
    """
    options = _options(opts)
    file_path = str(getattr(path, "path", path))
    source_name = str(getattr(source, "name", source))
    stats = stats if stats is not None else Counter()
    try:
        fh = _open(file_path)
    except Exception as exc:
        stats["outcome.error"] += 1
        yield _error(source_name, file_path, 0, "byte", "Unreadable", f"{type(exc).__name__}: {exc}")
        return
    first: Counter[str] = Counter()
    with fh:
        pages = yield from _iter_stream(fh, file_path, source_name, options, first, "byte", skip=0)
        with contextlib.suppress(OSError, ValueError, AttributeError):
            first["bytes_read"] = fh.tell()
    if pages >= 0:
        stats.update(first)
        return
    # Gzipped as a whole (one member holding many records): re-read through a decompressor,
    # skipping the page records already yielded. Record counts come from the second pass.

    stats.update({k: v for k, v in first.items() if k.startswith("outcome.")})
    try:
        fh = _open(file_path)
    except Exception as exc:  # pragma: no cover - it opened a moment ago
        stats["outcome.error"] += 1
        yield _error(source_name, file_path, 0, "byte", "Unreadable", f"{type(exc).__name__}: {exc}")
        return
    with fh, gzip.GzipFile(fileobj=fh) as gz:
        yield from _iter_stream(gz, file_path, source_name, options, stats, "byte_uncompressed",
                                skip=-pages - 1)
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stats["bytes_read"] = fh.tell()


@dataclass(frozen=True, slots=True)
class _Damage:
    """Where reading stopped: the record (or bytes) at ``offset`` cannot be read."""

    offset: int
    cls: str
    msg: str
    doc_id: str | None = None


def _iter_stream(
    fh: Any,
    file_path: str,
    source: str,
    options: WarcOptions,
    stats: Counter[str],
    offset_kind: str,
    skip: int,
) -> Generator[Outcome, None, int]:
    """Yield outcomes of the records in ``fh``; returns the number of page records handled,
    or ``-(n + 1)`` when the file turns out to be gzipped as a whole after ``n`` records.

    Damage in the middle of a file as stored (``offset_kind == "byte"``: a plain WARC or one
    gzip member per record) gives one error record for the bytes lost, and reading resumes at
    the next record header found after the damaged record (:func:`_resync`).
    """
    pages = 0
    first = True
    while True:
        ctx = _Stream(fh, file_path, source, options, stats, offset_kind)
        pages, damage = yield from _iter_records(ctx, skip, pages, first)
        first = False
        if damage is None or pages < 0:
            return pages
        resume = _resync(fh, damage.offset + 1) if offset_kind == "byte" else None
        stats["outcome.error"] += 1
        if resume is None:
            yield _error(source, file_path, damage.offset, offset_kind, damage.cls, damage.msg, doc_id=damage.doc_id)
            if offset_kind == "byte":
                with contextlib.suppress(OSError, ValueError, AttributeError):
                    fh.seek(0, os.SEEK_END)  # the rest of the file is not read
            return pages
        cls = "CorruptRecord" if damage.cls in ("TruncatedRecord", "TruncatedInput") else damage.cls
        yield _error(source, file_path, damage.offset, offset_kind, cls,
                     f"{damage.msg}; bytes {damage.offset}-{resume - 1} ({resume - damage.offset} bytes) "
                     f"{RESUMED_MARK} {resume}, the next record header", doc_id=damage.doc_id)
        stats["resyncs"] += 1
        fh.seek(resume)


#: Words of an error message after which the reader went on (see :func:`_iter_stream`).
RESUMED_MARK = "are not read; reading resumes at byte"


@dataclass(frozen=True, slots=True)
class _Stream:
    """What :func:`_iter_records` reads from and reports to."""

    fh: Any
    file_path: str
    source: str
    options: WarcOptions
    stats: Counter[str]
    offset_kind: str


def _iter_records(
    ctx: _Stream, skip: int, pages: int, at_file_start: bool,
) -> Generator[Outcome, None, tuple[int, _Damage | None]]:
    """Records from the current position of ``fh`` up to the end or the first damage.

    A record's outcome is held until the next record header has been read: when the bytes
    after its block are not the blank lines that end a record (warcio counts that in
    ``err_count``), its Content-Length was wrong, and the record itself is the damage.
    """
    fh, file_path, source, options, stats, offset_kind = (
        ctx.fh, ctx.file_path, ctx.source, ctx.options, ctx.stats, ctx.offset_kind)
    it = _checked_iterator(fh)
    records = iter(it)
    index = -1
    last_offset = 0
    pending: tuple[Outcome | None, int, str | None, int] | None = None  # outcome, offset, id, err_count

    def suspect() -> _Damage | None:
        """The held record, when the bytes after its block were not a record boundary."""
        if pending is None or it.err_count == pending[3]:
            return None
        return _Damage(pending[1], "CorruptRecord",
                       "the bytes after this record's block are not the blank lines that end a record "
                       "(wrong Content-Length, or bytes inserted or lost)", pending[2])

    def release() -> Iterator[Outcome]:
        if pending is not None and pending[0] is not None:
            outcome = pending[0]
            kind = ("document" if isinstance(outcome, Document)
                    else "rejected" if isinstance(outcome, Rejected) else "error")
            stats[f"outcome.{kind}"] += 1
            yield outcome

    while True:
        try:
            record = next(records)
        except StopIteration:
            bad = suspect()
            if bad is not None:
                return pages, bad
            yield from release()
            if not (it.gzip_incomplete or it.trailing_bytes) and offset_kind == "byte" and index >= 0 \
                    and _last_member_cut(fh, last_offset):
                stats["outcome.error"] += 1
                yield _error(source, file_path, last_offset, offset_kind, "TruncatedInput",
                             "the gzip member of the last record ends before its CRC-32/length trailer "
                             "(file cut short): the record was read but cannot be verified")
                return pages, None
            if it.gzip_incomplete or it.trailing_bytes:
                what = ("the compressed stream ends inside a gzip member" if it.gzip_incomplete
                        else f"{it.trailing_bytes} bytes after the last record do not form a record")
                return pages, _Damage(it.offset, "TruncatedInput", f"{what} (file cut short or corrupt)")
            return pages, None
        except Exception as exc:
            msg = f"{type(exc).__name__}: {exc}"
            bad = suspect()
            if bad is not None:
                return pages, bad
            if "non-chunked" in str(exc) and offset_kind == "byte" and at_file_start:
                yield from release()
                return -(pages + 1), None
            yield from release()
            return pages, _Damage(it.offset, "CorruptRecord", msg[:2000])
        bad = suspect()
        if bad is not None:
            return pages, bad
        yield from release()
        pending = None
        index += 1
        offset = last_offset = it.offset  # start of this record (of its gzip member for .warc.gz)
        if record.format != "warc":
            if index == 0 and at_file_start:
                stats["outcome.error"] += 1
                yield _error(source, file_path, offset, offset_kind, "NotWarc",
                             f"record {index} is not a WARC record (format {record.format!r}); "
                             "ARC files and other formats are not supported")
                return pages, None
            return pages, _Damage(offset, "CorruptRecord", f"not a WARC record header (format {record.format!r})")
        rec_type = record.rec_type or ""
        stats[f"records.{rec_type}"] += 1
        record_id = _strip_brackets(record.rec_headers.get_header("WARC-Record-ID"))
        # a damaged WARC-Type (the record may have been a page): an error, reading goes on
        if rec_type not in RECORD_TYPES and record.length is not None and not _drain(record):
            pending = (_error(source, file_path, offset, offset_kind, "UnknownRecordType",
                              f"WARC-Type {rec_type!r} is none of {', '.join(RECORD_TYPES)}; "
                              "the record is not read", doc_id=record_id), offset, record_id, it.err_count)
            continue
        if record.length is None:  # Content-Length is mandatory: the header was cut short
            return pages, _Damage(offset, "TruncatedRecord",
                                  f"{rec_type or 'WARC'} record header without Content-Length (file cut short "
                                  "or corrupt)", record_id)
        try:
            if rec_type in PAGE_RECORD_TYPES:
                pages += 1
                if pages <= skip:
                    outcome = None
                    truncated = _drain(record)
                elif rec_type == "response":
                    outcome, truncated = _response(record, file_path, source, offset, offset_kind, options)
                else:
                    outcome, truncated = _conversion(record, file_path, source, offset, offset_kind, options)
            else:
                outcome, truncated = None, _drain(record)
        except Exception as exc:  # decompression failed inside the record
            return pages, _Damage(offset, "CorruptRecord", f"{type(exc).__name__}: {exc}"[:2000], record_id)
        if truncated:
            return pages, _Damage(offset, "TruncatedRecord",
                                  f"the file ends inside this {rec_type} record "
                                  f"({record.raw_stream.limit} of its {record.length} bytes missing)", record_id)
        pending = (outcome, offset, record_id, it.err_count)


_SCAN_CHUNK = 1 << 20
_HEADER_LIMIT = 1 << 16
_WARC_STARTS = (b"WARC/1.0\r\n", b"WARC/1.1\r\n")
_GZIP_MAGIC = b"\x1f\x8b\x08"


def _resync(fh: Any, start: int) -> int | None:
    """File offset of the first record start at or after ``start``, or None (none, or the file
    cannot seek).

    A plain record starts with ``WARC/1.0`` or ``WARC/1.1`` (anywhere: garbage before it need
    not end in a newline), and its header (up to the blank line, within 64 KiB) has a numeric
    Content-Length; in a ``.warc.gz`` a record starts with a gzip member whose first bytes
    inflate to such a header. Both are looked for, whatever the file's first bytes (they may
    be the damage).
    """
    pats = (_GZIP_MAGIC, *_WARC_STARTS)
    tail = max(len(p) for p in pats) - 1
    pos, carry = start, b""
    while True:
        try:
            fh.seek(pos)
            chunk = fh.read(_SCAN_CHUNK)
        except (OSError, ValueError, AttributeError):
            return None
        if not chunk:
            return None
        buf = carry + chunk
        base = pos - len(carry)
        hits = sorted((i, p == _GZIP_MAGIC) for p in pats for i in _find_all(buf, p))
        for i, gz in hits:
            if base + i >= start and _valid_start(fh, base + i, gz):
                return base + i
        carry = buf[-tail:]
        pos += len(chunk)


def _find_all(buf: bytes, pat: bytes) -> Iterator[int]:
    i = buf.find(pat)
    while i >= 0:
        yield i
        i = buf.find(pat, i + 1)


def _valid_start(fh: Any, offset: int, gz: bool) -> bool:
    try:
        fh.seek(offset)
        raw = fh.read(_HEADER_LIMIT)
    except (OSError, ValueError, AttributeError):
        return False
    if gz:
        try:
            raw = zlib.decompressobj(31).decompress(raw, _HEADER_LIMIT)
        except zlib.error:
            return False
    if not raw.startswith(_WARC_STARTS):
        return False
    head = raw.split(b"\r\n\r\n", 1)[0] if gz else raw.split(b"\r\n\r\n", 1)
    if not gz and len(head) < 2:
        return False
    header = head if gz else head[0]
    for line in header.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return value.strip().isdigit()
    return False


def _last_member_cut(fh: Any, offset: int) -> bool:
    """True when the file's last gzip member (the one at ``offset``) ends before its trailer.

    warcio stops at the end of the file without checking that the last member's CRC-32 and
    length arrived, so a ``.warc.gz`` cut inside its last 8 bytes would pass as complete. Only
    that member is read again (one record). False for a plain WARC or a stream that cannot seek.
    """

    try:
        fh.seek(offset)
        data = fh.read()
    except (OSError, ValueError, AttributeError):
        return False
    if data[:2] != b"\x1f\x8b":
        return False
    d = zlib.decompressobj(31)
    try:
        while data:
            d.decompress(data)
            data = d.unused_data.lstrip(b"\0") if d.eof else b""
            if data:
                d = zlib.decompressobj(31)
    except zlib.error:
        return True
    return not d.eof


def _checked_iterator(fh: Any) -> Any:
    """A warcio ArchiveIterator that remembers whether the file ended inside a record.

    warcio stops silently when a file ends inside a record header or a gzip member; the bytes
    read past the last complete record (and zlib's ``eof`` flag on the last member's
    decompressor) tell a complete file from a cut one.
    """
    from warcio.archiveiterator import (  # lazy: heavy or optional dependency, loaded only when used
        ArchiveIterator,  # lazy: heavy or optional dependency, loaded only when used
    )

    class _Checked(ArchiveIterator):  # type: ignore[misc]
        gzip_incomplete = False

        trailing_bytes = 0

        def close(self) -> None:
            # Bytes read past the end of the last complete record belong to a record that was
            # cut short (or to garbage); a complete file ends exactly at a record boundary.
            reader = getattr(self, "reader", None)
            if reader is not None:
                with contextlib.suppress(OSError, ValueError, AttributeError):
                    self.trailing_bytes = max(0, fh.tell() - self.offset)
                decompressor = getattr(reader, "decompressor", None)
                if decompressor is not None and not getattr(decompressor, "eof", True) and self.trailing_bytes:
                    self.gzip_incomplete = True
            super().close()

    return _Checked(fh, check_digests=False)


#: Error classes after which the rest of the file is not read (the per-file report says so).
LOSS_CLASSES = frozenset({"TruncatedInput", "CorruptRecord", "TruncatedRecord", "NotWarc"})


def _error(
    source: str, file: str, offset: int, kind: str, cls: str, msg: str,
    *, doc_id: str | None = None, head: str = "",
) -> ErrorRecord:
    return ErrorRecord(source=source, file=file, offset=offset, offset_kind=kind, stage=STAGE,
                       error_class=cls, message=msg, head=head, doc_id=doc_id)


def _base_doc(record: Any, file: str, source: str, offset: int) -> Document:
    h = record.rec_headers
    record_id = _strip_brackets(h.get_header("WARC-Record-ID")) or f"{source}/{os.path.basename(file)}#B{offset}"
    meta: dict[str, Any] = {"warc_date": h.get_header("WARC-Date") or "", "warc_offset": offset}
    for header, key in (
        ("WARC-Truncated", "warc_truncated"),
        ("WARC-Identified-Payload-Type", "warc_identified_payload_type"),
        ("WARC-Refers-To", "warc_refers_to"),
        ("WARC-Identified-Content-Language", "cc_languages"),
    ):
        value = h.get_header(header)
        if value:
            meta[key] = _strip_brackets(value) if key == "warc_refers_to" else value
    url = _strip_brackets(h.get_header("WARC-Target-URI")) or None
    return Document(id=record_id, text="", source=source, url=url, meta=meta, file=file, line=offset)


def _reject(doc: Document, reason: str, detail: str) -> Rejected:
    return Rejected(doc=doc, stage=STAGE, reason=reason, detail=detail)


def _response(
    record: Any, file: str, source: str, offset: int, offset_kind: str, options: WarcOptions,
) -> tuple[Outcome, bool]:
    doc = _base_doc(record, file, source, offset)
    http = record.http_headers
    if http is None:
        return _reject(doc, REASON_NOT_HTML, "response without HTTP headers"), _drain(record)
    content_type = http.get_header("Content-Type") or ""
    mime, header_charset = parse_content_type(content_type)
    try:
        status = int(http.get_statuscode() or 0)
    except ValueError:
        status = 0
    meta = {**doc.meta, "content_type": content_type, "http_status": status}
    language = http.get_header("Content-Language")
    if language:
        meta["content_language"] = language
    doc = doc.replace(meta=meta)
    if status != 200:
        return _reject(doc, REASON_HTTP_STATUS, f"HTTP status {status}"), _drain(record)
    if record.length is not None and record.length > options.max_record_bytes:
        return _reject(doc, REASON_TOO_LARGE,
                       f"record block of {record.length} bytes > {options.max_record_bytes}"), _drain(record)
    if mime and mime not in HTML_MIME_TYPES and mime not in UNINFORMATIVE_MIME_TYPES:
        return _reject(doc, REASON_NOT_HTML, f"Content-Type {content_type!r}"), _drain(record)
    body = record.content_stream().read()
    truncated = _drain(record)
    if truncated:
        return doc, True
    if mime not in HTML_MIME_TYPES:
        identified = (doc.meta.get("warc_identified_payload_type") or "").lower()
        if not (identified in HTML_MIME_TYPES or (not identified and looks_like_html(body))):
            return _reject(doc, REASON_NOT_HTML,
                           f"Content-Type {content_type!r}, payload not HTML"), False
    if not body.strip():
        return _reject(doc, REASON_EMPTY, "empty HTML payload"), False
    try:
        decoded = decode_html(body, header_charset, max_replacement_fraction=options.max_replacement_fraction)
    except UndecodableHtml as exc:
        return _error(source, file, offset, offset_kind, "UndecodableHtml", str(exc), doc_id=doc.id,
                      head=body[:HEAD_BYTES].decode("ascii", "backslashreplace")), False
    meta.update(
        content_kind="html", charset=decoded.charset, charset_source=decoded.source, html_bytes=len(body),
    )
    if decoded.replaced:
        meta["charset_replaced"] = decoded.replaced
    return doc.replace(text=decoded.text, meta=meta), False


def _conversion(
    record: Any, file: str, source: str, offset: int, offset_kind: str, options: WarcOptions,
) -> tuple[Outcome, bool]:
    doc = _base_doc(record, file, source, offset)
    content_type = record.rec_headers.get_header("Content-Type") or "text/plain"
    meta = {**doc.meta, "content_type": content_type, "content_kind": "text"}
    body = record.content_stream().read()
    if _drain(record):
        return doc, True
    doc = doc.replace(meta=meta)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = body.decode("utf-8", "replace")
        bad = text.count("\ufffd")
        if bad > options.max_replacement_fraction * max(1, len(text)):
            return _error(source, file, offset, offset_kind, "InvalidUtf8",
                          f"WET text is not UTF-8 ({bad} undecodable characters; first at byte "
                          f"{exc.start})", doc_id=doc.id,
                          head=body[:HEAD_BYTES].decode("utf-8", "backslashreplace")), False
        meta["charset_replaced"] = bad
    if not text.strip():
        return _reject(doc, REASON_EMPTY, "empty WET text"), False
    if len(text) > options.max_doc_chars:
        return _reject(doc, REASON_TOO_LONG, f"{len(text)} characters > {options.max_doc_chars}"), False
    return doc.replace(text=text, meta=meta), False


def count_records(path: str) -> Counter[str]:
    """Read a whole file and return the ``stats`` counter (record types and outcomes)."""
    stats: Counter[str] = Counter()
    for _ in iter_warc(path, "count", stats=stats):
        pass
    return stats


#: Same reader for WET files (conversion records); kept as a separate name for readability.
iter_wet = iter_warc
