"""``corpusflow mix CONFIG --from RUN_OUTPUT --output NEW_OUTPUT``: re-mix an existing pool.

Builds a new mixture from ``RUN_OUTPUT/pool`` (every document an earlier ``corpusflow run``
kept, with token counts): no raw input is read, nothing is filtered or deduplicated again, so
editing a ratio costs only this stage. CONFIG is either a pipeline config (its
``stages.mixture``, ``seed``, ``output`` and ``name`` are used) or a mixture file::

    name: ja70-en30
    seed: 1                 # default: the seed of the earlier run
    output: {compression: zstd, row_group_rows: 10000}   # optional
    mixture: {tokenizer: llm-jp-v3.1, groups: {ja: 0.7, en: 0.3}, budget: all}

``--dry-run`` prints the plan (per cell available / target / rate / epochs, per group the
achieved share) from the pool without running Beam. Otherwise a Beam pipeline (FnApiRunner by
default; ``--runner`` and Beam flags as for ``corpusflow run``) writes ``NEW_OUTPUT/data/``,
``manifest.json`` and ``README.md``. When the pool's token counts are not in this config's
tokenizer, tokens are counted again from the pool's text and the re-counted pool is written
to ``NEW_OUTPUT/pool`` for the next re-mix.

Exit codes: 0 done, 1 the mixture is infeasible (shortfall with ``on_shortfall: fail``) or the
job failed, 2 a usage or config error.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
import time
from typing import Any

from pydantic import ValidationError

from corpusflow import __version__
from corpusflow.config.load import apply_overrides, format_validation_error
from corpusflow.config.pipeline import OutputConfig
from corpusflow.config.yamlsafe import load_yaml
from corpusflow.core.errors import ConfigError
from corpusflow.core.model import StrictModel
from corpusflow.core.paths import resolve_path
from corpusflow.io import filesystems as fs
from corpusflow.mixture.allocate import MixtureConfigError, MixtureShortfall, plan_mixture
from corpusflow.mixture.census import cell_of, census_from_columns, merge_census_dicts
from corpusflow.mixture.config import MixtureStageConfig
from corpusflow.mixture.counting import count_documents
from corpusflow.mixture.pool import POOL_DIR, POOL_META
from corpusflow.mixture.rehydrate import repeat_columns, row_weights
from corpusflow.mixture.report import plan_table
from corpusflow.mixture.tokenizers import load_tokenizer
from corpusflow.run.rundir import WORK_DIR, prepare_output, protected_output, write_manifest
from corpusflow.run.runners import (
    beam_options,
    check_paths_for_runner,
    normalize_beam_args,
    run_pipeline,
    with_spill_dir,
)
from corpusflow.stages.mixture import DEFAULT_SHARD_BYTES, _check_tokenizer, count_info, remix_graph
from corpusflow.stages.mixture import MixtureConfigError as StageConfigError

ACCEPTS_EXTRA_ARGS = True

log = logging.getLogger("corpusflow.mix")

EPILOG = """\
examples:
  corpusflow mix configs/mixtures/ja70_en30.yaml --from out/run1 --output out/ja70 --dry-run
  corpusflow mix configs/pipelines/full_ja80_en20.yaml --from out/run1 --output out/mix2 \\
      --set stages.mixture.groups.ja=0.9 --set stages.mixture.groups.en=0.1
  corpusflow mix configs/mixtures/ja70_en30.yaml --from out/run1 --output out/ja70 \\
      --direct_running_mode=multi_processing --direct_num_workers=2
"""


class MixFile(StrictModel):
    """A mixture-only config file for ``corpusflow mix``."""

    name: str | None = None
    seed: int | None = None
    output: Any = None
    mixture: Any


class MixSetupError(Exception):
    """Bad config, missing pool, unusable output directory: exit code 2."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = EPILOG
    p.add_argument("config", help="mixture YAML (configs/mixtures/*.yaml) or a pipeline YAML with stages.mixture")
    p.add_argument("--from", dest="source", required=True, metavar="RUN_OUTPUT",
                   help="output directory of an earlier run (its pool/ is read)")
    p.add_argument("--output", "-o", required=True, metavar="NEW_OUTPUT", help="where the new mixture goes")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override a config value, e.g. --set mixture.groups.ja=0.7 (repeatable)")
    p.add_argument("--seed", type=int, default=None, help="seed (default: config, else the earlier run's)")
    p.add_argument("--dry-run", action="store_true", help="print the plan and exit; write nothing")
    p.add_argument("--runner", default="DirectRunner", help="DirectRunner (FnApiRunner, default), PortableRunner, ...")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty NEW_OUTPUT")
    p.add_argument("--json", action="store_true", help="--dry-run: print the plan as JSON")
    p.add_argument("--force", action="store_true",
                   help="mix the pool of an unfinished or failed run, or one whose files do not match "
                        "the run's manifest (not recommended: the mixture then rests on unverified data)")


