#!/usr/bin/env python3
"""Decontamination audit on real Japanese text: recall on planted benchmark items, false positives on clean text.

JSQuAD's contexts are Japanese Wikipedia paragraphs; ``../shared/data/ja/ja_wiki_paragraphs.jsonl.gz``
holds them (sources ``JSQuAD/valid`` and ``JSQuAD/test``) next to JaQuAD's. The audit:

1. writes a benchmark file of ``--items`` JSQuAD contexts (``JSQuAD/valid``, first by id hash);
2. builds the clean corpus with ``make_corpus.py`` from every shared JA/EN file *except* the
   JSQuAD paragraphs (JaQuAD paragraphs stay: other Wikipedia paragraphs, the hardest clean
   text for a Wikipedia benchmark);
3. plants indexed items into real pages (real KWDLC web leads before and after) as five
   variants: ``exact``, ``reformatted`` (full-width digits/letters, other punctuation, spaces),
   ``char_edits`` (0.5-5% of the characters replaced, as make_corpus's near-duplicates),
   ``partial`` (a contiguous 60% of the context), ``heavy_edits`` (8-12% replaced);
   and plants ``near_miss`` pages: JSQuAD/test contexts that are *not* in the index (same
   articles' domain, other paragraphs);
4. for each n in ``--ns`` builds the index and matches every document in-process
   (:func:`corpusflow.decontam.match.find_hits`), and reports recall per variant and false
   positives (documents flagged) on the clean corpus and on the near misses, per ``min_overlap``.

Usage (from the repository root):
  flock /tmp/corpusflow-bench.lock python bench/decontam_audit.py --work /tmp/decontam_audit \
      [--docs 5000] [--items 400] [--ns 20,30,50] [--overlaps 0.2,0.3,0.5]

It also writes ``WORK/bench.jsonl`` (the benchmark file), ``WORK/spec.yaml`` and
``WORK/planted.jsonl`` so the same data can go through ``corpusflow run`` (see bench/README.md).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.normpath(os.path.join(HERE, "..", "..", "shared"))
WIKI = os.path.join(SHARED, "data", "ja", "ja_wiki_paragraphs.jsonl.gz")
sys.path.insert(0, os.path.dirname(HERE))  # this checkout's corpusflow, not an installed one


def _h(s: str) -> str:
    return hashlib.sha1(s.encode()).hexdigest()


def _read_jsonl(path: str) -> list[dict]:
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


_FW = {c: chr(ord(c) + 0xFEE0) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"}


def reformat(text: str, rng: random.Random) -> str:
    """Same text, other form: full-width ASCII, other punctuation, spaces and line breaks."""
    t = "".join(_FW.get(c, c) for c in text)
    t = t.replace("、", ", ").replace("。", "。\n" if rng.random() < 0.5 else ". ")
    return t.replace("（", " (").replace("）", ") ")


def char_edits(text: str, rng: random.Random, lo: float, hi: float) -> str:
    chars = list(text)
    for _ in range(max(1, int(len(chars) * rng.uniform(lo, hi)))):
        chars[rng.randrange(len(chars))] = rng.choice(text)
    return "".join(chars)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", required=True)
    ap.add_argument("--docs", type=int, default=5000)
    ap.add_argument("--items", type=int, default=400)
    ap.add_argument("--ns", default="20,30,50")
    ap.add_argument("--overlaps", default="0.2,0.3,0.5")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=None, help="write the result JSON here too")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    rng = random.Random(args.seed)

    wiki = _read_jsonl(WIKI)
    valid = sorted((r for r in wiki if r["source"] == "JSQuAD/valid"), key=lambda r: _h(r["text"]))
    test = sorted((r for r in wiki if r["source"] == "JSQuAD/test"), key=lambda r: _h(r["text"]))
    items = [r for r in valid if len(r["text"]) >= 100][: args.items]
    bench = os.path.join(args.work, "bench.jsonl")
    with open(bench, "w", encoding="utf-8") as f:
        for r in items:
            f.write(json.dumps({"id": _h(r["text"])[:12], "title": r["title"], "context": r["text"]},
                               ensure_ascii=False) + "\n")
    # clean JA inputs: everything shared except the JSQuAD paragraphs
    jaquad = os.path.join(args.work, "jaquad_only.jsonl.gz")
    with gzip.open(jaquad, "wt", encoding="utf-8") as f:
        for r in wiki:
            if r["source"].startswith("JaQuAD"):
                f.write(json.dumps({"text": r["text"]}, ensure_ascii=False) + "\n")
    clean_dir = os.path.join(args.work, "clean")
    if not os.path.isdir(os.path.join(clean_dir, "web")):
        ja = [os.path.join(SHARED, "data", "ja", n) for n in ("aozora_dev.jsonl.gz", "kwdlc_leads.jsonl",
                                                             "abeja_cc_ja.jsonl")] + [jaquad]
        cmd = [sys.executable, os.path.join(SHARED, "bench", "make_corpus.py"), "--out", clean_dir,
               "--docs", str(args.docs), "--seed", str(args.seed)]
        for p in ja:
            cmd += ["--ja", p]
        subprocess.run(cmd, check=True)
    clean: list[dict] = []
    for name in sorted(os.listdir(os.path.join(clean_dir, "web"))):
        clean += _read_jsonl(os.path.join(clean_dir, "web", name))

    leads = [r["text"] for r in _read_jsonl(os.path.join(SHARED, "data", "ja", "kwdlc_leads.jsonl"))]

    def page(body: str) -> str:
        return "\n".join([rng.choice(leads), body, rng.choice(leads)])

    planted: list[dict] = []
    for i, r in enumerate(items):
        t = r["text"]
        a = int(len(t) * rng.uniform(0.0, 0.4))
        variants = {
            "exact": t,
            "reformatted": reformat(t, rng),
            "char_edits": char_edits(t, rng, 0.005, 0.05),
            "partial": t[a : a + int(len(t) * 0.6)],
            "heavy_edits": char_edits(t, rng, 0.08, 0.12),
        }
        for kind, body in variants.items():
            planted.append({"id": f"planted-{kind}-{i}", "kind": kind, "item": _h(t)[:12], "text": page(body)})
    for i, r in enumerate(test[: args.items]):
        planted.append({"id": f"nearmiss-{i}", "kind": "near_miss", "item": None, "text": page(r["text"])})
    with open(os.path.join(args.work, "planted.jsonl"), "w", encoding="utf-8") as f:
        for p in planted:
            f.write(json.dumps(p, ensure_ascii=False) + "\n")

    from corpusflow.decontam.config import BenchmarkSpec, IndexBuildConfig, IndexSettings
    from corpusflow.decontam.index import build_index
    from corpusflow.decontam.match import find_hits
    from corpusflow.dedup.shingle import WordHasher

    overlaps = [float(x) for x in args.overlaps.split(",")]
    result: dict = {"items": len(items), "clean_docs": len(clean), "planted_per_variant": len(items),
                    "near_miss_docs": min(len(test), args.items), "by_n": {}}
    spec = BenchmarkSpec(name="jsquad", paths=[bench], lang="ja", fields=["context"])
    for n in (int(x) for x in args.ns.split(",")):
        st = IndexSettings(ja_ngram_chars=n, min_chars_ja=n)
        idx = build_index(IndexBuildConfig(benchmarks=[spec], settings=st))
        words = WordHasher()
        t0 = time.perf_counter()
        best_clean: list[tuple[float, str, str]] = []
        for d in clean:
            hits = find_hits(d["text"], idx, min(overlaps), words)
            if hits:
                best_clean.append((hits[0].overlap, d["id"], hits[0].item_id))
        clean_s = time.perf_counter() - t0
        best_planted: dict[str, tuple[str, float, bool]] = {}
        for p in planted:
            hits = find_hits(p["text"], idx, min(overlaps), words)
            right = bool(hits) and (p["item"] is None or any(h.item_id == p["item"] for h in hits))
            best_planted[p["id"]] = (p["kind"], hits[0].overlap if hits else 0.0, right)
        row: dict = {"index_ngrams": int(idx.keys["char"].size),
                     "us_per_clean_doc": round(clean_s / max(len(clean), 1) * 1e6, 1)}
        for mo in overlaps:
            rec = {}
            for kind in ("exact", "reformatted", "char_edits", "partial", "heavy_edits"):
                vals = [(ov, ok) for k, ov, ok in best_planted.values() if k == kind]
                rec[kind] = round(sum(1 for ov, ok in vals if ov >= mo and ok) / len(vals), 4)
            nm = [ov for k, ov, _ok in best_planted.values() if k == "near_miss"]
            fp_clean = [c for c in best_clean if c[0] >= mo]
            row[f"min_overlap={mo}"] = {
                "recall": rec,
                "false_positive_docs_clean": len(fp_clean),
                "false_positive_rate_clean": round(len(fp_clean) / max(len(clean), 1), 6),
                "false_positive_docs_near_miss": sum(1 for ov in nm if ov >= mo),
                "clean_examples": [list(c) for c in sorted(fp_clean, reverse=True)[:3]],
            }
        result["by_n"][str(n)] = row
    text = json.dumps(result, ensure_ascii=False, indent=1)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    with open(os.path.join(args.work, "spec.yaml"), "w", encoding="utf-8") as f:
        f.write(f"benchmarks:\n  - name: jsquad\n    paths: [{bench}]\n    lang: ja\n    fields: [context]\n")


if __name__ == "__main__":
    main()
