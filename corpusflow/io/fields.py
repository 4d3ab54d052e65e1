"""Field mappings for ``--input`` files: parsed from ``--fields`` or detected from the first record.

A file given with ``--input`` is not described by any config, so its field names are looked up in
the file itself: the first JSON record of a JSONL file, the schema of a Parquet file. The usual
names of public corpora are tried in order (``id``, ``doc_id``, ``sample_id``; ``text``,
``content``, ``raw_content``; ``url``, ``metadata.url``, ``meta.url``): the first one with a value,
else the first one present as a key with a null value (later records may have one). An id-like
field that is not the chosen id is passed through to the metadata, so no input id is ever discarded.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from typing import Any

from corpusflow.io.config import FieldMapping
from corpusflow.io.filesystems import open_read
from corpusflow.io.readers import detect_format, get_field

ID_NAMES = ("id", "doc_id", "sample_id")
TEXT_NAMES = ("text", "content", "raw_content")
URL_NAMES = ("url", "metadata.url", "meta.url")
_KEYS = ("id", "text", "url")
_PEEK_BYTES = 64 << 20  # a first line longer than this is not a JSONL record worth peeking at


def parse_fields(spec: str) -> dict[str, str | None]:
    """``"id=doc_id,text=content,url="`` -> ``{"id": "doc_id", "text": "content", "url": None}``.

    Raises ValueError naming the slip (unknown key, missing ``=``, empty text field).
    """
    out: dict[str, str | None] = {}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        key, eq, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not eq:
            raise ValueError(f"--fields: {part!r} is not KEY=FIELD (keys: {', '.join(_KEYS)})")
        if key not in _KEYS:
            raise ValueError(f"--fields: unknown key {key!r} (keys: {', '.join(_KEYS)})")
        if key == "text" and not value:
            raise ValueError("--fields: text= needs a field name")
        out[key] = value or None
    if not out:
        raise ValueError(f"--fields: give KEY=FIELD pairs separated by commas (keys: {', '.join(_KEYS)})")
    return out


def fields_arg(spec: str) -> dict[str, str | None]:
    """:func:`parse_fields` as an argparse ``type=`` (its message shown as the usage error)."""
    try:
        return parse_fields(spec)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def first_record_keys(path: str) -> tuple[dict[str, Any] | None, list[str]]:
    """The first record of a JSONL file (None if it has none) or the column names of a Parquet file.

    For Parquet, struct columns are listed with their dotted children (``metadata.url``).
    """
    fmt = detect_format(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq  # lazy: heavy or optional dependency, loaded only when used

        with open_read(path, compressed=False) as fh:
            schema = pq.ParquetFile(fh).schema_arrow
        names: list[str] = []
        for f in schema:
            names.append(f.name)
            if hasattr(f.type, "num_fields"):
                names.extend(f"{f.name}.{f.type.field(i).name}" for i in range(f.type.num_fields))
        return None, names
    if fmt != "jsonl":
        return None, []
    with open_read(path) as fh:
        for raw in fh:
            if len(raw) > _PEEK_BYTES:
                break
            line = raw.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                return None, []
            return (record, list(record)) if isinstance(record, dict) else (None, [])
    return None, []


def _present(record: dict[str, Any] | None, names: list[str], field: str) -> bool:
    if record is not None:
        return get_field(record, field) is not None
    return field in names


def _has_key(record: dict[str, Any] | None, field: str) -> bool:
    """``field`` is a key of ``record`` (its value may be null: ``"url": null`` in the first record
    of a file whose later records have URLs, as ``corpusflow export --format jsonl`` writes them)."""
    if record is None:
        return False
    parent, _, last = field.rpartition(".")
    node = get_field(record, parent) if parent else record
    return field in record or (isinstance(node, dict) and last in node)


def detect_fields(path: str, given: dict[str, str | None] | None = None) -> FieldMapping:
    """The field mapping for one input file: ``given`` keys as given, the others detected.

    WARC/WET files (whose fields are fixed) and empty files get the defaults. Id-like fields of the
    file that are not the chosen id go to ``meta`` (the output's metadata column).
    """
    given = dict(given or {})
    if detect_format(path) not in ("jsonl", "parquet"):
        return FieldMapping(**given)  # type: ignore[arg-type]
    record, names = first_record_keys(path)
    if record is None and not names:
        return FieldMapping(**given)  # type: ignore[arg-type]
    chosen: dict[str, Any] = {}
    for key, candidates, fallback in (("id", ID_NAMES, None), ("text", TEXT_NAMES, "text"),
                                      ("url", URL_NAMES, None)):
        if key in given:
            chosen[key] = given[key]
            continue
        found = next((c for c in candidates if _present(record, names, c)), None)
        if found is None:  # no candidate with a value: one present as a key (null here, set later)
            found = next((c for c in candidates if _has_key(record, c)), None)
        chosen[key] = found if found is not None else fallback
    chosen["meta"] = [c for c in ID_NAMES if c != chosen["id"] and _present(record, names, c)]
    return FieldMapping(**chosen)


def describe(mapping: FieldMapping) -> str:
    """``id=doc_id text=content url=- meta=id`` (``-``: none)."""
    parts = [f"id={mapping.id or '-'}", f"text={mapping.text}", f"url={mapping.url or '-'}"]
    if mapping.meta:
        parts.append("meta=" + ",".join(mapping.meta))
    return " ".join(parts)


def group_by_mapping(files: Iterable[str], given: dict[str, str | None] | None = None
                     ) -> list[tuple[FieldMapping, list[str]]]:
    """Files grouped by their detected mapping, in the order the mappings first appear."""
    groups: dict[str, tuple[FieldMapping, list[str]]] = {}
    for path in files:
        m = detect_fields(path, given)
        key = m.model_dump_json()
        groups.setdefault(key, (m, []))[1].append(path)
    return list(groups.values())
