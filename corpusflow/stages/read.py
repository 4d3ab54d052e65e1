"""ReadDocuments: files -> Documents, with rejected and error outputs and per-file input counts."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam import pvalue

from corpusflow.core.document import Document, ErrorRecord, Rejected
from corpusflow.io.config import SourceConfig
from corpusflow.io.readers import FileSpec, iter_file, plan_ranges
from corpusflow.stages.base import TAG_ERRORS, TAG_REJECTED, StageCounters
from corpusflow.stages.spill import Spill

TAG_INPUT_COUNTS = "input_counts"
TAG_DOC_COUNTS = "doc_counts"


class StrictModeError(RuntimeError):
    """Raised in ``--strict`` mode at the first malformed record."""


class _ReadFileFn(beam.DoFn):
    """Reads one file (range); emits one outcome per record and, at the end, the range's record count
    and its count of Documents (for the check against the id-only read)."""

    def __init__(self, sources: dict[str, SourceConfig], max_doc_chars: int, strict: bool = False) -> None:
        self._sources = sources
        self._max = max_doc_chars
        self._strict = strict

    def setup(self) -> None:
        self._counters = StageCounters("read")

    def process(self, item: tuple[FileSpec, int, int | None]) -> Iterator[Any]:
        spec, lo, hi = item  # a byte range of the file (see plan_ranges)
        source = self._sources[spec.source]
        n = n_docs = 0
        for out in iter_file(spec, source, self._max, (lo, hi)):
            n += 1
            if isinstance(out, Document):
                n_docs += 1
                yield out
            elif isinstance(out, Rejected):
                self._counters.rejected(out.reason)
                yield pvalue.TaggedOutput(TAG_REJECTED, out)
            elif isinstance(out, ErrorRecord):
                if self._strict:
                    raise StrictModeError(
                        f"--strict: malformed record in {out.file} at {out.offset_kind} {out.offset}: "
                        f"{out.error_class}: {out.message}"
                    )
                self._counters.error(out.error_class)
                yield pvalue.TaggedOutput(TAG_ERRORS, out)
            else:  # pragma: no cover - programming error in a reader
                raise TypeError(f"reader yielded {type(out).__name__}")
        if lo == 0:
            self._counters.info("files")
        self._counters.received(n)
        self._counters.kept(n_docs)
        yield pvalue.TaggedOutput(TAG_INPUT_COUNTS, (spec.source, n))
        yield pvalue.TaggedOutput(TAG_DOC_COUNTS, (spec.source, n_docs))


class _ReadIdsFn(beam.DoFn):
    """Reads one file again and emits only ``(id, (source, file, line))`` of each kept Document.

    The same reader with the same arguments as :class:`_ReadFileFn`, so exactly the same
    documents; used by :class:`~corpusflow.stages.ids.MakeIdsUnique` so that its rename map does
    not depend on the documents themselves (a side input computed from the documents
    makes a local runner hold every document in RAM until the map is ready).
    """

    def __init__(self, sources: dict[str, SourceConfig], max_doc_chars: int) -> None:
        self._sources = sources
        self._max = max_doc_chars

    def process(self, item: tuple[FileSpec, int, int | None]) -> Iterator[tuple[str, tuple[str, str, int]]]:
        spec, lo, hi = item
        for out in iter_file(spec, self._sources[spec.source], self._max, (lo, hi)):
            if isinstance(out, Document):
                yield out.id, (out.source, out.file, out.line)


def _local_workers(pipeline: beam.Pipeline) -> int | None:
    """Workers of Beam's local runner (``--direct_num_workers``; 0 means one per core), so that
    :func:`~corpusflow.io.readers.plan_ranges` gives each the same work. None when the workers do
    not share this machine (``--shared_filesystem=false``): their count is not known here, so the
    plan asks for many equal ranges instead."""
    from apache_beam.options.pipeline_options import (  # lazy: heavy or optional dependency, loaded only when used
        DirectOptions,  # lazy: heavy or optional dependency, loaded only when used
    )


    if not Spill.of(pipeline).local:
        return None
    n = pipeline.options.view_as(DirectOptions).direct_num_workers or 1
    return n if n > 0 else (os.cpu_count() or 1)


class ReadOutputs(NamedTuple):
    kept: beam.PCollection
    rejected: beam.PCollection
    errors: beam.PCollection
    input_counts: beam.PCollection
    doc_counts: beam.PCollection
    id_places: beam.PCollection | None


class ReadDocuments(beam.PTransform):
    """Reads every planned file in parallel (one work item per file, or per byte range of a big
    local JSONL file: see :func:`~corpusflow.io.readers.plan_ranges`; spread by a Reshuffle).

    Returns :class:`ReadOutputs`: ``kept`` Documents, ``rejected`` (e.g. ``input.too_long``),
    ``errors`` (malformed records), ``input_counts`` ``(source, n_records)`` per file for the
    manifest and ``doc_counts`` ``(source, n_documents)`` per file (the Documents in ``kept``).
    With ``id_places=True``, also ``id_places``: ``(id, (source, file, line))`` of every kept
    Document from a second, separate read of the same files (see :class:`_ReadIdsFn`).
    """

    def __init__(self, specs: list[FileSpec], sources: list[SourceConfig], max_doc_chars: int,
                 strict: bool = False, id_places: bool = False) -> None:
        super().__init__()
        self._with_ids = id_places
        self._specs = list(specs)
        self._sources = {s.name: s for s in sources}
        self._max = max_doc_chars
        self._strict = strict

    def expand(self, pbegin: beam.pvalue.PBegin) -> ReadOutputs:
        ranges = plan_ranges(self._specs, workers=_local_workers(pbegin.pipeline))
        files = (
            pbegin
            | "ListFiles" >> beam.Create(ranges)
            | "SpreadFiles" >> beam.Reshuffle()
        )
        outs = files | "ReadFile" >> beam.ParDo(_ReadFileFn(self._sources, self._max, self._strict)).with_outputs(
            TAG_REJECTED, TAG_ERRORS, TAG_INPUT_COUNTS, TAG_DOC_COUNTS, main="docs"
        )
        id_places = None
        if self._with_ids:
            # Its own list of work items: consumers of one PCollection are fused into one stage by
            # the local runner, which would put the rename map downstream of the document read.
            id_places = (
                pbegin
                | "ListFilesForIds" >> beam.Create(ranges)
                | "SpreadFilesForIds" >> beam.Reshuffle()
                | "ReadIds" >> beam.ParDo(_ReadIdsFn(self._sources, self._max))
            )
        return ReadOutputs(kept=outs.docs, rejected=outs[TAG_REJECTED], errors=outs[TAG_ERRORS],
                           input_counts=outs[TAG_INPUT_COUNTS], doc_counts=outs[TAG_DOC_COUNTS],
                           id_places=id_places)
