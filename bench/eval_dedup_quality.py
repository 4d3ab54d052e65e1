#!/usr/bin/env python3
"""Dedup quality of the shipped dedup settings, from the data on the machine, in one JSON.

Two measurements, each through the real pipeline (``corpusflow run
configs/pipelines/dedup_only.yaml --input ... --output ...``: exact + MinHash-LSH dedup with the
stage's default profiles, character 5-grams 20 x 10 for Japanese and English, ``keep: complete``):

* **Aozora Bunko editions** (``ja/aozora_dev.jsonl.gz``, 758 works). Aozora Bunko publishes each
  work with ruby (``漢字《かんじ》``, ``｜`` marking where a ruby base starts) and as plain text
  without it. The plain edition of every work is made here the way the plain files differ from
  the ruby ones: every ``《…》`` reading and every ``｜`` removed, and the header's ruby legend
  (``《》：ルビ`` and its example line) removed. The 1,516 texts go through dedup twice: as stored
  (no cleaner) and with the Aozora cleaner on (``stages.clean.aozora``), as the shipped Aozora
  recipes run it. Counted: pairs whose two editions end in one cluster (one kept, one a
  duplicate of it) and false merges (a document removed as a duplicate of a *different* work;
  the two works of the set that share a title are listed, so a reader can judge them).
* **Near-duplicates with character edits** (``make_corpus.py`` builds, one per ``--seeds``):
  ``score_dedup.py``'s recall and precision over all copy kinds (groups at Jaccard >= 0.8), and
  the recall per copy kind and language, on copies with character-5-gram Jaccard >= 0.8 to their
  original and on copies in 0.5..0.8 (which the LSH S-curve catches only in part).

Usage::

    flock /tmp/corpusflow-bench.lock python bench/eval_dedup_quality.py \\
        --seeds 1 2 --docs 20000 --out bench/results/dedup_quality.json
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SHARED = REPO.parent / "shared"
CONFIG = REPO / "configs" / "pipelines" / "dedup_only.yaml"

_RUBY = re.compile(r"《[^》\n]*》")
_LEGEND = re.compile(r"^《》：ルビ\n(?:（例）[^\n]*\n)?", re.M)


def plain_edition(text: str) -> str:
    """The plain-text edition of an Aozora ruby file: readings, ``｜`` and the ruby legend removed."""
    return _RUBY.sub("", _LEGEND.sub("", text)).replace("｜", "")


def run_dedup(inp: Path, out: Path, extra: list[str]) -> float:
    t = time.perf_counter()
    cmd = [sys.executable, "-m", "corpusflow", "run", str(CONFIG), "--input", str(inp), "--output", str(out),
           "--overwrite", "-q", *extra]
    subprocess.run(cmd, check=True, cwd=REPO)
    return time.perf_counter() - t


def read_ids(out: Path) -> tuple[set[str], dict[str, str]]:
    kept: set[str] = set()
    for f in sorted((out / "data").glob("*.parquet")):
        kept.update(pq.read_table(f, columns=["id"]).column("id").to_pylist())
    dups: dict[str, str] = {}
    for f in sorted((out / "duplicates").glob("*.parquet")):
        t = pq.read_table(f, columns=["id", "kept_id"]).to_pydict()
        dups.update(zip(t["id"], t["kept_id"], strict=True))
    return kept, dups


def eval_aozora(work: Path) -> dict[str, Any]:
    with gzip.open(SHARED / "data" / "ja" / "aozora_dev.jsonl.gz", "rt", encoding="utf-8") as f:
        recs = [json.loads(line) for line in f]
    inp = work / "aozora_editions.jsonl"
    with open(inp, "w", encoding="utf-8") as f:
        for r in recs:
            f.write(json.dumps({"id": f"{r['id']}|ruby", "text": r["text"]}, ensure_ascii=False) + "\n")
            f.write(json.dumps({"id": f"{r['id']}|plain", "text": plain_edition(r["text"])}, ensure_ascii=False) + "\n")
    titles = collections.defaultdict(list)
    for r in recs:
        titles[(r["title"], r["author"])].append(r["id"])
    out: dict[str, Any] = {"set": "ja/aozora_dev.jsonl.gz", "works": len(recs),
                           "same_title_works": [v for v in titles.values() if len(v) > 1]}
    for label, extra in (("as_stored", []), ("aozora_cleaner", ["--set", "stages.clean.enabled=true", "--set", "stages.clean.aozora=[input]"])):
        o = work / f"aozora_{label}"
        secs = run_dedup(inp, o, extra)
        kept, dups = read_ids(o)
        work_of = {i: i.split("|")[0] for i in kept | set(dups)}
        collapsed = sum(1 for d, k in dups.items() if work_of[d] == work_of[k])
        false = sorted(f"{d} -> {k}" for d, k in dups.items() if work_of[d] != work_of[k])
        out[label] = {"pairs_collapsed": collapsed, "pairs": len(recs), "false_merges": len(false),
                      "false_merge_examples": false[:10], "docs_in": 2 * len(recs),
                      "kept": len(kept), "duplicates": len(dups), "seconds": round(secs, 1)}
        shutil.rmtree(o, ignore_errors=True)
    return out


def eval_make_corpus(work: Path, seed: int, docs: int) -> dict[str, Any]:
    c = work / f"corpus_{seed}"
    subprocess.run([sys.executable, str(SHARED / "bench" / "make_corpus.py"), "--out", str(c), "--docs", str(docs),
                    "--seed", str(seed)], check=True, stdout=subprocess.DEVNULL)
    o = work / f"dedup_{seed}"
    secs = run_dedup(c / "web" / "*.jsonl.gz", o, [])
    score = subprocess.run([sys.executable, str(SHARED / "bench" / "score_dedup.py"), "--truth", str(c / "truth"),
                            "--kept", str(o / "data" / "*.parquet")], check=True, capture_output=True, text=True)
    scored = json.loads(score.stdout.strip().splitlines()[-1])
    kept, _ = read_ids(o)
    with gzip.open(c / "truth" / "docs.jsonl.gz", "rt", encoding="utf-8") as f:
        truth = [json.loads(line) for line in f]
    # Per copy kind and language: a copy counts as found when it and its original are not both
    # kept (the keep rule may keep the copy: a boilerplate copy is the longer one). Copies below
    # Jaccard 0.5 are distinct documents, not counted.
    found: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for t in truth:
        if not t["kind"].startswith("dup_") or t["jaccard"] is None or t["jaccard"] < 0.5:
            continue
        band = ">=0.8" if t["jaccard"] >= 0.8 else "0.5-0.8"
        key = f"{t['lang']} {t['kind'][4:]} {band}"
        found[key][1] += 1
        found[key][0] += not (t["id"] in kept and t["cluster"] in kept)
    per_kind = {k: {"found": v[0], "copies": v[1], "recall": round(v[0] / v[1], 4)} for k, v in sorted(found.items())}
    shutil.rmtree(o, ignore_errors=True)
    shutil.rmtree(c, ignore_errors=True)
    return {"seed": seed, "docs": docs, "score_dedup": scored, "recall_by_copy_kind": per_kind,
            "seconds": round(secs, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="*", default=[1, 2])
    ap.add_argument("--docs", type=int, default=20000)
    ap.add_argument("--skip-aozora", action="store_true")
    ap.add_argument("--out", type=Path, help="write the JSON here (else stdout only)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="eval_dedup_"))
    try:
        res: dict[str, Any] = {"what": "dedup quality of configs/pipelines/dedup_only.yaml (bench/eval_dedup_quality.py)"}
        if not args.skip_aozora:
            res["aozora_editions"] = eval_aozora(work)
        res["make_corpus"] = [eval_make_corpus(work, s, args.docs) for s in args.seeds]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(res, ensure_ascii=False, indent=1)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
