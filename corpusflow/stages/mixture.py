"""Beam wiring of the mixture stage: count tokens, census, allocate, shuffle, write.

Graph (the pure logic lives in :mod:`corpusflow.mixture`)::

    Document -> pool row (tuple) -> [count tokens: exact, or estimate from a calibration sample]
        -> census per (source, lang): CombinePerKey of key-bucket histograms
        -> plan (singleton side input; raises MixtureShortfall on an infeasible target)
        -> route: k or k+1 copies per document, each (order key, shard)  [+ pool membership]
        -> GroupByKey(shard) -> sort by order key -> data/train-XXXXX-of-YYYYY.parquet
                                                  [+ pool/pool-XXXXX-of-YYYYY.parquet]
        -> one report dict (manifest["mixture"]) (+ pool/_pool.json)

:class:`MixDocuments` is what the pipeline applies to the documents that survived filters and
dedup; it writes the pool (every such document, with its token count) and the training
shards in ONE shuffle: a document travels to the shard of its copy 0 (selected or not) and
its repeats travel to theirs, so the whole text is shuffled once. :class:`MixPool` builds a
new mixture from an existing pool (``corpusflow mix``): no raw data, filters or dedup.

Everything a shard contains, and its bytes, is a function of (pool, config, seed): the runner,
bundle boundaries and worker count do not matter.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterable
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP
from apache_beam.utils.windowed_value import WindowedValue

from corpusflow.core.document import Document
from corpusflow.core.paths import is_remote
from corpusflow.io import filesystems as fs
from corpusflow.io.parquet import ShardFiles
from corpusflow.mixture.allocate import MixturePlan, plan_keeping_work
from corpusflow.mixture.census import (
    Cell,
    CellCensus,
    bucket_of,
    cell_of,
    select_key,
)
from corpusflow.mixture.config import MixtureStageConfig
from corpusflow.mixture.estimate import Calibration, calibration_key, sample_threshold
from corpusflow.mixture.pool import (
    P_ID,
    P_LANG,
    P_METADATA,
    P_N_BYTES,
    P_N_CHARS,
    P_N_TOKENS,
    P_SOURCE,
    P_TEXT,
    P_TOKEN_IDS,
    POOL_COLUMNS,
    POOL_DIR,
    POOL_FORMAT_VERSION,
    POOL_META,
    POOL_PREFIX,
    POOL_SCHEMA,
    POOL_SCHEMA_TOKEN_IDS,
    TRAIN_PREFIX,
    TRAIN_SCHEMA,
    TRAIN_SCHEMA_TOKEN_IDS,
    ids_to_bytes,
    order_key,
    pool_row,
    pool_table,
    shard_of,
    table_to_pool_rows,
    train_table,
)
from corpusflow.mixture.rehydrate import CopyTable, bucket_label, cluster_size_of
from corpusflow.mixture.report import build_report
from corpusflow.mixture.tokenizers import load_tokenizer
from corpusflow.stages.base import StageCounters
from corpusflow.stages.handoff import BATCH as HANDOFF_BATCH
from corpusflow.stages.handoff import Handoff, compressor, read_run_file, write_batch
from corpusflow.stages.spill import Spill

log = logging.getLogger(__name__)

DEFAULT_SHARD_BYTES = 256 * 1024 * 1024
DEFAULT_ROW_GROUP_ROWS = 10_000
CALIBRATION_TAG = "calibration"


class MixtureConfigError(ValueError):
    """The mixture cannot work with this pipeline config (found before any data is read)."""


def document_to_row(doc: Document) -> tuple[Any, ...]:
    return pool_row(doc.id, doc.text, doc.source, doc.lang, doc.lang_score, doc.url, doc.meta,
                    doc.signals, doc.file, doc.line, n_tokens=0)


def counted_row(doc: Document, n_tokens: int) -> tuple[Any, ...]:
    """The pool row of ``doc`` with ``n_tokens`` counted already (by the checkpointed ranges,
    :mod:`corpusflow.stages.ranges`): the row :class:`CountTokens` makes in exact mode."""
    return _with_tokens(document_to_row(doc), n_tokens)


def _with_tokens(row: tuple[Any, ...], n: int, ids: bytes | None = None) -> tuple[Any, ...]:
    """``row`` with ``n_tokens = n`` and, when given, its token ids."""
    out = (*row[:P_N_TOKENS], int(n), *row[P_N_TOKENS + 1 :])
    if ids is not None:
        out = (*out[:P_TOKEN_IDS], ids, *out[P_TOKEN_IDS + 1 :])
    return out


def _row_cell(row: tuple[Any, ...]) -> Cell:
    return cell_of(row[P_SOURCE], row[P_LANG])


def _windowed(value: Any) -> WindowedValue:
    return WindowedValue(value, MIN_TIMESTAMP, [GlobalWindow()])


# ------------------------------------------------------------------------------------------------
# Token counting
# ------------------------------------------------------------------------------------------------


class _BatchedCountFn(beam.DoFn):
    """Counts tokens of rows in batches of ``tokenizer.batch_size`` (tokenizer loaded in setup).

    ``sample``: only rows inside their cell's calibration sample are counted (and a
    :class:`Calibration` per cell is emitted on the ``calibration`` tag at bundle end);
    ``estimate``: rows outside the sample get ``round(n_chars * tokens_per_char)``;
    ``exact``: every row is counted; with ``keep_ids`` each row also carries its token ids (the
    same encode call gives both, so ``n_tokens == len(ids) + add_eos``).
    """

    def __init__(self, tokenizer: dict[str, Any], mode: str, seed: int, keep_ids: bool = False) -> None:
        self._spec, self._mode, self._seed = tokenizer, mode, seed
        self._keep_ids = keep_ids and mode == "exact"
        self._tok: Any = None
        self._buf: list[tuple[Any, ...]] = []
        self._calib: dict[Cell, Calibration] = {}
        self._counters = StageCounters("mixture")

    def setup(self) -> None:
        if self._mode != "estimate":
            self._tok = load_tokenizer(self._spec)
        self._batch = int(self._spec.get("batch_size", 256))

    def start_bundle(self) -> None:
        self._buf = []
        self._calib = {}

    def _sampled(self, row: tuple[Any, ...], thresholds: dict[Cell, float]) -> bool:
        cell = _row_cell(row)
        return calibration_key(self._seed, row[P_SOURCE], row[P_ID]) <= thresholds.get(cell, 1.0)

    def process(self, row: tuple[Any, ...], thresholds: dict[Cell, float] | None = None,
                calibrations: dict[Cell, Calibration] | None = None) -> Iterable[Any]:
        if self._mode == "estimate":
            assert thresholds is not None and calibrations is not None
            # rows inside the calibration sample are counted exactly by the sample pass
            if not self._sampled(row, thresholds):
                cal = calibrations.get(_row_cell(row))
                n = cal.estimate(row[P_N_CHARS]) if cal is not None else 0
                self._counters.info("tokens_estimated", n)
                yield _with_tokens(row, n)
        elif self._mode == "exact" or self._sampled(row, thresholds or {}):
            self._buf.append(row)
            if len(self._buf) >= self._batch:
                yield from self._flush()

    def _flush(self) -> Iterable[Any]:
        if not self._buf:
            return
        rows, self._buf = self._buf, []
        if self._keep_ids:
            ids = self._tok.encode_many([r[P_TEXT] for r in rows])
            eos = int(bool(self._tok.spec.add_eos))
            self._counters.info("tokens_counted", sum(len(x) + eos for x in ids))
            self._counters.info("docs_tokenized", len(rows))
            for r, x in zip(rows, ids, strict=True):
                yield _with_tokens(r, len(x) + eos, ids_to_bytes(x))
            return
        counts = self._tok.count([r[P_TEXT] for r in rows])
        self._counters.info("tokens_counted", int(counts.sum()))
        self._counters.info("docs_tokenized", len(rows))
        for r, n in zip(rows, counts.tolist(), strict=True):
            if self._mode == "sample":
                self._calib.setdefault(_row_cell(r), Calibration()).add(r[P_N_CHARS], n)
            yield _with_tokens(r, n)

    def finish_bundle(self) -> Iterable[Any]:
        for row in self._flush():
            yield _windowed(row)
        for cell, cal in sorted(self._calib.items()):
            yield beam.pvalue.TaggedOutput(CALIBRATION_TAG, _windowed((cell, cal)))
        self._calib = {}


class _MergeCalibration(beam.CombineFn):
    def create_accumulator(self) -> Calibration:
        return Calibration()

    def add_input(self, acc: Calibration, value: Calibration) -> Calibration:
        return acc.merge(value)

    def merge_accumulators(self, accs: Iterable[Calibration]) -> Calibration:
        out = Calibration()
        for a in accs:
            out.merge(a)
        return out

    def extract_output(self, acc: Calibration) -> Calibration:
        return acc


class CountedRows(NamedTuple):
    rows: beam.PCollection
    #: ``(cell, Calibration)`` in estimate mode, None in exact mode.
    calibrations: beam.PCollection | None


class MixOutputs(NamedTuple):
    #: One JSON-able dict for ``manifest["mixture"]``.
    report: beam.PCollection
    #: ``{"file", "rows", "bytes", "sha256"}`` per training shard.
    shards: beam.PCollection


class CountTokens(beam.PTransform):
    """Pool rows -> :class:`CountedRows`: the rows with ``n_tokens`` (exact, or estimated from a
    calibration sample) and, in estimate mode, the calibrations."""

    def __init__(self, cfg: MixtureStageConfig, seed: int) -> None:
        super().__init__()
        self._cfg, self._seed = cfg, seed

    def expand(self, rows: beam.PCollection) -> CountedRows:
        spec = self._cfg.tokenizer.model_dump(mode="json")
        seed = self._seed
        if self._cfg.count.mode == "exact":
            keep = self._cfg.count.keep_token_ids
            return CountedRows(rows | "Exact" >> beam.ParDo(_BatchedCountFn(spec, "exact", seed, keep)), None)
        c = self._cfg.count
        rate, min_docs = c.sample_rate, c.min_sample_docs
        thresholds = (
            rows
            | "CalibKey" >> beam.Map(lambda r: (_row_cell(r), calibration_key(seed, r[P_SOURCE], r[P_ID])))
            | "SmallestKeys" >> beam.combiners.Top.SmallestPerKey(min_docs)
            | "Threshold" >> beam.MapTuple(lambda cell, keys: (cell, sample_threshold(rate, keys, min_docs)))
        )
        sample = rows | "Sample" >> beam.ParDo(
            _BatchedCountFn(spec, "sample", seed), thresholds=beam.pvalue.AsDict(thresholds)
        ).with_outputs(CALIBRATION_TAG, main="rows")
        calib = sample[CALIBRATION_TAG] | "MergeCalibration" >> beam.CombinePerKey(_MergeCalibration())
        estimated = rows | "Estimate" >> beam.ParDo(
            _BatchedCountFn(spec, "estimate", seed),
            thresholds=beam.pvalue.AsDict(thresholds),
            calibrations=beam.pvalue.AsDict(calib),
        )
        return CountedRows((sample["rows"], estimated) | "AllRows" >> beam.Flatten(), calib)


# ------------------------------------------------------------------------------------------------
# Census, plan, routing, writing
# ------------------------------------------------------------------------------------------------


class _Rehydrate:
    """Copies of a pool row by its cluster size (:mod:`corpusflow.mixture.rehydrate`); 1 when off."""

    def __init__(self, cfg: MixtureStageConfig | None) -> None:
        on = cfg is not None and cfg.rehydration.enabled
        self.on = on
        self.by_source = cfg is not None and cfg.group_by == "source"
        self.table = CopyTable(cfg.rehydration.copies_by_cluster_size) if on and cfg is not None else None

    def group(self, row: tuple[Any, ...]) -> str:
        return row[P_SOURCE] if self.by_source else (row[P_LANG] or "und")

    def weight(self, row: tuple[Any, ...]) -> int:
        if self.table is None:
            return 1
        return self.table.copies(self.group(row), cluster_size_of(row[P_METADATA]))


class _CensusFn(beam.DoFn):
    """Per bundle, one partial :class:`CellCensus` per cell (vectorised with numpy). With
    rehydration a document counts as its copies (tokens, characters, bytes and documents)."""

    def __init__(self, seed: int, cfg: MixtureStageConfig | None = None) -> None:
        self._seed = seed
        self._acc: dict[Cell, list[list[int]]] = {}
        self._rh = _Rehydrate(cfg)

    def start_bundle(self) -> None:
        self._acc = {}

    def process(self, row: tuple[Any, ...]) -> Iterable[Any]:
        cols = self._acc.get(_row_cell(row))
        if cols is None:
            cols = self._acc[_row_cell(row)] = [[], [], [], []]
        b = bucket_of(select_key(self._seed, row[P_SOURCE], row[P_ID]))
        for _ in range(self._rh.weight(row) if self._rh.on else 1):
            cols[0].append(b)
            cols[1].append(row[P_N_TOKENS])
            cols[2].append(row[P_N_CHARS])
            cols[3].append(row[P_N_BYTES])
        return ()

    def finish_bundle(self) -> Iterable[Any]:
        for cell, cols in sorted(self._acc.items()):
            yield _windowed((cell, CellCensus().add_arrays(*cols)))
        self._acc = {}


class _MergeCensus(beam.CombineFn):
    def create_accumulator(self) -> CellCensus:
        return CellCensus()

    def add_input(self, acc: CellCensus, value: CellCensus) -> CellCensus:
        return acc.merge(value)

    def merge_accumulators(self, accs: Iterable[CellCensus]) -> CellCensus:
        it = iter(accs)
        out = next(it)
        for a in it:
            out.merge(a)
        return out

    def extract_output(self, acc: CellCensus) -> CellCensus:
        return acc


def _make_plan(census: dict[Cell, CellCensus], cfg_json: dict[str, Any], seed: int,
               shard_target_bytes: int) -> MixturePlan:
    cfg = MixtureStageConfig.model_validate(cfg_json)
    plan = plan_keeping_work(census, cfg, seed=seed, shard_target_bytes=shard_target_bytes)
    if plan.failed:
        log.warning("mixture shortfall (on_shortfall: fail): the pool is written, no training shard")
    log.info("mixture plan: %d cells, %d shards, %s %s planned", len(plan.cells), plan.num_shards,
             plan.achieved_total, plan.unit)
    return plan


class _RouteFn(beam.DoFn):
    """Document -> (shard, (order_key, copy, in_pool, row)) for each copy (and its pool entry)."""

    def __init__(self, seed: int, write_pool: bool, cfg: MixtureStageConfig | None = None) -> None:
        self._seed, self._write_pool = seed, write_pool
        self._plan_id: int | None = None
        self._table: dict[Cell, tuple[int, int, int]] = {}
        self._counters = StageCounters("mixture")
        self._rh = _Rehydrate(cfg)

    def process(self, row: tuple[Any, ...], plan: MixturePlan) -> Iterable[Any]:
        if self._plan_id != id(plan):
            self._table, self._plan_id = plan.copy_table(), id(plan)
        seed, n = self._seed, plan.num_shards
        source, doc_id = row[P_SOURCE], row[P_ID]
        k, b_e, b_p = self._table.get(_row_cell(row), (0, 0, 0))
        copies = 0
        if b_p:
            b = bucket_of(select_key(seed, source, doc_id))
            if b < b_p:
                copies = k + (1 if b < b_e else 0)
                if copies and self._rh.on:  # rehydration: the census counted the row this many times
                    copies *= self._rh.weight(row)
        if copies:
            self._counters.info("docs_selected")
            self._counters.info("copies", copies)
        for j in range(copies):
            key = order_key(seed, source, doc_id, j)
            yield shard_of(key, n), (key, j, self._write_pool and j == 0, row)
        if self._write_pool and copies == 0:
            key = order_key(seed, source, doc_id, 0)
            yield shard_of(key, n), (key, -1, True, row)


class _WriteShardFn(beam.DoFn):
    """Writes one training shard (sorted by order key) and, in a pipeline run, its pool shard."""

    def __init__(self, output_dir: str, write_pool: bool, row_group_rows: int, compression: str,
                 compression_level: int, cfg: MixtureStageConfig | None = None) -> None:
        self._write_pool = write_pool
        self._ids = cfg is not None and cfg.count.keep_token_ids
        opts = (row_group_rows, compression, compression_level)
        self._train = ShardFiles(fs.join(output_dir, "data"), TRAIN_PREFIX,
                                 TRAIN_SCHEMA_TOKEN_IDS if self._ids else TRAIN_SCHEMA, *opts)
        self._pool = ShardFiles(fs.join(output_dir, POOL_DIR), POOL_PREFIX,
                                POOL_SCHEMA_TOKEN_IDS if self._ids else POOL_SCHEMA, *opts)
        self._rh = _Rehydrate(cfg)

    def process(self, element: tuple[int, Iterable[Any]], plan: MixturePlan) -> Iterable[dict[str, Any]]:
        index, values = element
        n = plan.num_shards
        train: list[tuple[int, str, str, int, tuple[Any, ...]]] = []
        pool: list[tuple[Any, ...]] = []
        for v in values:
            if v is None:
                continue
            key, j, in_pool, row = v
            if j >= 0:
                train.append((key, row[P_SOURCE], row[P_ID], j, row))
            if in_pool:
                pool.append(row)
        train.sort(key=lambda t: t[:4])
        if plan.failed:  # a shortfall under on_shortfall: fail: the pool only
            yield from self._write_pool_shard(index, n, pool)
            return
        info = self._train.write(index, n, train_table([(t[3], t[4]) for t in train], token_ids=self._ids))
        by_cell: dict[str, dict[str, int]] = {}
        tokens = chars = text_bytes = 0
        max_copy = -1
        for _key, source, _id, j, row in train:
            c = by_cell.setdefault(f"{source}/{row[P_LANG] or 'und'}",
                                   {"copies": 0, "tokens": 0, "chars": 0, "max_copy": -1})
            c["copies"] += 1
            c["tokens"] += row[P_N_TOKENS]
            c["chars"] += row[P_N_CHARS]
            c["max_copy"] = max(c["max_copy"], j)
            tokens += row[P_N_TOKENS]
            chars += row[P_N_CHARS]
            text_bytes += row[P_N_BYTES]
            max_copy = max(max_copy, j)
        extra: dict[str, Any] = {}
        if self._rh.on:  # rehydration report: documents and copies by group and cluster-size bucket
            rh: dict[str, dict[str, int]] = {}
            for _key, _source, _id, j, row in train:
                c = rh.setdefault(f"{self._rh.group(row)}/{bucket_label(cluster_size_of(row[P_METADATA]))}",
                                  {"docs": 0, "copies": 0, "tokens": 0})
                c["docs"] += j == 0
                c["copies"] += 1
                c["tokens"] += row[P_N_TOKENS]
            extra["rehydration"] = rh
        yield {"kind": "train", **info, "tokens": tokens, "chars": chars, "text_bytes": text_bytes,
               "max_copy": max_copy, "by_cell": dict(sorted(by_cell.items())), **extra}
        yield from self._write_pool_shard(index, n, pool)

    def _write_pool_shard(self, index: int, n: int, pool: list[tuple[Any, ...]]) -> Iterable[dict[str, Any]]:
        if self._write_pool:
            pool.sort(key=lambda r: (r[P_SOURCE], r[P_ID]))
            pinfo = self._pool.write(index, n, pool_table(pool, token_ids=self._ids))
            yield {"kind": "pool", **pinfo, "tokens": sum(r[P_N_TOKENS] for r in pool)}


class _RouteToRunsFn(beam.DoFn):
    """Local runners: routes like ``route`` but appends the copies to one run file per (bundle,
    shard) instead of emitting them; emits ``(shard, path)`` per file at the end of the bundle."""

    def __init__(self, route: _RouteFn, spill_dir: str) -> None:
        self._route, self._dir = route, spill_dir

    def setup(self) -> None:
        self._cctx = compressor()

    def start_bundle(self) -> None:
        self._bufs: dict[int, list[Any]] = {}
        self._files: dict[int, tuple[str, Any]] = {}

    def process(self, row: tuple[Any, ...], plan: MixturePlan) -> Iterable[Any]:
        for shard, value in self._route.process(row, plan):
            buf = self._bufs.setdefault(shard, [])
            buf.append(value)
            if len(buf) >= HANDOFF_BATCH:
                self._dump(shard)
        return ()

    def _dump(self, shard: int) -> None:
        buf = self._bufs.pop(shard, None)
        if not buf:
            return
        if shard not in self._files:
            os.makedirs(self._dir, exist_ok=True)
            path = os.path.join(self._dir, f"shard-{shard:05d}-{uuid.uuid4().hex}.pkl")
            self._files[shard] = (path, open(path, "wb"))  # noqa: SIM115 - closed in finish_bundle
        write_batch(self._files[shard][1], buf, self._cctx)

    def finish_bundle(self) -> Iterable[Any]:
        for shard in list(self._bufs):
            self._dump(shard)
        for shard, (path, f) in sorted(self._files.items()):
            f.close()
            yield _windowed((shard, path))
        self._files = {}


class _WriteShardFromRunsFn(beam.DoFn):
    """(shard, run file paths) -> the shard written by ``writer`` from the files' copies."""

    def __init__(self, writer: _WriteShardFn, keep: bool = False) -> None:
        self._writer, self._keep = writer, keep

    def process(self, element: tuple[int, Iterable[str]], plan: MixturePlan) -> Iterable[dict[str, Any]]:
        index, paths = element
        paths = sorted(paths)
        values = (v for path in paths for v in read_run_file(path))
        yield from self._writer.process((index, values), plan)
        for path in [] if self._keep else paths:  # kept: a runner may write this shard again
            with contextlib.suppress(OSError):
                os.remove(path)


