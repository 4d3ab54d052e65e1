#!/usr/bin/env python3
"""Compare a filter profile's speed between two checkouts, in alternating pairs.

On a shared machine one timing of each version says little (the same code moves by 10-20%
between runs minutes apart). This script runs the two versions one after the other, ``--pairs``
times, each in its own process (so each imports its own ``corpusflow``), and prints every run
and the medians. Each run times the profile in ``filter`` mode, as the Beam DoFn runs it, over
the ~2 KB Japanese documents of a ``make_corpus.py`` corpus, with ``bench_filters``' own loader
and timing loop (``load_corpus``, ``time_chain``: best of ``--repeats`` passes of process CPU
time, after a warm-up), so the figure is docs/s per core. Take it under the bench lock.

Usage::

    git archive BASE | tar -x -C /tmp/base
    flock /tmp/corpusflow-bench.lock python bench/compare_filter_speed.py /tmp/base . \\
        --corpus /work/benchdata/scale_25k --pairs 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

# One timing in a fresh process: bench_filters' own corpus loader, kernel warm-up and timing loop
# (chain.run + the signals dict, as the DoFn does; best of ``repeats`` passes of process CPU time).
_CHILD = r"""
import json, sys
from pathlib import Path
repo, corpus, profile, lang, set_name, max_docs, repeats = sys.argv[1:8]
sys.path[:0] = [repo, repo + "/bench"]
import bench_filters
import corpusflow
from corpusflow.filters.profiles import build_chain
from corpusflow.filters.text import warm_up_kernels
texts = bench_filters.load_corpus(Path(corpus))[set_name][: int(max_docs)]
warm_up_kernels()
chain = build_chain(profile, lang=lang).setup()
bench_filters.time_chain(chain, texts[:200], 1)
row = bench_filters.finish(bench_filters.time_chain(chain, texts, int(repeats)), texts)
print(json.dumps({"docs_per_s": row["docs_per_s_cpu"], "module": corpusflow.__file__}))
"""


def run_once(repo: Path, args: argparse.Namespace) -> float:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(repo), args.corpus, args.profile, args.lang, args.set,
         str(args.max_docs), str(args.repeats)],
        cwd=repo, check=True, capture_output=True, text=True,
    ).stdout
    row = json.loads(out.strip().splitlines()[-1])
    if not row["module"].startswith(str(repo)):
        raise SystemExit(f"{repo}: imported corpusflow from {row['module']}, not from this checkout")
    return float(row["docs_per_s"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("base", type=Path, help="checkout of the version compared against")
    ap.add_argument("head", type=Path, help="checkout of the version measured")
    ap.add_argument("--corpus", default="/work/benchdata/scale_25k", help="make_corpus.py corpus")
    ap.add_argument("--profile", default="ja_web")
    ap.add_argument("--lang", default="ja")
    ap.add_argument("--set", default="ja_2kb", help="document set of bench_filters.load_corpus")
    ap.add_argument("--max-docs", type=int, default=3000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--pairs", type=int, default=5)
    args = ap.parse_args()
    base, head = args.base.resolve(), args.head.resolve()
    runs: dict[str, list[float]] = {"base": [], "head": []}
    for i in range(args.pairs):
        order = [("base", base), ("head", head)] if i % 2 == 0 else [("head", head), ("base", base)]
        for name, repo in order:
            runs[name].append(run_once(repo, args))
            print(f"pair {i + 1}: {name} {runs[name][-1]:,.0f} docs/s per core", flush=True)
    mb, mh = statistics.median(runs["base"]), statistics.median(runs["head"])
    print(f"{args.profile} on {args.set}: median base {mb:,.0f}, head {mh:,.0f} docs/s per core "
          f"({(mh / mb - 1) * 100:+.1f}%), {args.pairs} alternating pairs")


if __name__ == "__main__":
    main()
