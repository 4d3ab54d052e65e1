"""The one document record that flows through every stage, and the outcome records.

Every input record ends in exactly one of four outcomes (the conservation principle):

* kept      -> a :class:`Document` written to ``OUTPUT/data/``
* rejected  -> a :class:`Rejected` (stage + stable reason code) written to ``OUTPUT/rejected/``
* duplicate -> a :class:`Duplicate` (with the id of the document kept instead) in ``OUTPUT/duplicates/``
* error     -> an :class:`ErrorRecord` (file, line/offset, error class and message) in ``OUTPUT/errors/``

Elements are treated as immutable: stages build new records with :func:`dataclasses.replace`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

# Outcome names used in counts and the manifest.
KEPT = "kept"
REJECTED = "rejected"
DUPLICATE = "duplicate"
ERROR = "error"
OUTCOMES = (KEPT, REJECTED, DUPLICATE, ERROR)


@dataclass(slots=True)
class Document:
    """A text document with provenance, language, pass-through metadata and quality signals.

    Attributes:
        id: Stable identifier (from the input, or ``source/file/line`` derived, see readers).
        text: Document text (normalised after the normalise stage).
        source: Name of the configured source it came from.
        lang: ISO 639-1 language code from language ID (``None`` before it runs).
        lang_score: fastText probability of ``lang``.
        url: URL, when the input has one.
        meta: Pass-through metadata chosen in the source's field mapping (JSON-able values).
        signals: Quality signals measured by filters (name -> number), kept as output columns
            when configured.
        file: Input file the document was read from.
        line: Line number (JSONL, 1-based) or row index (Parquet, 0-based) inside ``file``.
    """

    id: str
    text: str
    source: str
    lang: str | None = None
    lang_score: float | None = None
    url: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    signals: dict[str, float] = field(default_factory=dict)
    file: str = ""
    line: int = -1

    def replace(self, **changes: Any) -> Document:
        """A copy with ``changes`` applied (like :func:`dataclasses.replace`, about half the cost:
        it runs once or twice per document per stage)."""
        if not changes.keys() <= _DOC_FIELD_SET:
            unknown = sorted(changes.keys() - _DOC_FIELD_SET)
            raise TypeError(f"Document.replace() got unexpected field(s) {unknown}")
        return Document(*[changes[n] if n in changes else getattr(self, n) for n in _DOC_FIELDS])


_DOC_FIELDS = tuple(f.name for f in dataclasses.fields(Document))
_DOC_FIELD_SET = frozenset(_DOC_FIELDS)


@dataclass(slots=True)
class Rejected:
    """A document dropped by a stage, with a stable reason code such as ``langid.low_score``."""

    doc: Document
    stage: str
    reason: str
    detail: str = ""


@dataclass(slots=True)
class Duplicate:
    """A document dropped as a duplicate of ``kept_id`` (cluster of ``cluster_size`` documents)."""

    doc: Document
    stage: str
    kept_id: str
    cluster_size: int
    similarity: float | None = None


@dataclass(slots=True)
class ErrorRecord:
    """A record that could not be processed (malformed input, decoding error, stage failure).

    ``offset`` is a 1-based line number for line-oriented input, a row index for Parquet, or a
    byte offset for binary formats; ``offset_kind`` says which.
    """

    source: str
    file: str
    offset: int
    offset_kind: str
    stage: str
    error_class: str
    message: str
    head: str = ""
    doc_id: str | None = None


def error_from_exception(doc: Document, stage: str, exc: BaseException) -> ErrorRecord:
    """An :class:`ErrorRecord` for a document on which a stage raised: the job goes on."""
    return ErrorRecord(
        source=doc.source, file=doc.file, offset=doc.line,
        offset_kind="row" if doc.file.endswith((".parquet", ".pq")) else "line",
        stage=stage, error_class=type(exc).__name__, message=str(exc)[:2000],
        head=doc.text[:200], doc_id=doc.id,
    )


def _utf8_problem(value: str) -> int | None:
    """Index of the first character of ``value`` that UTF-8 cannot encode (a lone surrogate such
    as ``\\ud800`` from a JSON escape), or None when the whole string can be written."""
    if value.isascii():
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def unencodable_field(doc: Document) -> str | None:
    """Where ``doc`` holds a value no writer can store, as ``"field at character N"``; None when
    every field is safe.

    Checked: ``id``, ``text``, ``url``, ``source``, ``file`` and every ``meta`` key and value (as
    the JSON the writers store). A lone surrogate (JSON ``"\\udc80"`` without its pair) is the one
    value Python strings hold and UTF-8 cannot; such a document must become an error record at
    the reader, which knows its file and line, instead of failing the writer at the end of a job.
    Nothing is repaired or dropped here: the caller decides.
    """
    for name in ("id", "text", "url", "source", "file"):
        value = getattr(doc, name)
        if value is not None:
            at = _utf8_problem(value)
            if at is not None:
                return f"{name} at character {at}"
    if doc.meta:

        for key, value in doc.meta.items():
            at = _utf8_problem(json.dumps({key: value}, ensure_ascii=False, default=str))
            if at is not None:
                return f"meta[{key!r}]"
    return None


def safe_text(value: str) -> str:
    """``value`` with every character UTF-8 cannot encode written as a ``\\udXXX`` escape, for
    error messages and heads (which must always be writable); other characters unchanged."""
    if _utf8_problem(value) is None:
        return value
    return value.encode("utf-8", "backslashreplace").decode("utf-8")

