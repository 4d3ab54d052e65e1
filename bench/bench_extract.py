"""Benchmarks of the Common Crawl input path. Not part of the test suite.

  python bench/bench_extract.py [--repeat 5] [--stage-pages 185]

Measures, on the shared sample WARCs (37 real HTML pages, 1.7 MB) and on Japanese pages built
from real Common Crawl text (../shared/data/ja/abeja_cc_ja.jsonl, 99 pages in a page template
with navigation and footer):

* read:    iter_warc over the two sample .warc.gz files (records and MB of HTML per second);
* decode:  decode_html for UTF-8 pages and for undeclared Shift_JIS / EUC-JP pages (detection);
* extract: trafilatura pages/s in process, through TimedExtractor (child process, per-page
           time limit) and with fast=True; wall time and CPU time (the machine is shared, so
           CPU-time rates are the stable figure: pages / CPU second of the process doing it);
* restart: cost of one timeout (the limit itself not counted: kill + fresh worker);
* stage:   the ExtractText stage on the FnApiRunner over N pages, minus the same pipeline
           without the stage (so the figure is the stage's own cost).

Results are appended to bench/results/extract.json with the load average before and after.
"""

from __future__ import annotations

import argparse
import html as html_lib
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
RESULTS = REPO / "bench" / "results"
sys.path.insert(0, str(REPO))