class _EmptyShardsFn(beam.DoFn):
    """Plan -> the stats of every shard that received no row, written empty by ``writer``."""

    def __init__(self, writer: _WriteShardFn) -> None:
        self._writer = writer

    def process(self, plan: MixturePlan, written: list[str]) -> Iterable[dict[str, Any]]:
        done = set(written)
        files = self._writer._pool if plan.failed else self._writer._train
        for index in range(plan.num_shards):
            if files.name(index, plan.num_shards) not in done:
                yield from self._writer.process((index, []), plan)


def _finalize(stats: list[dict[str, Any]], plan: MixturePlan, *, output_dir: str, tokenizer: dict[str, Any],
              count: dict[str, Any], pool: dict[str, Any], name: str, write_pool: bool,
              calibrations: dict[Cell, Calibration] | None = None) -> dict[str, Any]:
    train = [s for s in stats if s["kind"] == "train"]
    pool_files = sorted((s for s in stats if s["kind"] == "pool"), key=lambda s: s["file"])
    count = dict(count)
    if calibrations is not None:
        docs_of = {c.cell: c.docs for c in plan.cells}
        count["calibration"] = {
            f"{cell[0]}/{cell[1]}": cal.to_jsonable(docs_of.get(cell)) for cell, cal in sorted(calibrations.items())
        }
    pool = dict(pool)
    if write_pool:
        pool["files"] = [{k: s[k] for k in ("file", "rows", "bytes", "sha256", "tokens")} for s in pool_files]
        pool["documents"] = sum(s["rows"] for s in pool_files)
        meta = {
            "format_version": POOL_FORMAT_VERSION,
            "tokenizer": tokenizer,
            "count": count,
            "unit_columns": {"tokens": "n_tokens", "chars": "n_chars"},
            "documents": pool["documents"],
            "tokens": sum(s["tokens"] for s in pool_files),
            "files": pool["files"],
            "sources": sorted({c.source for c in plan.cells} | {x.split("/", 1)[0] for x in plan.excluded_cells}),
            "seed_of_partition": plan.seed,
        }
        fs.write_bytes_atomic(fs.join(output_dir, POOL_DIR, POOL_META),
                              (json.dumps(meta, ensure_ascii=False, indent=2) + "\n").encode())
    report = build_report(plan.to_jsonable(), train, tokenizer=tokenizer, count=count, pool=pool, name=name)
    if plan.failed:  # no training shard was written: the plan says what each group can give
        report["failed"] = list(plan.failed)
        report["feasible_overrides"] = list(plan.feasible_overrides)
        report["checks"] = {"training_shards_written": False}
    rh: dict[str, dict[str, int]] = {}
    for s in train:
        for k, c in (s.get("rehydration") or {}).items():
            t = rh.setdefault(k, {"docs": 0, "copies": 0, "tokens": 0})
            for f in t:
                t[f] += c[f]
    if rh:
        report["rehydration"] = dict(sorted(rh.items()))
    return report


