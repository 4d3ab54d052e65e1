"""ReadDocuments: files -> Documents, with rejected and error outputs and per-file input counts."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam import pvalue

from corpusflow.core.document import Document, ErrorRecord, Rejected
from corpusflow.core.outcomes import BYTES_READ
from corpusflow.io.config import SourceConfig
from corpusflow.io.readers import LOSS_CLASSES, FileSpec, ReadStats, iter_file, plan_ranges
from corpusflow.stages.base import TAG_ERRORS, TAG_REJECTED, StageCounters
from corpusflow.stages.ids import file_hashes, path_hash
from corpusflow.stages.spill import Spill

TAG_INPUT_COUNTS = "input_counts"
TAG_DOC_COUNTS = "doc_counts"
TAG_FILE_STATS = "file_stats"
#: Records between two publications of a range's read counters (live progress mid-range).
PUBLISH_EVERY = 500


def merge_file_stats(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One file's report from the reports of its ranges: records and errors added up, bytes and
    size from the range that read to the end, complete only if every range was."""
    out: dict[str, Any] = {"source": "", "format": "", "size": None, "bytes_read": 0, "records": 0,
                           "errors": 0, "loss_errors": 0, "complete": True}
    for part in parts:
        out["source"], out["format"] = part["source"], part["format"]
        out["records"] += part["records"]
        out["errors"] += part["errors"]
        out["loss_errors"] += part["loss_errors"]
        out["complete"] = out["complete"] and part["complete"]
        if part["at_end"]:
            out["size"], out["bytes_read"] = part["size"], part["bytes_read"]
    if out["size"] is not None and out["bytes_read"] != out["size"]:
        out["complete"] = False
    return out


class _MergeFileStats(beam.CombineFn):  # type: ignore[misc]
    def create_accumulator(self) -> list[dict[str, Any]]:
        return []

    def add_input(self, acc: list[dict[str, Any]], part: dict[str, Any]) -> list[dict[str, Any]]:
        acc.append(part)
        return acc

    def merge_accumulators(self, accs: Any) -> list[dict[str, Any]]:
        return [p for acc in accs for p in acc]

    def extract_output(self, acc: list[dict[str, Any]]) -> dict[str, Any]:
        return merge_file_stats(acc)


class StrictModeError(RuntimeError):
    """Raised in ``--strict`` mode at the first malformed record."""


class RangeReader:
    """Reads one file range: iterate over it for its outcomes (``--strict`` raises at the first
    error record); then :attr:`records`, :attr:`docs` and :meth:`file_stat` describe it."""

    def __init__(self, spec: FileSpec, source: SourceConfig, max_doc_chars: int, lo: int, hi: int | None,
                 strict: bool, counters: StageCounters) -> None:
        self.spec, self._source, self._max, self._lo, self._hi = spec, source, max_doc_chars, lo, hi
        self._strict, self._counters = strict, counters
        self.records = self.docs = self.errors = self.loss_errors = 0
        self.stats = ReadStats()

    def __iter__(self) -> Iterator[Document | Rejected | ErrorRecord]:
        spec = self.spec
        told = [0, 0, 0]  # records, documents and stored bytes published so far (live progress)
        for out in iter_file(spec, self._source, self._max, (self._lo, self._hi), self.stats):
            self.records += 1
            if not self.records % PUBLISH_EVERY:
                self._publish(told)
            if isinstance(out, Document):
                self.docs += 1
            elif isinstance(out, Rejected):
                self._counters.rejected(out.reason)
            elif isinstance(out, ErrorRecord):
                if self._strict:
                    raise StrictModeError(
                        f"--strict: malformed record in {out.file} at {out.offset_kind} {out.offset}: "
                        f"{out.error_class}: {out.message}"
                    )
                self._counters.error(out.error_class)
                self.errors += 1
                self.loss_errors += out.error_class in LOSS_CLASSES
            else:  # pragma: no cover - programming error in a reader
                raise TypeError(f"reader yielded {type(out).__name__}")
            yield out
        if self._lo == 0:
            self._counters.info("files")
        self._publish(told)

    def _publish(self, told: list[int]) -> None:
        """Count what was read since the last call: records in, documents out and stored bytes
        (``info.bytes_read``, what live progress sets against the input's total size)."""
        c, consumed = self._counters, self.stats.consumed()
        if self.records > told[0]:
            c.received(self.records - told[0])
        if self.docs > told[1]:
            c.kept(self.docs - told[1])
        if consumed > told[2]:
            c.info(BYTES_READ, consumed - told[2])
        told[:] = [self.records, self.docs, max(consumed, told[2])]

    def file_stat(self) -> dict[str, Any]:
        """This range's part of its file's report (merged per file by :func:`merge_file_stats`)."""
        st = self.stats
        return {"source": self.spec.source, "format": self.spec.format, "records": self.records,
                "errors": self.errors, "loss_errors": self.loss_errors, "size": st.size,
                "bytes_read": st.bytes_read, "complete": st.complete, "at_end": st.at_end}


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
        reader = RangeReader(spec, self._sources[spec.source], self._max, lo, hi, self._strict, self._counters)
        for out in reader:
            if out.__class__ is Document:
                yield out
            else:
                yield pvalue.TaggedOutput(TAG_REJECTED if out.__class__ is Rejected else TAG_ERRORS, out)
        yield pvalue.TaggedOutput(TAG_INPUT_COUNTS, (spec.source, reader.records))
        yield pvalue.TaggedOutput(TAG_DOC_COUNTS, (spec.source, reader.docs))
        yield pvalue.TaggedOutput(TAG_FILE_STATS, (spec.path, reader.file_stat()))


