"""``corpusflow run CONFIG --output DIR``: run the pipeline and write the manifest."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from typing import Any

from corpusflow.config.checks import worker_paths
from corpusflow.config.load import load_config
from corpusflow.core.errors import ConfigError
from corpusflow.core.jit import uncached_kernel_modules
from corpusflow.io.fields import fields_arg
from corpusflow.run import checkpoints
from corpusflow.run.interrupt import Interruptible, exit_code
from corpusflow.run.progress import StageProgress, stage_summary, watch_run
from corpusflow.run.rundir import (
    RunFailed,
    RunPlan,
    finish_run,
    plan_head,
    plan_run,
    prepare_output,
    save_plan,
    write_interrupted,
)
from corpusflow.run.runners import (
    check_detach,
    check_paths_for_runner,
    is_dry_run,
    job_id,
    quiet_worker_logs,
    resolve_runner,
    run_pipeline,
    with_spill_dir,
)
from corpusflow.stages.graph import build_pipeline

ACCEPTS_EXTRA_ARGS = True  # unknown --flags are Beam pipeline options
#: Seconds the launcher waits between the job's end and the manifest (tests of ``corpusflow finish``).
PAUSE_BEFORE_MANIFEST = "CORPUSFLOW_PAUSE_BEFORE_MANIFEST"

DESCRIPTION_EPILOG = """\
Output layout:
  DIR/data/train-00000-of-000NN.parquet   kept documents (zstd Parquet, explicit schema)
  DIR/rejected/  DIR/duplicates/  DIR/errors/   every document not kept, with why
  DIR/manifest.json                       config + hash, counts per source and stage, shards
                                          (written last: a DIR without it is not finished)

Runners (--runner, else the config's runner: section, else DirectRunner):
  DirectRunner    local, the default (Beam's FnApiRunner; add --direct_running_mode=multi_processing
                  --direct_num_workers=2 for CPU-bound runs)
  PortableRunner  Beam's job service (default --job_endpoint=embed --environment_type=LOOPBACK;
                  --environment_type=EXTERNAL --environment_config=HOST:PORT for a worker pool)
  DataflowRunner  needs --project --region --temp_location=gs://... and --setup_file=./pyproject.toml
                  (or --sdk_container_image); --dry_run=True builds the job offline
  SparkRunner, FlinkRunner: options passed through to Beam (see docs/running.md)