class MixRows(beam.PTransform):
    """Pool rows -> training shards (+ pool files) -> one report dict.

    Args:
        cfg: the mixture config.
        seed: root seed of every selection / shuffle key.
        output_dir: run output (``data/`` and, with ``write_pool``, ``pool/`` go under it).
        output_cfg: the pipeline's output config (shard_max_bytes, row_group_rows, compression).
        count_tokens: count tokens of the rows first (False when a pool already holds counts).
        write_pool: also write every row to ``pool/`` (the pipeline run; a re-mix reads it).
        tokenizer_info, count_info, pool_info: recorded in the report.
        spill: route the copies through local run files (True) or a GroupByKey of the copies
            (False); default: run files on Beam's local runners (same shards either way).
    """

    def __init__(self, cfg: MixtureStageConfig, seed: int, output_dir: str, output_cfg: Any = None, *,
                 count_tokens: bool, write_pool: bool, tokenizer_info: dict[str, Any],
                 count_info: dict[str, Any], pool_info: dict[str, Any], name: str = "",
                 spill: bool | None = None) -> None:
        super().__init__()
        self._spill = spill
        self._cfg, self._seed, self._out = cfg, seed, output_dir
        self._count, self._write_pool = count_tokens, write_pool
        self._tok_info, self._count_info, self._pool_info, self._name = (
            tokenizer_info, count_info, pool_info, name)
        self._shard_bytes = cfg.shards.target_bytes or getattr(output_cfg, "shard_max_bytes", DEFAULT_SHARD_BYTES)
        self._rg = cfg.row_group_rows or getattr(output_cfg, "row_group_rows", DEFAULT_ROW_GROUP_ROWS)
        self._comp = getattr(output_cfg, "compression", "zstd")
        self._level = getattr(output_cfg, "compression_level", 3)

    def expand(self, rows: beam.PCollection) -> MixOutputs:
        seed = self._seed
        calib = None
        if self._count:
            rows, calib = rows | "CountTokens" >> CountTokens(self._cfg, seed)
        census = (
            rows
            | "Census" >> beam.ParDo(_CensusFn(seed, self._cfg))
            | "MergeCensus" >> beam.CombinePerKey(_MergeCensus())
            | "CensusDict" >> beam.combiners.ToDict()
        )
        plan = census | "Plan" >> beam.Map(
            _make_plan, cfg_json=self._cfg.model_dump(mode="json"), seed=seed,
            shard_target_bytes=self._shard_bytes,
        )
        plan_side = beam.pvalue.AsSingleton(plan)
        # Routing waits for the plan: rows reach it through local files on a local runner
        # instead of through the runner process (stages/handoff.py).
        rows = rows | "Handoff" >> Handoff("mixture", [beam.pvalue.AsIter(plan)])
        writer = _WriteShardFn(self._out, self._write_pool, self._rg, self._comp, self._level, self._cfg)
        settings = Spill.of(rows.pipeline)
        if settings.local if self._spill is None else self._spill:
            # Local runners: the routed copies go to per-shard run files and only (shard, path)
            # pairs are grouped, so no document passes through the runner process.
            spill_dir = settings.new_dir("mixture")
            written = (
                rows
                | "Route" >> beam.ParDo(_RouteToRunsFn(_RouteFn(seed, self._write_pool, self._cfg), spill_dir), plan=plan_side)
                | "GroupByShard" >> beam.GroupByKey()
                | "WriteShards" >> beam.ParDo(_WriteShardFromRunsFn(writer, settings.keep_runs), plan=plan_side)
            )
            if not settings.keep_runs:  # else finish_run removes them with OUTPUT/_work/spill
                _ = (written | "CountWritten" >> beam.combiners.Count.Globally()
                     | "RemoveRuns" >> beam.Map(lambda _n, d=spill_dir: shutil.rmtree(d, ignore_errors=True)))
        else:
            written = (
                rows
                | "Route" >> beam.ParDo(_RouteFn(seed, self._write_pool, self._cfg), plan=plan_side)
                | "GroupByShard" >> beam.GroupByKey()
                | "WriteShards" >> beam.ParDo(writer, plan=plan_side)
            )
        # Shards no document was routed to are written empty afterwards, by the same writer. (A
        # Flatten of the routed rows with one marker per shard, before the GroupByKey, made the
        # local runner pass every routed row through one more stage.)
        empty = plan | "EmptyShards" >> beam.ParDo(
            _EmptyShardsFn(writer), written=beam.pvalue.AsList(written | "WrittenNames" >> beam.Map(lambda s: s["file"])))
        stats = (written, empty) | "AllShardStats" >> beam.Flatten()
        shards = stats | "TrainShardInfo" >> beam.FlatMap(
            lambda s: [{k: s[k] for k in ("file", "rows", "bytes", "sha256")}] if s["kind"] == "train" else [])
        extra: dict[str, Any] = {}
        if calib is not None:
            extra["calibrations"] = beam.pvalue.AsDict(calib)
        report = (
            stats
            | "CollectShardStats" >> beam.combiners.ToList()
            | "Report" >> beam.Map(
                _finalize, plan_side, output_dir=self._out, tokenizer=self._tok_info,
                count=self._count_info, pool=self._pool_info, name=self._name,
                write_pool=self._write_pool, **extra)
        )
        return MixOutputs(report, shards)


