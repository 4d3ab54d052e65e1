"""The run directory: plan, in-progress marker, stats, conservation check and ``manifest.json``.

A run writes into one directory::

    OUTPUT/_IN_PROGRESS        written at launch, removed when the manifest is written
    OUTPUT/_work/plan.json     the run plan, saved at launch (what ``corpusflow finish`` needs)
    OUTPUT/_work/stats.json    the job's counts and shard infos (written by the Beam graph)
    OUTPUT/data/ rejected/ duplicates/ errors/ pool/   the Parquet outputs
    OUTPUT/manifest.json       written last: a run directory without it is not finished
    OUTPUT/FAILED.json         instead of the manifest when the run's checks failed

After the job, :func:`finish_run` reads the stats, checks conservation (input = kept + rejected +
duplicates + errors, per source) and the error rate, and writes ``manifest.json`` last.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import shutil
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from corpusflow import __version__
from corpusflow.config.checks import check_source_paths
from corpusflow.config.pipeline import PipelineConfig
from corpusflow.core.paths import is_remote
from corpusflow.core.schemas import DOC_SCHEMA, DUPLICATE_SCHEMA, ERROR_SCHEMA, REJECTED_SCHEMA
from corpusflow.dedup.index import INDEX_DIR, settings_of, write_meta
from corpusflow.export.card import write_dataset_card
from corpusflow.io import filesystems as fs
from corpusflow.io.parquet import ShardFiles
from corpusflow.io.readers import FileSpec, plan_files
from corpusflow.mixture.tokenizers import load_tokenizer
from corpusflow.run.checkpoints import CHECKPOINT_DIR, META_FILE, read_meta, remove_checkpoints
from corpusflow.selection.config import DsirStageConfig
from corpusflow.selection.dsir import fit_files
from corpusflow.steps.decontam import summarize_decontam

log = logging.getLogger(__name__)

WORK_DIR = "_work"
#: Local run files of the transforms (``--spill_dir``, see :mod:`corpusflow.stages.spill`).
SPILL_DIR = "spill"


STATS_FILE = "stats.json"
#: The run plan, saved at launch (``corpusflow finish`` writes the manifest from it and the stats).
PLAN_FILE = "plan.json"
PLAN_FORMAT = 1


IN_PROGRESS = "_IN_PROGRESS"


MANIFEST = "manifest.json"


FAILED = "FAILED.json"


OUTPUT_DIRS = {"data": "train", "rejected": "rejected", "duplicates": "duplicates", "errors": "errors"}


class RunFailed(Exception):
    """The job ran but its result is not acceptable (error rate, conservation, mixture shortfall)."""

    def __init__(self, message: str, *, remix_command: str | None = None) -> None:
        super().__init__(message)
        #: A mixture shortfall: the ``corpusflow mix`` command that builds a mixture from the pool.
        self.remix_command = remix_command


@dataclass
class RunPlan:
    cfg: PipelineConfig
    output: str
    files: list[FileSpec]
    stage_order: list[str] = field(default_factory=list)
    #: What the run prepares once at launch and ships to the workers (see :func:`prepare_resources`).
    resources: dict[str, Any] = field(default_factory=dict)
    #: How the run was launched (``config``: the config file as given, ``overrides``: its
    #: ``--set`` values): what a follow-up command (``corpusflow mix``) repeats.
    launch: dict[str, Any] = field(default_factory=dict)
    #: Per-range checkpoints (:mod:`corpusflow.run.checkpoints`): None for a graph without them
    #: (tests, profiling); else the read plan to use (None: plan it when the graph is built, and
    #: save it) under ``ranges``.
    checkpoint: dict[str, Any] | None = None


def plan_run(cfg: PipelineConfig, output: str) -> RunPlan:
    """The files to read (one spec per input file) and the prepared resources of a run."""
    files = plan_files(cfg.sources, check_source_paths(cfg))
    return RunPlan(cfg=cfg, output=output.rstrip("/") if len(output) > 1 else output, files=files,
                   resources=prepare_resources(cfg))


def save_plan(plan: RunPlan, runner: dict[str, Any]) -> None:
    """Write ``OUTPUT/_work/plan.json``: what :func:`finish_run` needs besides the job's stats
    (config, input files, stage order, launch command, runner), so that a run whose launcher
    died can be finished by ``corpusflow finish OUTPUT`` without running anything again."""
    doc = {
        "format": PLAN_FORMAT,
        "corpusflow_version": __version__,
        "started": time.time(),
        "config": plan.cfg.to_jsonable(),
        "files": [{"source": f.source, "path": f.path, "file_key": f.file_key, "format": f.format}
                  for f in plan.files],
        "stage_order": list(plan.stage_order),
        "launch": plan.launch,
        "runner": runner,
    }
    fs.write_bytes_atomic(fs.join(plan.output, WORK_DIR, PLAN_FILE), _json_bytes(doc))


def load_plan(output: str) -> tuple[RunPlan, dict[str, Any], float]:
    """(plan, runner, start time) saved by :func:`save_plan` in ``output``; FileNotFoundError
    when the run saved none, ValueError when it was saved by another corpusflow version."""
    doc = json.loads(fs.read_bytes(fs.join(output, WORK_DIR, PLAN_FILE)))
    if doc.get("format") != PLAN_FORMAT or doc.get("corpusflow_version") != __version__:
        raise ValueError(f"{output}: the run plan was saved by corpusflow {doc.get('corpusflow_version')} "
                         f"(plan format {doc.get('format')}); this is {__version__}")
    plan = RunPlan(cfg=PipelineConfig.model_validate(doc["config"]), output=output.rstrip("/") or output,
                   files=[FileSpec(**f) for f in doc["files"]], stage_order=list(doc["stage_order"]),
                   launch=dict(doc.get("launch") or {}))
    return plan, dict(doc.get("runner") or {}), float(doc["started"])


def fit_dsir_model(d: DsirStageConfig) -> bytes | None:
    """The DSIR model fitted from ``d.fit`` (its bytes), or None when ``d.model`` names a file."""
    if d.fit is None:
        return None
    f = d.fit
    model = fit_files(f.target, f.raw, f.features.to_params(), text_field=f.text_field,
                      alpha=f.alpha, max_docs=f.max_docs)
    log.info("dsir: fitted on %d target / %d raw documents", model.target.docs, model.raw.docs)
    return model.to_bytes()


def prepare_resources(cfg: PipelineConfig) -> dict[str, Any]:
    """Work done once at launch, explicitly, before the graph is built (never in a transform's
    constructor): the DSIR model fitted when ``stages.dsir.fit`` is set (its bytes go to the
    workers), and the mixture tokenizer's description (it is loaded once here)."""
    out: dict[str, Any] = {}
    if cfg.stages.dsir.enabled:
        out["dsir_model"] = fit_dsir_model(cfg.stages.dsir)
    if cfg.stages.mixture.enabled:
        out["tokenizer_info"] = load_tokenizer(cfg.stages.mixture.tokenizer).info()
    return out


