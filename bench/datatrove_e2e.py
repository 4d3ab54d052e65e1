"""datatrove's end-to-end equivalent of the corpusflow default pipeline, for bench/bench_e2e.py.

Run ONLY with the benchmark venv's python (datatrove is never installed in the system python):

    /work/benchenv/datatrove/bin/python bench/datatrove_e2e.py --corpus DIR --work WORKDIR \\
        --lid corpusflow/resources/lid.176.ftz [--tasks N] [--workers 2]

(bench/bench_e2e.py runs it for you, on the same corpus and in the same run as corpusflow.)

What runs: the FineWeb layout of datatrove's own components (``examples/fineweb.py`` and
``examples/minhash_deduplication.py``), every stage a ``LocalPipelineExecutor`` with ``--workers``
processes over ``--tasks`` shards of the input files:

1. ``filter``: ``JsonlReader`` (DIR/web/*.jsonl.gz) -> ``LanguageFilter(["ja", "en"], 0.5)``
   with fastText lid.176 (the same ``lid.176.ftz`` corpusflow ships; datatrove would download
   ``lid.176.bin``) -> ``GopherRepetitionFilter`` -> ``GopherQualityFilter`` -> ``C4QualityFilter``
   -> ``FineWebQualityFilter`` -> ``JsonlWriter`` (the filtered intermediate, as in FineWeb).
   datatrove's quality filters are English rules (English stop words, terminal punctuation, a
   spaCy English word tokenizer) and it has none for Japanese, so they run on the documents
   labelled ``en`` and Japanese documents pass through them. Otherwise the English rules would
   drop nearly every Japanese page (fewer than 2 English stop words) and MinHash would see
   only the English fifth of the corpus.
2. ``signatures``: ``JsonlReader`` (intermediate) -> ``MinhashDedupSignature(MinhashConfig())``
   (5-grams of words, 14 x 8 hashes, xxhash64; its default English word tokenizer for every
   document, the cheapest choice: spaCy Japanese would need SudachiPy and is far slower).
3. ``buckets``: ``MinhashDedupBuckets`` (14 tasks, one per band).
4. ``cluster``: ``MinhashDedupCluster`` (one task, as datatrove requires).
5. ``write``: ``JsonlReader`` (intermediate) -> ``MinhashDedupFilter`` -> ``ParquetWriter`` (zstd).

Not included, because datatrove has no counterpart in its standard pipeline: Unicode
normalisation, exact-duplicate removal (corpusflow does both), Japanese quality rules, token
counting with the LLM-jp tokenizer and the 80/20 mixture. datatrove therefore does strictly
less work than corpusflow here, so the measured ratio is a lower bound.

Prints one JSON line: wall and CPU seconds per stage (CPU = user+sys of this process and
every descendant, from /proc, so pool workers are included), datatrove's own per-step time
and document counts, and the number of rows written.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_e2e import tree_cpu_seconds


def _en_only(cls: type) -> type:
    """``cls`` applied to documents labelled ``en`` by LanguageFilter; others pass unchanged."""

    class EnglishOnly(cls):  # type: ignore[misc, valid-type]
        name = f"{cls.name} (en)"

        def filter(self, doc):
            if doc.metadata.get("language") != "en":
                return True
            return super().filter(doc)

    EnglishOnly.__name__ = f"EnglishOnly{cls.__name__}"
    return EnglishOnly


def _step_stats(stats) -> list[dict]:
    """datatrove's PipelineStats -> [{name, total, forwarded, dropped, time_s}] per step."""
    out = []
    for st in stats.stats:
        d = st.to_dict() if hasattr(st, "to_dict") else {}
        counters = d.get("stats", {})
        t = getattr(st, "time_stats", None)
        out.append({
            "name": st.name,
            "total": counters.get("total"),
            "forwarded": counters.get("forwarded"),
            "dropped": counters.get("dropped"),
            "time_s": round(getattr(t, "total", 0.0), 2) if t is not None else None,
        })
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True, help="make_corpus.py folder (reads DIR/web/*.jsonl.gz)")
    ap.add_argument("--work", required=True, help="scratch folder for intermediates and output")
    ap.add_argument("--lid", required=True, help="local lid.176 model file (.ftz or .bin)")
    ap.add_argument("--tasks", type=int, default=0, help="shards per stage (default: number of input files, >= workers)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--lang-threshold", type=float, default=0.5)
    args = ap.parse_args()

    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
        LanguageFilter,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter, ParquetWriter
    from datatrove.utils import lid as dt_lid

    lid_path = os.path.abspath(args.lid)

    class LocalFT176(dt_lid.FT176LID):
        """lid.176 from a local file: nothing is downloaded."""

        @property
        def model(self):
            if self._model is None:
                from fasttext.FastText import _FastText

                self._model = _FastText(lid_path)
            return self._model

    dt_lid.FT176LID = LocalFT176  # LanguageFilter builds FT176LID(languages) in its constructor
    import datatrove.pipeline.filters.language_filter as lf

    lf.FT176LID = LocalFT176

    corpus, work = os.path.abspath(args.corpus), os.path.abspath(args.work)
    n_files = len(glob.glob(f"{corpus}/web/*.jsonl.gz"))
    tasks = args.tasks or max(n_files, args.workers)
    cfg = MinhashConfig()
    common = dict(workers=args.workers, start_method="fork")

    def reader(folder: str) -> JsonlReader:
        return JsonlReader(folder, glob_pattern="*.jsonl.gz", text_key="text", id_key="id")

    stages = [
        ("filter", LocalPipelineExecutor(
            pipeline=[
                reader(f"{corpus}/web"),
                LanguageFilter(languages=["ja", "en"], language_threshold=args.lang_threshold),
                _en_only(GopherRepetitionFilter)(),
                _en_only(GopherQualityFilter)(),
                _en_only(C4QualityFilter)(),
                _en_only(FineWebQualityFilter)(),
                JsonlWriter(f"{work}/filtered"),
            ],
            tasks=tasks, logging_dir=f"{work}/logs/filter", **common)),
        ("signatures", LocalPipelineExecutor(
            pipeline=[reader(f"{work}/filtered"), MinhashDedupSignature(output_folder=f"{work}/sigs", config=cfg)],
            tasks=tasks, logging_dir=f"{work}/logs/sigs", **common)),
        ("buckets", LocalPipelineExecutor(
            pipeline=[MinhashDedupBuckets(input_folder=f"{work}/sigs", output_folder=f"{work}/buckets", config=cfg)],
            tasks=cfg.num_buckets, logging_dir=f"{work}/logs/buckets", **common)),
        ("cluster", LocalPipelineExecutor(
            pipeline=[MinhashDedupCluster(input_folder=f"{work}/buckets", output_folder=f"{work}/remove_ids",
                                          config=cfg)],
            tasks=1, workers=1, logging_dir=f"{work}/logs/cluster")),
        ("write", LocalPipelineExecutor(
            pipeline=[reader(f"{work}/filtered"), MinhashDedupFilter(input_folder=f"{work}/remove_ids"),
                      ParquetWriter(f"{work}/out", compression="zstd")],
            tasks=tasks, logging_dir=f"{work}/logs/write", **common)),
    ]
    result: dict = {"tasks": tasks, "workers": args.workers, "input_files": n_files, "stages": {}}
    t_all, c_all = time.perf_counter(), tree_cpu_seconds(os.getpid())
    for name, ex in stages:
        t0, c0 = time.perf_counter(), tree_cpu_seconds(os.getpid())
        stats = ex.run()
        result["stages"][name] = {
            "wall_s": round(time.perf_counter() - t0, 2),
            "cpu_s": round(tree_cpu_seconds(os.getpid()) - c0, 2),
            "steps": _step_stats(stats) if stats is not None else [],
        }
        print(json.dumps({"stage": name, **result["stages"][name]}), file=sys.stderr, flush=True)
    result["wall_s"] = round(time.perf_counter() - t_all, 2)
    result["cpu_s"] = round(tree_cpu_seconds(os.getpid()) - c_all, 2)

    import pyarrow.parquet as pq

    outs = sorted(glob.glob(f"{work}/out/*.parquet"))
    result["rows_written"] = sum(pq.ParquetFile(p).metadata.num_rows for p in outs)
    result["files_written"] = len(outs)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