def _check_tokenizer(cfg: MixtureStageConfig) -> dict[str, Any]:
    """Load the tokenizer once in the driver: a missing or broken file fails before data is read."""

    try:
        return load_tokenizer(cfg.tokenizer).info()
    except (OSError, ValueError, RuntimeError) as exc:
        raise MixtureConfigError(f"stages.mixture.tokenizer: cannot load {cfg.tokenizer.path!r}: {exc}") from None


def count_info(cfg: MixtureStageConfig) -> dict[str, Any]:
    c = cfg.count
    if c.mode == "exact":
        return {"mode": "exact", "keep_token_ids": True} if c.keep_token_ids else {"mode": "exact"}
    return {"mode": "estimate", "sample_rate": c.sample_rate, "min_sample_docs": c.min_sample_docs}


class MixDocuments(beam.PTransform):
    """The pipeline's mixture stage: kept documents -> pool/ + data/ shards -> one report dict.

    Applied by :mod:`corpusflow.pipeline` to the documents that survived filters and dedup
    when ``stages.mixture.enabled``. Every such document is written to ``OUTPUT/pool/`` (it is
    *kept*); the mixture selects copies of some of them into ``OUTPUT/data/``. The returned
    result is :class:`MixOutputs`: the report for ``manifest["mixture"]`` and one info per training shard.

    Config problems visible without data are found at launch
    (:func:`corpusflow.config.checks.launch_checks`); ``tokenizer_info`` comes from the run plan
    (:func:`corpusflow.run.rundir.prepare_resources`), so the tokenizer is loaded once at launch.
    With ``counted`` the input is already pool rows with exact token counts (:func:`counted_row`,
    from the checkpointed ranges), so nothing is tokenised here.
    """

    def __init__(self, cfg: MixtureStageConfig, seed: int, output_dir: str, output_cfg: Any = None, *,
                 name: str = "", tokenizer_info: dict[str, Any] | None = None, counted: bool = False) -> None:
        super().__init__()
        self._cfg, self._seed, self._out, self._output_cfg = cfg, seed, output_dir, output_cfg
        self._counted = counted
        self._name = name
        self._tok_info = tokenizer_info if tokenizer_info is not None else _check_tokenizer(cfg)

    def expand(self, docs: beam.PCollection) -> MixOutputs:
        mix = MixRows(
            self._cfg, self._seed, self._out, self._output_cfg, count_tokens=not self._counted, write_pool=True,
            tokenizer_info=self._tok_info, count_info=count_info(self._cfg),
            pool_info={"path": POOL_DIR, "written": True}, name=self._name,
        )
        if self._counted:  # pool rows with their counts already (counted_row)
            return docs | "Mix" >> mix
        return docs | "ToPoolRow" >> beam.Map(document_to_row) | "Mix" >> mix


