#!/usr/bin/env python3
"""Benchmark the quality-filter chains (single process) and compare with HojiChar.

Documents come from ``/work/shared/bench/make_corpus.py`` (real JA/EN text with web-like noise and
near-duplicates); each is normalised as the pipeline does (NFC) and tagged with its true language.
For every profile the chain runs in ``filter`` mode exactly as the Beam DoFn does (run + building
the signals dict), timed with process CPU time (the machine is shared; wall time is recorded too).

Sets: ``ja_2kb`` (Japanese documents of 1.5-2.5 KB UTF-8), ``ja_all``, ``en_all``.

HojiChar (``pip install hojichar`` in a separate venv, never in the system python) runs its
own filters that correspond to ours on the same documents, in the same filter (stop at first
rejection) mode:

* ``hojichar_ja_web_equivalent``: DocumentLengthFilter(200), AcceptJapanese, NgWordsFilterJa x3
  (ignore_confused), DiscardAds, DiscardBBSComments, SingleCharacterRepetitionFilter,
  CharRepetitionRatioFilter, DiscardTooShortLines, DiscardTooManyEndingEllipsis — the parts of
  ja_web HojiChar has (ja_web does more: Swallow composition/sentence/duplicate rules and the
  promotional vocabulary), so the comparison favours HojiChar;
* ``hojichar_llmjp``: the llm-jp v1 filters HojiChar implements (AcceptJapanese, DiscardAds(10),
  NgWordsFilterJa x3, DiscardRareKuten(250)), against our ``ja_llmjp`` without its compression
  rule (llm-jp's own code, not HojiChar's).

The rules' compiled kernels (numba) are used unless ``CORPUSFLOW_NO_NUMBA=1`` (then the numpy
code runs); the report says which (``kernels``).

Usage::

    python bench/bench_filters.py [--corpus bench/corpora/filters20k] [--docs 20000]
        [--hojichar-python /work/benchenv/hojichar/bin/python] [--out bench/results/filters.json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MAKE_CORPUS = Path("/work/shared/bench/make_corpus.py")

HOJICHAR_SCRIPT = r"""
import json, sys, time
from hojichar import Compose, Document
from hojichar.filters import document_filters as df
texts = [json.loads(l)["text"] for l in open(sys.argv[1], encoding="utf-8")]
which = sys.argv[2]
repeats = int(sys.argv[3])
def chain():
    if which == "hojichar_ja_web_equivalent":
        return Compose([
            df.DocumentLengthFilter(min_doc_len=200),
            df.AcceptJapanese(),
            df.DiscardAdultContentJa(ignore_confused=True),
            df.DiscardDiscriminationContentJa(ignore_confused=True),
            df.DiscardViolenceContentJa(ignore_confused=True),
            df.DiscardAds(max_allowed_num=10),
            df.DiscardBBSComments(max_allowed_num=14),
            df.SingleCharacterRepetitionFilter(threshold=200),
            df.CharRepetitionRatioFilter(threshold=0.33, ngram_size=5),
            df.DiscardTooShortLines(threshold=0.5),
            df.DiscardTooManyEndingEllipsis(threshold=0.7),
        ])
    if which == "hojichar_llmjp":
        return Compose([
            df.AcceptJapanese(),
            df.DiscardAds(max_allowed_num=10),
            df.DiscardAdultContentJa(ignore_confused=True),
            df.DiscardDiscriminationContentJa(ignore_confused=True),
            df.DiscardViolenceContentJa(ignore_confused=True),
            df.DiscardRareKuten(max_average_sentence_length=250),
        ])
    raise SystemExit("unknown chain " + which)
c = chain()
best_cpu = best_wall = float("inf")
rejected = 0
for _ in range(repeats):
    w0, c0 = time.perf_counter(), time.process_time()
    rejected = 0
    for t in texts:
        rejected += c.apply(Document(t)).is_rejected
    best_cpu = min(best_cpu, time.process_time() - c0)
    best_wall = min(best_wall, time.perf_counter() - w0)
