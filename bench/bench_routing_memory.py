"""Per-worker memory of dedup routing: side-input tables vs the join (stages.dedup.routing).

    flock /tmp/corpusflow-bench.lock python bench/bench_routing_memory.py \\
        --corpus /work/benchdata/scale_100k [--tag 100k]

Runs the dedup stage alone (the pipeline's reader -> lang = 'ja' if the text has kana, else 'en'
-> Deduplicate) on the in-memory FnApiRunner, once per routing mode, each in a fresh process, with
the routing DoFns instrumented:

* ``side_input``: what every worker holds before it routes one document: the exact-copy groups
  (``AsDict``: text key -> ExactGroup) and the near-duplicate verdicts (``AsDict``: id hash ->
  Verdict). Measured as the bytes allocated (tracemalloc) when the two dicts are rebuilt from
  their pickles in the worker, and as a recursive ``sys.getsizeof`` of the dicts the DoFn got.
* ``join``: no table; what a worker holds per key. For each key of the document join (one id
  hash: its documents and Fates) and of the group/verdict join (one keeper id hash: its exact
  groups with their members' id hashes, and its verdict), the recursive ``sys.getsizeof`` of
  the routing state (Fates; groups + verdict) and of the documents; the largest key is what a
  worker must hold at once.

Also the process's peak RSS (``ru_maxrss``) for each mode: on the local runner the join keeps the
shuffled documents in RAM, which is why ``routing: auto`` keeps the tables there.

Results go to bench/results/routing_memory_<tag>.json and a summary on stdout (with the 10^9
document extrapolation of the side-input table).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import pickle
import re
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"
_KANA = re.compile(r"[\u3040-\u30ff]")


def deep_size(obj: Any, seen: set[int] | None = None) -> int:
    """Bytes of ``obj`` and everything it references (each object once): dicts, lists, tuples,
    named tuples, dataclass-like objects, numpy arrays (``nbytes``), strings and numbers."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, (str, bytes, int, float, bool)) or obj is None:
        return size
    nbytes = getattr(obj, "nbytes", None)
    if isinstance(nbytes, int) and hasattr(obj, "dtype"):
        return size + (nbytes if obj.dtype != object else sum(deep_size(x, seen) for x in obj.ravel()))
    if isinstance(obj, dict):
        return size + sum(deep_size(k, seen) + deep_size(v, seen) for k, v in obj.items())
    if isinstance(obj, (list, tuple, set, frozenset)):
        return size + sum(deep_size(x, seen) for x in obj)
    fields = getattr(obj, "__dict__", None)
    if fields is not None:
        return size + deep_size(fields, seen)
    slots = [s for c in type(obj).__mro__ for s in getattr(c, "__slots__", ())]
    return size + sum(deep_size(getattr(obj, s), seen) for s in slots if hasattr(obj, s))


def _tag_lang(doc: Any) -> Any:
    """Stand-in for language ID (not part of the dedup stage): 'ja' if the text has kana."""
    return doc.replace(lang="ja" if _KANA.search(doc.text) else "en")


