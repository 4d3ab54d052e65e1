"""Builds the corpusflow Beam pipeline from a validated config, and finishes the run.

Graph (each stage optional, in this order)::

    ReadDocuments -> [FilterUrls] -> [ExtractText] -> NormalizeText -> IdentifyLanguage
        -> [ApplyFilters] -> [Deduplicate] -> (WriteShards data/ | MixDocuments pool/ + data/)
    rejected / duplicates / errors of every stage -> WriteShards rejected/ duplicates/ errors/
    every outcome -> ledger counts -> OUTPUT/_work/stats.json

After the pipeline finishes, :func:`finish_run` reads the stats, checks conservation
(input = kept + rejected + duplicates + errors, per source) and the error rate, and writes
``manifest.json`` last. A run directory without ``manifest.json`` is not finished.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import apache_beam as beam

from corpusflow import __version__
from corpusflow.config import PipelineConfig, check_source_paths
from corpusflow.document import Document, Duplicate, ErrorRecord, Rejected
from corpusflow.io import filesystems as fs
from corpusflow.io.readers import FileSpec, plan_files
from corpusflow.schemas import (
    DOC_SCHEMA,
    DUPLICATE_SCHEMA,
    ERROR_SCHEMA,
    REJECTED_SCHEMA,
    doc_row,
    duplicate_row,
    error_row,
    rejected_row,
)
from corpusflow.stages.base import StageOutputs
from corpusflow.stages.ids import MakeIdsUnique
from corpusflow.stages.langid import IdentifyLanguage
from corpusflow.stages.normalize import NormalizeText
from corpusflow.stages.read import ReadDocuments
from corpusflow.stages.write import WriteShards, shard_name

log = logging.getLogger(__name__)

WORK_DIR = "_work"
STATS_FILE = "stats.json"
IN_PROGRESS = "_IN_PROGRESS"
MANIFEST = "manifest.json"
FAILED = "FAILED.json"

#: Run consecutive per-document stages in one DoFn (see :func:`build_pipeline`); False gives one
#: ParDo per stage (same output; per-stage step timings in ``corpusflow.profiling``).
FUSE_STAGES = True

OUTPUT_DIRS = {"data": "train", "rejected": "rejected", "duplicates": "duplicates", "errors": "errors"}


class RunFailed(Exception):
    """The job ran but its result is not acceptable (error rate, conservation)."""


@dataclass
class RunPlan:
    cfg: PipelineConfig
    output: str
    files: list[FileSpec]
    stage_order: list[str] = field(default_factory=list)


def plan_run(cfg: PipelineConfig, output: str) -> RunPlan:
    files = plan_files(cfg.sources, check_source_paths(cfg))
    return RunPlan(cfg=cfg, output=output.rstrip("/") if len(output) > 1 else output, files=files)


def _stage_transforms(cfg: PipelineConfig) -> list[tuple[str, str, beam.PTransform]]:
    """(label, stage name, transform) of the document stages, in order."""
    st = cfg.stages
    stages: list[tuple[str, str, beam.PTransform]] = []
    # >>> Common Crawl wiring (issue #11, owner: warc) >>>
    # URL rules first (cheapest; blocked pages are never extracted), then HTML -> text. Each is
    # added only when it can act (a list configured / a WARC or WET source): see extract_config.
    from corpusflow.extract_config import extraction_needed, url_rules_needed

    if url_rules_needed(cfg):
        from corpusflow.stages.urls import FilterUrls

        stages.append(("FilterUrls", "urls", FilterUrls(st.urls)))
    if extraction_needed(cfg):
        from corpusflow.stages.extract import ExtractText

        stages.append(("ExtractText", "extract", ExtractText(st.extract)))
    # <<< Common Crawl wiring <<<
    if st.normalize.enabled:
        stages.append(("Normalize", "normalize", NormalizeText(st.normalize)))
    if st.langid.enabled:
        stages.append(("IdentifyLanguage", "langid", IdentifyLanguage(st.langid)))
    if st.filters.enabled:
        from corpusflow.stages.filters import ApplyFilters

        stages.append(("ApplyFilters", "filters", ApplyFilters(st.filters)))
    if st.decontam.enabled:  # benchmark decontamination (corpusflow/decontam/)
        from corpusflow.steps.decontam import DecontaminateText

        stages.append(("Decontaminate", "decontam", DecontaminateText(st.decontam)))
    # --- Deduplication (issue #4) plugs in here.
    # >>> dedup wiring (issue #4, owner: dedup) >>>
    if st.dedup.enabled:
        from corpusflow.stages.dedup import Deduplicate

        priority = {s.name: s.priority for s in cfg.sources}
        stages.append(("Deduplicate", "dedup", Deduplicate(st.dedup, cfg.seed, priority)))
    # <<< dedup wiring <<<
    # >>> dsir wiring (issue #10, owner: selection) >>>
    if st.dsir.enabled:
        from corpusflow.stages.dsir import SelectByImportance

        dsir = SelectByImportance(st.dsir, cfg.seed, [s.name for s in cfg.sources])
        stages.append(("SelectByImportance", "dsir", dsir))
    # <<< dsir wiring <<<
    return stages


def _ledger_key_kept(doc: Document) -> tuple[tuple[str, str, str, str], int]:
    return ("kept", doc.source, "", doc.lang or ""), 1


def _ledger_key_rejected(rec: Rejected) -> tuple[tuple[str, str, str, str], int]:
    return ("rejected", rec.doc.source, rec.stage, rec.reason), 1


def _ledger_key_dup(rec: Duplicate) -> tuple[tuple[str, str, str, str], int]:
    return ("duplicate", rec.doc.source, rec.stage, ""), 1


def _ledger_key_error(rec: ErrorRecord) -> tuple[tuple[str, str, str, str], int]:
    return ("error", rec.source, rec.stage, rec.error_class), 1


def _fuse_stages(stages: list[tuple[str, str, beam.PTransform]],
                 last_counts_kept: bool) -> list[tuple[str, list[str], beam.PTransform]]:
    """Runs of consecutive per-document stages (those with a ``step()``) become one
    :class:`~corpusflow.stages.chain.DocumentStages` labelled ``A+B+C``; others stay as they are.

    Returns ``(label, stage names, transform)``; ``last_counts_kept`` asks a final fused group to
    count the documents it keeps in its ledger output (nothing else follows it).
    """
    from corpusflow.stages.chain import DocumentStages

    out: list[tuple[str, list[str], beam.PTransform]] = []
    group: list[tuple[str, str, Any]] = []

    def close(is_last: bool) -> None:
        if not group:
            return
        steps = [step for _label, _name, step in group]
        label = "+".join(label for label, _name, _step in group)
        out.append((label, [name for _label, name, _step in group],
                    DocumentStages(steps, count_kept=is_last and last_counts_kept)))
        group.clear()

    for label, name, transform in stages:
        step_of = getattr(transform, "step", None)
        step = step_of() if step_of is not None else None
        if step is not None:
            group.append((label, name, step))
            continue
        close(False)
        out.append((label, [name], transform))
    close(True)
    return out


def build_pipeline(p: beam.Pipeline, plan: RunPlan, *, fuse_stages: bool | None = None) -> None:
    """Add the whole corpusflow graph for ``plan`` to pipeline ``p``.

    With ``fuse_stages`` (default: :data:`FUSE_STAGES`) consecutive per-document stages (urls,
    normalize, langid, filters) run in one DoFn (:class:`~corpusflow.stages.chain.DocumentStages`);
    the outputs and the manifest are the same either way.
    """
    if fuse_stages is None:
        fuse_stages = FUSE_STAGES
    cfg, out = plan.cfg, plan.output
    read = ReadDocuments(plan.files, cfg.sources, cfg.limits.max_doc_chars, strict=cfg.limits.strict,
                         id_places=cfg.limits.unique_ids)
    first: StageOutputs = p | "Read" >> read
    plan.stage_order = ["read"]
    # Outcome records of every stage, with whether the stage already counted them in its ledger.
    rejected: list[tuple[beam.PCollection, bool]] = [(first.rejected, False)]
    duplicates: list[tuple[beam.PCollection, bool]] = []
    errors: list[tuple[beam.PCollection, bool]] = [(first.errors, False)]
    ledger_parts: list[beam.PCollection] = []
    docs = first.kept
    if cfg.limits.unique_ids:
        docs = docs | "UniqueIds" >> MakeIdsUnique(read.id_places)
    transforms = _stage_transforms(cfg)
    stages = (_fuse_stages(transforms, last_counts_kept=True) if fuse_stages
              else [(label, [name], t) for label, name, t in transforms])
    kept_counted = False
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
    stats: list[beam.PCollection] = []
    if cfg.stages.dedup.enabled and cfg.stages.dedup.save_index:  # this run's dedup index (dedup/index.py)
        from corpusflow.dedup.index import INDEX_DIR
        from corpusflow.stages.dedup import SaveDedupIndex

        saver = SaveDedupIndex(cfg.stages.dedup, cfg.seed, fs.join(out, INDEX_DIR), common)
        stats.append(docs | "SaveDedupIndex" >> saver | "DedupIndexInfo" >> beam.Map(lambda i: ("shard", INDEX_DIR, i)))

    # --- Mixture (issue #5) replaces the plain data writer here when enabled.
    # >>> mixture wiring (issue #5, owner: mixture) >>>
    if cfg.stages.mixture.enabled:
        from corpusflow.stages.mixture import MixDocuments

        mixer = MixDocuments(cfg.stages.mixture, cfg.seed, out, o, pipeline_cfg=cfg)
        report = docs | "Mixture" >> mixer
        stats.append(report | "MixtureReport" >> beam.Map(lambda r: ("mixture", r)))
        stats.append(mixer.shards | "MixtureShardInfo" >> beam.Map(lambda i: ("shard", "data", i)))
    # <<< mixture wiring <<<
    else:
        data_writer = WriteShards(fs.join(out, "data"), "train", DOC_SCHEMA, doc_row, **common)
        stats.append(docs | "WriteData" >> data_writer | "DataInfo" >> beam.Map(lambda i: ("shard", "data", i)))
        stats.append(data_writer.shard_count | "DataCount" >> beam.Map(lambda n: ("nshards", "data", n)))

    # The outcome records of every stage are written (and counted) per stage and merged only as
    # spill runs / ledger keys: flattening the records first would pass each of them through the
    # local runner once more (issue #8).
    with_text = o.write_rejected_text
    if not kept_counted:
        ledger_parts.append(docs | "LedgerKept" >> beam.Map(_ledger_key_kept))
    for name, pcolls, schema, to_row, ledger_key in (
        ("rejected", rejected, REJECTED_SCHEMA, lambda r: rejected_row(r, with_text=with_text), _ledger_key_rejected),
        ("duplicates", duplicates, DUPLICATE_SCHEMA, duplicate_row, _ledger_key_dup),
        ("errors", errors, ERROR_SCHEMA, error_row, _ledger_key_error),
    ):
        cap = name.capitalize()
        present = [(pc, counted) for pc, counted in pcolls if pc is not None]
        parts = tuple(pc for pc, _counted in present) or (p | f"Empty{cap}" >> beam.Create([]),)
        w = WriteShards(fs.join(out, name), name, schema, to_row, **common)
        stats.append(parts | f"Write{cap}" >> w | f"{cap}Info" >> beam.Map(lambda i, n=name: ("shard", n, i)))
        stats.append(w.shard_count | f"{cap}Count" >> beam.Map(lambda c, n=name: ("nshards", n, c)))
        ledger_parts += [pc | f"Ledger{cap}{i}" >> beam.Map(ledger_key)
                         for i, (pc, counted) in enumerate(present) if not counted]

    if read.id_places is not None:
        # The id-only second read must see exactly the documents the main read kept (a file that
        # changed, or a transient object-store failure in one read only, would leave ids out of
        # the rename map): both are counted per source and compared in finish_run.
        # The main read counts its Documents per file range itself (no step per document).
        for label, pcoll in (("Documents", read.doc_counts),
                             ("IdPlaces", read.id_places | "ReadCheckIdPlaces" >> beam.Map(lambda kv: (kv[1][0], 1)))):
            stats.append(
                pcoll
                | f"ReadCheck{label}Count" >> beam.CombinePerKey(sum)
                | f"ReadCheck{label}Stat" >> beam.MapTuple(lambda src, n, w=label: ("readcheck", w, src, n))
            )

    ledger = (
        (
            *ledger_parts,
            read.input_counts | "LedgerInput" >> beam.MapTuple(lambda s, n: (("input", s, "", ""), n)),
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


# ------------------------------------------------------------------------------------------------
# Output directory lifecycle
# ------------------------------------------------------------------------------------------------


def prepare_output(output: str, *, overwrite: bool) -> None:
    """Refuse a non-empty output directory unless ``overwrite``; mark the run as in progress."""
    existing = fs.list_dir(output)
    if existing and not overwrite:
        finished = MANIFEST in existing
        what = "a finished run" if finished else "files from an unfinished or failed run"
        raise FileExistsError(
            f"output directory {output} is not empty (it holds {what}); "
            "pass --overwrite to replace it, or choose another --output"
        )
    if existing:
        fs.remove_tree(output)
    fs.write_bytes_atomic(fs.join(output, IN_PROGRESS), json.dumps({"started": time.time()}).encode())


# ------------------------------------------------------------------------------------------------
# Manifest
# ------------------------------------------------------------------------------------------------


def _stage_table(ledger: dict[tuple[str, str, str, str], int], sources: Iterable[str],
                 order: list[str]) -> list[dict[str, Any]]:
    """Per stage and source: in, out, rejected by reason, duplicates, errors by class."""
    stage_names = list(order)
    # Sub-stages ("dedup.exact", "dedup.minhash") go right after their parent stage, in name order.
    for stage in sorted({st for (_k, _s, st, _r) in ledger if st} - set(order)):
        parent = stage.split(".", 1)[0]
        if parent in stage_names:
            at = stage_names.index(parent) + 1
            while at < len(stage_names) and stage_names[at].startswith(parent + "."):
                at += 1
            stage_names.insert(at, stage)
        else:
            stage_names.append(stage)
    # A parent whose outcomes are all reported by its sub-stages gets no row of its own.
    own = {st for (_k, _s, st, _r) in ledger}
    stage_names = [n for n in stage_names
                   if n in own or not any(m.startswith(n + ".") for m in stage_names)]
    table = []
    current = {s: ledger.get(("input", s, "", ""), 0) for s in sources}
    for stage in stage_names:
        row: dict[str, Any] = {"stage": stage, "by_source": {}}
        for s in sources:
            rej = {r: n for (k, src, st, r), n in ledger.items() if k == "rejected" and src == s and st == stage}
            err = {r: n for (k, src, st, r), n in ledger.items() if k == "error" and src == s and st == stage}
            dup = sum(n for (k, src, st, _), n in ledger.items() if k == "duplicate" and src == s and st == stage)
            n_in = current[s]
            n_out = n_in - sum(rej.values()) - sum(err.values()) - dup
            row["by_source"][s] = {"in": n_in, "out": n_out, "rejected": dict(sorted(rej.items())),
                                   "duplicates": dup, "errors": dict(sorted(err.items()))}
            current[s] = n_out
        table.append(row)
    return table


def summarize_ledger(ledger: dict[tuple[str, str, str, str], int], sources: list[str]) -> dict[str, Any]:
    by_source: dict[str, dict[str, Any]] = {}
    for s in sources:
        c = {k: 0 for k in ("input", "kept", "rejected", "duplicates", "errors")}
        langs: dict[str, int] = {}
        for (kind, src, _stage, extra), n in ledger.items():
            if src != s:
                continue
            if kind == "input":
                c["input"] += n
            elif kind == "kept":
                c["kept"] += n
                langs[extra or "und"] = langs.get(extra or "und", 0) + n
            elif kind == "rejected":
                c["rejected"] += n
            elif kind == "duplicate":
                c["duplicates"] += n
            elif kind == "error":
                c["errors"] += n
        c["accounted"] = c["kept"] + c["rejected"] + c["duplicates"] + c["errors"]
        c["conserved"] = c["accounted"] == c["input"]
        c["kept_by_lang"] = dict(sorted(langs.items()))
        by_source[s] = c
    total = {k: sum(v[k] for v in by_source.values())
             for k in ("input", "kept", "rejected", "duplicates", "errors", "accounted")}
    total["conserved"] = all(v["conserved"] for v in by_source.values())
    return {"total": total, "by_source": by_source}


def finish_run(plan: RunPlan, *, seconds: float, runner: dict[str, Any]) -> dict[str, Any]:
    """Read the stats, verify them, write empty shards that got no rows, and write the manifest.

    Raises :class:`RunFailed` (after writing ``FAILED.json``) when conservation does not hold
    or the error rate is above ``limits.max_error_rate``.
    """
    cfg, out = plan.cfg, plan.output
    items = json.loads(fs.read_bytes(fs.join(out, WORK_DIR, STATS_FILE)))
    ledger: dict[tuple[str, str, str, str], int] = {}
    shards: dict[str, list[dict[str, Any]]] = {k: [] for k in OUTPUT_DIRS}
    counts: dict[str, int] = {}
    readcheck: dict[str, dict[str, int]] = {}  # source -> {"Documents": n, "IdPlaces": n}
    extra: dict[str, Any] = {}
    for item in items:
        kind = item[0]
        if kind == "ledger":
            ledger[tuple(item[1])] = item[2]  # type: ignore[index]
        elif kind == "shard":
            shards.setdefault(item[1], []).append(item[2])
        elif kind == "nshards":
            counts[item[1]] = item[2]
        elif kind == "readcheck":
            readcheck.setdefault(item[2], {})[item[1]] = item[3]
        else:
            extra[kind] = item[1] if len(item) == 2 else item[1:]
    sources = [s.name for s in cfg.sources]
    summary = summarize_ledger(ledger, sources)

    # A shard whose hash range got no rows still exists, empty, so the N files are complete.
    from corpusflow.io.parquet import write_parquet_atomic

    schemas = {"data": DOC_SCHEMA, "rejected": REJECTED_SCHEMA, "duplicates": DUPLICATE_SCHEMA,
               "errors": ERROR_SCHEMA}
    for sub, prefix in OUTPUT_DIRS.items():
        n = counts.get(sub, 0)
        have = {s["file"] for s in shards.get(sub, [])}
        if sub != "data" and not have:
            continue  # no rejected/duplicates/errors at all: no files
        for i in range(max(n, 1) if sub == "data" else n):
            name = shard_name(prefix, i, max(n, 1))
            if name not in have and not (sub == "data" and "mixture" in extra):
                import pyarrow as pa

                info = write_parquet_atomic(
                    fs.join(out, sub, name), pa.Table.from_pylist([], schema=schemas[sub]),
                    row_group_rows=cfg.output.row_group_rows, compression=cfg.output.compression,
                    compression_level=cfg.output.compression_level,
                )
                shards[sub].append({"file": name, **info})
        shards[sub] = sorted(shards[sub], key=lambda s: s["file"])

    if cfg.stages.dedup.enabled and cfg.stages.dedup.save_index:  # index.json last: the index is complete
        from corpusflow.dedup.index import INDEX_DIR, settings_of, write_meta

        dd = cfg.stages.dedup
        shards[INDEX_DIR] = sorted(shards.get(INDEX_DIR, []), key=lambda s: s["file"])
        write_meta(fs.join(out, INDEX_DIR), cfg.name, settings_of(dd, dd.seed if dd.seed is not None else cfg.seed),
                   sum(int(s["rows"]) for s in shards.get(INDEX_DIR, [])))
    manifest: dict[str, Any] = {
        "corpusflow_version": __version__,
        "name": cfg.name,
        "status": "complete",
        "config_hash": cfg.config_hash(),
        "seed": cfg.seed,
        "runner": runner,
        "seconds": round(seconds, 3),
        "inputs": [{"source": f.source, "path": f.path, "format": f.format} for f in plan.files],
        "counts": summary,
        "stages": _stage_table(ledger, sources, plan.stage_order),
        "outputs": shards,
        **extra,
        **_decontam_section(cfg, ledger),
        "config": cfg.to_jsonable(),
    }
    problems = []
    if not summary["total"]["conserved"]:
        bad = {s: v for s, v in summary["by_source"].items() if not v["conserved"]}
        problems.append(f"conservation check failed: input != kept + rejected + duplicates + errors for {bad}")
    differ = {src: c for src, c in sorted(readcheck.items()) if c.get("Documents", 0) != c.get("IdPlaces", 0)}
    if differ:
        problems.append(
            "the id-only read of the inputs (limits.unique_ids) saw other documents than the main read "
            f"(per source: {differ}); were the input files changed during the run, or was a read "
            "interrupted? Re-run, or set limits.unique_ids=false if ids are known to be unique")
    total_in = summary["total"]["input"]
    err_rate = summary["total"]["errors"] / total_in if total_in else 0.0
    manifest["error_rate"] = round(err_rate, 6)
    if cfg.limits.strict and summary["total"]["errors"]:
        problems.append(f"--strict: {summary['total']['errors']} record(s) failed; see {fs.join(out, 'errors')}/")
    if err_rate > cfg.limits.max_error_rate:
        problems.append(
            f"error rate {err_rate:.2%} ({summary['total']['errors']} of {total_in} records) is above "
            f"limits.max_error_rate={cfg.limits.max_error_rate:.2%}; see {fs.join(out, 'errors')}/ "
            "(raise the limit with --max-error-rate if this is expected)"
        )
    if problems:
        manifest["status"] = "failed"
        manifest["problems"] = problems
        fs.write_bytes_atomic(fs.join(out, FAILED), _json_bytes(manifest))
        raise RunFailed("; ".join(problems))
    fs.write_bytes_atomic(fs.join(out, MANIFEST), _json_bytes(manifest))
    _remove_marker(out)
    return manifest


def _decontam_section(cfg: PipelineConfig, ledger: dict[tuple[str, str, str, str], int]) -> dict[str, Any]:
    if not cfg.stages.decontam.enabled:
        return {}
    from corpusflow.steps.decontam import summarize_decontam

    return {"decontamination": summarize_decontam(ledger)}


def _remove_marker(out: str) -> None:
    fs.remove(fs.join(out, IN_PROGRESS))  # local, s3:// or gs:// (issue #6)


def _json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False, default=str) + "\n").encode()
