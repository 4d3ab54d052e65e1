"""``corpusflow train-quality --positive FILE --negative FILE --out MODEL``: train a fastText
quality classifier (``hq`` = positive vs ``cc`` = negative; :mod:`corpusflow.selection.quality`).

Files are JSONL(.gz/...) or Parquet with a text field; globs and repeats are allowed. A
deterministic 10 % of each side (by text hash) is held out; the command prints the held-out
accuracy and the p(hq) scores that keep the top 10/30/50 % of the held-out negatives (DCLM
chooses its threshold by percentile, docs/design.md#quality-classifier). Use the model in a filter profile::

    - name: quality.fasttext_score
      params: {model: MODEL, threshold: 0.3}

and measure it with ``corpusflow eval-filters --profile PROFILE --labels LABELLED.jsonl``.
Never train on the labelled evaluation file itself.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from itertools import islice
from pathlib import Path

from corpusflow.selection.dsir import read_texts
from corpusflow.selection.quality import TrainParams, train

EPILOG = """\
example (training files built from ../shared/data, see configs/recipes/README.md):
  python -m corpusflow.selection.quality_data --shared ../shared/data --out models/quality_data
  corpusflow train-quality --positive 'models/quality_data/positive.jsonl' \\
      --negative 'models/quality_data/negative.jsonl' --out models/ja_quality.ftz
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = EPILOG
    p.add_argument("--positive", action="append", required=True, metavar="GLOB",
                   help="clean / high-quality texts (label hq), JSONL or Parquet (repeatable)")
    p.add_argument("--negative", action="append", required=True, metavar="GLOB",
                   help="noisy texts (label cc), JSONL or Parquet (repeatable)")
    p.add_argument("--out", required=True, help="model file to write (.ftz quantized, or .bin with --no-quantize)")
    p.add_argument("--text-field", default="text", help="field with the text (default: text)")
    p.add_argument("--max-docs", type=int, default=None, help="read at most this many texts per side")
    p.add_argument("--heldout", type=float, default=0.1, help="share held out for the report (default 0.1)")
    p.add_argument("--max-chars", type=int, default=3000, help="characters of each text used (default 3000)")
    p.add_argument("--epoch", type=int, default=10)
    p.add_argument("--lr", type=float, default=0.2)
    p.add_argument("--dim", type=int, default=32)
    p.add_argument("--word-ngrams", type=int, default=2, help="2: Japanese character bigrams, English word bigrams")
    p.add_argument("--min-count", type=int, default=2)
    p.add_argument("--bucket", type=int, default=1 << 18, help="n-gram hash buckets (default 262144)")
    p.add_argument("--seed", type=int, default=0, help="seed of fastText and of the held-out split")
    p.add_argument("--no-quantize", action="store_true", help="save the full model (much larger)")
    p.add_argument("--json", default=None, metavar="PATH", help="also write the training report as JSON")


def run(args: argparse.Namespace) -> int:
    if not 0.0 <= args.heldout < 1.0:
        print("error: --heldout must be in [0, 1)", file=sys.stderr)
        return 2
    params = TrainParams(epoch=args.epoch, lr=args.lr, dim=args.dim, word_ngrams=args.word_ngrams,
                         min_count=args.min_count, bucket=args.bucket, seed=args.seed,
                         quantize=not args.no_quantize)
    t0 = time.perf_counter()
    try:
        pos = list(islice(read_texts(args.positive, args.text_field), args.max_docs))
        neg = list(islice(read_texts(args.negative, args.text_field), args.max_docs))
        rep = train(pos, neg, args.out, params, heldout=args.heldout, max_chars=args.max_chars)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    secs = time.perf_counter() - t0
    print(f"trained on {rep.train} texts ({rep.positives} positive, {rep.negatives} negative; "
          f"{rep.heldout} held out) in {secs:.1f} s")
    if rep.heldout_accuracy is not None:
        print(f"held-out accuracy {rep.heldout_accuracy:.4f}; mean p(hq): positives {rep.heldout_pos_mean}, "
              f"negatives {rep.heldout_neg_mean}")
    for name, thr in rep.thresholds.items():
        print(f"  threshold {thr:.6f} = {name.replace('_', ' ')}")
    print(f"wrote {args.out} ({rep.model_bytes / 1e6:.2f} MB)")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({**rep.__dict__, "seconds": round(secs, 2)}, indent=2) + "\n")
    return 0
