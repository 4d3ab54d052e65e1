"""Test helpers importable from test modules (run the CLI in-process, read outputs) and the one
place that says where the test data lives.

Two sources of real text:

* ``FIXTURES`` (``tests/fixtures``): a small sample of the shared corpora, shipped in the
  repository, so the unit tests run in a fresh clone (see ``tests/fixtures/LICENSE.md``).
* ``SHARED_DATA`` (``../shared/data`` beside the repository, or ``$CORPUSFLOW_SHARED/data``):
  the full corpora, bench scripts and resources. Tests that need them carry the
  ``shared_data`` marker and are skipped when the folder is absent. Setting
  ``CORPUSFLOW_SHARED=/nonexistent`` shows what a clone without it runs.
"""

from __future__ import annotations

import glob
import json
import os
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CORPUSFLOW_SHARED") or REPO.parent / "shared")
SHARED_DATA = SHARED / "data"
FIXTURES = REPO / "tests" / "fixtures"
SAMPLE = REPO / "corpusflow" / "data" / "sample"
SHARED_REASON = f"needs the shared corpora at {SHARED_DATA} (absent; set CORPUSFLOW_SHARED to its parent)"


def have_shared() -> bool:
    return SHARED_DATA.is_dir()


def run_cli(*argv: str) -> int:
    from corpusflow.cli import main

    return main([str(a) for a in argv])


def read_parquet_rows(pattern: str | Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for f in sorted(glob.glob(str(pattern))):
        rows.extend(pq.read_table(f).to_pylist())
    return rows


def load_manifest(out: Path | str) -> dict[str, Any]:
    with open(os.path.join(out, "manifest.json"), encoding="utf-8") as f:
        return json.load(f)


def fixture(rel: str) -> Path:
    """The shipped sample of ``../shared/data/<rel>``: ``tests/fixtures/<rel>`` (gzip-compressed;
    see tests/fixtures/LICENSE.md); the ABEJA Common Crawl pages and the React docs come from the
    package's embedded sample (corpusflow/data/sample: abeja's first 60 records and every 7th
    React page, in source order)."""
    embedded = {"ja/abeja_cc_ja.jsonl": "ja_cc.jsonl.gz", "mixed/ja_react_docs.jsonl": "ja_react_docs.jsonl.gz"}
    if rel in embedded:
        return SAMPLE / embedded[rel]
    path = FIXTURES / (rel if rel.endswith(".gz") else rel + ".gz")
    if not path.is_file():
        raise FileNotFoundError(f"no fixture for {rel} (tests/fixtures/build_fixtures.py lists them)")
    return path
