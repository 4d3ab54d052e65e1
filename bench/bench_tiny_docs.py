"""Memory of many tiny documents: peak RSS of the whole process tree per input document.

    flock /tmp/corpusflow-bench.lock python bench/bench_tiny_docs.py --sizes 100000 200000 1000000
    flock /tmp/corpusflow-bench.lock python bench/bench_tiny_docs.py --sizes 200000 --code /work/main

Two corpora per size N, written under ``--root`` (default /tmp/corpusflow-tiny, outside the repo):

* ``chars``: N one-character documents (the character cycles through the 2,136 jōyō-kanji code
  points range U+4E00.. and ASCII letters, so most texts repeat: exact duplicates), and
* ``same``: N identical tiny documents (one short Japanese sentence, long enough for MinHash
  character 5-grams), the worst case for exact groups, and
* ``same_near``: the same corpus with exact dedup off (``stages.dedup.exact=false``), so every
  copy goes through MinHash: one LSH bucket of N members in every band, the worst case for
  buckets, candidate edges, their verification and the cluster decision.

Each is run through ``configs/pipelines/dedup_only.yaml`` (normalise, language ID that only
labels, exact + MinHash dedup, Parquet), DirectRunner in one process (``in_memory``) or
``--mode multi_processing`` with 2 workers. Reported per run: wall seconds, peak RSS of the
process tree (sampled every 0.1 s by ``bench/measure.py``), bytes per document above a baseline
run of 1,000 documents (the fixed cost of Python, Beam and the models), and whether the
manifest is conserved. ``--code DIR`` runs another checkout's package (e.g. main) for the
before/after comparison. Results are appended to ``bench/results/tiny_docs.json``.

Benchmarks are not tests: nothing here runs in the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from measure import HERE, REPO, machine, run_measured

CONFIG = os.path.join(REPO, "configs", "pipelines", "dedup_only.yaml")
RESULTS = os.path.join(HERE, "results", "tiny_docs.json")
SAME_TEXT = "今日は良い天気です。"
FILES = 4


def _chars() -> list[str]:
    return [chr(c) for c in range(0x4E00, 0x4E00 + 2000)] + [chr(c) for c in range(ord("a"), ord("z") + 1)]


def write_corpus(folder: str, n: int, kind: str) -> str:
    """``n`` documents in ``FILES`` JSONL files under ``folder``; returns the glob."""
    os.makedirs(folder, exist_ok=True)
    alphabet = _chars()
    with contextlib.ExitStack() as stack:
        handles = [stack.enter_context(open(os.path.join(folder, f"part-{i}.jsonl"), "w", encoding="utf-8"))
                   for i in range(FILES)]
        for i in range(n):
            text = alphabet[i % len(alphabet)] if kind == "chars" else SAME_TEXT
            handles[i % FILES].write(json.dumps({"id": f"d{i}", "text": text}, ensure_ascii=False) + "\n")
    return os.path.join(folder, "*.jsonl")


def run_one(glob: str, out: str, mode: str, code: str, extra: list[str] | None = None) -> dict:
    cmd = [sys.executable, "-m", "corpusflow", "run", CONFIG, "--input", glob, "--output", out,
           "--overwrite", "-q", "--progress", "off", *(extra or [])]
    if mode == "multi_processing":
        cmd += ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
    env = dict(os.environ, PYTHONPATH=code)
    rec = run_measured(cmd, env=env)
    conserved = None
    try:
        with open(os.path.join(out, "manifest.json")) as f:
            conserved = json.load(f)["counts"]["total"]["conserved"]
    except (OSError, KeyError, ValueError):
        pass
    rec["conserved"] = conserved
    return rec


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 200_000])
    ap.add_argument("--kinds", nargs="+", choices=["chars", "same", "same_near"], default=["chars", "same"])
    ap.add_argument("--mode", choices=["in_memory", "multi_processing"], default="in_memory")
    ap.add_argument("--code", default=REPO, help="checkout whose corpusflow package runs (PYTHONPATH)")
    ap.add_argument("--root", default=os.path.join(tempfile.gettempdir(), "corpusflow-tiny"))
    ap.add_argument("--baseline", type=int, default=1000, help="documents of the fixed-cost run")
    args = ap.parse_args(argv)
    os.makedirs(args.root, exist_ok=True)
    # ``python -m`` puts the working directory first on sys.path: run outside any checkout so
    # that PYTHONPATH=--code decides which corpusflow runs.
    os.chdir(args.root)
    rows = []
    for kind in args.kinds:
        base = None
        for n in [args.baseline, *args.sizes]:
            corpus = "same" if kind == "same_near" else kind
            glob = os.path.join(args.root, f"{corpus}_{n}", "*.jsonl")
            if not os.path.exists(os.path.join(args.root, f"{corpus}_{n}", "part-0.jsonl")):
                write_corpus(os.path.join(args.root, f"{corpus}_{n}"), n, corpus)
            extra = ["--set", "stages.dedup.exact=false"] if kind == "same_near" else []
            rec = run_one(glob, os.path.join(args.root, f"out_{kind}_{n}"), args.mode, args.code, extra)
            if n == args.baseline:
                base = rec["peak_rss_mb"]
            extra = (rec["peak_rss_mb"] - (base or 0)) * 2**20
            row = {"kind": kind, "docs": n, "mode": args.mode, "code": args.code, "wall_s": rec["wall_s"],
                   "peak_rss_mb": rec["peak_rss_mb"], "baseline_mb": base,
                   "bytes_per_doc_above_baseline": round(extra / n) if n != args.baseline else None,
                   "returncode": rec["returncode"], "conserved": rec["conserved"]}
            if rec["returncode"]:
                row["output_tail"] = rec["output_tail"][-1500:]
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "output_tail"}), flush=True)
            if rec["returncode"]:
                print(rec["output_tail"][-1500:], file=sys.stderr)
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    old = []
    if os.path.exists(RESULTS):
        with open(RESULTS) as f:
            old = json.load(f)
    old.append({"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
                "rows": rows})
    with open(RESULTS, "w") as f:
        json.dump(old, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