Any other --flag is a Beam pipeline option (checked against Beam's option list; it overrides
the same option in the config's runner.options).
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = DESCRIPTION_EPILOG
    p.add_argument("config", help="pipeline YAML, e.g. configs/pipelines/demo.yaml")
    p.add_argument("--output", "-o", required=True, help="output directory (local path or s3:// / gs:// URL)")
    p.add_argument("--input", action="append", default=[], metavar="GLOB",
                   help="replace the config's sources with these JSONL/Parquet globs (repeatable; quote the "
                        "glob): one source 'input' per detected field mapping (input, input-2, ...)")
    p.add_argument("--fields", type=fields_arg, default=None, metavar="id=F,text=F,url=F",
                   help="field names of the --input files (default: detected per file from the first "
                        "record: id/doc_id/sample_id, text/content/raw_content, url/metadata.url)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override a config value, e.g. --set stages.langid.min_score=0.8 (repeatable)")
    p.add_argument("--runner", default=None, help="DirectRunner (default), PortableRunner, "
                   "DataflowRunner, SparkRunner, FlinkRunner; overrides the config's runner.name")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a non-empty output directory (an unfinished run's checkpoints too)")
    p.add_argument("--resume", action="store_true",
                   help="continue an unfinished run in --output (killed, interrupted, failed) from its "
                        "checkpoints: input ranges already done are not read again; same config and inputs needed")
    p.add_argument("--keep-checkpoints", action="store_true",
                   help="keep OUTPUT/_work/checkpoints/ when the run finishes (removed by default)")
    p.add_argument("--max-error-rate", type=float, default=None,
                   help="fail when errors / input records exceed this (default: limits.max_error_rate, 0.01)")
    p.add_argument("--strict", action="store_true", help="stop at the first malformed record")
    p.add_argument("--allow-plugins", action="store_true",
                   help="import the Python modules the config lists under plugins: (refused otherwise)")
    p.add_argument("--quiet", "-q", action="store_true", help="less logging")
    p.add_argument("--detach", action="store_true",
                   help="submit the job and exit (Dataflow, or a job service started apart from this process "
                        "with EXTERNAL/PROCESS/DOCKER workers); 'corpusflow finish OUTPUT' writes the manifest "
                        "once the job has ended")
    # --- progress
    p.add_argument("--progress", choices=("auto", "bar", "log", "off"), default="auto",
                   help="live input read (bytes, %%, docs/s, ETA) and documents per stage (DirectRunner, LOOPBACK): 'bar' redraws "
                        "a table on the terminal, 'log' logs a line every 15 s (CORPUSFLOW_PROGRESS_INTERVAL), "
                        "'auto' (default) picks by whether stderr is a terminal (off with --quiet)")


def run(args: argparse.Namespace) -> int:
    if args.quiet:
        logging.getLogger().setLevel(logging.WARNING)
    overrides = list(args.overrides)
    if args.max_error_rate is not None:
        overrides.append(f"limits.max_error_rate={args.max_error_rate}")
    if args.strict:
        overrides.append("limits.strict=true")
    try:
        cfg = load_config(args.config, overrides=overrides, inputs=args.input or None,
                          fields=args.fields, plugins="import" if args.allow_plugins else "refuse")
        # Runner selection: Beam arguments, the run plan, the spill directory, path checks.
        beam_argv, runner_summary = resolve_runner(args.runner, args.extra_args, cfg.runner)
        plan = plan_run(cfg, args.output)
        plan.launch = {"config": args.config, "overrides": overrides}
        beam_argv = with_spill_dir(beam_argv, plan.output)
        check_paths_for_runner(runner_summary, plan.output, [], worker_paths(cfg))
        if args.detach and not is_dry_run(runner_summary):
            check_detach(runner_summary)
        if args.resume and args.overwrite:
            raise ValueError("--resume continues the run in --output, --overwrite replaces it: choose one")
        resumed = checkpoints.resume_plan(plan.output, cfg, plan.files) if args.resume else None
    except (ConfigError, ValueError) as exc:  # ResumeRefused too: what changed since the checkpoints
        print(f"corpusflow: {exc}", file=sys.stderr)
        return 2
    plan.checkpoint = {"ranges": resumed[0] if resumed else None,
                       "ids": checkpoints.read_ids(plan.output) if resumed else None}
    plan.launch["keep_checkpoints"] = bool(args.keep_checkpoints)
    dry_run = is_dry_run(runner_summary)  # Dataflow --dry_run=True: build the job, run nothing
    if not getattr(args, "verbose", False):
        quiet_worker_logs()
    try:
        if not dry_run:
            prepare_output(plan.output, overwrite=args.overwrite, inputs=[f.path for f in plan.files],
                           resume=args.resume)
    except (FileExistsError, RuntimeError, OSError) as exc:
        print(f"corpusflow: {exc}", file=sys.stderr)
        return 2
    if args.resume:
        print(f"corpusflow: resuming {plan.output}: " + (
            f"{resumed[1]} of {len(resumed[0])} input ranges are checkpointed and will not be computed again"
            if resumed else "no checkpoints found, the run starts from the beginning"), file=sys.stderr)
    logging.getLogger("corpusflow").info(
        "running %s over %d file(s) from %d source(s) -> %s (%s)", cfg.name, len(plan.files),
        len(cfg.sources), plan.output, runner_summary)
    cold = [] if args.quiet or dry_run else uncached_kernel_modules()
    if cold:
        print(f"corpusflow: compiling the numba kernels ({len(cold)} module(s) not cached yet): the first "
              "10-20 s read nothing; later runs load them from the cache "
              "(python -m corpusflow.run.warmup compiles them ahead)", file=sys.stderr)
    start = time.time()
    # --- progress: a no-op context unless the runner is watchable (corpusflow.run.progress).

    mode = "off" if (args.quiet and args.progress == "auto") or args.detach else args.progress
    watch = watch_run(plan.output, lambda: plan.stage_order, runner_summary, mode=mode, title=cfg.name,
                      inputs=[f.path for f in plan.files])
    stop = Interruptible()
    try:
        with stop, watch:
            result = run_pipeline(beam_argv, lambda p: _build_and_save(p, plan, runner_summary, dry_run),
                                  wait=not args.detach)
    except BaseException as exc:
        if stop.signum is not None:  # SIGINT / SIGTERM: the workers are stopped already
            stage = last_stage(getattr(watch, "last_rows", []))
            write_interrupted(plan.output, plan_head(plan, runner_summary, time.time() - start),
                              signal_name=stop.name, stage=stage, at=stop.at or time.time())
            where = f" during {stage}" if stage else ""
            print(f"corpusflow: interrupted by {stop.name}{where}; nothing was finished, "
                  f"see {plan.output}/FAILED.json; {resume_hint(plan)}", file=sys.stderr)
            return exit_code(stop.signum)
        if not isinstance(exc, Exception):
            raise
        print(f"corpusflow: the pipeline failed: {type(exc).__name__}: {exc}\n{resume_hint(plan)}", file=sys.stderr)
        return 1
    if dry_run:  # nothing ran, so there are no stats to check
        print(f"dry run: the {runner_summary['runner']} job was built and validated; nothing was submitted")
        return 0
    if args.detach:
        print(f"submitted: {runner_summary['runner']} job {job_id(result) or '(no id)'}, state {result.state}; "
              f"once it has ended, write the manifest with:\n  corpusflow finish {plan.output}")
        return 0
    pause = os.environ.get(PAUSE_BEFORE_MANIFEST)
    if pause:  # a test seam: the launcher dies here, after the job, before the manifest
        time.sleep(float(pause))
    try:
        manifest = finish_run(plan, seconds=time.time() - start, runner=runner_summary)
    except RunFailed as exc:
        print(f"corpusflow: run failed: {exc}", file=sys.stderr)
        if exc.remix_command and exc.remix_command not in str(exc):  # else the message has it already
            print(f"corpusflow: the pool is kept; to build a mixture from it:\n  {exc.remix_command}",
                  file=sys.stderr)
        return 1
    except FileNotFoundError as exc:  # the job ended, but what its workers wrote is not where we look
        print(f"corpusflow: run failed: the job ended but {exc.filename or exc} is missing: its workers "
              f"wrote somewhere this machine cannot see (a disk they do not share with it?)", file=sys.stderr)
        return 1
    print(stage_summary(manifest) + "\n")  # exact per-stage table
    print_summary(manifest, plan.output)
    return 0


def _build_and_save(p: Any, plan: RunPlan, runner_summary: dict[str, Any], dry_run: bool) -> None:
    build_pipeline(p, plan)
    if not dry_run:  # the stage order (and the read plan) are known once the graph is built
        save_plan(plan, runner_summary)
        if plan.checkpoint is not None and plan.checkpoint.get("ranges") is not None:
            checkpoints.write_meta(plan.output, plan.cfg, plan.files, plan.checkpoint["ranges"])


def resume_hint(plan: RunPlan) -> str:
    """How to continue a run that stopped: how many input ranges its checkpoints hold."""
    try:
        done = checkpoints.count_done(plan.output, (plan.checkpoint or {}).get("ranges") or [])
    except OSError:
        done = 0
    total = len((plan.checkpoint or {}).get("ranges") or [])
    return (f"{done} of {total} input ranges are checkpointed in {checkpoints.checkpoint_dir(plan.output)}: "
            "run the same command with --resume to continue from them")


def last_stage(rows: list[StageProgress]) -> str:
    """The last stage that had seen documents when the run stopped ("" when none is known)."""
    seen = [r.stage for r in rows if r.n_in]
    return seen[-1] if seen else ""


def pool_usage(mixture: dict[str, Any]) -> str:
    """One line: how much of the pool the mixture left unused, in documents, overall and per group
    (documents of no group are never used)."""
    cells = mixture.get("cells") or []
    total = sum(c["docs"] for c in cells)
    unused = sum(c["docs"] - c["selected_docs"] for c in cells)
    if not total:
        return "the pool is empty"
    parts = []
    for g in mixture.get("groups") or {}:
        mem = [c for c in cells if c.get("group") == g]
        docs = sum(c["docs"] for c in mem)
        left = sum(c["docs"] - c["selected_docs"] for c in mem)
        parts.append(f"{g} {left:,} of {docs:,}")
    outside = sum(c["docs"] for c in cells if c.get("group") is None)
    if outside:
        parts.append(f"in no group {outside:,}")
    return (f"pool left unused by the mixture: {unused:,} of {total:,} documents ({unused / total:.1%}): "
            + ", ".join(parts))


def print_summary(manifest: dict, output: str) -> None:
    c = manifest["counts"]
    rows = [("source", "input", "kept", "rejected", "duplicates", "errors")]
    for s, v in c["by_source"].items():
        rows.append((s, *(f"{v[k]:,}" for k in ("input", "kept", "rejected", "duplicates", "errors"))))
    t = c["total"]
    rows.append(("TOTAL", *(f"{t[k]:,}" for k in ("input", "kept", "rejected", "duplicates", "errors"))))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(v).rjust(w) if i else str(v).ljust(w) for i, (v, w) in enumerate(zip(r, widths, strict=True)))
             for r in rows]
    print("\n".join(lines))
    n_data = len(manifest["outputs"].get("data", []))
    mix = manifest.get("mixture")
    if mix:
        rows_out = sum(s.get("rows", 0) for s in manifest["outputs"].get("data", []))
        shares = ", ".join(f"{g} {v.get('achieved_share', 0):.1%} (target {v.get('share', 0):.0%})"
                           for g, v in mix.get("groups", {}).items())
        print(f"\n{t['kept']:,} documents kept in the pool under {output}/pool/; mixture of "
              f"{mix.get('total_achieved', 0):,} {mix.get('unit', 'tokens')}: {shares}")
        print(f"{rows_out:,} rows in {n_data} shard(s) under {output}/data/ "
              f"({manifest['seconds']:.1f} s); manifest: {output}/manifest.json")
        print(pool_usage(mix))
        return
    print(f"\n{t['kept']:,} documents kept in {n_data} shard(s) under {output}/data/ "
          f"({manifest['seconds']:.1f} s); manifest: {output}/manifest.json")