print(json.dumps({"docs": len(texts), "cpu_s": best_cpu, "wall_s": best_wall, "rejected": rejected}))
"""


def load_corpus(corpus: Path) -> dict[str, list[str]]:
    from corpusflow.text.normalize import normalize_text

    truth = {}
    with gzip.open(corpus / "truth" / "docs.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            truth[r["id"]] = r["lang"]
    sets: dict[str, list[str]] = {"ja_all": [], "en_all": []}
    for part in sorted((corpus / "web").glob("*.jsonl.gz")):
        with gzip.open(part, "rt", encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                lang = truth.get(r["id"])
                if lang in ("ja", "en"):
                    sets[f"{lang}_all"].append(normalize_text(r["text"]))
    sets["ja_2kb"] = [t for t in sets["ja_all"] if 1536 <= len(t.encode("utf-8")) <= 2560]
    return sets


def time_chain(chain, texts: list[str], repeats: int) -> dict:
    best_cpu = best_wall = float("inf")
    rejected = 0
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        rejected = 0
        for t in texts:
            res = chain.run(t)
            res.signals  # noqa: B018 - the DoFn builds the signals dict for kept documents
            rejected += not res.keep
        best_cpu = min(best_cpu, time.process_time() - c0)
        best_wall = min(best_wall, time.perf_counter() - w0)
    return {"docs": len(texts), "cpu_s": best_cpu, "wall_s": best_wall, "rejected": rejected}


def finish(row: dict, texts: list[str]) -> dict:
    row["docs_per_s_cpu"] = round(row["docs"] / row["cpu_s"], 1)
    row["docs_per_s_wall"] = round(row["docs"] / row["wall_s"], 1)
    row["mean_utf8_bytes"] = round(sum(len(t.encode("utf-8")) for t in texts) / max(len(texts), 1))
    row["rejected_share"] = round(row["rejected"] / max(row["docs"], 1), 4)
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=str(REPO / "bench" / "corpora" / "filters20k"))
    ap.add_argument("--docs", type=int, default=20000, help="corpus size if it must be generated")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-docs", type=int, default=3000, help="documents per set and timing")
    ap.add_argument("--hojichar-python", default="/work/benchenv/hojichar/bin/python")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "filters.json"))
    args = ap.parse_args()

    corpus = Path(args.corpus)
    if not (corpus / "truth" / "docs.jsonl.gz").is_file():
        subprocess.run([sys.executable, str(MAKE_CORPUS), "--out", str(corpus), "--docs", str(args.docs),
                        "--seed", "1"], check=True)
    sets = {k: v[: args.max_docs] for k, v in load_corpus(corpus).items()}

    from corpusflow.filters.profiles import build_chain
    from corpusflow.filters.text import warm_up_kernels

    # compiled kernels (numba) unless CORPUSFLOW_NO_NUMBA=1; compiled before any timing
    kernel_path = "numba" if warm_up_kernels() else "numpy"
    print(f"filter kernels: {kernel_path}", flush=True)

    load_before = os.getloadavg()
    results: dict[str, dict] = {}
    plan = [("ja_web", "ja", "ja_2kb"), ("ja_web", "ja", "ja_all"), ("en_web", "en", "en_all"),
            ("ja_swallow", "ja", "ja_2kb"), ("ja_llmjp", "ja", "ja_2kb")]
    for profile, lang, set_name in plan:
        chain = build_chain(profile, lang=lang).setup()
        row = finish(time_chain(chain, sets[set_name], args.repeats), sets[set_name])
        results[f"{profile}/{set_name}"] = row
        print(f"{profile:12s} {set_name:7s} {row['docs_per_s_cpu']:8.1f} docs/s (CPU)  "
              f"{row['docs_per_s_wall']:8.1f} docs/s (wall)  {row['mean_utf8_bytes']} B/doc  "
              f"rejected {row['rejected_share']:.1%}", flush=True)
    # our llm-jp chain without the compression rule, to compare with HojiChar's llm-jp filters
    chain = build_chain("ja_llmjp", lang="ja")
    chain.steps = [s for s in chain.steps if s.id != "text.compression_ratio"]
    chain.setup()
    row = finish(time_chain(chain, sets["ja_2kb"], args.repeats), sets["ja_2kb"])
    results["ja_llmjp_hojichar_rules/ja_2kb"] = row
    print(f"ja_llmjp (HojiChar rules only) ja_2kb {row['docs_per_s_cpu']:8.1f} docs/s (CPU)", flush=True)

    hoji: dict[str, dict] = {}
    if Path(args.hojichar_python).is_file():
        with tempfile.TemporaryDirectory() as tmp:
            for set_name in ("ja_2kb",):
                path = Path(tmp) / f"{set_name}.jsonl"
                path.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in sets[set_name]),
                                encoding="utf-8")
                for which in ("hojichar_ja_web_equivalent", "hojichar_llmjp"):
                    out = subprocess.run([args.hojichar_python, "-c", HOJICHAR_SCRIPT, str(path), which,
                                          str(args.repeats)], check=True, capture_output=True, text=True)
                    row = finish(json.loads(out.stdout.strip().splitlines()[-1]), sets[set_name])
                    hoji[f"{which}/{set_name}"] = row
                    print(f"{which:28s} {set_name:7s} {row['docs_per_s_cpu']:8.1f} docs/s (CPU)  "
                          f"rejected {row['rejected_share']:.1%}", flush=True)
        ver = subprocess.run([args.hojichar_python, "-m", "pip", "show", "hojichar"], capture_output=True, text=True)
        hoji_version = next((ln.split(":", 1)[1].strip() for ln in ver.stdout.splitlines() if ln.startswith("Version")), "?")
    else:
        hoji_version = None
        print(f"HojiChar venv not found at {args.hojichar_python}; skipping the comparison")

    speedups = {}
    if hoji:
        ours = results["ja_web/ja_2kb"]["docs_per_s_cpu"]
        speedups["ja_web_vs_hojichar_ja_web_equivalent"] = round(ours / hoji["hojichar_ja_web_equivalent/ja_2kb"]["docs_per_s_cpu"], 2)
        ours_l = results["ja_llmjp_hojichar_rules/ja_2kb"]["docs_per_s_cpu"]
        speedups["ja_llmjp_rules_vs_hojichar_llmjp"] = round(ours_l / hoji["hojichar_llmjp/ja_2kb"]["docs_per_s_cpu"], 2)
        for k, v in speedups.items():
            print(f"speed-up {k}: {v}x")
    report = {
        "what": "single-process filter-chain throughput, filter mode, make_corpus.py documents (NFC-normalised)",
        "corpus": str(corpus),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "loadavg_before": [round(x, 2) for x in load_before],
                    "loadavg_after": [round(x, 2) for x in os.getloadavg()]},
        "timing": "best of --repeats; docs_per_s_cpu uses process CPU time (the machine is shared)",
        "kernels": kernel_path,
        "corpusflow": results,
        "hojichar": {"version": hoji_version, "results": hoji},
        "speedups": speedups,
        "target": "ja_web >= 3000 docs/s per core on ~2 KB documents and >= 2x HojiChar's equivalent filters",
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
