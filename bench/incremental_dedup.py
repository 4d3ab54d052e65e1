#!/usr/bin/env python3
"""Incremental dedup against an earlier run's index versus deduplicating everything together.

A make_corpus build of N documents in three equal shards (copies of an original appear later in
the crawl, most of them in the last shard) stands for two crawls: the first two shards are the
earlier corpus (run A, ``save_index``), the last shard the new crawl (run B, ``earlier_indexes``
= A's index). Run C deduplicates all shards together. Both answers are scored against the
ground truth with ``score_dedup.py`` (kept ids of A + B, and of C), and B's time and peak memory
are compared with C's.

  python ../shared/bench/make_corpus.py --out C --docs 150000 --shard-docs 50000 --seed 11
  flock /tmp/corpusflow-bench.lock python bench/incremental_dedup.py --corpus C --work W [--out RESULT.json]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from measure import REPO, SHARED, run_measured  # noqa: E402

CONFIG = os.path.join(REPO, "configs", "pipelines", "dedup_incremental.yaml")
SCORE = os.path.join(SHARED, "bench", "score_dedup.py")


def _run(name: str, inputs: list[str], out: str, sets: list[str]) -> dict:
    cmd = [sys.executable, "-m", "corpusflow", "run", CONFIG, "--output", out, "--overwrite", "--progress", "off"]
    for i in inputs:
        cmd += ["--input", i]
    for s in sets:
        cmd += ["--set", s]
    env = dict(os.environ, PYTHONPATH=REPO)
    res = run_measured(cmd, env=env)
    if res["returncode"] != 0:
        sys.exit(f"{name} failed:\n{res['output_tail']}")
    with open(os.path.join(out, "manifest.json")) as f:
        m = json.load(f)
    t = m["counts"]["total"]
    return {"wall_s": res["wall_s"], "cpu_s": res["cpu_s"], "peak_rss_mb": res["peak_rss_mb"],
            "input": t["input"], "kept": t["kept"], "duplicates": t["duplicates"],
            "dup_stages": {r["stage"]: sum(v["duplicates"] for v in r["by_source"].values())
                           for r in m["stages"] if r["stage"].startswith("dedup")}}


def _score(truth: str, kept: list[str]) -> dict:
    cmd = [sys.executable, SCORE, "--truth", truth]
    for k in kept:
        cmd += ["--kept", k]
    out = subprocess.run(cmd, check=False, capture_output=True, text=True).stdout.strip().splitlines()
    return json.loads(out[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    parts = sorted(glob.glob(os.path.join(args.corpus, "web", "part-*.jsonl.gz")))
    if len(parts) != 3:
        sys.exit(f"expected 3 shards under {args.corpus}/web, found {len(parts)}")
    w = args.work
    a = _run("A", parts[:2], f"{w}/A", [])
    b = _run("B", parts[2:], f"{w}/B", [f"stages.dedup.earlier_indexes=[{w}/A/dedup_index]"])
    c = _run("C", parts, f"{w}/C", ["stages.dedup.save_index=false"])
    truth = os.path.join(args.corpus, "truth")
    result = {
        "docs": {"earlier": a["input"], "new": b["input"], "together": c["input"]},
        "A_earlier_with_index": a, "B_new_against_index": b, "C_together": c,
        "score_incremental_A_plus_B": _score(truth, [f"{w}/A/data/*.parquet", f"{w}/B/data/*.parquet"]),
        "score_together_C": _score(truth, [f"{w}/C/data/*.parquet"]),
    }
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
