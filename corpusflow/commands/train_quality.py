"""``corpusflow train-quality --positive FILE --negative FILE --out MODEL``: train a fastText
quality classifier (``hq`` = positive vs ``cc`` = negative; :mod:`corpusflow.selection.quality`).

Files are JSONL(.gz/...) or Parquet with a text field; globs and repeats are allowed.

What it does:

1. splits off a deterministic validation share of each side (``--validation``, default 20 %, by
   a keyed hash of the text: identical texts land on the same side);
2. trains one model per epoch x learning rate of a small grid (``--epochs 5,15,50 --lrs
   0.1,0.5,1.0``; fastText's tutorial raises epochs to 25 and lr to 0.5-1.0 for small data) and
   chooses the one with the highest Youden's J on the validation split at p(hq) >= 0.5;
3. prints the grid, the chosen model's validation accuracy (and the majority-class rate it
   must beat), J, TPR and FPR, and the p(hq) scores that keep the top 10/30/50 % of the
   validation negatives (DCLM chooses its threshold by percentile: docs/design.md#quality-classifier);
4. **refuses to write a model at chance level** (exit code 3): when the best J is not above
   ``max(--min-j, 2 standard errors of J for a label-independent classifier)``, it says so and
   why, and writes nothing.

Use the model in a filter profile::

    - name: quality.fasttext_score
      params: {model: MODEL, threshold: 0.5}

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
from corpusflow.selection.quality import ChanceLevelError, TrainParams, train

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
    p.add_argument("--validation", "--heldout", dest="validation", type=float, default=0.2,
                   help="share of each side held out to choose epochs/lr and to report on (default 0.2)")
    p.add_argument("--max-chars", type=int, default=3000, help="characters of each text used (default 3000)")
    p.add_argument("--epochs", default="5,15,50", help="epochs tried, comma-separated (default 5,15,50)")
    p.add_argument("--lrs", default="0.1,0.5,1.0", help="learning rates tried, comma-separated (default 0.1,0.5,1.0)")
    p.add_argument("--epoch", type=int, default=None, help="train with this many epochs only (no epoch search)")
    p.add_argument("--lr", type=float, default=None, help="train with this learning rate only (no lr search)")
    p.add_argument("--min-j", type=float, default=0.1,
                   help="refuse to write a model whose validation J is not above this (default 0.1)")
    p.add_argument("--dim", type=int, default=32)
    p.add_argument("--word-ngrams", type=int, default=2, help="2: Japanese character bigrams, English word bigrams")
    p.add_argument("--min-count", type=int, default=2)
    p.add_argument("--bucket", type=int, default=1 << 18, help="n-gram hash buckets (default 262144)")
    p.add_argument("--seed", type=int, default=0, help="seed of fastText and of the held-out split")
    p.add_argument("--no-quantize", action="store_true", help="save the full model (much larger)")
    p.add_argument("--json", default=None, metavar="PATH", help="also write the training report as JSON")


def _numbers(raw: str, kind: type) -> list:
    try:
        vals = [kind(x) for x in raw.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"not a comma-separated list of {kind.__name__}: {raw!r}") from None
    if not vals:
        raise ValueError(f"empty list: {raw!r}")
    return vals


def run(args: argparse.Namespace) -> int:


    if not 0.0 < args.validation < 1.0:
        print("error: --validation must be in (0, 1)", file=sys.stderr)
        return 2
    try:
        epochs = [args.epoch] if args.epoch is not None else _numbers(args.epochs, int)
        lrs = [args.lr] if args.lr is not None else _numbers(args.lrs, float)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    params = TrainParams(dim=args.dim, word_ngrams=args.word_ngrams, min_count=args.min_count,
                         bucket=args.bucket, seed=args.seed, quantize=not args.no_quantize)
    t0 = time.perf_counter()
    try:
        pos = list(islice(read_texts(args.positive, args.text_field), args.max_docs))
        neg = list(islice(read_texts(args.negative, args.text_field), args.max_docs))
        rep = train(pos, neg, args.out, params, validation=args.validation, epochs=epochs, lrs=lrs,
                    min_j=args.min_j, max_chars=args.max_chars)
    except ChanceLevelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    secs = time.perf_counter() - t0
    print(f"trained on {rep.train} texts ({rep.positives} positive, {rep.negatives} negative in all; "
          f"{rep.validation} held out for validation) in {secs:.1f} s")
    print("  epoch      lr  accuracy       J     TPR     FPR")
    for c in rep.grid:
        mark = "  <- chosen" if (c.epoch, c.lr) == (rep.epoch, rep.lr) else ""
        print(f"  {c.epoch:>5d} {c.lr:>7g} {c.accuracy:>9.4f} {c.youden_j:>7.4f} {c.tpr:>7.4f} {c.fpr:>7.4f}{mark}")
    print(f"validation accuracy {rep.validation_accuracy:.4f} (majority class {rep.majority_rate:.4f}), "
          f"Youden's J {rep.youden_j:.4f} (chance level {rep.chance_j:.4f}); mean p(hq): positives "
          f"{rep.validation_pos_mean}, negatives {rep.validation_neg_mean}")
    for name, thr in rep.thresholds.items():
        print(f"  threshold {thr:.6f} = {name.replace('_', ' ')}")
    print(f"wrote {args.out} ({rep.model_bytes / 1e6:.2f} MB; epoch {rep.epoch}, lr {rep.lr})")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({**rep.to_dict(), "seconds": round(secs, 2)}, indent=2) + "\n")
    return 0
