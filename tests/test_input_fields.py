"""``--input`` field mappings: detected per file, or given with ``--fields``; input ids are kept."""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpusflow.cli import main
from corpusflow.config.checks import check_source_paths
from corpusflow.config.load import load_config
from corpusflow.core.document import Document
from corpusflow.io.fields import detect_fields, parse_fields
from corpusflow.io.readers import file_key, iter_file, plan_files
from tests.helpers import SHARED_DATA

DEMO = "pkg:configs/pipelines/demo.yaml"
ID_NAMES = ("id", "doc_id", "sample_id")


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _docs(cfg, limit: int = 200) -> list[Document]:
    files = plan_files(cfg.sources, check_source_paths(cfg))
    by_name = {s.name: s for s in cfg.sources}
    out: list[Document] = []
    for spec in files:
        outcomes = iter_file(spec, by_name[spec.source], cfg.limits.max_doc_chars)
        out.extend(o for o in itertools.islice(outcomes, limit) if isinstance(o, Document))
    return out


def test_parse_fields() -> None:
    assert parse_fields("id=doc_id,text=content,url=") == {"id": "doc_id", "text": "content", "url": None}
    for bad in ("idx=a", "text", "text=", ""):
        with pytest.raises(ValueError, match="--fields"):
            parse_fields(bad)


def test_detects_usual_names_in_jsonl_and_parquet(tmp_path: Path) -> None:
    a = _write_jsonl(tmp_path / "a.jsonl", [{"doc_id": "d1", "content": "x", "metadata": {"url": "http://u"}}])
    m = detect_fields(str(a))
    assert (m.id, m.text, m.url, m.meta) == ("doc_id", "content", "metadata.url", [])
    b = _write_jsonl(tmp_path / "b.jsonl", [{"id": "i", "sample_id": "s", "raw_content": "x"}])
    m = detect_fields(str(b))
    assert (m.id, m.text, m.url, m.meta) == ("id", "raw_content", None, ["sample_id"])
    c = tmp_path / "c.parquet"
    pq.write_table(pa.table({"sample_id": ["s1"], "text": ["x"],
                             "meta": pa.array([{"url": "http://u"}])}), c)
    m = detect_fields(str(c))
    assert (m.id, m.text, m.url) == ("sample_id", "text", "meta.url")
    # a key whose value is null in the first record is still the field (later records have values)
    d = _write_jsonl(tmp_path / "d.jsonl", [{"id": "w1", "text": "翌1930年、園井恵子は音楽学校本科生となり", "url": None},
                                            {"id": "c1", "text": "Hello world.", "url": "https://example.com/a"}])
    m = detect_fields(str(d))
    assert (m.id, m.text, m.url) == ("id", "text", "url")
    e = _write_jsonl(tmp_path / "e.jsonl", [{"id": None, "text": "x", "metadata": {"url": None}, "url": "http://u"}])
    m = detect_fields(str(e))
    assert (m.id, m.url) == ("id", "url")  # a candidate with a value wins over one that is null
    # --fields wins for the keys it names; an id-like field it passes over goes to the metadata
    m = detect_fields(str(b), {"id": "sample_id"})
    assert (m.id, m.text, m.meta) == ("sample_id", "raw_content", ["id"])


def test_input_keeps_ids_and_groups_files_by_mapping(tmp_path: Path) -> None:
    _write_jsonl(tmp_path / "a.jsonl", [{"doc_id": "a-1", "content": "first"}, {"doc_id": "a-2", "content": "b"}])
    with gzip.open(tmp_path / "b.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.write(json.dumps({"id": "b-1", "text": "second", "url": "http://x"}) + "\n")
    cfg = load_config(DEMO, inputs=[str(tmp_path / "*.jsonl*")])
    assert [s.name for s in cfg.sources] == ["input", "input-2"]
    docs = _docs(cfg)
    assert sorted(d.id for d in docs) == ["a-1", "a-2", "b-1"]
    assert {d.id: d.url for d in docs}["b-1"] == "http://x"
    one = load_config(DEMO, inputs=[str(tmp_path / "a.jsonl")])
    assert [s.name for s in one.sources] == ["input"] and one.sources[0].paths == [str(tmp_path / "a.jsonl")]


def test_renamed_id_is_kept_in_metadata(tmp_path: Path) -> None:
    _write_jsonl(tmp_path / "a.jsonl", [{"id": "orig-1", "key": "k-1", "text": "hello"}])
    cfg = load_config(DEMO, inputs=[str(tmp_path / "a.jsonl")], fields={"id": "key"})
    [doc] = _docs(cfg)
    assert doc.id == "k-1" and doc.meta == {"id": "orig-1"}


def test_cli_prints_the_mapping_and_rejects_bad_fields(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = _write_jsonl(tmp_path / "a.jsonl", [{"sample_id": "s", "text": "hello"}])
    assert main(["validate", DEMO, "--input", str(f)]) == 0
    out = capsys.readouterr()
    assert "fields id=sample_id text=text url=-" in out.out
    with pytest.raises(SystemExit):
        main(["validate", DEMO, "--input", str(f), "--fields", "idx=a"])
    assert "--fields: unknown key 'idx'" in capsys.readouterr().err


def _input_ids(path: Path, limit: int) -> list[str | None]:
    opener = gzip.open if path.name.endswith(".gz") else open
    ids: list[str | None] = []
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in itertools.islice(fh, limit):
            rec = json.loads(line)
            ids.append(next((str(rec[k]) for k in ID_NAMES if rec.get(k) not in (None, "")), None))
    return ids


SHARED_FILES = sorted(p for p in SHARED_DATA.rglob("*") if p.is_file()) if SHARED_DATA.is_dir() else []


@pytest.mark.shared_data
@pytest.mark.parametrize("path", SHARED_FILES, ids=lambda p: p.name)
def test_input_keeps_the_ids_of_every_shared_file(path: Path) -> None:
    cfg = load_config(DEMO, inputs=[str(path)])
    docs = _docs(cfg, limit=50)
    assert docs, f"no document read from {path}"
    if ".warc" in path.name:  # WARC ids are the records' own WARC-Record-IDs
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as fh:
            record_ids = {ln.split(":", 1)[1].strip().strip("<>") for ln in fh
                          if ln.startswith("WARC-Record-ID:")}
        assert {d.id for d in docs} <= record_ids
        return
    want = _input_ids(path, 50)
    key = file_key(str(path), str(path))
    got = [d.id for d in docs]
    expected = [i if i is not None else f"input/{key}#L{n}" for n, i in enumerate(want, start=1)]
    assert got == expected[: len(got)]
    if any(i is not None for i in want):
        assert got[: len(want)] == [i for i in want if i is not None][: len(got)]
