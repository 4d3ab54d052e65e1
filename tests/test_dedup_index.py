"""Incremental dedup: a run saves its dedup index, a later run deduplicates against it (real text)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from corpusflow.dedup.config import DedupStageConfig
from corpusflow.dedup.index import DedupIndexError, check_settings, read_meta, settings_of
from tests.conftest import read_jsonl, write_jsonl
from tests.helpers import load_manifest, read_parquet_rows, run_cli


def _edit(text: str, every: int = 60) -> str:
    return "".join("■" if i % every == every - 1 else c for i, c in enumerate(text))


def _config(tmp: Path, name: str, inp: Path, **dedup) -> Path:
    cfg = {"name": name, "sources": [{"name": "web", "paths": [str(inp)]}],
           "stages": {"langid": {"mode": "tag"}, "filters": {"enabled": False},
                      "dedup": {"enabled": True, **dedup}}}
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory, shared_data: Path) -> dict[str, object]:
    tmp = tmp_path_factory.mktemp("incr")
    ja = [r["text"] for r in read_jsonl(shared_data / "ja" / "ja_wiki_paragraphs.jsonl.gz", limit=400)
          if len(r["text"]) >= 300][:60]
    en = [r["text"] for r in read_jsonl(shared_data / "en" / "c4_sample.jsonl.gz", limit=200)
          if len(r["text"]) >= 600][:30]
    old = [{"id": f"old{i}", "text": t} for i, t in enumerate(ja[:40] + en[:20])]
    new = ([{"id": f"exact{i}", "text": ja[i]} for i in range(10)]               # exact copies of old docs
           + [{"id": f"near{i}", "text": _edit(ja[10 + i])} for i in range(10)]   # edited copies of old docs
           + [{"id": f"nearen{i}", "text": _edit(en[i], 500)} for i in range(5)]
           + [{"id": f"fresh{i}", "text": t} for i, t in enumerate(ja[40:] + en[20:])]
           + [{"id": "freshcopy", "text": ja[40]}])                              # a copy within the new run
    write_jsonl(tmp / "old.jsonl", old)
    write_jsonl(tmp / "new.jsonl", new)
    assert run_cli("run", _config(tmp, "crawl2024", tmp / "old.jsonl", save_index=True),
                   "--output", tmp / "out_old") == 0
    idx = tmp / "out_old" / "dedup_index"
    assert run_cli("run", _config(tmp, "crawl2025", tmp / "new.jsonl", earlier_indexes=[str(idx)]),
                   "--output", tmp / "out_new") == 0
    return {"tmp": tmp, "idx": idx, "new": new, "old": old}


def test_saved_index_has_every_kept_document(runs) -> None:
    idx = runs["idx"]
    meta = read_meta(str(idx))
    assert meta["run"] == "crawl2024" and meta["rows"] == 60
    rows = read_parquet_rows(idx / "index-*.parquet")
    assert sorted(r["id"] for r in rows) == sorted(d["id"] for d in runs["old"])
    assert all(len(r["sig"]) > 0 and r["cluster_size"] == 1 for r in rows)
    m = load_manifest(runs["tmp"] / "out_old")
    assert sum(s["rows"] for s in m["outputs"]["dedup_index"]) == 60


def test_new_run_duplicates_name_the_earlier_run(runs) -> None:
    dups = read_parquet_rows(runs["tmp"] / "out_new" / "duplicates" / "*.parquet")
    by_id = {d["id"]: d for d in dups}
    for i in range(10):
        d = by_id[f"exact{i}"]
        assert (d["stage"], d["kept_id"], d["similarity"]) == ("dedup.earlier", f"crawl2024::old{i}", 1.0)
    for i in range(10):
        d = by_id[f"near{i}"]
        assert d["stage"] == "dedup.earlier" and d["kept_id"] == f"crawl2024::old{10 + i}" and d["similarity"] >= 0.7
    for i in range(5):
        assert by_id[f"nearen{i}"]["kept_id"] == f"crawl2024::old{40 + i}"
    # within the new run as usual
    assert by_id["freshcopy"]["stage"] == "dedup.exact" and by_id["freshcopy"]["kept_id"] == "fresh0"
    assert len(dups) == 26
    kept = {r["id"] for r in read_parquet_rows(runs["tmp"] / "out_new" / "data" / "*.parquet")}
    assert kept == {d["id"] for d in runs["new"]} - set(by_id)


def test_other_settings_are_refused(runs) -> None:
    saved = read_meta(str(runs["idx"]))["settings"]
    other = DedupStageConfig(enabled=True, profiles={"ja": {"shingle": "char", "n": 5, "bands": 16, "rows": 12},
                                                     "en": {"shingle": "word", "n": 5, "bands": 14, "rows": 8}})
    with pytest.raises(DedupIndexError, match=r"profiles\.ja: index .*bands.: 20.* vs now .*bands.: 16"):
        check_settings(saved, settings_of(other, 0), "X")
    with pytest.raises(DedupIndexError, match="seed: index 0 vs now 3"):
        check_settings(saved, settings_of(DedupStageConfig(enabled=True), 3), "X")
    bad = runs["tmp"] / "bad_index"
    bad.mkdir()
    (bad / "index.json").write_text(json.dumps({"format": "corpusflow.dedup-index", "version": 99}))
    with pytest.raises(DedupIndexError, match="version 99"):
        read_meta(str(bad))


def test_run_with_other_settings_stops_before_reading(runs, capsys) -> None:
    tmp = runs["tmp"]
    cfg = _config(tmp, "crawl2026", tmp / "new.jsonl", earlier_indexes=[str(runs["idx"])],
                  profiles={"ja": {"shingle": "char", "n": 5, "bands": 16, "rows": 12},
                            "en": {"shingle": "word", "n": 5, "bands": 14, "rows": 8}})
    assert run_cli("run", cfg, "--output", tmp / "out_refused") == 2
    err = capsys.readouterr().err
    assert "other dedup settings" in err and "profiles.ja" in err
    assert not (tmp / "out_refused").exists()
