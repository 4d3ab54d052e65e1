"""Fault injection: messy real-world input never crashes the job or loses a record silently.

Each bad input is built here from real text of ../shared/data; one run reads them all (one
source per fault) and the manifest must account for every record: kept + rejected + duplicates
+ errors = input, per source.
"""

from __future__ import annotations

import bz2
import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from tests.conftest import read_jsonl
from tests.helpers import fixture, load_manifest, read_parquet_rows, run_cli


def _lines(rows: list[dict]) -> list[bytes]:
    return [json.dumps(r, ensure_ascii=False).encode("utf-8") for r in rows]


@pytest.fixture(scope="module")
def faults(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("faults")
    ja = read_jsonl(fixture("ja/kwdlc_leads.jsonl"), limit=400)
    en = read_jsonl(fixture("en/abc_news.jsonl.gz"), limit=100)
    wiki = read_jsonl(fixture("ja/ja_wiki_paragraphs.jsonl.gz"), limit=5)
    assert len(ja) >= 391
    files: dict[str, tuple[Path, dict, dict]] = {}  # name -> (path, fields, expected)

    # 1. truncated gzip member: the readable part is kept, one TruncatedInput error.
    blob = gzip.compress(b"\n".join(_lines(ja[:300])) + b"\n")
    (d / "truncated.jsonl.gz").write_bytes(blob[: int(len(blob) * 0.6)])
    files["truncated"] = (d / "truncated.jsonl.gz", {}, {"error_classes": {"TruncatedInput"}})

    # 2. invalid UTF-8 and a Shift_JIS line inside a UTF-8 file; NUL bytes; binary garbage.
    lines = _lines(ja[300:320])
    lines[2] = lines[2][:40] + b"\xff\xfe" + lines[2][40:]
    lines[4] = ja[304]["text"].replace("\n", "").encode("shift_jis")
    lines[6] = b'{"id": "nul", "text": "\x00\x00\x00 binary \x00"}'
    lines[8] = bytes(b for b in range(256) if b != 0x0A) * 4
    lines[10] = json.dumps({"id": "escaped-nul", "text": "本文\u0000です。" + ja[310]["text"]}).encode()
    (d / "encoding.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    files["encoding"] = (d / "encoding.jsonl", {}, {"errors": 4})

    # 3. JSON lines cut in half, missing and renamed text fields.
    rows = [dict(r) for r in ja[320:340]]
    rows[1]["body"] = rows[1].pop("text")
    del rows[3]["text"]
    lines = _lines(rows)
    half = lines[5].decode("utf-8")
    lines[5] = half[: len(half) // 2].encode("utf-8")  # cut in half at a character boundary
    (d / "fields.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    files["fields"] = (d / "fields.jsonl", {}, {"errors": 3})

    # 4. a 50 MB single-line page: rejected as input.too_long, never truncated silently.
    huge = {"id": "huge", "text": "".join(r["text"] for r in wiki) * (52_000_000 // (2 * sum(len(r["text"]) for r in wiki)) + 1)}
    with open(d / "huge.jsonl", "wb") as f:
        f.write(json.dumps(huge, ensure_ascii=False).encode())
        f.write(b"\n")
        f.write(json.dumps(ja[340], ensure_ascii=False).encode() + b"\n")
    assert os.path.getsize(d / "huge.jsonl") > 50_000_000
    files["huge"] = (d / "huge.jsonl", {}, {"rejected": {"input.too_long": 1}})

    # 5. the same ids in two sources (and twice in one file): nothing is merged or lost.
    same = [dict(r) for r in ja[341:361]]
    (d / "ids_a.jsonl.bz2").write_bytes(bz2.compress(b"\n".join(_lines(same)) + b"\n"))
    other = [dict(r, text=e["text"]) for r, e in zip(same, en[:20], strict=True)] + [dict(same[0], text=en[20]["text"])]
    (d / "ids_b.jsonl").write_bytes(b"\n".join(_lines(other)) + b"\n")
    files["ids_a"] = (d / "ids_a.jsonl.bz2", {}, {})
    files["ids_b"] = (d / "ids_b.jsonl", {}, {})

    # 6. a Parquet file with another schema, and a good Parquet file with a field mapping.
    pq.write_table(pa.table({"content": [r["text"] for r in ja[361:371]], "doc": [r["id"] for r in ja[361:371]]}),
                   d / "other_schema.parquet")
    files["other_schema"] = (d / "other_schema.parquet", {}, {"errors": 10})
    pq.write_table(pa.table({"content": [r["text"] for r in ja[371:381]], "doc": [r["id"] for r in ja[371:381]]}),
                   d / "mapped.parquet")
    files["mapped"] = (d / "mapped.parquet", {"text": "content", "id": "doc"}, {"errors": 0})

    # 7. a file that is not compressed although its name says so.
    (d / "not_gzip.jsonl.gz").write_bytes(b"\n".join(_lines(ja[381:391])) + b"\n")
    files["not_gzip"] = (d / "not_gzip.jsonl.gz", {}, {"errors": 1})

    cfg = {
        "name": "faults",
        "sources": [{"name": n, "paths": [str(p)], "fields": f} if f else {"name": n, "paths": [str(p)]}
                    for n, (p, f, _) in files.items()],
        # damaged files on purpose: their readable records are kept and the loss is reported
        "limits": {"max_error_rate": 0.5, "max_doc_chars": 1_000_000, "allow_incomplete_files": True},
        "output": {"shard_max_bytes": 200_000},
    }
    path = d / "faults.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    return {"config": path, "files": files, "dir": d}


@pytest.fixture(scope="module")
def fault_run(tmp_path_factory, faults) -> Path:
    out = tmp_path_factory.mktemp("fault_run") / "out"
    assert run_cli("run", faults["config"], "--output", out) == 0
    return out


def test_job_finishes_and_every_record_is_accounted_for(fault_run: Path, faults) -> None:
    m = load_manifest(fault_run)
    assert m["counts"]["total"]["conserved"]
    for name, (_p, _f, expected) in faults["files"].items():
        c = m["counts"]["by_source"][name]
        assert c["input"] == c["kept"] + c["rejected"] + c["duplicates"] + c["errors"], name
        if "errors" in expected:
            assert c["errors"] == expected["errors"], (name, c)
    errors = read_parquet_rows(fault_run / "errors" / "*.parquet")
    by_source: dict[str, set[str]] = {}
    for e in errors:
        by_source.setdefault(e["source"], set()).add(e["error_class"])
        assert e["file"] and e["message"]
    assert by_source["truncated"] == {"TruncatedInput"}
    assert by_source["encoding"] == {"UnicodeDecodeError", "JSONDecodeError"}
    assert by_source["fields"] == {"MissingField", "JSONDecodeError"}
    assert by_source["other_schema"] == {"SchemaMismatch"}
    # the truncated file still delivered its readable part
    assert m["counts"]["by_source"]["truncated"]["input"] > 100
    # error counts per source and class are in the manifest's stage table
    read_stage = next(s for s in m["stages"] if s["stage"] == "read")
    assert read_stage["by_source"]["encoding"]["errors"] == {"JSONDecodeError": 1, "UnicodeDecodeError": 3}


def test_errors_carry_position_and_head(fault_run: Path, faults) -> None:
    errors = read_parquet_rows(fault_run / "errors" / "*.parquet")
    enc = sorted((e["offset"], e["error_class"]) for e in errors if e["source"] == "encoding")
    # line 3: a stray 0xFF; 5: Shift_JIS; 7: raw NUL bytes inside a JSON string; 9: binary garbage
    assert enc == [(3, "UnicodeDecodeError"), (5, "UnicodeDecodeError"), (7, "JSONDecodeError"),
                   (9, "UnicodeDecodeError")]
    cut = next(e for e in errors if e["source"] == "fields" and e["error_class"] == "JSONDecodeError")
    assert cut["offset"] == 6 and cut["offset_kind"] == "line" and cut["head"].startswith('{"id"')


def test_huge_document_is_rejected_with_its_size(fault_run: Path) -> None:
    rejected = read_parquet_rows(fault_run / "rejected" / "*.parquet")
    huge = [r for r in rejected if r["id"] == "huge"]
    assert len(huge) == 1 and huge[0]["reason"] == "input.too_long"
    assert json.loads(huge[0]["detail"])["n_chars"] > 15_000_000


def test_same_ids_in_two_sources_are_kept_apart(fault_run: Path) -> None:
    rows = read_parquet_rows(fault_run / "data" / "*.parquet")
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))
    renamed = [r for r in rows if r["source"] == "ids_b"]
    assert renamed and all("~ids_b:" in r["id"] for r in renamed)
    assert all(r["metadata"]["original_id"] == r["id"].split("~")[0] for r in renamed)


def test_strict_stops_at_first_malformed_record(tmp_path: Path, faults, capsys) -> None:
    out = tmp_path / "strict"
    assert run_cli("run", faults["config"], "--output", out, "--strict") == 1
    err = capsys.readouterr().err
    assert "--strict" in err and "malformed record" in err
    assert not (out / "manifest.json").exists()


def test_killed_run_never_looks_finished(tmp_path: Path, shared_data: Path) -> None:
    """Needs inputs large enough that the run is still going a second after it starts (../shared)."""
    src = shared_data / "ja" / "ja_wiki_paragraphs.jsonl.gz"
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "corpusflow.cli", "run", "configs/pipelines/langid_only.yaml",
           "--input", str(src), "--input", str(shared_data / "en" / "abc_news.jsonl.gz"),
           "--output", str(out), "--quiet"]
    repo = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(cmd, cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 60
    while not (out / "_IN_PROGRESS").exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (out / "_IN_PROGRESS").exists()
    assert not (out / "manifest.json").exists()
    # no half-written file under a final name: only temp names may be partial
    for p in out.rglob("*.parquet"):
        pq.read_metadata(p)
    # a re-run refuses the unfinished directory, then replaces it with --overwrite
    assert run_cli("run", repo / "configs/pipelines/langid_only.yaml", "--input", str(src),
                   "--output", out) == 2
    assert run_cli("run", repo / "configs/pipelines/langid_only.yaml", "--input", str(src),
                   "--output", out, "--overwrite") == 0
    assert (out / "manifest.json").exists() and not (out / "_IN_PROGRESS").exists()
