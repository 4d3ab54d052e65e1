"""``python -m build`` from a clean copy of the repository: what the sdist and the wheel hold.

The build runs in build's isolated environment (only ``[build-system] requires`` installed there,
so no ``wheel`` package is needed: setuptools >= 70.1 builds wheels itself), on a copy of the
repository so the work tree gets no ``build/`` or ``*.egg-info``. The wheel is built from the
sdist, as ``python -m build`` does by default, so both are checked at once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_SKIP = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", "*.pyc", "out",
                               ".pytest_cache", ".ruff_cache", ".hypothesis", "corpora", "work")

#: Files a worker needs from the wheel (read through pkg: paths).
REQUIRED = (
    "corpusflow/configs/pipelines/demo.yaml",
    "corpusflow/configs/recipes/README.md",
    "corpusflow/resources/lid.176.ftz",
    "corpusflow/resources/tokenizers/llm-jp-v3.1/llm-jp-tokenizer-100k.ver3.1.model",
    "corpusflow/resources/tokenizers/llama3/llama3.tiktoken",
    "corpusflow/resources/tld/llm_jp_valid_tlds.txt",
    "corpusflow/data/sample/ja_wiki.jsonl.gz",
    "corpusflow/data/sample/LICENSE.md",
    "corpusflow/filters/profiles/ja_web.yaml",
    "corpusflow/filters/wordlists/promo_ja.txt",
)


def _package_files() -> set[str]:
    """Every file of the corpusflow package in the repository (configs/ through its symlink)."""
    out = set()
    for root, dirs, files in os.walk(REPO / "corpusflow", followlinks=True):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        out.update(str((Path(root) / f).relative_to(REPO)) for f in files if not f.endswith(".pyc"))
    return out


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("src") / "corpusflow"
    shutil.copytree(REPO, src, symlinks=True, ignore=_SKIP)
    out = tmp_path_factory.mktemp("dist")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(src)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    wheel = next(out.glob("*.whl"))
    print(f"\npython -m build: {time.perf_counter() - start:.1f} s; wheel {wheel.stat().st_size:,} B")
    return out


@pytest.mark.slow
def test_wheel_holds_the_package_configs_and_resources_only(dist: Path) -> None:
    names = zipfile.ZipFile(next(dist.glob("corpusflow-*.whl"))).namelist()
    files = {n for n in names if ".dist-info/" not in n}
    assert [n for n in REQUIRED if n not in files] == []
    assert _package_files() - files == set()  # nothing of the package left out
    configs = {str(p.relative_to(REPO)) for p in (REPO / "configs").rglob("*") if p.is_file()}
    assert configs and {f"corpusflow/{c}" for c in configs} <= files
    assert {n.split("/")[0] for n in files} == {"corpusflow", "pipelines"}  # no tests/, bench/, docs/
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert any(n.endswith(".dist-info/entry_points.txt") for n in names)


@pytest.mark.slow
def test_sdist_ships_configs_as_files(dist: Path) -> None:
    with tarfile.open(next(dist.glob("corpusflow-*.tar.gz"))) as tar:
        members = {m.name.split("/", 1)[1]: m for m in tar.getmembers() if "/" in m.name}
    assert "pyproject.toml" in members
    demo = members.get("corpusflow/configs/pipelines/demo.yaml")
    assert demo is not None and demo.isfile()  # a file, not the repository's symlink
    assert not any(m.issym() for m in members.values())
    assert [n for n in REQUIRED if n not in members] == []