#: Files that mark a directory as a corpusflow run directory (one of them is always there).
RUN_MARKERS = (MANIFEST, IN_PROGRESS, FAILED)
#: Held while a run writes into its directory: ``{"pid", "host", "kind"}``.
LOCK = ".corpusflow.lock"


def _inside(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip(os.sep) + os.sep)


def protected_output(output: str, inputs: Iterable[str] = ()) -> str | None:
    """Why a local ``output`` must not be used as a run directory (None: it may).

    It may not be a symbolic link, the filesystem root, the home directory, the working
    directory or a parent of one of them, nor a directory that holds an input file (writing
    or ``--overwrite`` there would destroy what is not ours).
    """
    if is_remote(output):
        return None
    if os.path.islink(output.rstrip(os.sep) or output):
        return f"--output {output} is a symbolic link; give the real directory"
    out = os.path.realpath(output)
    for what, path in (("the working directory", os.getcwd()), ("the home directory", os.path.expanduser("~")),
                       ("the filesystem root", os.sep)):
        if _inside(os.path.realpath(path), out):
            return f"--output {output} is {what} or a folder that contains it"
    for inp in inputs:
        if is_remote(inp) or inp.startswith("pkg:"):
            continue
        if _inside(os.path.realpath(inp), out):
            return f"--output {output} contains the input file {inp}"
    return None


def _lock_holder(output: str) -> dict[str, Any] | None:
    """The live run holding ``output``'s lock, or None (no lock, or its process is gone)."""
    path = os.path.join(output, LOCK)
    try:
        with open(path, encoding="utf-8") as f:
            holder = json.load(f)
    except (OSError, ValueError):
        return None
    if holder.get("host") != socket.gethostname():
        return holder  # another machine's run: cannot tell whether it is alive
    try:
        os.kill(int(holder.get("pid", -1)), 0)
    except (OSError, ValueError):
        return None
    return holder