# ------------------------------------------------------------------------------------------------
# Config and pool
# ------------------------------------------------------------------------------------------------


def load_mix_config(path: str, overrides: list[str]) -> tuple[Any, int | None, Any, str]:
    """(MixtureStageConfig, seed or None, OutputConfig, name) from a mixture or pipeline YAML."""

    if not os.path.isfile(resolve_path(path)):
        raise MixSetupError(f"config file not found: {path}")
    try:
        with open(resolve_path(path), encoding="utf-8") as fh:
            data = load_yaml(fh.read(), path) or {}
    except ConfigError as exc:
        raise MixSetupError(str(exc)) from None
    if not isinstance(data, dict):
        raise MixSetupError(f"{path}: top level must be a mapping")
    try:
        data = apply_overrides(data, overrides)
    except ConfigError as exc:
        raise MixSetupError(str(exc)) from None
    if "stages" in data or "sources" in data:  # a pipeline config
        mix_data = ((data.get("stages") or {}).get("mixture")) or {}
        prefix = "stages.mixture"
        top = {"name": data.get("name"), "seed": data.get("seed"), "output": data.get("output")}
    else:
        try:
            MixFile.model_validate(data)
        except ValidationError as exc:
            raise MixSetupError(format_validation_error(exc, path, root=MixFile)) from None
        mix_data, prefix = data["mixture"] or {}, "mixture"
        top = {"name": data.get("name"), "seed": data.get("seed"), "output": data.get("output")}
    try:
        mix = MixtureStageConfig.model_validate({**mix_data, "enabled": True})
    except ValidationError as exc:
        raise MixSetupError(format_validation_error(exc, path, root=MixtureStageConfig, prefix=prefix)) from None
    try:
        output = OutputConfig.model_validate(top["output"] or {})
    except ValidationError as exc:
        raise MixSetupError(format_validation_error(exc, path, root=OutputConfig, prefix="output")) from None
    seed = top["seed"]
    if seed is not None and (not isinstance(seed, int) or seed < 0):
        raise MixSetupError(f"{path}: seed must be a non-negative integer, got {seed!r}")
    return mix, seed, output, str(top["name"] or os.path.splitext(os.path.basename(path))[0])


def find_pool(run_output: str) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
    """(pool directory, its _pool.json, the run's manifest or None)."""

    manifest = None
    for name in ("manifest.json", "FAILED.json"):  # a run that failed on a shortfall keeps its pool
        mpath = fs.join(run_output, name)
        if fs.exists(mpath):
            manifest = json.loads(fs.read_bytes(mpath))
            break
    candidates = [fs.join(run_output, POOL_DIR)]
    if manifest and isinstance(manifest.get("mixture"), dict):
        p = (manifest["mixture"].get("pool") or {}).get("path")
        if p and p != POOL_DIR:
            candidates.append(p)
    for pool_dir in candidates:
        meta_path = fs.join(pool_dir, POOL_META)
        if fs.exists(meta_path):
            meta = json.loads(fs.read_bytes(meta_path))
            missing = [f["file"] for f in meta["files"] if not fs.exists(fs.join(pool_dir, f["file"]))]
            if missing:
                raise MixSetupError(f"pool {pool_dir} is incomplete: missing {', '.join(missing[:5])}")
            return pool_dir, meta, manifest
    raise MixSetupError(
        f"no pool found under {run_output} (looked for {', '.join(candidates)}/_pool.json); "
        "run the pipeline with stages.mixture.enabled: true first"
    )


