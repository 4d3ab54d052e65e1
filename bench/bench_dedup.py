"""Benchmarks of the dedup stage. Not part of the test suite.

  python bench/bench_dedup.py signatures [--docs 3000]
      Signature throughput, one process: ~2 KB Japanese (char 5-grams, 200 perms) and English
      (word 5-grams, 112 perms) documents cut from ../shared/data, shingling included.
  python bench/bench_dedup.py stage --corpus DIR [--runner in_memory|multi_processing] [--score]
      The Deduplicate stage alone under the DirectRunner (FnApiRunner) over make_corpus output:
      ReadDocuments (the pipeline's reader) -> lang = 'ja' if the text has kana, else 'en' (a stand-in
      for language ID) -> Deduplicate ->
      kept ids / duplicate rows written as text. Reports wall time, the time of a read-only
      pipeline over the same files (so stage time = total - read), peak RSS of the process tree,
      and optionally score_dedup.py's JSON line.
  python bench/bench_dedup.py scaling --corpora DIR25k DIR50k DIR100k DIR200k
      Runs `stage` on each corpus in a fresh process and tabulates time and memory.

Results are appended to bench/results/dedup_<what>.json.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import re
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
RESULTS = REPO / "bench" / "results"
_KANA = re.compile(r"[\u3040-\u30ff]")


def _save(name: str, record: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"dedup_{name}.json"
    data = json.loads(path.read_text()) if path.exists() else []
    data.append(record)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")


class MemWatch:
    """Peak summed RSS of this process and all its descendants, sampled every 0.1 s."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _tree_rss(root: int) -> int:
        children: dict[int, list[int]] = {}
        rss: dict[int, int] = {}
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/stat") as f:
                    parts = f.read().rsplit(")", 1)[1].split()
                ppid, pages = int(parts[1]), int(parts[21])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d))
            rss[int(d)] = pages * os.sysconf("SC_PAGE_SIZE")
        total, stack = 0, [root]
        while stack:
            pid = stack.pop()
            total += rss.get(pid, 0)
            stack.extend(children.get(pid, []))
        return total

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.is_set():
            self.peak = max(self.peak, self._tree_rss(me))
            time.sleep(0.1)

    def __enter__(self) -> MemWatch:
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()


# ---------------------------------------------------------------------------------------------


def _cut_docs(paths: list[Path], target_bytes: int, limit: int) -> list[str]:
    out, buf = [], ""
    for p in paths:
        op = gzip.open if str(p).endswith(".gz") else open
        with op(p, "rt", encoding="utf-8") as f:
            for line in f:
                buf += json.loads(line)["text"] + "\n"
                while len(buf.encode()) >= target_bytes:
                    # cut at ~target_bytes of UTF-8
                    n = target_bytes // (3 if _KANA.search(buf[:200]) else 1)
                    out.append(buf[:n])
                    buf = buf[n:]
                    if len(out) >= limit:
                        return out
    return out


def bench_signatures(args: argparse.Namespace) -> None:
    from corpusflow.core.document import Document
    from corpusflow.dedup.config import DedupStageConfig
    from corpusflow.dedup.core import SignatureComputer

    data = SHARED / "data"
    sets = {
        "ja": _cut_docs([data / "ja/ja_wiki_paragraphs.jsonl.gz", data / "ja/kwdlc_leads.jsonl"], 2000, args.docs),
        "en": _cut_docs([data / "en/c4_sample.jsonl.gz", data / "en/abc_news.jsonl.gz"], 2000, args.docs),
    }
    cfg = DedupStageConfig(enabled=True)
    results = {}
    for lang, texts in sets.items():
        docs = [Document(id=f"{lang}-{i}", text=t, source="bench", lang=lang) for i, t in enumerate(texts)]
        comp = SignatureComputer(cfg, seed=1, cache_size=0)
        comp.compute(docs[:50])  # warm-up (word cache, buffers)
        best = best_cpu = float("inf")
        for _ in range(args.repeats):
            comp = SignatureComputer(cfg, seed=1, cache_size=0)  # no text cache: every doc signed
            t0, c0 = time.perf_counter(), time.process_time()
            for i in range(0, len(docs), 1000):
                comp.compute(docs[i : i + 1000])
            best = min(best, time.perf_counter() - t0)
            best_cpu = min(best_cpu, time.process_time() - c0)
        p = cfg.profiles[cfg.profile_name(lang)]
        mean_bytes = sum(len(t.encode()) for t in texts) / len(texts)
        results[lang] = {
            "docs": len(docs), "mean_utf8_bytes": round(mean_bytes), "num_perm": p.perms,
            "shingle": f"{p.shingle} {p.n}-grams", "best_seconds": round(best, 3),
            "docs_per_s": round(len(docs) / best), "us_per_doc": round(best / len(docs) * 1e6, 1),
            "cpu_seconds": round(best_cpu, 3), "docs_per_cpu_s": round(len(docs) / best_cpu),
            "load_avg_1m": round(os.getloadavg()[0], 2),
        }
        print(json.dumps({lang: results[lang]}))
    _save("signatures", {"time": time.strftime("%Y-%m-%d %H:%M:%S"), "results": results,
                         "note": "one process, shingling + signature + band keys + node rows"})


# ---------------------------------------------------------------------------------------------


def _tag_lang(doc):
    """Stand-in for language ID (not part of the dedup stage): 'ja' if the text has kana."""
    return doc.replace(lang="ja" if _KANA.search(doc.text) else "en")


