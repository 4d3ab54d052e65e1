"""Anchor: datatrove's MinHash dedup (its four stages) beside ours, on the same make_corpus build.

datatrove is installed ONLY in a separate venv (never in the system python):

  python -m venv /work/benchenv/datatrove
  /work/benchenv/datatrove/bin/pip install 'datatrove[processing]'

  python bench/bench_dedup_vs_datatrove.py --corpus /work/benchdata/c25000_s11 \
      [--datatrove-python /work/benchenv/datatrove/bin/python] [--tasks 1]

This script (system python) runs, in one go and on the same files:
  1. datatrove: MinhashDedupSignature -> MinhashDedupBuckets -> MinhashDedupCluster ->
     MinhashDedupFilter with its defaults (MinhashConfig(): 5-grams, 14 x 8, 64-bit xxhash,
     English word tokenizer for every document), LocalPipelineExecutor, --tasks workers per stage;
     driven by a child script executed by the venv's python;
  2. ours: bench/bench_dedup.py stage (Deduplicate under the FnApiRunner, in_memory);
then scores both with ../shared/bench/score_dedup.py and appends the comparison to
bench/results/dedup_vs_datatrove.json. docs/s = input documents / wall time of the whole dedup
(all four datatrove stages; our whole pipeline including JSONL reading).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

DATATROVE_DRIVER = r'''
import json, sys, time
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup.minhash import (MinhashConfig, MinhashDedupBuckets, MinhashDedupCluster,
                                             MinhashDedupFilter, MinhashDedupSignature)
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter

corpus, work, tasks = sys.argv[1], sys.argv[2], int(sys.argv[3])
cfg = MinhashConfig()
reader = lambda: JsonlReader(f"{corpus}/web", glob_pattern="*.jsonl.gz", text_key="text", id_key="id")
times = {}
t0 = time.perf_counter()
LocalPipelineExecutor(pipeline=[reader(), MinhashDedupSignature(output_folder=f"{work}/sigs", config=cfg)],
                      tasks=tasks, workers=tasks, logging_dir=f"{work}/logs/sigs").run()
times["signatures"] = time.perf_counter() - t0
t = time.perf_counter()
LocalPipelineExecutor(pipeline=[MinhashDedupBuckets(input_folder=f"{work}/sigs", output_folder=f"{work}/buckets",
                                                    config=cfg)],
                      tasks=cfg.num_buckets, workers=tasks, logging_dir=f"{work}/logs/buckets").run()
times["buckets"] = time.perf_counter() - t
t = time.perf_counter()
LocalPipelineExecutor(pipeline=[MinhashDedupCluster(input_folder=f"{work}/buckets", output_folder=f"{work}/remove_ids",
                                                    config=cfg)],
                      tasks=1, logging_dir=f"{work}/logs/clusters").run()
times["cluster"] = time.perf_counter() - t
t = time.perf_counter()
LocalPipelineExecutor(pipeline=[reader(), MinhashDedupFilter(input_folder=f"{work}/remove_ids"),
                                JsonlWriter(f"{work}/kept")],
                      tasks=tasks, workers=tasks, logging_dir=f"{work}/logs/filter").run()
times["filter"] = time.perf_counter() - t
times["total"] = time.perf_counter() - t0
print(json.dumps(times))
'''


SIGNATURE_DRIVER = r'''
import gzip, json, sys, time, tempfile
from datatrove.data import Document
from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
path, n = sys.argv[1], int(sys.argv[2])
docs = []
with gzip.open(path, "rt") as f:
    for line in f:
        d = json.loads(line); docs.append(Document(text=d["text"], id=d["id"]))
        if len(docs) >= n + 200: break
sig = MinhashDedupSignature(output_folder=tempfile.mkdtemp(), config=MinhashConfig())
sig.run(iter(docs[:200]), rank=0, world_size=1)  # warm-up: spaCy load
sig = MinhashDedupSignature(output_folder=tempfile.mkdtemp(), config=MinhashConfig())
c, t = time.process_time(), time.perf_counter()
sig.run(iter(docs[200:]), rank=0, world_size=1)
cpu = time.process_time() - c
print(json.dumps({"docs": n, "cpu_s": round(cpu, 2), "wall_s": round(time.perf_counter() - t, 2),
                  "docs_per_cpu_s": round(n / cpu)}))
'''


def signatures_only(corpus: str, datatrove_python: str, n: int) -> dict:
    """Stage-1 (signature) CPU speed of datatrove and ours on the same n corpus documents."""
    import re

    from corpusflow.core.document import Document
    from corpusflow.dedup.config import DedupStageConfig
    from corpusflow.dedup.core import SignatureComputer

    path = sorted(Path(corpus, "web").glob("*.jsonl.gz"))[-1]
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(SIGNATURE_DRIVER)
    res = subprocess.run([datatrove_python, f.name, str(path), str(n)], capture_output=True, text=True, check=True)
    dt = json.loads(res.stdout.strip().splitlines()[-1])
    kana = re.compile(r"[\u3040-\u30ff]")
    import gzip

    docs = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            docs.append(Document(id=d["id"], text=d["text"], source="web", lang="ja" if kana.search(d["text"]) else "en"))
            if len(docs) >= n + 200:
                break
    comp = SignatureComputer(DedupStageConfig(enabled=True), 1, cache_size=0)
    comp.compute(docs[:200])
    c, t = time.process_time(), time.perf_counter()
    for i in range(200, len(docs), 250):
        comp.compute(docs[i : i + 250])
    cpu = time.process_time() - c
    ours = {"docs": n, "cpu_s": round(cpu, 2), "wall_s": round(time.perf_counter() - t, 2), "docs_per_cpu_s": round(n / cpu)}
    return {"file": str(path), "datatrove_signature_stage": dt, "ours_signatures": ours,
            "cpu_speedup": round(ours["docs_per_cpu_s"] / dt["docs_per_cpu_s"], 1)}


def _children_cpu() -> float:
    """CPU seconds (user + system) of finished child processes (datatrove's stages and workers)."""
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ch.ru_utime + ch.ru_stime


def score(corpus: str, kept_glob: str) -> dict:
    res = subprocess.run([sys.executable, str(SHARED / "bench/score_dedup.py"), "--truth", f"{corpus}/truth",
                          "--kept", kept_glob], capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--datatrove-python", default="/work/benchenv/datatrove/bin/python")
    ap.add_argument("--tasks", type=int, default=1, help="datatrove tasks/workers per stage")
    ap.add_argument("--skip-ours", action="store_true")
    ap.add_argument("--signatures-only", type=int, metavar="N",
                    help="only time the signature stage of both on N documents (CPU seconds, same process load)")
    args = ap.parse_args()
    corpus = os.path.abspath(args.corpus)
    if args.signatures_only:
        rec = {"time": time.strftime("%Y-%m-%d %H:%M:%S"), "load_avg_1m": round(os.getloadavg()[0], 2),
               **signatures_only(corpus, args.datatrove_python, args.signatures_only)}
        print(json.dumps(rec))
        path = REPO / "bench/results/dedup_vs_datatrove.json"
        data = json.loads(path.read_text()) if path.exists() else []
        data.append(rec)
        path.write_text(json.dumps(data, indent=1) + "\n")
        return
    with open(f"{corpus}/truth/summary.json") as f:
        n_docs = json.load(f)["docs"]
    work = tempfile.mkdtemp(prefix="datatrove_")
    driver = Path(work) / "driver.py"
    driver.write_text(DATATROVE_DRIVER)
    t0, c0 = time.perf_counter(), _children_cpu()
    res = subprocess.run([args.datatrove_python, str(driver), corpus, work, str(args.tasks)],
                         capture_output=True, text=True, check=False)
    dt_wall, dt_cpu = time.perf_counter() - t0, _children_cpu() - c0
    if res.returncode != 0:
        sys.exit(f"datatrove failed:\n{res.stderr[-3000:]}")
    dt_times = json.loads(res.stdout.strip().splitlines()[-1])
    dt_score = score(corpus, f"{work}/kept/*.jsonl.gz")
    out = {"time": time.strftime("%Y-%m-%d %H:%M:%S"), "corpus": corpus, "docs": n_docs,
           "load_avg_1m": round(os.getloadavg()[0], 2),
           "datatrove": {"config": "MinhashConfig() defaults: 5-gram words, 14x8, xxhash64, english tokenizer",
                         "tasks": args.tasks, "stage_seconds": {k: round(v, 1) for k, v in dt_times.items()},
                         "docs_per_s": round(n_docs / dt_times["total"]), "wall_s": round(dt_wall, 1),
                         "cpu_s": round(dt_cpu, 1), "docs_per_cpu_s": round(n_docs / dt_cpu),
                         "precision": dt_score["precision"],
                         "recall": dt_score["recall"], "score": dt_score}}
    print(json.dumps(out["datatrove"]), flush=True)
    if not args.skip_ours:
        ours_out = tempfile.mkdtemp(prefix="ours_")
        res = subprocess.run([sys.executable, str(REPO / "bench/bench_dedup.py"), "stage", "--corpus", corpus,
                              "--out", ours_out, "--score", "--no-read-baseline"],
                             capture_output=True, text=True, check=True)
        rec = json.loads(res.stdout.strip().splitlines()[-1])
        out["ours"] = {"config": "DedupStageConfig defaults (JA char 5-grams 20x10, EN word 5-grams 14x8)",
                       "runner": rec["runner"], "total_s": rec["total_s"], "docs_per_s": rec["docs_per_s"],
                       "cpu_s": rec.get("cpu_s"), "docs_per_cpu_s": round(n_docs / rec["cpu_s"]) if rec.get("cpu_s") else None,
                       "peak_rss_mb": rec["peak_rss_mb"], "precision": rec["score"]["precision"],
                       "recall": rec["score"]["recall"], "score": rec["score"]}
        out["speedup"] = round(out["ours"]["docs_per_s"] / out["datatrove"]["docs_per_s"], 1)
        print(json.dumps(out["ours"]), flush=True)
    path = REPO / "bench/results/dedup_vs_datatrove.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(path.read_text()) if path.exists() else []
    data.append(out)
    path.write_text(json.dumps(data, indent=1) + "\n")
    print(json.dumps({k: out.get(k) for k in ("docs", "speedup")}))


if __name__ == "__main__":
    main()
