"""End-to-end DirectRunner (FnApiRunner) runs on real data: Parquet output and manifest counts."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from corpusflow.core.schemas import DOC_SCHEMA, ERROR_SCHEMA, REJECTED_SCHEMA
from tests.conftest import read_jsonl, write_jsonl
from tests.helpers import fixture, load_manifest, read_parquet_rows, run_cli

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "configs" / "pipelines" / "demo.yaml"


@pytest.fixture(scope="module")
def mixed_inputs(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("inputs")
    ja = read_jsonl(fixture("ja/kwdlc_leads.jsonl"), limit=300)
    en = read_jsonl(fixture("en/c4_sample.jsonl.gz"), limit=120)
    multi = read_jsonl(fixture("en/cc_main_raw_multilingual.jsonl.gz"), limit=100)
    assert (len(ja), len(en), len(multi)) == (300, 120, 100)
    write_jsonl(d / "ja.jsonl.gz", ja, compress="gz")
    write_jsonl(d / "en.jsonl.zst", en, compress="zst")
    write_jsonl(d / "multi.jsonl", multi)
    # A file with some malformed records: one cut JSON line and one Shift_JIS line.
    bad = (d / "bad.jsonl")
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in ja[:20]]
    lines[5] = lines[5][:30]
    lines[9] = ja[9]["text"].replace("\n", "").encode("shift_jis")
    bad.write_bytes(b"\n".join(lines) + b"\n")
    cfg = {
        "name": "e2e",
        "seed": 7,
        "sources": [
            {"name": "kwdlc", "paths": [str(d / "ja.jsonl.gz")], "lang": "ja"},
            {"name": "c4", "paths": [str(d / "en.jsonl.zst")], "fields": {"id": None, "url": "url"}},
            {"name": "multi", "paths": [str(d / "multi.jsonl")], "fields": {"url": "metadata.url"}},
            {"name": "bad", "paths": [str(d / "bad.jsonl")]},
        ],
        "output": {"shard_max_bytes": 100_000, "row_group_rows": 50},
        "limits": {"max_error_rate": 0.05},
    }
    path = d / "e2e.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    return {"config": path, "n": {"kwdlc": len(ja), "c4": len(en), "multi": len(multi), "bad": 20}}


@pytest.fixture(scope="module")
def e2e_run(tmp_path_factory, mixed_inputs) -> Path:
    out = tmp_path_factory.mktemp("run") / "out"
    assert run_cli("run", mixed_inputs["config"], "--output", out) == 0
    return out


def test_counts_add_up(e2e_run: Path, mixed_inputs) -> None:
    m = load_manifest(e2e_run)
    for src, n in mixed_inputs["n"].items():
        c = m["counts"]["by_source"][src]
        assert c["input"] == n, (src, c)
        assert c["kept"] + c["rejected"] + c["duplicates"] + c["errors"] == n
        assert c["conserved"] is True
    assert m["counts"]["by_source"]["bad"]["errors"] == 2
    assert m["status"] == "complete" and len(m["config_hash"]) == 64


def test_output_files_match_the_manifest(e2e_run: Path) -> None:
    m = load_manifest(e2e_run)
    data = read_parquet_rows(e2e_run / "data" / "*.parquet")
    rejected = read_parquet_rows(e2e_run / "rejected" / "*.parquet")
    errors = read_parquet_rows(e2e_run / "errors" / "*.parquet")
    t = m["counts"]["total"]
    assert len(data) == t["kept"] and len(rejected) == t["rejected"] and len(errors) == t["errors"]
    files = sorted(p.name for p in (e2e_run / "data").glob("*.parquet"))
    n = len(files)
    assert n > 1 and files == [f"train-{i:05d}-of-{n:05d}.parquet" for i in range(n)]
    assert [s["file"] for s in m["outputs"]["data"]] == files
    assert sum(s["rows"] for s in m["outputs"]["data"]) == len(data)
    # explicit schemas
    assert pq.read_schema(e2e_run / "data" / files[0]).remove_metadata() == DOC_SCHEMA
    assert pq.read_schema(next((e2e_run / "rejected").glob("*.parquet"))).remove_metadata() == REJECTED_SCHEMA
    assert pq.read_schema(next((e2e_run / "errors").glob("*.parquet"))).remove_metadata() == ERROR_SCHEMA
    # stage table: read -> normalize -> langid, in/out chained
    stages = [s["stage"] for s in m["stages"]]
    assert stages == ["read", "normalize", "langid"]
    for a, b in zip(m["stages"], m["stages"][1:], strict=False):
        for src in a["by_source"]:
            assert a["by_source"][src]["out"] == b["by_source"][src]["in"]


def test_languages_and_reasons(e2e_run: Path) -> None:
    data = read_parquet_rows(e2e_run / "data" / "*.parquet")
    by_src = {}
    for r in data:
        by_src.setdefault(r["source"], set()).add(r["lang"])
    assert by_src["kwdlc"] == {"ja"} and by_src["c4"] == {"en"}
    rejected = read_parquet_rows(e2e_run / "rejected" / "*.parquet")
    reasons = {r["reason"] for r in rejected}
    assert "langid.other_language" in reasons
    assert all(r["stage"] in ("read", "normalize", "langid") for r in rejected)
    errors = read_parquet_rows(e2e_run / "errors" / "*.parquet")
    assert sorted((e["error_class"], e["offset"]) for e in errors) == [("JSONDecodeError", 6),
                                                                      ("UnicodeDecodeError", 10)]
    # generated ids for c4 (no id field) are stable source/file/line ids
    assert any(r["id"] == "c4/en.jsonl.zst#L1" for r in data + rejected)


def test_rerun_is_byte_identical_and_refuses_non_empty_output(tmp_path: Path, e2e_run: Path, mixed_inputs) -> None:
    assert run_cli("run", mixed_inputs["config"], "--output", e2e_run) == 2  # not empty, no --overwrite
    out2 = tmp_path / "again"
    assert run_cli("run", mixed_inputs["config"], "--output", out2) == 0
    a, b = load_manifest(e2e_run), load_manifest(out2)
    assert a["outputs"] == b["outputs"]  # rows, bytes and sha256 of every shard


def test_error_rate_limit_fails_the_run(tmp_path: Path, mixed_inputs) -> None:
    out = tmp_path / "strict"
    code = run_cli("run", mixed_inputs["config"], "--output", out, "--max-error-rate", "0.001")
    assert code == 1
    assert not (out / "manifest.json").exists()
    failed = json.loads((out / "FAILED.json").read_text())
    assert "error rate" in failed["problems"][0]


def test_demo_runs(tmp_path: Path, capsys) -> None:
    out = tmp_path / "demo"
    assert run_cli("run", DEMO, "--output", out) == 0
    m = load_manifest(out)
    assert m["counts"]["total"]["conserved"]
    assert m["counts"]["total"]["kept"] > 200
    stages = [s["stage"] for s in m["stages"]]
    assert stages[:6] == ["read", "clean", "normalize", "langid", "filters", "dedup.exact"]
    assert abs(m["mixture"]["groups"]["ja"]["achieved_share"] - 0.8) < 0.005
    printed = capsys.readouterr().out
    assert "TOTAL" in printed and "mixture of" in printed
