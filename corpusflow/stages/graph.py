"""Builds the corpusflow Beam graph from a run plan.

Graph (each stage optional, in this order)::

    ReadDocuments -> [FilterUrls] -> [ExtractText] -> NormalizeText -> IdentifyLanguage
        -> [ApplyFilters] -> [Deduplicate] -> (WriteShards data/ | MixDocuments pool/ + data/)
    rejected / duplicates / errors of every stage -> WriteShards rejected/ duplicates/ errors/
    every outcome -> ledger counts -> OUTPUT/_work/stats.json

The run directory around it (plan, manifest): :mod:`corpusflow.run.rundir`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import apache_beam as beam

from corpusflow.config.pipeline import PipelineConfig
from corpusflow.core import outcomes
from corpusflow.core.document import Document, Duplicate, ErrorRecord, Rejected
from corpusflow.core.outcomes import LedgerKey
from corpusflow.core.schemas import (
    DOC_SCHEMA,
    DUPLICATE_SCHEMA,
    ERROR_SCHEMA,
    REJECTED_SCHEMA,
    doc_row,
    duplicate_row,
    error_row,
    rejected_row,
)
from corpusflow.dedup.index import INDEX_DIR
from corpusflow.io import filesystems as fs
from corpusflow.mixture.pool import P_LANG, P_SOURCE
from corpusflow.run.checkpoints import checkpoint_dir
from corpusflow.run.rundir import STATS_FILE, WORK_DIR, RunPlan
from corpusflow.stages.base import StageOutputs
from corpusflow.stages.chain import DocumentStages
from corpusflow.stages.dedup import Deduplicate, SaveDedupIndex
from corpusflow.stages.dsir import SelectByImportance
from corpusflow.stages.ids import MakeIdsUnique
from corpusflow.stages.mixture import MixDocuments, counted_row
from corpusflow.stages.ranges import RangeOutputs, ReadRanges, plan_ranges_for
from corpusflow.stages.read import ReadDocuments, ReadOutputs
from corpusflow.stages.write import WriteShards
from corpusflow.steps.catalog import document_steps

FUSE_STAGES = True


def _dedup(cfg: PipelineConfig, plan: RunPlan) -> beam.PTransform:
    return Deduplicate(cfg.stages.dedup, cfg.seed, {s.name: s.priority for s in cfg.sources})


def _dsir(cfg: PipelineConfig, plan: RunPlan) -> beam.PTransform:
    return SelectByImportance(cfg.stages.dsir, cfg.seed, plan.resources.get("dsir_model"))


#: Stages that need the whole collection (not one document at a time), after the per-document
#: steps of :data:`corpusflow.steps.catalog.STEPS`: (name, Beam label, when, transform factory).
COLLECTION_STAGES: tuple[tuple[str, str, Callable[[PipelineConfig], bool],
                               Callable[[PipelineConfig, RunPlan], beam.PTransform]], ...] = (
    ("dedup", "Deduplicate", lambda c: c.stages.dedup.enabled, _dedup),
    ("dsir", "SelectByImportance", lambda c: c.stages.dsir.enabled, _dsir),
)


def _stage_groups(cfg: PipelineConfig, plan: RunPlan, fuse: bool) -> list[tuple[str, list[str], beam.PTransform]]:
    """(Beam label, stage names, transform) in pipeline order.

    The per-document steps run in one :class:`~corpusflow.stages.chain.DocumentStages` labelled
    ``A+B+C`` (``fuse``) or one each; the last group counts the documents it keeps in its ledger
    output when nothing follows it.
    """
    steps = document_steps(cfg)
    rest = [(name, label, make(cfg, plan)) for name, label, when, make in COLLECTION_STAGES if when(cfg)]
    groups: list[tuple[str, list[str], beam.PTransform]] = []
    chunks = [steps] if fuse else [[s] for s in steps]
    for i, chunk in enumerate(c for c in chunks if c):
        last = not rest and i == len(chunks) - 1
        groups.append(("+".join(spec.label for spec, _ in chunk), [spec.name for spec, _ in chunk],
                       DocumentStages([step for _, step in chunk], count_kept=last)))
    groups += [(label, [name], t) for name, label, t in rest]
    return groups


def _ledger_key_kept(doc: Document) -> tuple[LedgerKey, int]:
    return (outcomes.KEPT, doc.source, "", doc.lang or ""), 1


def _ledger_key_kept_row(row: tuple[Any, ...]) -> tuple[LedgerKey, int]:
    """:func:`_ledger_key_kept` of a pool row (:func:`~corpusflow.stages.mixture.counted_row`)."""
    return (outcomes.KEPT, row[P_SOURCE], "", row[P_LANG] or ""), 1


def _counts_in_ranges(cfg: PipelineConfig) -> bool:
    """Whether the checkpointed ranges count the mixture's tokens (:mod:`corpusflow.stages.ranges`
    ``tokens``), so that a resumed run does not tokenise again: exact counting without token ids,
    the mixture taking dedup's kept documents directly (dedup is the last collection stage and
    saves no index, which would need the documents)."""
    mix, dd = cfg.stages.mixture, cfg.stages.dedup
    return (mix.enabled and mix.count.mode == "exact" and not mix.count.keep_token_ids
            and not (dd.enabled and dd.save_index))


def _ledger_key_rejected(rec: Rejected) -> tuple[LedgerKey, int]:
    return (outcomes.REJECTED, rec.doc.source, rec.stage, rec.reason), 1


def _ledger_key_dup(rec: Duplicate) -> tuple[LedgerKey, int]:
    return (outcomes.DUPLICATE, rec.doc.source, rec.stage, ""), 1


def _ledger_key_error(rec: ErrorRecord) -> tuple[LedgerKey, int]:
    return (outcomes.ERROR, rec.source, rec.stage, rec.error_class), 1


def build_pipeline(p: beam.Pipeline, plan: RunPlan, *, fuse_stages: bool | None = None) -> None:
    """Add the whole corpusflow graph for ``plan`` to pipeline ``p``.

    With ``fuse_stages`` (default: :data:`FUSE_STAGES`) consecutive per-document stages (urls,
    normalize, langid, filters) run in one DoFn (:class:`~corpusflow.stages.chain.DocumentStages`);
    the outputs and the manifest are the same either way.
    """
    if fuse_stages is None:
        fuse_stages = FUSE_STAGES
    cfg, out = plan.cfg, plan.output
    plan.stage_order = ["read"]
    # Outcome records of every stage, with whether the stage already counted them in its ledger.
    rejected: list[tuple[beam.PCollection, bool]]
    duplicates: list[tuple[beam.PCollection, bool]] = []
    errors: list[tuple[beam.PCollection, bool]]
    ledger_parts: list[beam.PCollection] = []
    stats: list[beam.PCollection] = []
    stages = _stage_groups(cfg, plan, fuse_stages)
    kept_counted = False
    first: ReadOutputs | RangeOutputs
    mix_counted = False  # the kept documents leave dedup as counted pool rows (_counts_in_ranges)
    if plan.checkpoint is not None and fuse_stages and stages and isinstance(stages[0][2], DocumentStages):
        # Read, unique ids and the per-document steps per input range, checkpointed (--resume).
        label, names, chain = stages.pop(0)
        ranges = plan.checkpoint.get("ranges") or plan_ranges_for(p, plan.files)
        plan.checkpoint["ranges"] = ranges
        dedup = stages[0][2] if stages and isinstance(stages[0][2], Deduplicate) else None
        if dedup is not None and not dedup.takes_signatures:
            dedup = None
        doc_files = dedup is not None and dedup.takes_doc_files(p)
        mix_counted = doc_files and len(stages) == 1 and _counts_in_ranges(cfg)
        first = p | "Read" >> ReadRanges(
            ranges, cfg.sources, cfg.limits.max_doc_chars, strict=cfg.limits.strict, steps=chain.steps,
            count_kept=chain.counts_kept, checkpoint_dir=checkpoint_dir(out), id_places=cfg.limits.unique_ids,
            saved_ids=plan.checkpoint.get("ids"),
            signatures=(dedup.cfg, dedup.seed, dedup.prio) if dedup is not None else None,
            doc_files=doc_files,
            tokens=cfg.stages.mixture.tokenizer.model_dump(mode="json") if mix_counted else None)
        if dedup is not None and first.signatures is not None:
            dedup.with_signatures(first.signatures, first.doc_files, counted_row if mix_counted else None)
        plan.stage_order.extend(names)
        rejected, errors = [(first.rejected, True)], [(first.errors, True)]
        ledger_parts.append(first.ledger)
        kept_counted = chain.counts_kept
        docs = first.kept
        stats.append(first.ranges | "RangesCount" >> beam.combiners.Count.PerElement()
                     | "RangesStat" >> beam.MapTuple(lambda how, n: ("resume", how, n)))
    else:
        first = p | "Read" >> ReadDocuments(plan.files, cfg.sources, cfg.limits.max_doc_chars,
                                            strict=cfg.limits.strict, id_places=cfg.limits.unique_ids)
        rejected, errors = [(first.rejected, False)], [(first.errors, False)]
        docs = first.kept
        if cfg.limits.unique_ids:
            docs = docs | "UniqueIds" >> MakeIdsUnique(first.id_places)
    for label, names, transform in stages:
        res: StageOutputs = docs | label >> transform
        plan.stage_order.extend(names)
        docs = res.kept
        counted = res.ledger is not None
        if counted:
            ledger_parts.append(res.ledger)
        kept_counted = counted and getattr(transform, "counts_kept", False)
        rejected.append((res.rejected, counted))
        duplicates.append((res.duplicates, counted))
        errors.append((res.errors, counted))

    o = cfg.output
    common = dict(seed=cfg.seed, shard_max_bytes=o.shard_max_bytes, row_group_rows=o.row_group_rows,
                  compression=o.compression, compression_level=o.compression_level)
    if cfg.stages.dedup.enabled and cfg.stages.dedup.save_index:  # this run's dedup index (dedup/index.py)
        saver = SaveDedupIndex(cfg.stages.dedup, cfg.seed, fs.join(out, INDEX_DIR), common)
        index = docs | "SaveDedupIndex" >> saver
        stats.append(index.infos | "DedupIndexInfo" >> beam.Map(lambda i: ("shard", INDEX_DIR, i)))

    # --- Mixture replaces the plain data writer here when enabled.
    if cfg.stages.mixture.enabled:
        mixer = MixDocuments(cfg.stages.mixture, cfg.seed, out, o, name=cfg.name,
                             tokenizer_info=plan.resources.get("tokenizer_info"), counted=mix_counted)
        report, shards = docs | "Mixture" >> mixer
        stats.append(report | "MixtureReport" >> beam.Map(lambda r: ("mixture", r)))
        stats.append(shards | "MixtureShardInfo" >> beam.Map(lambda i: ("shard", "data", i)))
    else:
        written = docs | "WriteData" >> WriteShards(fs.join(out, "data"), "train", DOC_SCHEMA, doc_row, **common)
        stats.append(written.infos | "DataInfo" >> beam.Map(lambda i: ("shard", "data", i)))
        stats.append(written.count | "DataCount" >> beam.Map(lambda n: ("nshards", "data", n)))

    # The outcome records of every stage are written (and counted) per stage and merged only as
    # spill runs / ledger keys: flattening the records first would pass each of them through the
    # local runner once more.
    with_text = o.write_rejected_text
    if not kept_counted:
        ledger_parts.append(docs | "LedgerKept" >> beam.Map(_ledger_key_kept_row if mix_counted else _ledger_key_kept))
    for name, pcolls, schema, to_row, ledger_key in (
        ("rejected", rejected, REJECTED_SCHEMA, lambda r: rejected_row(r, with_text=with_text), _ledger_key_rejected),
        ("duplicates", duplicates, DUPLICATE_SCHEMA, duplicate_row, _ledger_key_dup),
        ("errors", errors, ERROR_SCHEMA, error_row, _ledger_key_error),
    ):
        cap = name.capitalize()
        present = [(pc, counted) for pc, counted in pcolls if pc is not None]
        parts = tuple(pc for pc, _counted in present) or (p | f"Empty{cap}" >> beam.Create([]),)
        w = parts | f"Write{cap}" >> WriteShards(fs.join(out, name), name, schema, to_row, **common)
        stats.append(w.infos | f"{cap}Info" >> beam.Map(lambda i, n=name: ("shard", n, i)))
        stats.append(w.count | f"{cap}Count" >> beam.Map(lambda c, n=name: ("nshards", n, c)))
        ledger_parts += [pc | f"Ledger{cap}{i}" >> beam.Map(ledger_key)
                         for i, (pc, counted) in enumerate(present) if not counted]

    stats.append(first.file_stats | "FileStat" >> beam.MapTuple(lambda path, report: ("file", path, report)))
    id_counts = None
    if isinstance(first, RangeOutputs):
        id_counts = first.id_counts
    elif first.id_places is not None:
        id_counts = first.id_places | "ReadCheckIdPlaces" >> beam.Map(lambda kv: (kv[1][0], 1))
    if id_counts is not None:
        # The id-only second read must see exactly the documents the main read kept (a file that
        # changed, or a transient object-store failure in one read only, would leave ids out of
        # the rename map): both are counted per source and compared in finish_run.
        # The main read counts its Documents per file range itself (no step per document).
        for label, pcoll in (("Documents", first.doc_counts), ("IdPlaces", id_counts)):
            stats.append(
                pcoll
                | f"ReadCheck{label}Count" >> beam.CombinePerKey(sum)
                | f"ReadCheck{label}Stat" >> beam.MapTuple(lambda src, n, w=label: ("readcheck", w, src, n))
            )

    ledger = (
        (
            *ledger_parts,
            first.input_counts | "LedgerInput" >> beam.MapTuple(lambda s, n: ((outcomes.INPUT, s, "", ""), n)),
        )
        | "FlattenLedger" >> beam.Flatten()
        | "CountLedger" >> beam.CombinePerKey(sum)
        | "LedgerStat" >> beam.MapTuple(lambda k, n: ("ledger", list(k), n))
    )
    stats.append(ledger)
    stats_path = fs.join(out, WORK_DIR, STATS_FILE)
    _ = (
        tuple(stats)
        | "FlattenStats" >> beam.Flatten()
        | "CollectStats" >> beam.combiners.ToList()
        | "WriteStats" >> beam.Map(_write_stats, path=stats_path)
    )


def _write_stats(items: list[Any], path: str) -> None:
    items = sorted(items, key=lambda x: json.dumps(x, sort_keys=True, default=str))
    fs.write_bytes_atomic(path, json.dumps(items, ensure_ascii=False, default=str).encode())
