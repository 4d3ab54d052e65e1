"""Look at what score_dedup.py counts as wrong removals: how similar is each to the document kept?

    python bench/dedup_wrong_removals.py --truth C/truth --corpus 'C/web/*.jsonl.gz' --output OUT

OUT is a ``corpusflow run`` output (``OUT/data/*.parquet`` kept, ``OUT/duplicates/*.parquet`` with
``kept_id``). For every document score_dedup.py counts as wrongly removed (a "unique" original,
a copy with Jaccard < --lo to its original, or a whole group removed), this prints the true
character-5-gram Jaccard (the measure score_dedup.py's truth is defined with, on the same
character normalisation as our shingles) between it and the document kept in its place. A
removal of a truth-"unique" original whose Jaccard to the kept document is >= --lo is a
near-duplicate the generator did not record (e.g. two originals cut from the same source text),
not a false positive of the dedup. Writes one JSON line.
"""

from __future__ import annotations

import argparse
import collections
import glob
import gzip
import json
import os

import numpy as np
import pyarrow.parquet as pq

from corpusflow.dedup.shingle import normalize_chars


def _shingles(text: str, n: int = 5) -> set[str]:
    t = normalize_chars(text)
    return {t[i : i + n] for i in range(max(1, len(t) - n + 1))} if t else set()


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--truth", required=True)
    ap.add_argument("--corpus", required=True, help="glob of the input JSONL files (id, text)")
    ap.add_argument("--output", required=True, help="corpusflow run output folder")
    ap.add_argument("--hi", type=float, default=0.8)
    ap.add_argument("--lo", type=float, default=0.5)
    args = ap.parse_args()
    with gzip.open(os.path.join(args.truth, "docs.jsonl.gz"), "rt", encoding="utf-8") as f:
        truth = [json.loads(line) for line in f]
    kept: set[str] = set()
    for path in sorted(glob.glob(os.path.join(args.output, "data", "*.parquet"))):
        kept.update(pq.read_table(path, columns=["id"]).column("id").to_pylist())
    kept_of: dict[str, tuple[str, str]] = {}
    for path in sorted(glob.glob(os.path.join(args.output, "duplicates", "*.parquet"))):
        t = pq.read_table(path, columns=["id", "kept_id", "stage"]).to_pylist()
        kept_of.update({r["id"]: (r["kept_id"], r["stage"]) for r in t})
    wrong = [t for t in truth if t["id"] not in kept and t["id"] in kept_of and (
        (t["kind"] == "original" and not t["cluster"])
        or (t["cluster"] and (t["jaccard"] or 0) < args.lo))]
    need = {t["id"] for t in wrong} | {kept_of[t["id"]][0] for t in wrong}
    texts: dict[str, str] = {}
    for path in sorted(glob.glob(args.corpus)):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                if r["id"] in need:
                    texts[r["id"]] = r["text"]
    js, stages = [], collections.Counter()
    for t in wrong:
        kid, stage = kept_of[t["id"]]
        stages[stage] += 1
        js.append(_jaccard(_shingles(texts[t["id"]]), _shingles(texts[kid])))
    j = np.array(js) if js else np.zeros(0)
    print(json.dumps({
        "output": args.output, "wrong_removals_with_a_kept_document": len(wrong), "by_stage": dict(stages),
        "true_jaccard_to_kept_percentiles_10_25_50_75_90": [round(float(x), 3) for x in np.percentile(j, [10, 25, 50, 75, 90])] if js else [],
        f"at_least_lo_{args.lo}": int((j >= args.lo).sum()), f"below_lo_{args.lo}": int((j < args.lo).sum()),
    }))


if __name__ == "__main__":
    main()
