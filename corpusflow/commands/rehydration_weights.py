"""``corpusflow rehydration-weights RUN``: per language, the filters' removal rate by duplicate-cluster
size, and the ``copies_by_cluster_size`` tables it suggests (:mod:`corpusflow.mixture.rehydrate`).

RUN must be a finished run in which every document reached dedup with its filter verdict: quality
filters in ``tag`` mode (``stages.filters.mode: tag``: the reasons a document would be dropped for
are in ``metadata.filter_reasons``, nothing is dropped) and dedup on (``metadata.cluster_size``).
The kept documents are read from ``RUN/pool/`` (a run with a mixture) or ``RUN/data/``.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys

from corpusflow.core.schemas import metadata_dict
from corpusflow.mixture.rehydrate import (
    META_CLUSTER_SIZE,
    META_FILTER_REASONS,
    filter_rates,
    propose_tables,
)

EPILOG = """\
example:
  corpusflow run configs/pipelines/rehydration_example.yaml --output runs/tagged --set stages.filters.mode=tag \\
      --set stages.mixture.enabled=false
  corpusflow rehydration-weights runs/tagged --max-copies 5     # paste the tables under stages.mixture.rehydration
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = EPILOG
    p.add_argument("run", help="a finished run directory (filters in tag mode, dedup on)")
    p.add_argument("--max-copies", type=int, default=5, help="cap of the proposed copies (default 5)")
    p.add_argument("--min-docs", type=int, default=20, help="buckets with fewer documents keep 1 copy (default 20)")
    p.add_argument("--json", default=None, metavar="FILE", help="also write rates and tables as JSON")


def run(args: argparse.Namespace) -> int:
    import pyarrow.parquet as pq  # lazy: heavy or optional dependency, loaded only when used


    files = []
    for sub in ("pool", "data"):
        files = sorted(glob.glob(os.path.join(args.run, sub, "*.parquet")))
        if files:
            break
    if not os.path.exists(os.path.join(args.run, "manifest.json")) or not files:
        print(f"corpusflow rehydration-weights: {args.run} is not a finished run with pool/ or data/ files",
              file=sys.stderr)
        return 2
    rows: list[tuple[str, int, bool]] = []
    sized = tagged = 0
    for f in files:
        t = pq.read_table(f, columns=["lang", "metadata"])
        for lang, meta in zip(t.column("lang").to_pylist(), t.column("metadata").to_pylist(), strict=True):
            m = metadata_dict(meta)
            if "meta" in m and isinstance(m["meta"], dict):  # a training row written before the struct
                m = m["meta"]
            sized += META_CLUSTER_SIZE in m
            tagged += bool(m.get(META_FILTER_REASONS))
            rows.append((lang or "und", int(m.get(META_CLUSTER_SIZE, 1)), bool(m.get(META_FILTER_REASONS))))
    if not sized:
        print("corpusflow rehydration-weights: no document has metadata.cluster_size: run dedup", file=sys.stderr)
        return 2
    if not tagged:
        print("warning: no document carries metadata.filter_reasons: were the filters in tag mode? Every "
              "removal rate below is 0.", file=sys.stderr)
    rates = filter_rates(rows)
    tables = propose_tables(rates, max_copies=args.max_copies, min_docs=args.min_docs)
    for lang, per in rates.items():
        print(f"{lang}: {per['all']['docs']:,} documents, filters remove {per['all']['removal_rate']:.1%}")
        print(f"  {'cluster size':<14} {'docs':>9} {'removed':>9} {'rate':>7}")
        for key, c in per.items():
            if key != "all":
                print(f"  {key:<14} {c['docs']:>9,} {c['removed']:>9,} {c['removal_rate']:>7.1%}")
    print("\nstages.mixture.rehydration (proposed):\n  enabled: true\n  copies_by_cluster_size:")
    for lang, table in tables.items():
        print(f"    {lang}: {{" + ", ".join(f"{k}: {v}" for k, v in table.items()) + "}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"rates": rates, "copies_by_cluster_size": tables}, f, indent=1)
    return 0
