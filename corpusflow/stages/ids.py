"""MakeIdsUnique: the same id on two different input records never merges them.

Input dumps reuse ids (two sources numbering from 0, a re-crawl of the same page, a file listed
twice under different names). Downstream stages key documents by id (dedup clusters, the
duplicates' ``kept_id``, mixture selection), so two different records sharing an id would be
confused. Only ids are shuffled to find collisions: ``(id, (source, file, line))`` tuples are
grouped by id; for each id seen more than once, the first record in ``(source, file, line)``
order keeps the id and every other one is renamed ``{id}~{source}:{file_key}#{line}``, with the
original kept in ``meta["original_id"]``. Nothing is dropped here: whether the two texts are
duplicates is for the dedup stage to decide.

The ``(id, place)`` tuples come from a second, id-only read of the input files when the
pipeline passes them (``ReadDocuments(..., id_places=True)``, the default in
:func:`corpusflow.pipeline.build`): the rename map then does not depend on the documents, so
documents stream through the rename instead of waiting in memory for the map. That second read
costs about as much as reading (~55 µs per document, bench/bench_scale.py --stage-costs) and
keeps the memory of a local run from growing with the corpus (docs/scaling.md, section 1.1). Without
it, the tuples are taken from the documents (same renames).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import apache_beam as beam

from corpusflow.core.document import Document
from corpusflow.stages.base import StageCounters
from corpusflow.stages.handoff import Handoff

Key = tuple[str, str, int]


def _collisions(item: tuple[str, Iterable[Key]]) -> Iterator[tuple[Key, str]]:
    doc_id, places = item
    ordered = sorted(places)
    for source, file, line in ordered[1:]:
        yield (source, file, line), f"{doc_id}~{source}:{file.rsplit('/', 1)[-1]}#{line}"


class _RenameFn(beam.DoFn):
    def setup(self) -> None:
        self._counters = StageCounters("ids")

    def process(self, doc: Document, renames: dict[Key, str]) -> Iterator[Document]:
        new = renames.get((doc.source, doc.file, doc.line)) if renames else None
        if new is None:
            yield doc
            return
        self._counters.info("renamed")
        yield doc.replace(id=new, meta={**doc.meta, "original_id": doc.id})


class MakeIdsUnique(beam.PTransform):
    """Renames all but the first record of each id that occurs more than once (see module doc).

    Args:
        id_places: ``(id, (source, file, line))`` of every document, from a separate read
            (``ReadOutputs.id_places`` of :class:`~corpusflow.stages.read.ReadDocuments`); None takes them from the documents.
    """

    def __init__(self, id_places: beam.PCollection | None = None) -> None:
        super().__init__()
        self._id_places = id_places

    def expand(self, docs: beam.PCollection) -> beam.PCollection:
        places = self._id_places
        if places is None:
            places = docs | "IdPlaces" >> beam.Map(lambda d: (d.id, (d.source, d.file, d.line)))
        renames = (
            places
            | "GroupById" >> beam.GroupByKey()
            | "Collisions" >> beam.FlatMap(_collisions)
        )
        if self._id_places is not None:
            # The map comes from a separate read: documents stream through the rename, fused with
            # the read (nothing waits, nothing is materialised).
            return docs | "RenameCollisions" >> beam.ParDo(_RenameFn(), renames=beam.pvalue.AsDict(renames))
        # The renaming waits for every id taken from the documents: hand the documents over
        # through local files, not through the runner (see corpusflow.stages.handoff).
        waiting = docs | "Handoff" >> Handoff("ids", [beam.pvalue.AsIter(renames)])
        return waiting | "RenameCollisions" >> beam.ParDo(_RenameFn(), renames=beam.pvalue.AsDict(renames))