class _ReadIdsFn(beam.DoFn):
    """Reads one file again and emits only ``(id, (source, path_hash(file), line))`` of each kept
    Document (an int for the file: the path is not carried once per document).

    The same reader with the same arguments as :class:`_ReadFileFn`, so exactly the same
    documents; used by :class:`~corpusflow.stages.ids.MakeIdsUnique` so that its rename map does
    not depend on the documents themselves (a side input computed from the documents
    makes a local runner hold every document in RAM until the map is ready).
    """

    def __init__(self, sources: dict[str, SourceConfig], max_doc_chars: int) -> None:
        self._sources = sources
        self._max = max_doc_chars

    def process(self, item: tuple[FileSpec, int, int | None]) -> Iterator[tuple[str, tuple[str, int, int]]]:
        spec, lo, hi = item
        source, fh = spec.source, path_hash(spec.path)
        for out in iter_file(spec, self._sources[spec.source], self._max, (lo, hi)):
            if isinstance(out, Document):
                yield out.id, (source, fh, out.line)


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
    #: ``(path, report)`` per input file: bytes, records, errors, whether it was read to its end.
    file_stats: beam.PCollection


class ReadDocuments(beam.PTransform):
    """Reads every planned file in parallel (one work item per file, or per byte range of a big
    local JSONL file: see :func:`~corpusflow.io.readers.plan_ranges`; spread by a Reshuffle).

    Returns :class:`ReadOutputs`: ``kept`` Documents, ``rejected`` (e.g. ``input.too_long``),
    ``errors`` (malformed records), ``input_counts`` ``(source, n_records)`` per file for the
    manifest and ``doc_counts`` ``(source, n_documents)`` per file (the Documents in ``kept``).
    With ``id_places=True``, also ``id_places``: ``(id, (source, path_hash(file), line))`` of
    every kept Document from a second, separate read of the same files (see :class:`_ReadIdsFn`).

    ``file_stats``: one ``(path, report)`` per input file, ``report`` being
    ``{"source", "format", "size", "bytes_read", "records", "errors", "loss_errors",
    "complete"}``: ``size`` the file's size as stored (None for a remote file), ``bytes_read``
    the stored bytes consumed (compressed bytes for a compressed file; the file's size for
    Parquet, whose footer says where every row is), ``records`` the outcomes yielded (kept +
    rejected + errors at this stage), ``errors`` the error records among them, ``loss_errors``
    those that stand for data not read (truncated or corrupt stream, unreadable file or row
    group), ``complete`` False when the file was not read to its end or bytes were skipped
    (always with an error record saying where and how many).
    """

    def __init__(self, specs: list[FileSpec], sources: list[SourceConfig], max_doc_chars: int,
                 strict: bool = False, id_places: bool = False) -> None:
        super().__init__()
        self._with_ids = id_places
        self._specs = list(specs)
        self._sources = {s.name: s for s in sources}
        self._max = max_doc_chars
        self._strict = strict
        if id_places:
            file_hashes(s.path for s in self._specs)  # renamed ids use the path hash: refuse clashes

    def expand(self, pbegin: beam.pvalue.PBegin) -> ReadOutputs:
        ranges = plan_ranges(self._specs, workers=_local_workers(pbegin.pipeline))
        files = (
            pbegin
            | "ListFiles" >> beam.Create(ranges)
            | "SpreadFiles" >> beam.Reshuffle()
        )
        outs = files | "ReadFile" >> beam.ParDo(_ReadFileFn(self._sources, self._max, self._strict)).with_outputs(
            TAG_REJECTED, TAG_ERRORS, TAG_INPUT_COUNTS, TAG_DOC_COUNTS, TAG_FILE_STATS, main="docs"
        )
        id_places = None
        file_stats = outs[TAG_FILE_STATS] | "MergeFileStats" >> beam.CombinePerKey(_MergeFileStats())
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
                           id_places=id_places, file_stats=file_stats)