def _run_pipeline(corpus: str, out: str, runner: str, read_only: bool, overrides: dict) -> float:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    from corpusflow.config.load import load_config
    from corpusflow.dedup.config import DedupStageConfig
    from corpusflow.run.rundir import plan_run
    from corpusflow.stages.dedup import Deduplicate
    from corpusflow.stages.read import ReadDocuments

    pcfg = load_config(data={"sources": [{"name": "web", "paths": [os.path.join(corpus, "web", "*.jsonl.gz")]}]})
    plan = plan_run(pcfg, out)
    opts = []
    if runner == "multi_processing":
        opts = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
    cfg = DedupStageConfig(enabled=True, **overrides)
    t0 = time.perf_counter()
    with beam.Pipeline(runner=FnApiRunner(), options=PipelineOptions(opts)) as p:
        docs = (p | "Read" >> ReadDocuments(plan.files, pcfg.sources, 2_000_000)).kept | "Lang" >> beam.Map(_tag_lang)
        if read_only:
            _ = docs | "Count" >> beam.combiners.Count.Globally() | beam.io.WriteToText(out + "/count")
        else:
            res = docs | "Dedup" >> Deduplicate(cfg, seed=1)
            _ = res.kept | "Ids" >> beam.Map(lambda d: d.id) | "WriteKept" >> beam.io.WriteToText(out + "/kept", file_name_suffix=".txt")
            _ = (
                res.duplicates
                | "DupRows" >> beam.Map(lambda r: json.dumps([r.doc.id, r.stage, r.kept_id, r.cluster_size, r.similarity]))
                | "WriteDups" >> beam.io.WriteToText(out + "/dups", file_name_suffix=".jsonl")
            )
    return time.perf_counter() - t0


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its waited-for children (multi_processing workers
    are counted once they exit). Under a loaded machine this is the fairer measure of work."""
    me, ch = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + ch.ru_utime + ch.ru_stime


def _count_lines(path: str) -> int:
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rt", encoding="utf-8") as f:
        return sum(1 for _ in f)


def bench_stage(args: argparse.Namespace) -> dict:
    overrides = json.loads(args.set) if args.set else {}
    out = args.out or f"/tmp/bench_dedup_{os.getpid()}"
    os.makedirs(out, exist_ok=True)
    n_docs = sum(_count_lines(f) for f in glob.glob(os.path.join(args.corpus, "web", "*.jsonl.gz")))
    read_s = None
    if not args.no_read_baseline:
        read_s = _run_pipeline(args.corpus, out + "/readonly", args.runner, True, overrides)
    cpu0 = _cpu_seconds()
    with MemWatch() as mw:
        total = _run_pipeline(args.corpus, out, args.runner, False, overrides)
    cpu = _cpu_seconds() - cpu0
    rec = {
        "time": time.strftime("%Y-%m-%d %H:%M:%S"), "corpus": args.corpus, "docs": n_docs,
        "runner": f"FnApiRunner {args.runner}", "config": overrides, "total_s": round(total, 1),
        "read_only_s": round(read_s, 1) if read_s is not None else None,
        "stage_s": round(total - read_s, 1) if read_s is not None else None,
        "docs_per_s": round(n_docs / total), "peak_rss_mb": round(mw.peak / 2**20),
        "cpu_s": round(cpu, 1), "load_avg_1m_after": round(os.getloadavg()[0], 2),
    }
    kept_files = glob.glob(out + "/kept*.txt")
    rec["kept"] = sum(_count_lines(f) for f in kept_files)
    if args.score:
        truth = os.path.join(args.corpus, "truth")
        res = subprocess.run(
            [sys.executable, str(SHARED / "bench/score_dedup.py"), "--truth", truth, "--kept", out + "/kept*.txt"],
            capture_output=True, text=True, check=False,
        )
        rec["score"] = json.loads(res.stdout.strip().splitlines()[-1])
    print(json.dumps(rec))
    _save("stage", rec)
    return rec


def bench_scaling(args: argparse.Namespace) -> None:
    rows = []
    for corpus in args.corpora:
        cmd = [sys.executable, __file__, "stage", "--corpus", corpus, "--runner", args.runner, "--score"]
        if args.set:
            cmd += ["--set", args.set]
        res = subprocess.run(cmd, capture_output=True, text=True, check=True)
        rec = json.loads(res.stdout.strip().splitlines()[-1])
        rows.append({k: rec[k] for k in ("docs", "total_s", "read_only_s", "stage_s", "cpu_s", "peak_rss_mb",
                                         "docs_per_s", "load_avg_1m_after")}
                    | {"recall": rec["score"]["recall"], "precision": rec["score"]["precision"]})
        print(json.dumps(rows[-1]), flush=True)
    _save("scaling", {"time": time.strftime("%Y-%m-%d %H:%M:%S"), "runner": args.runner, "rows": rows})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("signatures")
    s.add_argument("--docs", type=int, default=3000)
    s.add_argument("--repeats", type=int, default=3)
    st = sub.add_parser("stage")
    st.add_argument("--corpus", required=True)
    st.add_argument("--out")
    st.add_argument("--runner", default="in_memory", choices=["in_memory", "multi_processing"])
    st.add_argument("--set", help="JSON dict of DedupStageConfig overrides")
    st.add_argument("--score", action="store_true")
    st.add_argument("--no-read-baseline", action="store_true")
    sc = sub.add_parser("scaling")
    sc.add_argument("--corpora", nargs="+", required=True)
    sc.add_argument("--runner", default="in_memory", choices=["in_memory", "multi_processing"])
    sc.add_argument("--set")
    args = ap.parse_args()
    {"signatures": bench_signatures, "stage": bench_stage, "scaling": bench_scaling}[args.cmd](args)


if __name__ == "__main__":
    main()
