"""Benchmark of the foundation chain: read -> normalise -> language ID -> write.

    python bench/bench_pipeline.py --corpus /work/benchdata/c100k_s1 [--modes in_memory multi_processing]

The corpus comes from ``../shared/bench/make_corpus.py --out DIR --docs 100000``. Filters,
dedup and mixture are switched off; language ID filters (ja, en). Reports docs/s, MB/s of
uncompressed input text and peak RSS of the whole process tree, into
bench/results/pipeline_chain.json.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from measure import machine, run_measured

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def corpus_stats(pattern: str) -> tuple[int, int]:
    docs = size = 0
    for path in sorted(glob.glob(pattern)):
        with gzip.open(path, "rb") as f:
            for line in f:
                docs += 1
                size += len(line)
    return docs, size


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True, help="make_corpus.py output folder")
    ap.add_argument("--modes", nargs="+", default=["in_memory", "multi_processing"])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "pipeline_chain.json"))
    args = ap.parse_args()
    pattern = os.path.join(args.corpus, "web", "*.jsonl.gz")
    n_docs, n_bytes = corpus_stats(pattern)
    cfg = os.path.join(REPO, "configs", "pipelines", "langid_only.yaml")
    results = {"machine": machine(), "corpus": args.corpus, "docs": n_docs, "input_mb": round(n_bytes / 2**20, 1),
               "chain": "read -> normalize -> langid -> write", "runs": []}
    for mode in args.modes:
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out")
            cmd = ["corpusflow", "run", cfg, "--input", pattern, "--output", out, "--quiet"]
            if mode != "in_memory":
                cmd += [f"--direct_running_mode={mode}", f"--direct_num_workers={args.workers}"]
            r = run_measured(cmd)
            if r["returncode"] != 0:
                print(r["output_tail"])
                raise SystemExit(f"{mode}: failed")
            with open(os.path.join(out, "manifest.json")) as f:
                m = json.load(f)
        run = {"mode": mode, "wall_s": r["wall_s"], "pipeline_s": m["seconds"], "cpu_s": r["cpu_s"],
               "docs_per_cpu_s": round(n_docs / r["cpu_s"], 1) if r["cpu_s"] else None,
               "load_1m_after": r["load_1m_after"],
               "docs_per_s": round(n_docs / r["wall_s"], 1), "mb_per_s": round(n_bytes / 2**20 / r["wall_s"], 2),
               "peak_rss_mb": r["peak_rss_mb"], "kept": m["counts"]["total"]["kept"],
               "rejected": m["counts"]["total"]["rejected"], "errors": m["counts"]["total"]["errors"]}
        print(json.dumps(run))
        results["runs"].append(run)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)
    print("| mode | docs | wall s | docs/s | MB/s | CPU s | docs per CPU-s | peak RSS MB |\n"
          "|---|---|---|---|---|---|---|---|")
    for run in results["runs"]:
        print(f"| {run['mode']} | {n_docs} | {run['wall_s']} | {run['docs_per_s']} | {run['mb_per_s']} | "
              f"{run['cpu_s']} | {run['docs_per_cpu_s']} | {run['peak_rss_mb']} |")


if __name__ == "__main__":
    main()
