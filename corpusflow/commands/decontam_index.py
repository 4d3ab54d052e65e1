"""``corpusflow decontam-index SPEC --output DIR``: build the benchmark n-gram index of ``stages.decontam``.

SPEC is a YAML file with ``benchmarks:`` (name, paths, format, lang, id, fields, join_fields)
and optional ``settings:`` (n-gram sizes, minimum lengths, boilerplate cap); see
``configs/decontam/benchmarks_example.yaml`` and :mod:`corpusflow.decontam.config`.
Prints per benchmark the items read, the texts indexed and those too short to index.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from corpusflow.config.load import apply_overrides
from corpusflow.core.errors import ConfigError
from corpusflow.decontam.config import IndexBuildConfig
from corpusflow.decontam.index import DecontamIndexError, build_index, save_index

EPILOG = """\
example:
  corpusflow decontam-index configs/decontam/benchmarks_example.yaml --output indexes/bench
  corpusflow run CONFIG --output OUT --set stages.decontam.enabled=true --set stages.decontam.index=indexes/bench
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = EPILOG
    p.add_argument("spec", help="YAML with benchmarks: and settings:")
    p.add_argument("--output", "-o", required=True, help="index directory to write (local path or s3://, gs://)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override a value of SPEC, e.g. settings.ja_ngram_chars=40")


def run(args: argparse.Namespace) -> int:
    import yaml  # lazy: heavy or optional dependency, loaded only when used
    from pydantic import ValidationError  # lazy: heavy or optional dependency, loaded only when used


    try:
        data = yaml.safe_load(Path(args.spec).read_text(encoding="utf-8")) or {}
        if args.overrides:
            data = apply_overrides(data, args.overrides)
        cfg = IndexBuildConfig.model_validate(data)
    except (OSError, yaml.YAMLError, ConfigError) as exc:
        print(f"corpusflow decontam-index: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        print(f"corpusflow decontam-index: {args.spec}: {exc}", file=sys.stderr)
        return 2
    try:
        index = build_index(cfg)
    except (DecontamIndexError, OSError) as exc:
        print(f"corpusflow decontam-index: {exc}", file=sys.stderr)
        return 2
    meta = save_index(index, args.output)
    s = cfg.settings
    print(f"index written to {args.output} (ja: character {s.ja_ngram_chars}-grams, en: word {s.en_ngram_words}-grams)")
    print(f"{'benchmark':<20} {'lang':<4} {'items':>8} {'texts':>8} {'indexed':>8} {'too short':>9}")
    for name, b in meta["benchmarks"].items():
        print(f"{name:<20} {b['lang']:<4} {b['items']:>8,} {b['texts']:>8,} {b['segments']:>8,} {b['too_short']:>9,}")
    print("n-grams: " + ", ".join(f"{k} {v:,}" for k, v in meta["ngrams"].items())
          + "; boilerplate n-grams dropped: "
          + ", ".join(f"{k} {v:,}" for k, v in meta["boilerplate_ngrams_dropped"].items()))
    return 0