def _save(record: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "extract.json"
    data = json.loads(path.read_text()) if path.exists() else []
    data.append(record)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def warc_pages() -> list:
    from corpusflow.core.document import Document
    from corpusflow.io.warc import iter_warc

    docs = []
    for f in sorted((SHARED / "data" / "warc").glob("*.warc.gz")):
        docs += [d for d in iter_warc(str(f), "bench") if isinstance(d, Document)]
    return docs


def ja_pages() -> list[str]:
    with open(SHARED / "data" / "ja" / "abeja_cc_ja.jsonl", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    nav = "".join(f'<li><a href="/c/{i}">カテゴリ{i}</a></li>' for i in range(12))
    pages = []
    for i, r in enumerate(rows):
        body = "".join(f"<p>{html_lib.escape(x)}</p>\n" for x in r["text"].split("\n") if x.strip())
        pages.append(
            f'<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8"><title>記事{i} | サンプルサイト</title>'
            f"</head><body><header><ul>{nav}</ul></header><main><article><h1>記事{i}</h1>{body}</article>"
            f'</main><aside><h2>人気の記事</h2><ul>{nav}</ul></aside><footer>Copyright © サンプル '
            "All rights reserved.</footer></body></html>"
        )
    return pages


def bench_read(repeat: int) -> dict:
    from corpusflow.io.warc import iter_warc

    files = sorted((SHARED / "data" / "warc").glob("*.warc.gz"))
    t0, c0 = time.perf_counter(), time.process_time()
    n = html_bytes = 0
    for _ in range(repeat):
        for f in files:
            for d in iter_warc(str(f), "bench"):
                n += 1
                html_bytes += d.meta.get("html_bytes", 0)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    gz = sum(f.stat().st_size for f in files) * repeat
    return {"records": n, "html_mb": round(html_bytes / 1e6, 2), "wall_s": round(wall, 3),
            "records_per_s_wall": round(n / wall, 1), "records_per_cpu_s": round(n / cpu, 1),
            "html_mb_per_cpu_s": round(html_bytes / 1e6 / cpu, 2), "warc_gz_mb_per_cpu_s": round(gz / 1e6 / cpu, 2)}


def bench_decode(ja: list[str], repeat: int) -> dict:
    from corpusflow.text.html import decode_html

    out = {}
    for label, codec in (("utf8", "utf-8"), ("shift_jis_undeclared", "cp932"), ("euc_jp_undeclared", "euc_jp")):
        bodies = [p.replace('<meta charset="utf-8">', "").encode(codec, "xmlcharrefreplace") for p in ja]
        c0 = time.process_time()
        for _ in range(repeat):
            for b in bodies:
                d = decode_html(b)
                assert d.charset == codec, (label, d.charset)
        cpu = time.process_time() - c0
        mb = sum(len(b) for b in bodies) * repeat / 1e6
        out[label] = {"pages_per_cpu_s": round(len(bodies) * repeat / cpu, 1), "mb_per_cpu_s": round(mb / cpu, 1)}
    return out


def bench_extract(pages: list[str], repeat: int, label: str) -> dict:
    from corpusflow.text.html import InProcessExtractor, TimedExtractor, TrafilaturaOptions

    out: dict = {"pages": len(pages) * repeat, "html_mb": round(sum(map(len, pages)) * repeat / 1e6, 2)}
    for name, opts in (("default", TrafilaturaOptions()), ("fast", TrafilaturaOptions(fast=True))):
        ext = InProcessExtractor(opts)
        ext.extract(pages[0])
        t0, c0 = time.perf_counter(), time.process_time()
        times = []
        for _ in range(repeat):
            for p in pages:
                times.append(ext.extract(p).seconds)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        times.sort()
        out[f"inprocess_{name}"] = {
            "pages_per_s_wall": round(len(times) / wall, 1), "pages_per_cpu_s": round(len(times) / cpu, 1),
            "page_ms_p50": round(1000 * times[len(times) // 2], 1),
            "page_ms_p99": round(1000 * times[int(len(times) * 0.99)], 1),
            "page_ms_max": round(1000 * times[-1], 1),
        }
    # CPU of a worker that starts, warms up and stops (counted in RUSAGE_CHILDREN on exit).
    cc0 = _children_cpu()
    idle = TimedExtractor(TrafilaturaOptions(), timeout_s=10.0, memory_mb=4096)
    idle.extract("<html><body><p>x</p></body></html>")
    idle.close()
    startup_cpu = _children_cpu() - cc0
    ext = TimedExtractor(TrafilaturaOptions(), timeout_s=10.0, memory_mb=4096)
    ext.extract(pages[0])  # start the worker outside the timing
    cc0 = _children_cpu()
    t0, c0 = time.perf_counter(), time.process_time()
    n = 0
    for _ in range(repeat):
        for p in pages:
            assert ext.extract(p).status == "ok"
            n += 1
    wall, parent_cpu = time.perf_counter() - t0, time.process_time() - c0
    ext.close()  # the child's CPU time is counted once it has exited
    child_cpu = max(1e-6, _children_cpu() - cc0 - startup_cpu)
    out["subprocess_default"] = {
        "pages_per_s_wall": round(n / wall, 1), "pages_per_cpu_s": round(n / (parent_cpu + child_cpu), 1),
        "parent_cpu_share": round(parent_cpu / (parent_cpu + child_cpu), 3),
        "worker_startup_cpu_s": round(startup_cpu, 2),
    }
    print(f"  extract[{label}]: {json.dumps(out)}", flush=True)
    return out


def bench_restart(pages: list[str]) -> dict:
    from corpusflow.text.html import TimedExtractor, TrafilaturaOptions

    slow = "<html><body>" + "".join(f"<div><p>段落{i}の文章です。</p></div>" for i in range(40_000)) + "</body></html>"
    ext = TimedExtractor(TrafilaturaOptions(), timeout_s=0.2)
    ext.extract(pages[0])
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        assert ext.extract(slow).status == "timeout"
        t1 = time.perf_counter()
        assert ext.extract(pages[1]).status == "ok"
        runs.append({"timeout_call_s": round(t1 - t0, 3), "next_page_with_restart_s": round(time.perf_counter() - t1, 3)})
    ext.close()
    return {"timeout_s": 0.2, "runs": runs}


def bench_stage(docs: list, n_pages: int) -> dict:
    import apache_beam as beam
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    from corpusflow.stages.chain import DocumentStages
    from corpusflow.steps.extract import ExtractStep
    from corpusflow.text.config import ExtractConfig

    items = [docs[i % len(docs)].replace(id=f"p{i}") for i in range(n_pages)]

    def run(with_stage: bool) -> float:
        t0 = time.perf_counter()
        with beam.Pipeline(runner=FnApiRunner()) as p:
            pc = p | beam.Create(items)
            if with_stage:
                pc = (pc | DocumentStages([ExtractStep(ExtractConfig())])).kept
            _ = pc | beam.Map(lambda d: len(d.text)) | beam.combiners.Count.Globally()
        return time.perf_counter() - t0

    run(False)  # warm imports
    base = run(False)
    cc0 = _children_cpu()
    full = run(True)
    child_cpu = _children_cpu() - cc0
    return {"pages": n_pages, "pipeline_s": round(full, 2), "baseline_pipeline_s": round(base, 2),
            "stage_pages_per_s_wall": round(n_pages / max(full - base, 1e-6), 1),
            "extraction_child_cpu_s_incl_worker_start": round(child_cpu, 2),
            "pages_per_child_cpu_s": round(n_pages / child_cpu, 1) if child_cpu else None}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--stage-pages", type=int, default=185)
    args = ap.parse_args()

    import trafilatura
    import warcio

    load0 = os.getloadavg()
    record: dict = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"), "machine": {
            "cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "trafilatura": trafilatura.__version__, "warcio": getattr(warcio, "__version__", "?")},
        "load_avg_before": [round(x, 2) for x in load0],
    }
    docs = warc_pages()
    ja = ja_pages()
    print(f"{len(docs)} WARC pages, {len(ja)} Japanese pages; load {load0}", flush=True)
    record["read"] = bench_read(args.repeat * 4)
    print(f"  read: {record['read']}", flush=True)
    record["decode"] = bench_decode(ja, args.repeat)
    print(f"  decode: {record['decode']}", flush=True)
    record["extract_warc_en"] = bench_extract([d.text for d in docs], args.repeat, "warc_en")
    record["extract_ja"] = bench_extract(ja, max(1, args.repeat // 2), "ja")
    record["restart"] = bench_restart(ja)
    print(f"  restart: {record['restart']}", flush=True)
    record["stage"] = bench_stage(docs, args.stage_pages)
    print(f"  stage: {record['stage']}", flush=True)
    record["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
    _save(record)
    print(json.dumps(record, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
