"""Shared fixtures: paths to ../shared/data and a helper to run pipelines on the FnApiRunner."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SHARED_DATA = SHARED / "data"



def read_jsonl(path: Path | str, limit: int | None = None) -> list[dict]:
    path = str(path)
    op = gzip.open if path.endswith(".gz") else open
    out = []
    with op(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                out.append(json.loads(line))
                if limit is not None and len(out) >= limit:
                    break
    return out


def write_jsonl(path: Path, rows: list[dict], *, compress: str | None = None) -> Path:
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    if compress == "gz":
        data = gzip.compress(data, mtime=0)
    elif compress == "zst":
        import zstandard

        data = zstandard.ZstdCompressor().compress(data)
    elif compress == "bz2":
        import bz2

        data = bz2.compress(data)
    path.write_bytes(data)
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not available")
    return SHARED_DATA


@pytest.fixture(scope="session")
def langid_model():
    from corpusflow.core.paths import resolve_path
    from corpusflow.text.langid import FastTextLangId

    return FastTextLangId(resolve_path("pkg:resources/lid.176.ftz"))
