"""A Megatron export read back with Megatron-Core's own ``IndexedDataset`` (needs torch, so it
runs in another interpreter): set ``CORPUSFLOW_MEGATRON_PYTHON`` to a Python with
``megatron-core`` and torch (``pip install '.[megatron]'`` in a separate virtualenv) to run it;
without it the format is covered by ``test_export_megatron.py``'s byte-layout tests."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path

import pytest

from corpusflow.export.exporter import ExportOptions, export_run
from tests.export_run import make_run

REPO = Path(__file__).resolve().parents[1]
MEGATRON_PYTHON = os.environ.get("CORPUSFLOW_MEGATRON_PYTHON", "")

pytestmark = pytest.mark.skipif(not MEGATRON_PYTHON, reason="CORPUSFLOW_MEGATRON_PYTHON is not set")


def _bench_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("bench_export", REPO / "bench" / "bench_export.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize(("tokenizer", "per"), [("llm-jp-v3.1", "group"), ("llama3", "shard")])
def test_megatron_core_reads_the_export(tmp_path: Path, tokenizer: str, per: str) -> None:
    run = make_run(tmp_path / "run", tokenizer=tokenizer, n_docs=30)
    out = tmp_path / "mg"
    report = export_run(ExportOptions(run_dir=str(run), output=str(out), per=per))
    expected = tmp_path / "expected.npz"
    _bench_module().write_expected(str(run), report, str(expected), sample_per_dataset=1000, seed=0)
    p = subprocess.run([MEGATRON_PYTHON, str(REPO / "bench" / "megatron_readback.py"), str(out), str(expected)],
                       capture_output=True, text=True, timeout=300)
    res = json.loads(p.stdout)
    assert p.returncode == 0 and res["ok"], res
    manifest = json.loads((run / "manifest.json").read_text())
    assert res["documents"] == manifest["mixture"]["totals"]["rows"]
    assert res["tokens"] == manifest["mixture"]["totals"]["tokens"] + manifest["mixture"]["totals"]["rows"]
    assert all(d["sampled_documents"] == d["documents"] for d in res["datasets"])
