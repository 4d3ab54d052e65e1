"""Shared fixtures: data paths (from tests/helpers.py), JSONL helpers, the lid.176 model, and the
``shared_data`` marker's skip when ../shared is absent."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from tests.helpers import FIXTURES, REPO, SAMPLE, SHARED, SHARED_DATA, SHARED_REASON, have_shared

__all__ = ["FIXTURES", "REPO", "SAMPLE", "SHARED", "SHARED_DATA", "read_jsonl", "write_jsonl"]


def pytest_collection_modifyitems(config, items) -> None:
    """Tests that use the ``shared_data`` fixture get the ``shared_data`` marker (so
    ``-m "not shared_data"`` leaves them out); marked tests are skipped when ../shared is absent."""
    skip = pytest.mark.skip(reason=SHARED_REASON)
    present = have_shared()
    for item in items:
        if "shared_data" in getattr(item, "fixturenames", ()) and item.get_closest_marker("shared_data") is None:
            item.add_marker(pytest.mark.shared_data)
        if not present and item.get_closest_marker("shared_data") is not None:
            item.add_marker(skip)


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
    if not have_shared():
        pytest.skip(SHARED_REASON)
    return SHARED_DATA


@pytest.fixture(scope="session")
def langid_model():
    from corpusflow.core.paths import resolve_path
    from corpusflow.text.langid import FastTextLangId

    return FastTextLangId(resolve_path("pkg:resources/lid.176.ftz"))
