"""Input sources: a name, file globs, a format and a field mapping per source."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from corpusflow.core.model import StrictModel

_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")

#: ``auto`` and the name of every reader of :data:`corpusflow.io.readers.READERS` (kept equal by a test).
INPUT_FORMATS = ("auto", "jsonl", "parquet", "warc", "wet")


class FieldMapping(StrictModel):
    """Which input field holds what. Dotted names reach into nested objects (``meta.url``)."""

    text: str = Field("text", description="Field with the document text.")
    id: str | None = Field(
        "id",
        description="Field with the document id. Missing ids (or id: null) get a stable id "
        "derived from source, file name and line number.",
    )
    url: str | None = Field("url", description="Field with the URL (optional in the data).")
    meta: list[str] = Field(
        default_factory=list,
        description="Extra fields passed through to the output's metadata: in metadata.extra (JSON), or in the "
        "typed field of that name when corpusflow has one (e.g. title) and the value has its type.",
    )


class SourceConfig(StrictModel):
    """One input source: a name, file globs, a format and a field mapping."""

    name: str = Field(description="Source key, written on every document (letters, digits, _ . -).")
    paths: list[str] = Field(min_length=1, description="Globs of local paths or URLs (s3://, gs://).")
    format: str = Field(
        "auto", description=f"Input format, one of {', '.join(INPUT_FORMATS)}; 'auto' decides by file extension."
    )
    fields: FieldMapping = Field(default_factory=FieldMapping)
    lang: str | None = Field(
        None, description="Expected language of the source (used when language ID is off)."
    )
    priority: int = Field(
        0, description="Higher wins when choosing which duplicate to keep (dedup keep rule)."
    )
    license: str | None = Field(
        None, description="Licence of the source's text (an SPDX id or a name), written to the dataset card."
    )
    provenance: str | None = Field(
        None, description="Where the data comes from (URL, crawl, snapshot), written to the dataset card."
    )

    @field_validator("format")
    @classmethod
    def _check_format(cls, v: str) -> str:
        if v not in INPUT_FORMATS:
            raise ValueError(f"{v!r} is not allowed; allowed values: {', '.join(INPUT_FORMATS)}")
        return v

    @field_validator("name")
    @classmethod
    def _check_name(cls, v: str) -> str:
        if not _NAME_RE.match(v):
            raise ValueError("must contain only letters, digits, '_', '.', '-'")
        return v
