"""A file that was not read to its end fails the run (with its loss in errors/), unless allowed."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from tests.helpers import run_cli

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "configs" / "pipelines" / "demo.yaml"
TEXT = ("吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。何でも薄暗いじめじめした所で"
        "ニャーニャー泣いていた事だけは記憶している。")


def _inputs(d: Path) -> Path:
    d.mkdir()
    rows = "".join(json.dumps({"id": f"d{i}", "text": f"{i}: {TEXT}"}, ensure_ascii=False) + "\n" for i in range(300))
    whole = gzip.compress(rows.encode(), mtime=0)
    (d / "whole.jsonl.gz").write_bytes(whole)
    (d / "cut.jsonl.gz").write_bytes(whole[: len(whole) // 2])  # a download that stopped half-way
    return d


@pytest.mark.parametrize("allow", [False, True])
def test_incomplete_input_file(tmp_path: Path, allow: bool) -> None:
    src = _inputs(tmp_path / "in")
    out = tmp_path / "out"
    args = ["run", DEMO, "--input", f"{src}/*.jsonl.gz", "--output", out, "--quiet",
            "--set", "stages.mixture.enabled=false", "--set", "stages.filters.enabled=false",
            "--set", "stages.dedup.enabled=false", "--max-error-rate", "0.5"]
    if allow:
        args += ["--set", "limits.allow_incomplete_files=true"]
    rc = run_cli(*args)
    doc = json.loads((out / ("manifest.json" if allow else "FAILED.json")).read_text())
    files = {Path(f["path"]).name: f for f in doc["inputs"]}
    assert files["whole.jsonl.gz"]["complete"] and files["whole.jsonl.gz"]["errors"] == 0
    cut = files["cut.jsonl.gz"]
    assert not cut["complete"] and cut["loss_errors"] >= 1 and 0 < cut["records"] < 300
    assert doc["counts"]["total"]["conserved"]
    if allow:
        assert rc == 0
    else:
        assert rc == 1 and any("not read to their end" in p for p in doc["problems"])