def verify_pool(pool_dir: str, pool_meta: dict[str, Any], run_manifest: dict[str, Any] | None) -> list[str]:
    """Why the pool must not be mixed as it is (empty list: verified).

    The run must be finished (``manifest.json`` with status complete, or a ``FAILED.json`` of a
    run that only fell short in the mixture and marked its complete pool ``pool_usable``; no
    ``_IN_PROGRESS`` marker), and every pool file must have the rows and sha256 that the run
    recorded (``_pool.json`` alone could have been edited with the files).
    """
    problems: list[str] = []
    if run_manifest is None:
        problems.append(f"{os.path.dirname(pool_dir.rstrip('/'))} has no manifest.json: the run did not finish")
        recorded = {f["file"]: f for f in pool_meta.get("files", [])}
    else:
        usable = run_manifest.get("status") == "failed" and run_manifest.get("pool_usable") is True
        if run_manifest.get("status") != "complete" and not usable:
            problems.append(f"the run's status is {run_manifest.get('status')!r}, not 'complete'")
        pool_rec = ((run_manifest.get("mixture") or {}).get("pool") or {})
        recorded = {f["file"]: f for f in pool_rec.get("files", [])}
        if not recorded:
            problems.append("the run's manifest records no pool files to check the pool against")
    listed = {f["file"] for f in pool_meta.get("files", [])}
    if recorded and listed != set(recorded):
        problems.append(f"_pool.json lists other files than the manifest: {sorted(listed ^ set(recorded))[:5]}")
    for name, rec in sorted(recorded.items()):
        path = fs.join(pool_dir, name)
        if not fs.exists(path):
            problems.append(f"{name}: missing")
            continue
        data = fs.read_bytes(path)
        digest = hashlib.sha256(data).hexdigest()
        if rec.get("sha256") and digest != rec["sha256"]:
            problems.append(f"{name}: sha256 {digest[:12]}… differs from the manifest's {str(rec['sha256'])[:12]}… "
                            "(changed after the run)")
        elif rec.get("bytes") is not None and len(data) != rec["bytes"]:
            problems.append(f"{name}: {len(data)} bytes, the manifest says {rec['bytes']}")
    run_dir = os.path.dirname(pool_dir.rstrip("/"))
    ended = fs.exists(fs.join(run_dir, "manifest.json")) or fs.exists(fs.join(run_dir, "FAILED.json"))
    if fs.exists(fs.join(run_dir, "_IN_PROGRESS")) and not ended:
        problems.append("the run directory holds _IN_PROGRESS (the run has not ended)")
    if fs.exists(fs.join(run_dir, "FAILED.json")) and not (run_manifest or {}).get("pool_usable"):
        problems.append("the run directory holds FAILED.json")
    return problems


def unmatched_source_settings(mix: Any, pool_dir: str, pool_meta: dict[str, Any]) -> list[str]:
    """Per-source mixture settings naming a source that is not in the pool (probably a typo)."""
    names = set(pool_meta.get("sources") or [])
    if not names:
        return []
    out = []
    for key in sorted(getattr(mix, "sources", None) or {}):
        src = str(key).split("/", 1)[0]
        if src not in names:
            out.append(f"stages.mixture.sources.{key}: no source {src!r} in the pool (sources: {', '.join(sorted(names))})")
    return out


def needs_recount(mix: Any, pool_meta: dict[str, Any], tokenizer_info: dict[str, Any]) -> bool:
    """True when the pool's counts are not in this config's tokenizer (or are estimates and
    exact counts are asked for)."""
    pt = pool_meta.get("tokenizer") or {}
    same = all(pt.get(k) == tokenizer_info.get(k) for k in ("kind", "sha256", "add_eos"))
    if not same:
        return True
    if mix.count.keep_token_ids and not (pool_meta.get("count") or {}).get("keep_token_ids"):
        return True  # the pool has no token ids to carry into the training rows
    return mix.count.mode == "exact" and (pool_meta.get("count") or {}).get("mode") != "exact"


def census_from_pool(pool_dir: str, files: list[str], seed: int, mix: Any = None) -> dict[Any, Any]:
    """Census of a pool read column-wise with pyarrow (no text is read); with rehydration each
    row counts as its copies, as in the Beam census (corpusflow/mixture/rehydrate.py)."""
    import pyarrow.parquet as pq  # lazy: heavy or optional dependency, loaded only when used


    rh = mix is not None and mix.rehydration.enabled
    parts = []
    for name in files:
        with fs.open_read(fs.join(pool_dir, name), compressed=False) as f:
            t = pq.read_table(f, columns=["id", "source", "lang", "n_tokens", "n_chars", "n_bytes"]
                              + (["metadata"] if rh else []))
        cols = (t.column("source").to_pylist(), t.column("lang").to_pylist(), t.column("id").to_pylist(),
                t.column("n_tokens").to_numpy(), t.column("n_chars").to_numpy(), t.column("n_bytes").to_numpy())
        if rh:
            cols = repeat_columns(row_weights(mix, cols[0], cols[1], t.column("metadata").to_pylist()), *cols)
        parts.append(census_from_columns(seed, *cols))
    return merge_census_dicts(parts)