def prepare_output(output: str, *, overwrite: bool, kind: str = "run", inputs: Iterable[str] = (),
                   resume: bool = False) -> None:
    """Claim ``output`` for a run: refuse what is not ours, take the lock, mark the run in progress.

    A non-empty directory is replaced only with ``overwrite`` and only when it is a corpusflow
    run directory (it holds one of :data:`RUN_MARKERS`) that no live run holds; a protected
    directory (:func:`protected_output`) is refused whatever the flags. ``kind`` (``run`` or
    ``mix``) is recorded in the marker and, later, in the manifest. With ``resume``, an unfinished
    run directory is taken over instead: everything but its checkpoints
    (:mod:`corpusflow.run.checkpoints`) is removed.
    """
    why = protected_output(output, inputs)
    if why:
        raise FileExistsError(why)
    existing = fs.list_dir(output)
    if existing and not is_remote(output):
        holder = _lock_holder(output)
        if holder is not None:
            raise FileExistsError(f"output directory {output} is in use by another corpusflow run "
                                  f"(pid {holder.get('pid')} on {holder.get('host')}); wait for it or choose another --output")
    if existing and resume:
        if MANIFEST in existing:
            raise FileExistsError(f"output directory {output} holds a finished run: there is nothing to resume")
        if not any(m in existing for m in RUN_MARKERS):
            raise FileExistsError(f"output directory {output} is not a corpusflow run directory "
                                  f"(no {', '.join(RUN_MARKERS)}): nothing to resume")
        _clear_but_checkpoints(output, existing)
    elif existing and not overwrite:
        finished = MANIFEST in existing
        what = "a finished run" if finished else "files from an unfinished or failed run"
        finishable = (not finished and FAILED not in existing
                      and fs.exists(fs.join(output, WORK_DIR, STATS_FILE))
                      and fs.exists(fs.join(output, WORK_DIR, PLAN_FILE)))
        hint = (f"; its job ended but its manifest was never written: corpusflow finish {output} "
                "completes it without running anything") if finishable else ""
        done = _checkpointed(output, existing) if not finished and not finishable else None
        if done is not None:
            hint = (f"; it has checkpoints of {done[0]} of {done[1]} input ranges: add --resume to the same "
                    "command to continue it (only the rest is computed)")
        raise FileExistsError(
            f"output directory {output} is not empty (it holds {what}){hint}; "
            "pass --overwrite to replace it, or choose another --output"
        )
    if existing and not resume:
        if not any(m in existing for m in RUN_MARKERS):
            raise FileExistsError(
                f"output directory {output} is not a corpusflow run directory (no {', '.join(RUN_MARKERS)}); "
                "--overwrite only replaces run directories: remove it yourself or choose another --output")
        fs.remove_tree(output)
    if not is_remote(output):
        os.makedirs(output, exist_ok=True)
        try:
            fd = os.open(os.path.join(output, LOCK), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            raise FileExistsError(f"output directory {output} was claimed by another run just now") from None
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"pid": os.getpid(), "host": socket.gethostname(), "kind": kind}, f)
    fs.write_bytes_atomic(fs.join(output, IN_PROGRESS), json.dumps({"kind": kind, "started": time.time()}).encode())


def _checkpointed(output: str, existing: list[str]) -> tuple[int, int] | None:
    """(ranges complete, ranges planned) of the checkpoints in ``output``; None without any."""
    meta = fs.join(WORK_DIR, CHECKPOINT_DIR, META_FILE)
    if meta.replace(os.sep, "/") not in {e.replace(os.sep, "/") for e in existing}:
        return None
    try:
        doc = read_meta(output) or {}
        planned = len(doc.get("ranges") or [])
    except (OSError, ValueError):
        return None
    done = sum(e.endswith(".done.json") for e in existing)
    return done, planned


def _clear_but_checkpoints(output: str, existing: list[str]) -> None:
    """Remove every file of a run directory but its checkpoints (a resumed run starts from them)."""
    keep = fs.join(WORK_DIR, CHECKPOINT_DIR).replace(os.sep, "/") + "/"
    if is_remote(output):
        for name in existing:
            if not name.startswith(keep):
                fs.remove(fs.join(output, name))
        return
    def rm(path: str) -> None:
        if os.path.isdir(path) and not os.path.islink(path):
            fs.remove_tree(path)
        else:
            os.remove(path)

    for entry in os.listdir(output):
        path = os.path.join(output, entry)
        if entry == WORK_DIR and os.path.isdir(path) and not os.path.islink(path):
            for sub in os.listdir(path):
                if sub != CHECKPOINT_DIR:
                    rm(os.path.join(path, sub))
        else:  # the lock too: its holder is gone (checked above)
            rm(path)


