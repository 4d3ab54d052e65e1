"""Test helpers importable from test modules (run the CLI in-process, read outputs)."""

from __future__ import annotations

import glob
import json
import os
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq


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