# ------------------------------------------------------------------------------------------------
# Re-mixing an existing pool
# ------------------------------------------------------------------------------------------------


class _ReadPoolFileFn(beam.DoFn):
    """Pool file -> row tuples; the file's ``token_ids`` only with ``with_ids`` (else the rows
    carry None: ids nobody writes are not shuffled)."""

    def __init__(self, batch_rows: int = 4096, with_ids: bool = False) -> None:
        self._batch, self._with_ids = batch_rows, with_ids

    def process(self, path: str) -> Iterable[tuple[Any, ...]]:
        import pyarrow as pa  # lazy: heavy or optional dependency, loaded only when used
        import pyarrow.parquet as pq  # lazy: heavy or optional dependency, loaded only when used


        def rows(pf: pq.ParquetFile) -> Iterable[tuple[Any, ...]]:
            ids = self._with_ids and "token_ids" in pf.schema_arrow.names
            columns = list(POOL_COLUMNS) + (["token_ids"] if ids else [])
            for batch in pf.iter_batches(batch_size=self._batch, columns=columns):
                yield from table_to_pool_rows(pa.Table.from_batches([batch]))

        if is_remote(path):
            with fs.open_read(path, compressed=False) as f:
                yield from rows(pq.ParquetFile(f))
        else:  # pyarrow's native reader, memory-mapped (no Python file object in the loop)
            yield from rows(pq.ParquetFile(path, memory_map=True))


