"""Language ID cost per document: the fastText binding against the compiled inference.

    python bench/bench_langid.py [--corpus /work/benchdata/c100k_s1] [--docs 2000]

Each document is prepared as the stage prepares it (normalised, first ``max_chars`` characters
on one line) and labelled top-5 by both backends of :class:`corpusflow.text.langid.FastTextLangId`.
Reports process CPU µs per document over the whole set (best of ``--repeats``) and the sum of
per-document minima (robust on a shared machine), and checks that both backends return the same
labels and probabilities for every document. Writes bench/results/langid.json.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from measure import HERE, machine

from corpusflow.core.paths import resolve_path
from corpusflow.text.langid import FastTextLangId, prepare_text
from corpusflow.text.normalize import normalize_text


def load_lines(corpus: str, n: int, max_chars: int) -> list[str]:
    lines: list[str] = []
    for path in sorted(glob.glob(os.path.join(corpus, "web", "*.jsonl.gz"))):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for raw in f:
                lines.append(prepare_text(normalize_text(json.loads(raw)["text"]), max_chars))
                if len(lines) >= n:
                    return lines
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="/work/benchdata/c100k_s1", help="make_corpus.py output folder")
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--max-chars", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "langid.json"))
    args = ap.parse_args()
    lines = load_lines(args.corpus, args.docs, args.max_chars)
    model = resolve_path("pkg:resources/lid.176.ftz")
    backends = {"binding": FastTextLangId(model, backend="binding"), "numba": FastTextLangId(model, backend="numba")}
    preds = {name: [m.predict(line, 5) for line in lines] for name, m in backends.items()}
    same = sum(a == b for a, b in zip(preds["binding"], preds["numba"], strict=True))
    res: dict = {"machine": machine(), "corpus": args.corpus, "docs": len(lines), "max_chars": args.max_chars,
                 "identical_top5": same, "backends": {}}
    for name, m in backends.items():
        whole = []
        for _ in range(args.repeats):
            t = time.process_time()
            for line in lines:
                m.predict(line, 5)
            whole.append((time.process_time() - t) / len(lines) * 1e6)
        mins = 0.0
        for line in lines[:500]:
            best = 1e9
            for _ in range(7):
                t0 = time.perf_counter()
                m.predict(line, 5)
                best = min(best, time.perf_counter() - t0)
            mins += best
        res["backends"][name] = {"cpu_us_per_doc_best": round(min(whole), 1),
                                 "cpu_us_per_doc_runs": [round(x, 1) for x in whole],
                                 "sum_of_min_us_per_doc": round(mins / min(500, len(lines)) * 1e6, 1)}
        print(name, json.dumps(res["backends"][name]))
    print(f"identical top-5 labels and probabilities: {same} / {len(lines)}")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(res, f, indent=2)
    if same != len(lines):
        raise SystemExit("backends disagree")


if __name__ == "__main__":
    main()