def recount_census(pool_dir: str, files: list[str], mix: Any, seed: int) -> dict[Any, Any]:
    """Census after re-counting the pool's text with ``mix.tokenizer`` (in-process, for --dry-run)."""
    import pyarrow.parquet as pq  # lazy: heavy or optional dependency, loaded only when used


    cols: dict[str, list[Any]] = {k: [] for k in ("id", "source", "lang", "text", "n_chars", "n_bytes", "metadata")}
    for name in files:
        with fs.open_read(fs.join(pool_dir, name), compressed=False) as f:
            t = pq.read_table(f, columns=list(cols))
        for k in cols:
            cols[k].extend(t.column(k).to_pylist())
    counter = load_tokenizer(mix.tokenizer)
    res = count_documents(counter, cols["text"], cells=[cell_of(s, lg) for s, lg in zip(cols["source"], cols["lang"], strict=True)],
                          ids=cols["id"], mode=mix.count.mode, seed=seed, sample_rate=mix.count.sample_rate,
                          min_sample_docs=mix.count.min_sample_docs, batch_size=mix.tokenizer.batch_size)

    weights = row_weights(mix, cols["source"], cols["lang"], cols["metadata"])
    return census_from_columns(seed, *repeat_columns(weights, cols["source"], cols["lang"], cols["id"],
                                                     res.n_tokens, cols["n_chars"], cols["n_bytes"]))


# ------------------------------------------------------------------------------------------------
# Command
# ------------------------------------------------------------------------------------------------


def _same_dir(a: str, b: str) -> bool:
    return os.path.abspath(a).rstrip("/") == os.path.abspath(b).rstrip("/")


def _inside(child: str, parent: str) -> bool:
    c, p = os.path.abspath(child), os.path.abspath(parent)
    return c == p or c.startswith(p.rstrip("/") + "/")