def _instrument(report_dir: str) -> None:
    """Replace the routing DoFns / functions of corpusflow.stages.dedup by measuring versions that
    write their figures to ``report_dir`` (one JSON file per DoFn instance) at teardown."""
    from corpusflow.stages import dedup as stage

    class MeasuredRoute(stage._RouteFn):
        def process(self, doc: Any, exact: Any, near: Any) -> Any:
            if not getattr(self, "_measured", False):
                self._measured = True
                blobs = pickle.dumps(dict(exact)), pickle.dumps(dict(near))
                tracemalloc.start()
                base = tracemalloc.get_traced_memory()[0]
                tables = pickle.loads(blobs[0]), pickle.loads(blobs[1])
                held = tracemalloc.get_traced_memory()[0] - base
                tracemalloc.stop()
                _write(report_dir, "side_input", {
                    "exact_groups": len(exact), "near_verdicts": len(near),
                    "tracemalloc_bytes": held, "deep_size_bytes": deep_size(exact) + deep_size(near),
                    "deep_size_exact_bytes": deep_size(exact), "deep_size_near_bytes": deep_size(near),
                    "pickled_bytes": len(blobs[0]) + len(blobs[1]),
                })
                del tables
            return super().process(doc, exact, near)

    class MeasuredJoinRoute(stage._JoinRouteFn):
        def setup(self) -> None:
            super().setup()
            self.stats = {"keys": 0, "keys_with_fates": 0, "fates": 0, "max_fates_bytes": 0,
                          "sum_fates_bytes": 0, "max_key_bytes_with_docs": 0, "max_docs_per_key": 0}

        def process(self, kv: Any) -> Any:
            uid, g = kv
            fates, docs = list(g["fate"]), list(g["docs"])
            s = self.stats
            s["keys"] += 1
            fb = deep_size(fates)
            if fates:
                s["keys_with_fates"] += 1
                s["fates"] += len(fates)
                s["sum_fates_bytes"] += fb
            s["max_fates_bytes"] = max(s["max_fates_bytes"], fb)
            s["max_key_bytes_with_docs"] = max(s["max_key_bytes_with_docs"], fb + deep_size(docs))
            s["max_docs_per_key"] = max(s["max_docs_per_key"], len(docs))
            return super().process((uid, {"fate": fates, "docs": docs}))

        def finish_bundle(self) -> None:
            _write(report_dir, "join_docs", self.stats)

    original_fates = stage._fates
    group_stats = {"keys": 0, "max_bytes": 0, "sum_bytes": 0, "max_members": 0}

    def measured_fates(kv: Any) -> Any:
        rep, g = kv
        groups, verdicts = list(g["groups"]), list(g["verdict"])
        b = deep_size(groups) + deep_size(verdicts)
        group_stats["keys"] += 1
        group_stats["sum_bytes"] += b
        group_stats["max_bytes"] = max(group_stats["max_bytes"], b)
        group_stats["max_members"] = max([group_stats["max_members"], *(len(m) for _, _, m in groups)])
        _write(report_dir, "join_groups", group_stats)
        return original_fates((rep, {"groups": groups, "verdict": verdicts}))

    stage._RouteFn = MeasuredRoute  # type: ignore[misc]
    stage._JoinRouteFn = MeasuredJoinRoute  # type: ignore[misc]
    stage._fates = measured_fates


def _write(report_dir: str, kind: str, data: dict) -> None:
    """Save one DoFn copy's figures so far (rewritten as they grow; several copies are summed)."""
    name = os.path.join(report_dir, f"{kind}-{os.getpid()}-{id(data)}.json")
    with open(name, "w") as f:
        json.dump(data, f)