def release_output(output: str) -> None:
    """Drop the lock of a run directory (after its manifest or FAILED.json is written)."""
    if not is_remote(output):
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(output, LOCK))


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
    readcheck: dict[str, dict[str, int]] = {}
    file_reports: dict[str, dict[str, Any]] = {}  # path -> bytes, records, errors, complete  # source -> {"Documents": n, "IdPlaces": n}
    extra: dict[str, Any] = {}
    resume: dict[str, int] = {}
    for item in items:
        kind = item[0]
        if kind == "ledger":
            ledger[tuple(item[1])] = item[2]  # type: ignore[index]
        elif kind == "shard":
            shards.setdefault(item[1], []).append(item[2])
        elif kind == "nshards":
            counts[item[1]] = item[2]
        elif kind == "file":
            file_reports[item[1]] = item[2]
        elif kind == "readcheck":
            readcheck.setdefault(item[2], {})[item[1]] = item[3]
        elif kind == "resume":  # ranges reused from checkpoints / computed (stages/ranges.py)
            resume[f"ranges_{item[1]}"] = item[2]
        else:
            extra[kind] = item[1] if len(item) == 2 else item[1:]
    sources = [s.name for s in cfg.sources]
    summary = summarize_ledger(ledger, sources)

    # A shard whose hash range got no rows still exists, empty, so the N files are complete.

    schemas = {"data": DOC_SCHEMA, "rejected": REJECTED_SCHEMA, "duplicates": DUPLICATE_SCHEMA,
               "errors": ERROR_SCHEMA}
    for sub, prefix in OUTPUT_DIRS.items():
        n = counts.get(sub, 0)
        have = {s["file"] for s in shards.get(sub, [])}
        if sub != "data" and not have:
            continue  # no rejected/duplicates/errors at all: no files
        for i in range(max(n, 1) if sub == "data" else n):
            files = ShardFiles(fs.join(out, sub), prefix, schemas[sub], cfg.output.row_group_rows,
                               cfg.output.compression, cfg.output.compression_level)
            if files.name(i, max(n, 1)) not in have and not (sub == "data" and "mixture" in extra):
                shards[sub].append(files.write_empty(i, max(n, 1)))
        shards[sub] = sorted(shards[sub], key=lambda s: s["file"])

    dd = cfg.stages.dedup
    if dd.enabled and dd.save_index:  # index.json last: the index is complete
        shards[INDEX_DIR] = sorted(shards.get(INDEX_DIR, []), key=lambda s: s["file"])
        write_meta(fs.join(out, INDEX_DIR), cfg.name, settings_of(dd, dd.seed if dd.seed is not None else cfg.seed),
                   sum(int(s["rows"]) for s in shards[INDEX_DIR]))
    manifest: dict[str, Any] = {
        "corpusflow_version": __version__,
        "kind": "run",
        "name": cfg.name,
        "status": "complete",
        "config_hash": cfg.config_hash(),
        "seed": cfg.seed,
        "runner": runner,
        "seconds": round(seconds, 3),
        "inputs": [{"source": f.source, "path": f.path, "format": f.format,
                    **{k: v for k, v in file_reports.get(f.path, {}).items() if k not in ("source", "format")}}
                   for f in plan.files],
        "counts": summary,
        "stages": _stage_table(ledger, sources, plan.stage_order),
        "outputs": shards,
        **({"resume": {"ranges_total": sum(resume.values()), "ranges_reused": resume.get("ranges_reused", 0),
                       "ranges_computed": resume.get("ranges_computed", 0)}} if resume else {}),
        **extra,
        **({"decontamination": summarize_decontam(ledger)} if cfg.stages.decontam.enabled else {}),
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
    incomplete = [p for p, r in sorted(file_reports.items()) if not r.get("complete", True)]
    if incomplete and not cfg.limits.allow_incomplete_files:
        problems.append(
            f"{len(incomplete)} input file(s) were not read to their end (truncated or damaged), e.g. "
            f"{', '.join(incomplete[:3])}; their error records say where and how much was lost "
            f"(see {fs.join(out, 'errors')}/). Set limits.allow_incomplete_files=true to accept the records read")
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
    mix_report = extra.get("mixture")
    if isinstance(mix_report, dict) and mix_report.get("failed"):
        # Only the mixture fell short: every document was counted and the pool is complete, so
        # `corpusflow mix --from` may use it (it still checks every file against this record).
        manifest["pool_usable"] = not problems
        problems += [str(m) for m in mix_report["failed"]]
        problems.append(_remix_hint(plan, mix_report.get("feasible_overrides") or []))
        manifest["remix_command"] = remix_command(plan, mix_report.get("feasible_overrides") or [])
    if problems:
        write_failed(out, manifest, problems)
        raise RunFailed("; ".join(problems), remix_command=manifest.get("remix_command"))
    write_manifest(out, manifest, keep_checkpoints=bool(plan.launch.get("keep_checkpoints")))
    return manifest


def remix_command(plan: RunPlan, feasible: list[str]) -> str | None:
    """The ``corpusflow mix`` command that builds a mixture from this run's pool under the
    ``stages.mixture`` overrides ``feasible`` (None when there are none)."""
    if not feasible:
        return None
    out = plan.output
    argv = ["corpusflow", "mix", str(plan.launch.get("config") or "CONFIG"), "--from", out,
            "--output", f"{out}-mix"]
    new = [f"stages.mixture.{o}" for o in feasible]
    replaced = {o.split("=", 1)[0] for o in new}
    for ov in [*(o for o in plan.launch.get("overrides", []) if o.split("=", 1)[0] not in replaced), *new]:
        argv += ["--set", ov]
    return shlex.join(argv)


def _remix_hint(plan: RunPlan, feasible: list[str]) -> str:
    cmd = remix_command(plan, feasible)
    where = f"{fs.join(plan.output, 'pool')}/ and FAILED.json"
    if cmd is None:
        return (f"no training shard was written; the pool and the mixture report are in {where}: "
                "change stages.mixture and re-mix it with corpusflow mix CONFIG --from " + plan.output)
    return f"no training shard was written; the pool is kept ({where}); this re-mix fits: {cmd}"


def plan_head(plan: RunPlan, runner: dict[str, Any], seconds: float) -> dict[str, Any]:
    """The head of the manifest a run of ``plan`` writes (what is known before its stats)."""
    cfg = plan.cfg
    return {"corpusflow_version": __version__, "kind": "run", "name": cfg.name, "status": "running",
            "config_hash": cfg.config_hash(), "seed": cfg.seed, "runner": runner, "seconds": round(seconds, 3),
            "inputs": [{"source": f.source, "path": f.path, "format": f.format} for f in plan.files]}


def write_interrupted(out: str, head: dict[str, Any], *, signal_name: str, stage: str, at: float) -> None:
    """``FAILED.json`` of a run stopped by a signal (why, in which stage, when); the run's
    temporary files are removed (:func:`write_failed`)."""
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
    write_failed(out, {**head, "interrupted": {"reason": signal_name, "stage": stage or None, "time": when}},
                 [f"interrupted by {signal_name}" + (f" during {stage}" if stage else "") + f" at {when}"])


#: Keys every manifest starts with, for ``run`` and ``mix`` alike (``kind`` tells them apart);
#: a run adds ``inputs``, ``counts``, ``stages``; both add ``outputs``, ``mixture``, ``config``.
MANIFEST_HEAD = ("corpusflow_version", "kind", "name", "status", "config_hash", "seed", "runner", "seconds")


def write_manifest(out: str, manifest: dict[str, Any], *, keep_checkpoints: bool = False) -> None:
    """Write ``manifest.json`` and the dataset card ``README.md`` (last: together they mark the run
    directory as finished), then clean up (the checkpoints too, unless ``keep_checkpoints``)."""
    missing = [k for k in MANIFEST_HEAD if k not in manifest]
    if missing:
        raise ValueError(f"manifest without {', '.join(missing)}")
    fs.write_bytes_atomic(fs.join(out, MANIFEST), _json_bytes(manifest))
    write_dataset_card(out)
    _remove_spill(out)
    if not keep_checkpoints:
        remove_checkpoints(out)
    _remove_marker(out)
    release_output(out)


def write_failed(out: str, manifest: dict[str, Any], problems: list[str]) -> None:
    """Write ``FAILED.json``: the manifest that would have been written, with why it was not."""
    fs.write_bytes_atomic(fs.join(out, FAILED), _json_bytes({**manifest, "status": "failed", "problems": problems}))
    _remove_spill(out)
    release_output(out)


def _remove_spill(out: str) -> None:
    """The transforms remove their own run files; this removes what a crash or a kill left."""
    if not is_remote(out):
        shutil.rmtree(os.path.join(out, WORK_DIR, SPILL_DIR), ignore_errors=True)


def _remove_marker(out: str) -> None:
    fs.remove(fs.join(out, IN_PROGRESS))  # local, s3:// or gs://


def _json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False, default=str) + "\n").encode()
