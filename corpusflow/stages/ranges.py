"""ReadRanges: read, unique ids and the per-document steps, one input range at a time, checkpointed.

One DoFn (:class:`_RangeFn`) takes one range of the read plan (``(file, lo, hi)``, see
:func:`~corpusflow.io.readers.plan_ranges`) and does all the per-range work a run has: it reads
the records (:class:`~corpusflow.stages.read.RangeReader`), renames repeated ids (the rename
map of :mod:`corpusflow.stages.ids`, a side input computed from the id-only read of every
range), runs the per-document steps in batches (:func:`~corpusflow.stages.chain.run_steps`) and
writes every outcome to the range's checkpoint (:class:`~corpusflow.run.checkpoints.RangeWriter`),
the completion marker last. When the marker is already there (``corpusflow run --resume``), the
range's outcomes and counts are loaded from its checkpoint instead: nothing is read or computed.

With ``tokens`` (the mixture's tokenizer, exact counting) the range also counts the tokens of
its kept documents and stores them with the documents (an ``n_tokens`` column), so a resumed
run does not tokenise again: the dedup routing hands them to the mixture with the documents
(:meth:`~corpusflow.stages.dedup.Deduplicate.with_signatures` ``kept_as``). Duplicates are
counted too (on the 100k bench corpus 90,168 documents instead of the 69,833 dedup keeps: 29 %
more tokenising than counting the dedup survivors only).

The outputs are those of ``ReadDocuments | MakeIdsUnique | DocumentStages``, record for record
(documents, rejected and error records, the ledger, input and document counts, file reports),
so the rest of the graph and the written bytes are the same; plus ``ranges``: ``"reused"`` or
``"computed"`` per range (the manifest's ``resume`` record).

The rename is applied before the steps, as in the unchained graph, and the checkpoint holds the
renamed documents: the rename map depends only on the input files (whose identities the
checkpoint's fingerprint records), so a resumed run computes the same map again (the id-only
read is cheap) and the checkpointed names stay right.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam import pvalue

from corpusflow.core import outcomes
from corpusflow.core.document import Document, ErrorRecord, Rejected
from corpusflow.core.outcomes import BYTES_READ, LedgerKey
from corpusflow.dedup.config import DedupStageConfig
from corpusflow.dedup.core import SignatureComputer
from corpusflow.dedup.tables import NodeBatch
from corpusflow.io.config import SourceConfig
from corpusflow.io.readers import plan_ranges
from corpusflow.mixture.tokenizers import TokenCounter, load_tokenizer
from corpusflow.run import checkpoints as ck
from corpusflow.run.interrupt import follow_launcher
from corpusflow.stages.base import TAG_ERRORS, TAG_LEDGER, TAG_REJECTED, StageCounters
from corpusflow.stages.chain import BATCH, publish_counts, run_steps
from corpusflow.stages.dedup import NS as DEDUP_NS
from corpusflow.stages.ids import RenameMap, apply_rename, file_hashes
from corpusflow.stages.read import (
    TAG_DOC_COUNTS,
    TAG_FILE_STATS,
    TAG_INPUT_COUNTS,
    RangeReader,
    _local_workers,
    _MergeFileStats,
    _ReadIdsFn,
)
from corpusflow.steps.base import DocStep

TAG_RANGES = "ranges"
TAG_NODES = "nodes"
TAG_DOC_FILES = "doc_files"
#: The dedup stage's (config, seed, source priorities): the range also computes the documents'
#: dedup node rows (signatures), checkpointed with them.
SignatureArgs = tuple[DedupStageConfig, int, dict[str, int]]

RangeItem = tuple[Any, int, "int | None", str]  # (FileSpec, lo, hi, range id)


def _read_ledger(out: Rejected | ErrorRecord) -> LedgerKey:
    if out.__class__ is Rejected:
        return (outcomes.REJECTED, out.doc.source, out.stage, out.reason)  # type: ignore[union-attr]
    return (outcomes.ERROR, out.source, out.stage, out.error_class)  # type: ignore[union-attr]


class _RangeFn(beam.DoFn):
    """One range -> its outcomes, computed and checkpointed, or loaded from its checkpoint."""

    def __init__(self, sources: dict[str, SourceConfig], max_doc_chars: int, strict: bool,
                 steps: Sequence[DocStep], count_kept: bool, ckdir: str,
                 signatures: SignatureArgs | None = None, doc_files: bool = False,
                 tokens: dict[str, Any] | None = None) -> None:
        self._sources, self._max, self._strict = sources, max_doc_chars, strict
        self._steps, self._count_kept, self._ckdir = list(steps), count_kept, ckdir
        self._sig_args = signatures
        self._doc_files = doc_files
        self._tok_spec = tokens

    def setup(self) -> None:
        follow_launcher()  # a worker process exits with its launcher
        for step in self._steps:
            step.setup()
        self._read_counters = StageCounters("read")
        self._counters = [StageCounters(step.stage) for step in self._steps]
        self._comp: SignatureComputer | None = None
        if self._sig_args is not None:
            self._comp = SignatureComputer(*self._sig_args)
            self._dedup_counters = StageCounters(DEDUP_NS)
            self._seen = {"no_shingles": 0, "minhash_fixups": 0, "signature_cache_hits": 0}
        self._nodes: list[NodeBatch] = []
        self._tok: TokenCounter | None = None
        if self._tok_spec is not None:
            self._tok = load_tokenizer(self._tok_spec)
            self._tok_counters = StageCounters("mixture")

    def teardown(self) -> None:
        for step in self._steps:
            step.teardown()

    def process(self, item: RangeItem, renames: dict[Any, str] | None = None) -> Iterator[Any]:
        spec, lo, hi, rid = item
        marker = ck.read_marker(self._ckdir, rid)
        # A range checkpointed without token counts (an earlier launch whose mixture did not take
        # them, e.g. on another runner) is computed again when this launch needs them.
        if marker is not None and (self._tok is None or marker.get("tokens")):
            yield from self._reuse(marker)
            return
        yield from self._compute(spec, lo, hi, rid, renames)

    def _reuse(self, marker: dict[str, Any]) -> Iterator[Any]:
        for out in ck.read_range(self._ckdir, marker, docs=not self._doc_files):
            if out.__class__ is Document:
                yield out
            else:
                yield pvalue.TaggedOutput(TAG_REJECTED if out.__class__ is Rejected else TAG_ERRORS, out)
        self._read_counters.received(marker["input_count"])
        self._read_counters.kept(marker["doc_count"])
        if marker.get("bytes_consumed"):  # live progress: a reused range counts as read
            self._read_counters.info(BYTES_READ, marker["bytes_consumed"])
        yield from self._emit_docs_file(marker)
        if self._sig_args is not None:
            nodes = ck.read_nodes(self._ckdir, marker)
            if nodes is not None:
                yield from self._emit_nodes(nodes)
        for key, n in marker["ledger"]:
            yield pvalue.TaggedOutput(TAG_LEDGER, (tuple(key), n))
        yield from self._counts(marker)
        yield pvalue.TaggedOutput(TAG_RANGES, "reused")

    @staticmethod
    def _counts(info: dict[str, Any]) -> Iterator[Any]:
        yield pvalue.TaggedOutput(TAG_INPUT_COUNTS, (info["source"], info["input_count"]))
        yield pvalue.TaggedOutput(TAG_DOC_COUNTS, (info["source"], info["doc_count"]))
        yield pvalue.TaggedOutput(TAG_FILE_STATS, (info["path"], info["file_stat"]))

    def _compute(self, spec: Any, lo: int, hi: int | None, rid: str, renames: dict[Any, str] | None) -> Iterator[Any]:
        reader = RangeReader(spec, self._sources[spec.source], self._max, lo, hi, self._strict, self._read_counters)
        writer = ck.RangeWriter(self._ckdir, rid, tokens=self._tok is not None)
        ledger: dict[LedgerKey, int] = {}
        batch: list[Document] = []
        renamed = 0
        self._nodes = []
        try:
            for out in reader:
                if out.__class__ is Document:
                    new = apply_rename(out, renames)  # type: ignore[arg-type]
                    if new is not None:
                        renamed += 1
                        out = new
                    batch.append(out)  # type: ignore[arg-type]
                    if len(batch) >= BATCH:
                        yield from self._run(batch, ledger, writer)
                        batch = []
                    continue
                key = _read_ledger(out)  # type: ignore[arg-type]
                ledger[key] = ledger.get(key, 0) + 1
                writer.add(out)
                yield pvalue.TaggedOutput(TAG_REJECTED if out.__class__ is Rejected else TAG_ERRORS, out)
            yield from self._run(batch, ledger, writer)
            publish_counts(self._steps, self._counters)
            nodes = NodeBatch.concat(self._nodes) if self._nodes else None
            self._nodes = []
            writer.nodes = nodes
            if renamed:
                self._read_counters.info("renamed", renamed)
            info = {"source": spec.source, "path": spec.path, "input_count": reader.records,
                    "doc_count": reader.docs, "file_stat": reader.file_stat(),
                    "bytes_consumed": reader.stats.consumed(),
                    "tokens": self._tok is not None,
                    "ledger": sorted([list(k), n] for k, n in ledger.items())}
            marker = writer.commit(info)
        except BaseException:
            writer.abort()
            raise
        yield from self._emit_docs_file(marker)
        if nodes is not None:
            yield from self._emit_nodes(nodes)
        for key, n in sorted(ledger.items()):
            yield pvalue.TaggedOutput(TAG_LEDGER, (key, n))
        yield from self._counts(info)
        yield pvalue.TaggedOutput(TAG_RANGES, "computed")

    def _emit_docs_file(self, marker: dict[str, Any]) -> Iterator[Any]:
        path = ck.docs_path(self._ckdir, marker) if self._doc_files else None
        if path is not None:
            yield pvalue.TaggedOutput(TAG_DOC_FILES, path)

    def _emit_nodes(self, nodes: NodeBatch) -> Iterator[Any]:
        """The range's dedup node rows, split by digest shard (as the dedup stage's own
        signature step emits them)."""
        assert self._sig_args is not None
        for shard, part in nodes.split(self._sig_args[0].shards, by="dlo"):
            yield pvalue.TaggedOutput(TAG_NODES, (shard, part))

    def _run(self, batch: list[Document], ledger: dict[LedgerKey, int], writer: ck.RangeWriter) -> Iterator[Any]:
        if not batch:
            return
        survivors, dropped = run_steps(self._steps, batch, ledger, self._count_kept)
        for out in dropped:
            writer.add(out)
            yield pvalue.TaggedOutput(TAG_REJECTED if out.__class__ is Rejected else TAG_ERRORS, out)
        if self._tok is not None and survivors:
            counts = self._tok.count([d.text for d in survivors]).tolist()
            self._tok_counters.info("tokens_counted", sum(counts))
            self._tok_counters.info("docs_tokenized", len(counts))
            for doc, n in zip(survivors, counts, strict=True):
                writer.add(doc, n)
        else:
            for doc in survivors:
                writer.add(doc)
        comp = self._comp
        if comp is not None and survivors:
            self._nodes.append(comp.compute(survivors))
            self._dedup_counters.received(len(survivors))
            for name, now in (("no_shingles", comp.no_shingles), ("minhash_fixups", comp.fixups),
                              ("signature_cache_hits", comp.cache_hits)):
                if now != self._seen[name]:
                    self._dedup_counters.info(name, now - self._seen[name])
                    self._seen[name] = now
        if not self._doc_files:
            yield from survivors


def _save_ids(ckdir: str, renames: list[Any], counts: list[tuple[str, int]]) -> None:
    ck.write_ids(ckdir, renames, dict(counts))


class RangeOutputs(NamedTuple):
    kept: beam.PCollection
    rejected: beam.PCollection
    errors: beam.PCollection
    #: ``((kind, source, stage, reason), n)``: every rejected and error record above is counted here.
    ledger: beam.PCollection
    input_counts: beam.PCollection
    doc_counts: beam.PCollection
    id_places: beam.PCollection | None
    #: ``(source, 1)`` per document of the id-only read, or ``(source, n)`` from the checkpoint
    #: when the rename map was loaded from it (None without ``limits.unique_ids``).
    id_counts: beam.PCollection | None
    file_stats: beam.PCollection
    #: ``"reused"`` / ``"computed"``, one per range.
    ranges: beam.PCollection
    #: ``(digest shard, NodeBatch)`` of the kept documents when ``signatures`` was given, else None.
    signatures: beam.PCollection | None
    #: With ``doc_files``: the path of each range's checkpointed documents (``kept`` is then empty).
    doc_files: beam.PCollection | None


class ReadRanges(beam.PTransform):
    """Ranges -> :class:`RangeOutputs` (see the module docstring).

    Args:
        ranges: the read plan (``(spec, lo, hi)``), the same at every launch of one run
            (:func:`corpusflow.run.checkpoints.resume_plan` keeps the first launch's).
        steps: the per-document steps, in order (:func:`corpusflow.steps.catalog.document_steps`).
        count_kept: also count the documents that pass every step in ``ledger``.
        checkpoint_dir: ``OUTPUT/_work/checkpoints``.
        id_places: make ids unique (``limits.unique_ids``): rename map from an id-only read,
            saved in the checkpoint (:func:`corpusflow.run.checkpoints.write_ids`) once known.
        saved_ids: that saved map (``--resume``): used instead of the id-only read.
        signatures: the dedup stage that follows (config, seed, source priorities): also compute
            (and checkpoint) the kept documents' dedup node rows, for
            :meth:`~corpusflow.stages.dedup.Deduplicate.with_signatures`.
        tokens: the mixture's tokenizer spec (exact counting, only with ``doc_files``): also
            count the kept documents' tokens and checkpoint them with the documents (the
            ``doc_files`` then hold ``n_tokens``, :func:`~corpusflow.run.checkpoints.read_docs_with_tokens`).
        doc_files: hand the kept documents over as the paths of the checkpoint files that hold
            them (``doc_files``) instead of as elements (``kept`` stays empty): for a consumer
            that waits for side inputs anyway (dedup's routing), the checkpoint is the hand-off
            (:mod:`corpusflow.stages.handoff`), so the documents are neither passed through the
            runner nor spilled a second time.
    """

    def __init__(self, ranges: list[tuple[Any, int, int | None]], sources: list[SourceConfig], max_doc_chars: int,
                 *, strict: bool, steps: Sequence[DocStep], count_kept: bool, checkpoint_dir: str,
                 id_places: bool, saved_ids: dict[str, Any] | None = None, signatures: SignatureArgs | None = None,
                 doc_files: bool = False, tokens: dict[str, Any] | None = None) -> None:
        super().__init__()
        if tokens is not None and not doc_files:
            raise ValueError("token counts are handed over only with the checkpoint files (doc_files)")
        self._tokens = tokens
        self._ranges = list(ranges)
        self._sources = {s.name: s for s in sources}
        self._max, self._strict = max_doc_chars, strict
        self._steps, self._count_kept, self._ckdir = list(steps), count_kept, checkpoint_dir
        self._with_ids = id_places
        self._saved_ids = saved_ids if id_places else None
        self._sig_args = signatures
        self._doc_files = doc_files
        if id_places:
            file_hashes({r[0].path for r in self._ranges})  # renamed ids use the path hash: refuse clashes

    def expand(self, pbegin: beam.pvalue.PBegin) -> RangeOutputs:
        items = [(spec, lo, hi, ck.range_id(spec, lo, hi)) for spec, lo, hi in self._ranges]
        side: list[Any] = []
        id_places = id_counts = None
        if self._saved_ids is not None:  # --resume: the map the first launch computed
            renames = pbegin | "SavedRenames" >> beam.Create(ck.renames_from_json(self._saved_ids))
            id_counts = pbegin | "SavedIdCounts" >> beam.Create(sorted(self._saved_ids["counts"].items()))
            side = [pvalue.AsDict(renames)]
        elif self._with_ids:
            id_places = (
                pbegin
                | "ListFilesForIds" >> beam.Create([(s, lo, hi) for s, lo, hi, _ in items])
                | "SpreadFilesForIds" >> beam.Reshuffle()
                | "ReadIds" >> beam.ParDo(_ReadIdsFn(self._sources, self._max))
            )
            renames = id_places | "UniqueIds" >> RenameMap()
            id_counts = id_places | "IdCounts" >> beam.Map(lambda kv: (kv[1][0], 1))
            side = [pvalue.AsDict(renames)]
            _ = (pbegin
                 | "SaveIdsAt" >> beam.Create([self._ckdir])
                 | "SaveIds" >> beam.Map(_save_ids, renames=pvalue.AsList(renames),
                                         counts=pvalue.AsList(id_counts | "SumIdCounts" >> beam.CombinePerKey(sum))))
        fn = _RangeFn(self._sources, self._max, self._strict, self._steps, self._count_kept, self._ckdir,
                      self._sig_args, self._doc_files, self._tokens)
        outs = (
            pbegin
            | "ListFiles" >> beam.Create(items)
            | "SpreadFiles" >> beam.Reshuffle()
            | "ReadRange" >> beam.ParDo(fn, *side).with_outputs(
                TAG_REJECTED, TAG_ERRORS, TAG_LEDGER, TAG_INPUT_COUNTS, TAG_DOC_COUNTS, TAG_FILE_STATS, TAG_RANGES,
                TAG_NODES, TAG_DOC_FILES, main="docs")
        )
        file_stats = outs[TAG_FILE_STATS] | "MergeFileStats" >> beam.CombinePerKey(_MergeFileStats())
        return RangeOutputs(kept=outs.docs, rejected=outs[TAG_REJECTED], errors=outs[TAG_ERRORS],
                            ledger=outs[TAG_LEDGER], input_counts=outs[TAG_INPUT_COUNTS],
                            doc_counts=outs[TAG_DOC_COUNTS], id_places=id_places, id_counts=id_counts,
                            file_stats=file_stats,
                            ranges=outs[TAG_RANGES],
                            signatures=outs[TAG_NODES] if self._sig_args is not None else None,
                            doc_files=outs[TAG_DOC_FILES] if self._doc_files else None)


def plan_ranges_for(pipeline: beam.Pipeline, specs: list[Any]) -> list[tuple[Any, int, int | None]]:
    """The read plan this pipeline would use (:func:`~corpusflow.io.readers.plan_ranges` for its
    worker count, as :class:`~corpusflow.stages.read.ReadDocuments` plans it)."""
    return plan_ranges(specs, workers=_local_workers(pipeline))
