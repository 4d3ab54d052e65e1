"""``corpusflow fit-dsir --target FILES --raw FILES --out model.npz``: fit a DSIR model.

Reads the texts of the target files (what the selection should look like, e.g. Japanese
Wikipedia) and of the raw files (what is selected from, e.g. a sample of the web corpus),
counts hashed unit n-grams (Japanese characters, English words; see
:mod:`corpusflow.selection.features`), and writes both smoothed distributions to an ``.npz``
that ``stages.dsir.model`` loads. Prints what was read and the buckets whose log ratio is
largest in each direction, as a sanity check.

The raw side should be a sample of the corpus the stage will select from (DSIR fits on about
100k x num_buckets tokens; ``p-lambda/dsir`` README); ``--max-docs`` caps each side.
"""

from __future__ import annotations

import argparse
import sys
import time

from corpusflow.selection.dsir import fit_files
from corpusflow.selection.features import FeatureParams

EPILOG = """\
example:
  corpusflow fit-dsir --target '../shared/data/ja/ja_wiki_paragraphs.jsonl.gz' \\
      --raw '../shared/data/ja/kwdlc_leads.jsonl' --raw '../shared/data/ja/abeja_cc_ja.jsonl' \\
      --out models/ja_wiki_vs_web.npz
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = EPILOG
    p.add_argument("--target", action="append", required=True, metavar="GLOB",
                   help="target-distribution JSONL(.gz)/Parquet files (repeatable)")
    p.add_argument("--raw", action="append", required=True, metavar="GLOB",
                   help="raw-distribution JSONL(.gz)/Parquet files (repeatable)")
    p.add_argument("--out", required=True, help="output model file (.npz)")
    p.add_argument("--text-field", default="text", help="field with the text (default: text)")
    p.add_argument("--ngrams", type=int, default=2, help="unit n-grams of order 1..N (default 2, as DSIR)")
    p.add_argument("--num-buckets", type=int, default=10_000, help="hash buckets (default 10000, as DSIR)")
    p.add_argument("--hash-seed", type=int, default=0, help="key of the bucket hash (default 0)")
    p.add_argument("--no-normalize", action="store_true", help="do not NFKC-normalise and lower-case")
    p.add_argument("--alpha", type=float, default=1.0, help="additive smoothing (default 1.0)")
    p.add_argument("--max-docs", type=int, default=None, help="read at most this many documents per side")


def run(args: argparse.Namespace) -> int:
    import numpy as np  # lazy: heavy or optional dependency, loaded only when used


    if args.alpha <= 0:
        print("error: --alpha must be > 0", file=sys.stderr)
        return 2
    try:
        params = FeatureParams(ngrams=args.ngrams, num_buckets=args.num_buckets, hash_seed=args.hash_seed,
                               normalize=not args.no_normalize)
        t0 = time.perf_counter()
        model = fit_files(args.target, args.raw, params, text_field=args.text_field, alpha=args.alpha,
                          max_docs=args.max_docs)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    model.save(args.out)
    secs = time.perf_counter() - t0
    for name, st in (("target", model.target), ("raw", model.raw)):
        print(f"{name:6s}: {st.docs:>9,d} documents, {st.units:>12,d} units, {st.features:>12,d} n-grams "
              f"from {len(st.files)} file(s)")
    ld = model.log_diff
    order = np.argsort(ld)
    print(f"features: {params.ngrams}-grams of units, {params.num_buckets} buckets; "
          f"log ratio range [{ld[order[0]]:.2f}, {ld[order[-1]]:.2f}]")
    print(f"wrote {args.out} ({secs:.1f} s)")
    return 0
