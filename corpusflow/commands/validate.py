"""``corpusflow validate CONFIG [--runner NAME] [beam options]``: check keys, types and input files
without running anything; with a runner, also its options and the paths its workers must see
(the same checks ``corpusflow run`` makes before reading any data)."""

from __future__ import annotations

import argparse
import sys

from corpusflow.config.checks import check_source_paths, worker_paths
from corpusflow.config.load import load_config
from corpusflow.core.errors import ConfigError
from corpusflow.dedup.config import describe_lsh
from corpusflow.filters.profiles import profile_plugins
from corpusflow.io.fields import describe, fields_arg
from corpusflow.io.readers import plan_files
from corpusflow.run.runners import check_paths_for_runner, resolve_runner

ACCEPTS_EXTRA_ARGS = True  # unknown --flags are Beam pipeline options, as for 'run'


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="pipeline YAML")
    p.add_argument("--input", action="append", default=[], metavar="GLOB",
                   help="as for 'run': replace the sources with these globs")
    p.add_argument("--fields", type=fields_arg, default=None, metavar="id=F,text=F,url=F",
                   help="field names of the --input files (default: detected per file from the first "
                        "record: id/doc_id/sample_id, text/content/raw_content, url/metadata.url)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override a config value (as for 'run')")
    p.add_argument("--runner", default=None, help="check for this runner (as for 'run'; default: the config's "
                   "runner.name): its Beam options, and that its workers can see every path (local paths are "
                   "refused for runners whose workers cannot see this disk, unless --shared_filesystem=true)")
    p.add_argument("--output", "-o", default=None, help="the output the run would write (checked like the "
                   "other paths; nothing is created)")


def run(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.config, overrides=args.overrides, inputs=args.input or None,
                          fields=args.fields, plugins="skip")
        files = plan_files(cfg.sources, check_source_paths(cfg))
        _beam_argv, runner = resolve_runner(args.runner, getattr(args, "extra_args", []), cfg.runner)
        check_paths_for_runner(runner, args.output, [], worker_paths(cfg))
    except (ConfigError, ValueError) as exc:
        print(f"corpusflow: {exc}", file=sys.stderr)
        return 2
    print(f"config OK: {args.config} (hash {cfg.config_hash()[:12]}); runner {runner['runner']}")
    for s in cfg.sources:
        n = sum(1 for f in files if f.source == s.name)
        print(f"  source {s.name}: {n} file(s), fields {describe(s.fields)}")
    st = cfg.stages
    enabled = [name for name in type(st).model_fields if getattr(getattr(st, name), "enabled", False)]
    print(f"  stages on: {', '.join(enabled) or '(none)'}")
    for lang, source, modules in profile_plugins(st.filters.profiles):
        print(f"  filter profile {source} ({lang}) lists plugins {', '.join(modules)}: not imported by "
              "validate, so the rules they register are not checked ('run' needs --allow-plugins)")
    for line in _stage_descriptions(cfg):
        print(line)
    return 0


def _stage_descriptions(cfg) -> list[str]:
    """Extra detail from stages that describe themselves (e.g. the LSH S-curve of dedup)."""
    lines: list[str] = []
    # --- Dedup adds its LSH S-curve table here.
    if cfg.stages.dedup.enabled:
        lines.extend(describe_lsh(cfg.stages.dedup).splitlines())
    return lines