def run_mode(corpus: str, routing: str, out: str) -> dict[str, Any]:
    """One dedup run in this process (in-memory FnApiRunner); returns the instrumented figures."""
    import apache_beam as beam
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    from corpusflow.config.load import load_config
    from corpusflow.dedup.config import DedupStageConfig
    from corpusflow.run.rundir import plan_run
    from corpusflow.stages.dedup import Deduplicate
    from corpusflow.stages.read import ReadDocuments

    report_dir = os.path.join(out, "report")
    os.makedirs(report_dir, exist_ok=True)
    _instrument(report_dir)
    pcfg = load_config(data={"sources": [{"name": "web", "paths": [os.path.join(corpus, "web", "*.jsonl.gz")]}]})
    plan = plan_run(pcfg, os.path.join(out, "run"))
    t0 = time.perf_counter()
    with beam.Pipeline(runner=FnApiRunner()) as p:
        docs = (p | "Read" >> ReadDocuments(plan.files, pcfg.sources, 2_000_000)).kept | "Lang" >> beam.Map(_tag_lang)
        res = docs | "Dedup" >> Deduplicate(DedupStageConfig(enabled=True, routing=routing), seed=1)
        _ = (res.kept | "Count" >> beam.combiners.Count.Globally()
             | "WK" >> beam.io.WriteToText(os.path.join(out, "kept")))
        _ = (res.duplicates | "CountD" >> beam.combiners.Count.Globally()
             | "WD" >> beam.io.WriteToText(os.path.join(out, "dups")))
    wall = time.perf_counter() - t0
    figures: dict[str, Any] = {"routing": routing, "wall_s": round(wall, 1),
                               "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
    for name in ("kept", "dups"):
        figures[name] = sum(int(Path(f).read_text().strip() or 0) for f in glob.glob(os.path.join(out, name + "*")))
    for f in sorted(glob.glob(os.path.join(report_dir, "*.json"))):
        kind = os.path.basename(f).split("-")[0]
        data = json.loads(Path(f).read_text())
        if kind == "side_input" and kind in figures:  # every copy holds the same tables
            continue
        if kind in figures:  # several DoFn copies: combine
            prev = figures[kind]
            for k, v in data.items():
                prev[k] = max(prev[k], v) if k.startswith("max_") else prev[k] + v
        else:
            figures[kind] = data
    return figures


def summarize(n_docs: int, runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    side, join = runs["side_input"], runs["join"]
    si = side["side_input"]
    entries = si["exact_groups"] + si["near_verdicts"]
    dups = side["dups"]
    per_doc = si["tracemalloc_bytes"] / n_docs
    out = {
        "docs": n_docs, "duplicates": dups, "exact_groups": si["exact_groups"], "near_verdicts": si["near_verdicts"],
        "side_input_table_bytes": si["tracemalloc_bytes"], "side_input_deep_size_bytes": si["deep_size_bytes"],
        "side_input_bytes_per_input_doc": round(per_doc, 1),
        "side_input_bytes_per_duplicate": round(si["tracemalloc_bytes"] / max(dups, 1), 1),
        "side_input_bytes_per_table_entry": round(si["tracemalloc_bytes"] / max(entries, 1), 1),
        "side_input_table_at_1e9_docs_gb": round(per_doc, 1),  # bytes/doc x 1e9 docs / 1e9 B per GB
        "join_max_fates_bytes_per_key": join["join_docs"]["max_fates_bytes"],
        "join_mean_fates_bytes_per_key_with_fates": round(
            join["join_docs"]["sum_fates_bytes"] / max(join["join_docs"]["keys_with_fates"], 1), 1),
        "join_max_key_bytes_with_docs": join["join_docs"]["max_key_bytes_with_docs"],
        "join_max_group_key_bytes": join["join_groups"]["max_bytes"],
        "join_mean_group_key_bytes": round(join["join_groups"]["sum_bytes"] / max(join["join_groups"]["keys"], 1), 1),
        "join_max_exact_members": join["join_groups"]["max_members"],
        "peak_rss_mb": {m: r["peak_rss_mb"] for m, r in runs.items()},
        "wall_s": {m: r["wall_s"] for m, r in runs.items()},
        "same_counts": side["kept"] == join["kept"] and side["dups"] == join["dups"],
    }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True, help="make_corpus output (DIR/web/*.jsonl.gz)")
    ap.add_argument("--tag", default=None, help="results file suffix (default: the corpus folder name)")
    ap.add_argument("--one", choices=("side_input", "join"), help=argparse.SUPPRESS)  # internal: one mode
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_mode(args.corpus, args.one, args.out)))
        return
    import gzip

    n_docs = 0
    for f in glob.glob(os.path.join(args.corpus, "web", "*.jsonl.gz")):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            n_docs += sum(1 for _ in fh)
    runs = {}
    with tempfile.TemporaryDirectory(prefix="routing-mem-") as tmp:
        for mode in ("side_input", "join"):
            res = subprocess.run([sys.executable, __file__, "--corpus", args.corpus, "--one", mode,
                                  "--out", os.path.join(tmp, mode)], capture_output=True, text=True, cwd=REPO,
                                 env=dict(os.environ, PYTHONPATH=str(REPO)), check=False)
            if res.returncode:
                sys.exit(f"{mode} run failed:\n{res.stderr[-3000:]}")
            runs[mode] = json.loads(res.stdout.strip().splitlines()[-1])
    summary = summarize(n_docs, runs)
    record = {"time": time.strftime("%Y-%m-%d %H:%M:%S"), "corpus": args.corpus,
              "load_avg_1m_after": round(os.getloadavg()[0], 2), "summary": summary, "runs": runs}
    RESULTS.mkdir(exist_ok=True)
    tag = args.tag or os.path.basename(os.path.normpath(args.corpus))
    (RESULTS / f"routing_memory_{tag}.json").write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
