"""Rebuilds the embedded demo sample from ../shared/data (run from the repo root).

    python corpusflow/data/sample/build_sample.py ../shared/data

Deterministic: takes every k-th record of each source file, keeps the original field names
(they differ per source, as in the wild), and adds a few verbatim copies of kept records under
new ids so the dedup stage has something to find. No text is written by hand.
"""

from __future__ import annotations

import gzip
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# (output file, input file, how many, take every k-th, copies to add)
PLAN = [
    ("ja_wiki.jsonl.gz", "ja/ja_wiki_paragraphs.jsonl.gz", 120, 97, 0),
    ("ja_cc.jsonl.gz", "ja/abeja_cc_ja.jsonl", 60, 1, 6),
    ("ja_mc4_labelled.jsonl.gz", "ja/mc4ja_quality_labels.dev.jsonl", 80, 10, 0),
    ("ja_aozora.jsonl.gz", "ja/aozora_dev.jsonl.gz", 12, 60, 0),
    ("ja_react_docs.jsonl.gz", "mixed/ja_react_docs.jsonl", 30, 7, 0),
    ("en_c4.jsonl.gz", "en/c4_sample.jsonl.gz", 100, 10, 5),
    ("en_cc_raw.jsonl.gz", "en/cc_main_raw_multilingual.jsonl.gz", 60, 11, 0),
]


def read(path: str):
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def main(shared_data: str) -> None:
    for out, src, n, k, copies in PLAN:
        rows = [r for i, r in enumerate(read(os.path.join(shared_data, src))) if i % k == 0][:n]
        for j in range(copies):
            dup = dict(rows[j])
            for key in ("id", "sample_id"):
                if key in dup:
                    dup[key] = f"{dup[key]}-copy{j}"
            rows.append(dup)
        with gzip.GzipFile(os.path.join(HERE, out), "wb", mtime=0) as f:
            for r in rows:
                f.write((json.dumps(r, ensure_ascii=False) + "\n").encode("utf-8"))
        print(out, len(rows))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
