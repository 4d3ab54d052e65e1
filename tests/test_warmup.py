"""``python -m corpusflow.run.warmup`` fills numba's cache with every kernel a pipeline run needs.

Each step is a separate process sharing one fresh ``NUMBA_CACHE_DIR``, as the image build
(deploy/dataflow/Dockerfile) and then a worker would: the warm-up compiles every kernel, a second
``--check`` process loads them all, and a demo run afterwards compiles nothing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_LINE = re.compile(r"^(\S+)\s+(\d+) signature\(s\): (\d+) from the cache, (\d+) compiled$")


def _kernel_modules_in_source() -> set[str]:
    """Modules that compile a kernel with numba (``njit(`` outside comments and docstrings' quotes)."""
    out = set()
    for path in (REPO / "corpusflow").rglob("*.py"):
        code = [ln for ln in path.read_text(encoding="utf-8").splitlines() if not ln.lstrip().startswith("#")]
        if any(re.search(r"\bnjit\(", ln) and "``" not in ln for ln in code):
            out.add(".".join(path.relative_to(REPO).with_suffix("").parts))
    return out


def test_every_kernel_module_is_warmed() -> None:
    from corpusflow.run import warmup

    names = warmup.kernels()
    assert names, "numba is a dependency: kernels() must not be empty"
    modules = {d.py_func.__module__ for d in names.values()}
    assert _kernel_modules_in_source() == modules


def _run(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *argv], cwd=REPO, env=env, capture_output=True, text=True, timeout=900)


def _stats(stdout: str) -> dict[str, tuple[int, int, int]]:
    return {m[1]: (int(m[2]), int(m[3]), int(m[4])) for m in map(_LINE.match, stdout.splitlines()) if m}


_DEMO_THEN_STATS = """
import json, sys
from corpusflow.cli import main
from corpusflow.run.warmup import cache_stats
rc = main(["run", "pkg:configs/pipelines/demo.yaml", "--output", sys.argv[1], "--quiet", "--progress", "off"])
print(json.dumps({"rc": rc, "stats": cache_stats()}))
"""


@pytest.mark.slow
def test_warmup_fills_the_cache_for_a_real_run(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("CORPUSFLOW_NO_NUMBA", "NUMBA_DISABLE_JIT")}
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "numba")
    cold = _run(env, "-m", "corpusflow.run.warmup", "--check")
    stats = _stats(cold.stdout)
    assert cold.returncode == 1 and "compiled, not loaded from the cache" in cold.stderr, cold.stderr[-2000:]
    assert len(stats) == 17 and all(sigs >= 1 and misses >= 1 for sigs, _, misses in stats.values()), stats
    assert any((tmp_path / "numba").rglob("*.nbc"))

    warm = _run(env, "-m", "corpusflow.run.warmup", "--check")
    assert warm.returncode == 0, warm.stderr[-2000:]
    stats = _stats(warm.stdout)
    assert all(misses == 0 for _, _, misses in stats.values()) and sum(h for _, h, _ in stats.values()) >= 14

    run = _run(env, "-c", _DEMO_THEN_STATS, str(tmp_path / "out"))
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["rc"] == 0
    compiled = {k: v for k, v in result["stats"].items() if v[2]}
    assert compiled == {}, compiled  # the demo run compiled nothing
    assert {k for k, v in result["stats"].items() if v[1]} >= {"fasttext_infer", "dedup.minhash",
                                                                "dedup.ngram_hashes", "filters.kw_find"}
