"""The cold-start check: which kernel modules have no numba cache index as new as their source."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from corpusflow.core import jit


@pytest.mark.parametrize(
    ("index", "index_age", "cold"),
    [
        (None, 0, True),  # nothing cached
        ("mod.kernel-12.py311.nbi", +10, False),  # cached after the source was written
        ("mod.kernel-12.py311.nbi", -10, True),  # cached before the source changed
        ("other.kernel-3.py311.nbi", +10, True),  # another module's cache
    ],
)
def test_uncached_kernel_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, index: str | None,
                                 index_age: int, cold: bool) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    pkg = Path(os.path.dirname(os.path.dirname(os.path.abspath(jit.__file__))))
    source = pkg / "text" / "fasttext_infer.py"
    mtime = source.stat().st_mtime
    if index is not None:
        f = cache / "sub" / index.replace("mod", "fasttext_infer")
        f.parent.mkdir()
        f.write_bytes(b"")
        os.utime(f, (mtime + index_age, mtime + index_age))
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(cache))
    monkeypatch.delenv("CORPUSFLOW_NO_NUMBA", raising=False)
    assert jit.uncached_kernel_modules(["text/fasttext_infer.py"]) == (["text/fasttext_infer.py"] if cold else [])


def test_no_numba_means_nothing_to_compile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORPUSFLOW_NO_NUMBA", "1")
    assert jit.uncached_kernel_modules() == []