class MixPool(beam.PTransform):
    """Pool files -> a new mixture in ``output_dir`` (``corpusflow mix``). Applied to a pipeline root.

    ``recount``: the pool's token counts are not in this config's tokenizer (or counting mode),
    so tokens are counted again from the pool's text, and the re-counted pool is written to
    ``output_dir/pool`` for the next re-mix.
    """

    def __init__(self, cfg: MixtureStageConfig, seed: int, pool_files: list[str], output_dir: str,
                 output_cfg: Any = None, *, recount: bool, pool_info: dict[str, Any],
                 count_info: dict[str, Any], name: str = "") -> None:
        super().__init__()
        self._files = list(pool_files)
        self._recount = recount
        self._with_ids = cfg.count.keep_token_ids and not recount  # a recount encodes again
        self._mix = MixRows(
            cfg, seed, output_dir, output_cfg, count_tokens=recount, write_pool=recount,
            tokenizer_info=_check_tokenizer(cfg), count_info=count_info,
            pool_info=pool_info if not recount else {**pool_info, "path": POOL_DIR, "written": True,
                                                     "recounted_from": pool_info.get("path")},
            name=name,
        )

    def expand(self, pbegin: beam.pvalue.PBegin) -> MixOutputs:
        rows = (
            pbegin
            | "PoolFiles" >> beam.Create(self._files)
            | "SpreadFiles" >> beam.Reshuffle()
            | "ReadPool" >> beam.ParDo(_ReadPoolFileFn(with_ids=self._with_ids))
        )
        return rows | "Mix" >> self._mix


def _write_report(report: dict[str, Any], path: str) -> None:
    fs.write_bytes_atomic(path, json.dumps(report, ensure_ascii=False).encode())


def remix_graph(p: beam.Pipeline, mix: MixtureStageConfig, seed: int, pool_files: list[str], output: str,
                output_cfg: Any, *, recount: bool, pool_info: dict[str, Any], count_info: dict[str, Any],
                name: str, report_path: str) -> None:
    """The graph of ``corpusflow mix``: the pool of an earlier run -> a new mixture; the report to ``report_path``."""
    report, _shards = p | "MixPool" >> MixPool(mix, seed, pool_files, output, output_cfg, recount=recount,
                                      pool_info=pool_info, count_info=count_info, name=name)
    _ = report | "Keep" >> beam.Map(_write_report, path=report_path)