def run(args: argparse.Namespace) -> int:
    why = ("--output must differ from --from (the earlier run's shards would be replaced)"
           if _same_dir(args.output, args.source) else protected_output(args.output, [args.source]))
    if why:
        print(f"corpusflow mix: {why}", file=sys.stderr)
        return 2
    try:
        mix, cfg_seed, output_cfg, name = load_mix_config(args.config, args.overrides)
        pool_dir, pool_meta, run_manifest = find_pool(args.source)
        problems = verify_pool(pool_dir, pool_meta, run_manifest)
        if problems and not args.force:
            raise MixSetupError("the pool cannot be trusted:\n  " + "\n  ".join(problems)
                                + "\n(--force mixes it anyway)")
        for msg in problems:
            print(f"corpusflow mix: warning (--force): {msg}", file=sys.stderr)
        for msg in unmatched_source_settings(mix, pool_dir, pool_meta):
            print(f"corpusflow mix: warning: {msg}", file=sys.stderr)
        tok_info = _check_tokenizer(mix)
    except (MixSetupError, StageConfigError) as exc:
        print(f"corpusflow mix: {exc}", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else (
        cfg_seed if cfg_seed is not None else int((run_manifest or {}).get("seed", 0)))
    files = [f["file"] for f in pool_meta["files"]]
    recount = needs_recount(mix, pool_meta, tok_info)
    shard_bytes = mix.shards.target_bytes or getattr(output_cfg, "shard_max_bytes", DEFAULT_SHARD_BYTES)

    # The plan, computed in-process from the pool's columns: --dry-run prints it; a real run
    # fails here, before Beam starts, when the mixture is infeasible.
    if args.dry_run or not recount:
        t0 = time.time()
        census = recount_census(pool_dir, files, mix, seed) if recount else census_from_pool(pool_dir, files, seed, mix)
        try:
            plan = plan_mixture(census, mix, seed=seed, shard_target_bytes=shard_bytes)
        except (MixtureShortfall, MixtureConfigError) as exc:
            print(f"corpusflow mix: {exc}", file=sys.stderr)
            return 1
        if args.dry_run:
            if args.json:
                print(json.dumps(plan.to_jsonable(), indent=2, ensure_ascii=False))
            else:
                print(f"pool: {pool_dir} ({pool_meta['documents']} documents, tokenizer "
                      f"{(pool_meta.get('tokenizer') or {}).get('name')}{', re-counted with ' + tok_info['name'] if recount else ''}); "
                      f"seed {seed}; census {time.time() - t0:.2f} s")
                print(plan_table(plan.to_jsonable()))
            return 0

    try:  # workers that cannot see this disk: refuse local paths before anything is written
        _argv, summary = beam_options(args.runner, normalize_beam_args(args.extra_args))
        tokenizer = getattr(mix.tokenizer, "path", None) if recount else None
        check_paths_for_runner(summary, args.output, [fs.join(pool_dir, f) for f in files],
                               [("stages.mixture.tokenizer", str(tokenizer))] if tokenizer else [])
    except ValueError as exc:
        print(f"corpusflow mix: {exc}", file=sys.stderr)
        return 2
    try:
        _prepare_output(args.output, args.source, pool_dir, overwrite=args.overwrite)
    except MixSetupError as exc:
        print(f"corpusflow mix: {exc}", file=sys.stderr)
        return 2
    return _run_beam(args, mix, seed, output_cfg, name, pool_dir, pool_meta, run_manifest, files, recount)


def _prepare_output(output: str, run_output: str, pool_dir: str, *, overwrite: bool) -> None:
    if _same_dir(output, run_output):
        raise MixSetupError("--output must differ from --from (the earlier run's shards would be replaced)")
    if _inside(pool_dir, output):
        raise MixSetupError(f"--output {output} contains the pool being read ({pool_dir})")
    try:
        prepare_output(output, overwrite=overwrite, kind="mix")
    except (FileExistsError, OSError) as exc:
        raise MixSetupError(str(exc)) from None


def _run_beam(args: argparse.Namespace, mix: Any, seed: int, output_cfg: Any, name: str, pool_dir: str,
              pool_meta: dict[str, Any], run_manifest: dict[str, Any] | None, files: list[str],
              recount: bool) -> int:
    try:
        beam_argv, runner_summary = beam_options(args.runner, normalize_beam_args(args.extra_args))
        beam_argv = with_spill_dir(beam_argv, args.output)
    except ValueError as exc:
        print(f"corpusflow mix: {exc}", file=sys.stderr)
        return 2
    pool_info = {"path": pool_dir, "written": False, "documents": pool_meta.get("documents"),
                 "files": pool_meta.get("files")}
    cinfo = count_info(mix) if recount else {**(pool_meta.get("count") or {}), "reused_from_pool": True}
    result: dict[str, Any] = {}
    start = time.time()
    try:
        run_pipeline(beam_argv, lambda p: remix_graph(
            p, mix, seed, [fs.join(pool_dir, f) for f in files], args.output, output_cfg, recount=recount,
            pool_info=pool_info, count_info=cinfo, name=name,
            report_path=fs.join(args.output, WORK_DIR, "mixture.json")))
    except Exception as exc:
        print(f"corpusflow mix: the pipeline failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    seconds = time.time() - start
    result = json.loads(fs.read_bytes(fs.join(args.output, WORK_DIR, "mixture.json")))
    if result.get("failed"):  # found only after re-counting the pool's tokens
        print("corpusflow mix: " + "\n".join(result["failed"]), file=sys.stderr)
        if result.get("feasible_overrides"):
            print("corpusflow mix: these mixture settings fit: " + ", ".join(result["feasible_overrides"]),
                  file=sys.stderr)
        return 1
    fs.remove_tree(fs.join(args.output, WORK_DIR))
    cfg_json = mix.model_dump(mode="json")
    manifest = {
        "corpusflow_version": __version__,
        "kind": "mix",
        "name": name,
        "status": "complete",
        "config_hash": hashlib.sha256(json.dumps(cfg_json, sort_keys=True).encode()).hexdigest(),
        "seed": seed,
        "runner": runner_summary,
        "seconds": round(seconds, 3),
        "from": args.source,
        "upstream": None if run_manifest is None else {
            "name": run_manifest.get("name"), "config_hash": run_manifest.get("config_hash"),
            "counts": (run_manifest.get("counts") or {}).get("total"),
        },
        "outputs": {"data": [{k: s[k] for k in ("file", "rows", "bytes", "sha256")} for s in result["shards"]]},
        "mixture": result,
        "config": {"mixture": cfg_json, "output": output_cfg.model_dump(mode="json")},
    }
    write_manifest(args.output, manifest)
    _print_summary(result, args.output, seconds)
    return 0


def _print_summary(report: dict[str, Any], output: str, seconds: float) -> None:
    t = report["totals"]
    print(f"{'group':<8} {'target':>8} {'achieved':>9} {'tokens':>12}")
    for g, gp in report["groups"].items():
        print(f"{g:<8} {gp['share']:>8.4f} {gp['measured_share_of_tokens']:>9.4f} {gp['measured_tokens']:>12,}")
    for m in report["shortfall"]:
        print(f"SHORTFALL: {m}")
    print(f"\n{t['rows']:,} rows ({t['documents_selected']:,} distinct documents of {t['documents_in_pool']:,}), "
          f"{t['tokens']:,} tokens in {t['shards']} shard(s) under {output}/data/ ({seconds:.1f} s); "
          f"manifest: {output}/manifest.json")
