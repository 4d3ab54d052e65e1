"""MakeIdsUnique: the same id on two different input records never merges them.

Input dumps reuse ids (two sources numbering from 0, a re-crawl of the same page, a file listed
twice under different names). Downstream stages key documents by id (dedup clusters, the
duplicates' ``kept_id``, mixture selection), so two different records sharing an id would be
confused. Only ids are shuffled to find collisions: ``(id, (source, file_hash, line))`` tuples
are grouped by id, where ``file_hash`` is :func:`path_hash` of the file's full path (an int:
the path itself is never shuffled, which keeps the bookkeeping per document at a few dozen
bytes). For each id seen more than once, the first record in ``(source, file_hash, line)``
order keeps the id and every other one is renamed::

    {id}~{source}:{path hash, 16 hex digits}#{line}

with the original kept in ``meta["original_id"]`` (the document's ``file`` and ``line`` columns
say where it came from). The full path's hash makes the name unique
for files of the same name in different folders (``seg1/part-0.jsonl``, ``seg2/part-0.jsonl``);
distinct paths with the same hash are refused when the graph is built (:func:`file_hashes`).
Every new name is checked against every input id: a name that an input record already uses
(a crafted or re-processed id) is replaced by the next candidate (``...#{line}~1``, ``~2``);
when all candidates are taken the job fails naming the id. Nothing is dropped here: whether
the two texts are duplicates is for the dedup stage to decide.

The ``(id, place)`` tuples come from a second, id-only read of the input files when the
pipeline passes them (``ReadDocuments(..., id_places=True)``, the default in
:func:`corpusflow.pipeline.build`): the rename map then does not depend on the documents, so
documents stream through the rename instead of waiting in memory for the map. That second read
costs about as much as reading (~55 µs per document, bench/bench_scale.py --stage-costs) and
keeps the memory of a local run from growing with the corpus (docs/scaling.md, section 1.1). Without
it, the tuples are taken from the documents (same renames).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam

from corpusflow.core.document import Document
from corpusflow.stages.base import StageCounters
from corpusflow.stages.handoff import Handoff

Key = tuple[str, int, int]  # (source, path_hash(file), line)

#: Candidate names tried for one renamed record before the job fails.
CANDIDATES = 3


class IdCollisionError(RuntimeError):
    """Renamed ids that cannot be made unique (all candidate names taken by input ids)."""


@functools.lru_cache(maxsize=65536)
def path_hash(path: str) -> int:
    """A stable 63-bit hash of a file's full path (blake2b), the same on every worker and run."""
    return int.from_bytes(hashlib.blake2b(path.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
                          "big") >> 1


def file_hashes(paths: Iterable[str]) -> dict[str, int]:
    """:func:`path_hash` of each path; raises when two distinct paths share a hash (so renamed ids
    could collide)."""
    out: dict[str, int] = {}
    by_hash: dict[int, str] = {}
    for p in paths:
        h = path_hash(p)
        if by_hash.setdefault(h, p) != p:
            raise IdCollisionError(f"input paths {by_hash[h]!r} and {p!r} have the same hash {h:x}; "
                                   "rename one of the files")
        out[p] = h
    return out


def place_of(doc: Document) -> Key:
    return doc.source, path_hash(doc.file), doc.line


def renamed_id(doc_id: str, source: str, file_hash: int, line: int, k: int = 0) -> str:
    """Candidate ``k`` of the new name of a repeated id (see the module docstring)."""
    name = f"{doc_id}~{source}:{file_hash:016x}#{line}"
    return name if k == 0 else f"{name}~{k}"


def _collisions(item: tuple[str, Iterable[Key]]) -> Iterator[tuple[Key, str]]:
    """``(place, id)`` of every record of a repeated id except the first one."""
    doc_id, places = item
    ordered = sorted(places)
    for place in ordered[1:]:
        yield place, doc_id


def _candidates(item: tuple[Key, str]) -> Iterator[tuple[str, Key]]:
    place, doc_id = item
    source, fh, line = place
    for k in range(CANDIDATES):
        yield renamed_id(doc_id, source, fh, line, k), place


def _taken(item: tuple[str, Any], candidates: dict[str, Key]) -> Iterator[tuple[str, bool]]:
    """An input id that is also a candidate new name."""
    if item[0] in candidates:
        yield item[0], True


def _choose(item: tuple[Key, str], taken: dict[str, bool]) -> tuple[Key, str]:
    place, doc_id = item
    source, fh, line = place
    for k in range(CANDIDATES):
        name = renamed_id(doc_id, source, fh, line, k)
        if name not in taken:
            return place, name
    raise IdCollisionError(
        f"id {doc_id!r} repeated in source {source!r} (line {line}): every new name tried "
        f"({CANDIDATES}) is already the id of an input record; make the input ids unique")


def apply_rename(doc: Document, renames: dict[Key, str] | None) -> Document | None:
    """``doc`` under its new name when the rename map has one for its place, else None."""
    new = renames.get(place_of(doc)) if renames else None
    if new is None:
        return None
    return doc.replace(id=new, meta={**doc.meta, "original_id": doc.id})


class _RenameFn(beam.DoFn):
    def setup(self) -> None:
        self._counters = StageCounters("ids")

    def process(self, doc: Document, renames: dict[Key, str]) -> Iterator[Document]:
        new = apply_rename(doc, renames)
        if new is None:
            yield doc
            return
        self._counters.info("renamed")
        yield new


def rename_map(places: beam.PCollection) -> beam.PCollection:
    """``(place, new id)`` of every record to rename, from ``(id, place)`` of every document
    (use it as ``beam.pvalue.AsDict``)."""
    grouped = places | "GroupById" >> beam.GroupByKey()
    repeats = grouped | "Collisions" >> beam.FlatMap(_collisions)
    candidates = repeats | "Candidates" >> beam.FlatMap(_candidates)
    taken = grouped | "TakenNames" >> beam.FlatMap(_taken, candidates=beam.pvalue.AsDict(candidates))
    return repeats | "ChooseNames" >> beam.Map(_choose, taken=beam.pvalue.AsDict(taken))


class MakeIdsUnique(beam.PTransform):
    """Renames all but the first record of each id that occurs more than once (see module doc).

    Args:
        id_places: ``(id, (source, path_hash(file), line))`` of every document, from a separate
            read (``ReadOutputs.id_places`` of :class:`~corpusflow.stages.read.ReadDocuments`); None
            takes them from the documents.
    """

    def __init__(self, id_places: beam.PCollection | None = None) -> None:
        super().__init__()
        self._id_places = id_places

    def expand(self, docs: beam.PCollection) -> beam.PCollection:
        places = self._id_places
        if places is None:
            places = docs | "IdPlaces" >> beam.Map(lambda d: (d.id, place_of(d)))
        renames = rename_map(places)
        if self._id_places is not None:
            # The map comes from a separate read: documents stream through the rename, fused with
            # the read (nothing waits, nothing is materialised).
            return docs | "RenameCollisions" >> beam.ParDo(_RenameFn(), renames=beam.pvalue.AsDict(renames))
        # The renaming waits for every id taken from the documents: hand the documents over
        # through local files, not through the runner (see corpusflow.stages.handoff).
        waiting = docs | "Handoff" >> Handoff("ids", [beam.pvalue.AsIter(renames)])
        return waiting | "RenameCollisions" >> beam.ParDo(_RenameFn(), renames=beam.pvalue.AsDict(renames))


class RenameMap(beam.PTransform):
    """``(id, place)`` of every document -> ``(place, new id)`` of those to rename (:func:`rename_map`)."""

    def expand(self, places: beam.PCollection) -> beam.PCollection:
        return rename_map(places)
